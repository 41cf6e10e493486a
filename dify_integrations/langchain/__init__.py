"""LangChain adapters for Dify apps and knowledge bases.

- :class:`ChatDify`: chat, agent-chat and chatflow apps as a chat model.
- :class:`DifyLLM`: completion apps as an LLM.
- :class:`DifyWorkflowTool`: workflow apps as agent tools.
- :class:`DifyRetriever`: knowledge bases as a retriever.
"""

from dify_integrations.langchain.chat_models import ChatDify
from dify_integrations.langchain.llms import DifyLLM
from dify_integrations.langchain.retrievers import DifyRetriever
from dify_integrations.langchain.tools import DifyWorkflowTool

__all__ = ["ChatDify", "DifyLLM", "DifyRetriever", "DifyWorkflowTool"]

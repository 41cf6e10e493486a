"""LangChain adapters for Dify apps and knowledge bases.

- :class:`ChatDify`: chat, agent-chat and chatflow apps as a chat model.
- :class:`DifyLLM`: completion apps as an LLM.
- :class:`DifyWorkflowTool`: workflow apps as agent tools.
- :class:`DifyRetriever`: knowledge bases as a retriever.
- :class:`DifyVectorStore`: knowledge bases as a vector store (read and write).
- :class:`DifyLoader`: a knowledge base's documents or segments as LangChain documents.
"""

from dify_integrations.langchain.chat_models import ChatDify
from dify_integrations.langchain.document_loaders import DifyLoader
from dify_integrations.langchain.llms import DifyLLM
from dify_integrations.langchain.retrievers import DifyRetriever
from dify_integrations.langchain.tools import DifyWorkflowTool
from dify_integrations.langchain.vectorstores import DifyVectorStore

__all__ = [
    "ChatDify",
    "DifyLLM",
    "DifyLoader",
    "DifyRetriever",
    "DifyVectorStore",
    "DifyWorkflowTool",
]

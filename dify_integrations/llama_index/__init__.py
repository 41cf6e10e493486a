"""LlamaIndex adapters: Dify apps and knowledge bases as LlamaIndex components.

- :class:`DifyLLM`: a chat, agent-chat, chatflow or completion app as an ``LLM``.
- :class:`DifyChatEngine`: a chat app as a chat engine with Dify's server-side memory.
- :class:`DifyWorkflowTool`: a workflow app as a tool for agents.
- :class:`DifyRetriever`: knowledge bases as a retriever.
- :class:`DifyIndex`: a knowledge base as a managed index (read and write).
- :class:`DifyReader`: a knowledge base's documents or segments as LlamaIndex documents.

Needs ``llama-index-core`` (``pip install "dify-integrations[llama-index]"``).
"""

from dify_integrations.llama_index.chat_engine import DifyChatEngine
from dify_integrations.llama_index.indices import DifyIndex
from dify_integrations.llama_index.llms import DifyLLM
from dify_integrations.llama_index.readers import DifyReader
from dify_integrations.llama_index.retrievers import DifyRetriever
from dify_integrations.llama_index.tools import DifyWorkflowTool

__all__ = [
    "DifyChatEngine",
    "DifyIndex",
    "DifyLLM",
    "DifyReader",
    "DifyRetriever",
    "DifyWorkflowTool",
]

"""The public surface of dify_integrations.llama_index and the LlamaIndex base classes.

The base-class checks follow the LlamaIndex integration convention (one per adapter).
"""

from __future__ import annotations

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.llms.base import BaseLLM
from llama_index.core.chat_engine.types import BaseChatEngine
from llama_index.core.llms import LLM, CustomLLM
from llama_index.core.tools.types import AsyncBaseTool, BaseTool

import dify_integrations.llama_index as li
from dify_integrations.llama_index import DifyChatEngine, DifyLLM, DifyRetriever, DifyWorkflowTool


def test_all_lists_the_public_names() -> None:
    assert sorted(li.__all__) == [
        "DifyChatEngine",
        "DifyIndex",
        "DifyLLM",
        "DifyReader",
        "DifyRetriever",
        "DifyWorkflowTool",
    ]
    for name in li.__all__:
        assert getattr(li, name).__module__.startswith("dify_integrations.llama_index.")


def test_llm_base_classes() -> None:
    names = [b.__name__ for b in DifyLLM.__mro__]
    assert BaseLLM.__name__ in names
    assert issubclass(DifyLLM, LLM)
    assert not issubclass(DifyLLM, CustomLLM)
    assert DifyLLM.class_name() == "DifyLLM"


def test_chat_engine_base_class() -> None:
    assert BaseChatEngine.__name__ in [b.__name__ for b in DifyChatEngine.__mro__]
    assert DifyChatEngine.class_name() == "DifyChatEngine"


def test_tool_base_classes() -> None:
    names = [b.__name__ for b in DifyWorkflowTool.__mro__]
    assert AsyncBaseTool.__name__ in names
    assert BaseTool.__name__ in names


def test_retriever_base_class() -> None:
    assert BaseRetriever.__name__ in [b.__name__ for b in DifyRetriever.__mro__]
    assert DifyRetriever.class_name() == "DifyRetriever"

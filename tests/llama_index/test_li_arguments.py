"""Constructor arguments of every LlamaIndex adapter: aliases work, unknown names are refused.

LlamaIndex integrations take ``api_base`` and ``model`` (``OpenAI(api_base=, model=)``) and
``request_timeout``: they mean the same here and are accepted. Anything else that is not an
argument fails before any request, naming the closest argument. Over HTTP on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.llms import ChatMessage
from llama_index.core.tools import ToolMetadata

from dify_integrations import APITimeoutError, BadRequestError
from dify_integrations.llama_index import (
    DifyChatEngine,
    DifyLLM,
    DifyRetriever,
    DifyWorkflowTool,
)
from dify_integrations.testing import DifyTestServer

FORM = [{"text-input": {"label": "Text", "variable": "text", "required": True}}]


@pytest.fixture(scope="module")
def local() -> Iterator[dict[str, Any]]:
    with DifyTestServer() as server:
        kb = server.create_dataset(
            "KB",
            [
                {"name": f"doc{i}.md", "text": f"Returns take {i} days in region {i}."}
                for i in range(6)
            ],
        )
        yield {
            "server": server,
            "base_url": server.base_url,
            "chat": server.create_chat_app("Chat").api_key,
            "workflow": server.create_workflow_app(
                "Echo", lambda inputs: {"text": inputs["text"]}, user_input_form=FORM
            ).api_key,
            "dataset_key": server.dataset_api_key,
            "dataset_id": kb.id,
        }


def _builders(local: dict[str, Any], url_arg: str = "base_url") -> dict[str, Any]:
    url = {url_arg: local["base_url"]}
    return {
        "DifyLLM": lambda **kw: DifyLLM(api_key=local["chat"], **url, **kw),
        "DifyChatEngine": lambda **kw: DifyChatEngine(local["chat"], **url, **kw),
        "DifyRetriever": lambda **kw: DifyRetriever(
            local["dataset_id"], api_key=local["dataset_key"], **url, **kw
        ),
        "DifyWorkflowTool": lambda **kw: DifyWorkflowTool(
            ToolMetadata(name="echo", description="echo"), api_key=local["workflow"], **url, **kw
        ),
        "DifyWorkflowTool.from_app": lambda **kw: DifyWorkflowTool.from_app(
            api_key=local["workflow"], **url, **kw
        ),
    }


ADAPTERS = [
    "DifyLLM",
    "DifyChatEngine",
    "DifyRetriever",
    "DifyWorkflowTool",
    "DifyWorkflowTool.from_app",
]


def _use(adapter: str, obj: Any) -> None:
    """One real call of the adapter, over HTTP."""
    if adapter == "DifyLLM":
        assert obj.chat([ChatMessage(role="user", content="hello")]).message.content
    elif adapter == "DifyChatEngine":
        assert str(obj.chat("hello"))
    elif adapter == "DifyRetriever":
        assert obj.retrieve("returns region")
    elif adapter == "DifyWorkflowTool":  # built without the app's form: no inputs to give
        with pytest.raises(BadRequestError, match="text is required"):  # the app said so
            obj.call()
    else:
        assert obj.call(text="hello").raw_output == {"text": "hello"}


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_api_base_is_base_url(local: dict[str, Any], adapter: str) -> None:
    server: DifyTestServer = local["server"]
    before = len(server.request_log)
    _use(adapter, _builders(local, "api_base")[adapter]())
    assert len(server.request_log) > before  # the call reached the local server


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize(
    ("name", "hint"), [("bas_url", "base_url"), ("max_retry", "max_retries"), ("api_ky", "api_key")]
)
def test_unknown_arguments_are_refused_before_any_request(
    local: dict[str, Any], adapter: str, name: str, hint: str
) -> None:
    server: DifyTestServer = local["server"]
    before = len(server.request_log)
    with pytest.raises(TypeError) as info:
        _builders(local)[adapter](**{name: "x"})
    assert f"unexpected argument {name!r}; did you mean {hint!r}?" in str(info.value)
    assert len(server.request_log) == before


def test_top_k_on_the_retriever_names_similarity_top_k(local: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="'top_k'; did you mean 'similarity_top_k'"):
        _builders(local)["DifyRetriever"](top_k=2)


def test_model_is_model_name(local: dict[str, Any]) -> None:
    llm = _builders(local)["DifyLLM"](model="support-bot")
    assert llm.model_name == "support-bot"
    assert llm.metadata.model_name == "support-bot"


def test_api_base_and_base_url_together_are_refused(local: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="both 'api_base' and 'base_url'"):
        _builders(local)["DifyLLM"](api_base=local["base_url"])


@pytest.mark.parametrize(
    "adapter", ["DifyLLM", "DifyChatEngine", "DifyRetriever", "DifyWorkflowTool"]
)
def test_request_timeout_is_timeout(local: dict[str, Any], adapter: str) -> None:
    obj = _builders(local)[adapter](request_timeout=0.3)
    clients = obj._clients
    assert clients.config.timeout.read == 0.3


def test_request_timeout_bounds_a_call(local: dict[str, Any]) -> None:
    server: DifyTestServer = local["server"]
    retriever = _builders(local)["DifyRetriever"](request_timeout=0.3, max_retries=0)
    server.inject_fault("/datasets/{dataset_id}/retrieve", kind="delay", delay=3.0)
    with pytest.raises(APITimeoutError):
        retriever.retrieve("returns")


def test_knowledge_adapters_check_their_arguments(local: dict[str, Any]) -> None:
    from dify_integrations.llama_index import DifyIndex, DifyReader

    with pytest.raises(TypeError, match="'top_k'; did you mean 'similarity_top_k'"):
        DifyIndex(local["dataset_id"], api_key=local["dataset_key"], top_k=3)
    reader = DifyReader(api_key=local["dataset_key"], api_base=local["base_url"])
    assert reader.load_data(local["dataset_id"])  # api_base reached the local server
    with pytest.raises(TypeError, match="'bse_url'; did you mean 'base_url'"):
        DifyReader(api_key=local["dataset_key"], bse_url="x")

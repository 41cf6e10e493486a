"""Constructor arguments of every LangChain adapter: aliases work, unknown names are refused.

Over HTTP against a local server: an alias must change what reaches the server, and a
refused argument must fail before any request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dify_integrations import APITimeoutError
from dify_integrations.langchain import ChatDify, DifyLLM, DifyRetriever, DifyWorkflowTool
from dify_integrations.testing import DifyTestServer

FORM = [{"text-input": {"label": "Text", "variable": "text", "required": True}}]


@pytest.fixture(scope="module")
def local() -> Iterator[dict[str, Any]]:
    with DifyTestServer() as server:
        kb = server.create_dataset(
            "KB",
            [
                {"name": f"doc{i}.md", "text": f"Refunds take {i} days in region {i}."}
                for i in range(6)
            ],
        )
        yield {
            "server": server,
            "base_url": server.base_url,
            "chat": server.create_chat_app("Chat").api_key,
            "completion": server.create_completion_app("Writer").api_key,
            "workflow": server.create_workflow_app(
                "Echo", lambda inputs: {"text": inputs["text"]}, user_input_form=FORM
            ).api_key,
            "dataset_key": server.dataset_api_key,
            "dataset_id": kb.id,
        }


def _builders(local: dict[str, Any]) -> dict[str, Any]:
    url = local["base_url"]
    return {
        "ChatDify": lambda **kw: ChatDify(api_key=local["chat"], base_url=url, **kw),
        "DifyLLM": lambda **kw: DifyLLM(api_key=local["completion"], base_url=url, **kw),
        "DifyRetriever": lambda **kw: DifyRetriever(
            api_key=local["dataset_key"], base_url=url, dataset_id=local["dataset_id"], **kw
        ),
        "DifyWorkflowTool": lambda **kw: DifyWorkflowTool(
            api_key=local["workflow"], base_url=url, name="echo", description="echo", **kw
        ),
        "DifyWorkflowTool.from_app": lambda **kw: DifyWorkflowTool.from_app(
            api_key=local["workflow"], base_url=url, **kw
        ),
    }


ADAPTERS = ["ChatDify", "DifyLLM", "DifyRetriever", "DifyWorkflowTool", "DifyWorkflowTool.from_app"]


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize(
    ("name", "hint"),
    [("api_base", "base_url"), ("max_retry", "max_retries"), ("usr", "user")],
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


def test_top_k_on_the_retriever_names_k(local: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="'top_k'; did you mean 'k'"):
        _builders(local)["DifyRetriever"](top_k=2)


@pytest.mark.parametrize("adapter", ["ChatDify", "DifyLLM"])
def test_api_base_is_not_silently_dropped(local: dict[str, Any], adapter: str) -> None:
    """The finding: ChatDify(api_base=self_hosted) used to send the key to Dify cloud."""
    cls = ChatDify if adapter == "ChatDify" else DifyLLM
    with pytest.raises(TypeError, match="did you mean 'base_url'"):
        cls(api_key=local["chat"], api_base=local["base_url"])


@pytest.mark.parametrize("adapter", ["ChatDify", "DifyLLM", "DifyRetriever", "DifyWorkflowTool"])
def test_request_timeout_reaches_the_client(local: dict[str, Any], adapter: str) -> None:
    adapter_obj = _builders(local)[adapter](request_timeout=0.3)
    assert adapter_obj.timeout == 0.3
    assert adapter_obj._get_client()._config.timeout.read == 0.3


def test_request_timeout_bounds_a_call(local: dict[str, Any]) -> None:
    server: DifyTestServer = local["server"]
    retriever = _builders(local)["DifyRetriever"](request_timeout=0.3, max_retries=0)
    server.inject_fault("/datasets/{dataset_id}/retrieve", kind="delay", delay=3.0)
    with pytest.raises(APITimeoutError):
        retriever.invoke("refunds")


def test_request_timeout_and_timeout_together_are_refused(local: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="both 'request_timeout' and 'timeout'"):
        _builders(local)["ChatDify"](request_timeout=1, timeout=2)


def test_from_app_takes_request_timeout(local: dict[str, Any]) -> None:
    tool = _builders(local)["DifyWorkflowTool.from_app"](request_timeout=7.0)
    assert tool.timeout == 7.0
    assert tool.invoke({"text": "hi"})


def test_model_is_the_reported_model_name(local: dict[str, Any]) -> None:
    llm = _builders(local)["ChatDify"](model="support-bot")
    message = llm.invoke("hello")
    assert message.response_metadata["model_name"] == "support-bot"


def test_retriever_search_kwargs(local: dict[str, Any]) -> None:
    server: DifyTestServer = local["server"]
    retriever = _builders(local)["DifyRetriever"](search_kwargs={"k": 2})
    assert retriever.k == 2
    assert retriever.search_kwargs == {"k": 2}
    docs = retriever.invoke("refunds region")
    assert len(docs) == 2
    body = server.requests_to("/datasets/{dataset_id}/retrieve")[-1].body
    assert body["retrieval_model"]["top_k"] == 2


def test_retriever_search_kwargs_score_threshold(local: dict[str, Any]) -> None:
    retriever = _builders(local)["DifyRetriever"](search_kwargs={"k": 5, "score_threshold": 0.99})
    assert retriever.score_threshold == 0.99
    assert all(d.metadata["score"] >= 0.99 for d in retriever.invoke("refunds region"))


@pytest.mark.parametrize(
    ("search_kwargs", "message"),
    [
        ({"fetch_k": 3}, "unexpected key 'fetch_k'"),
        ({"filter": {"a": 1}}, "did you mean 'metadata_filter'"),
        ("k=3", "must be a dict"),
    ],
)
def test_retriever_search_kwargs_refuses_the_rest(
    local: dict[str, Any], search_kwargs: Any, message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        _builders(local)["DifyRetriever"](search_kwargs=search_kwargs)


def test_retriever_k_given_twice_is_refused(local: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="both directly and in search_kwargs"):
        _builders(local)["DifyRetriever"](k=3, search_kwargs={"k": 2})


def test_knowledge_adapters_check_their_arguments(local: dict[str, Any]) -> None:
    from dify_integrations.langchain import DifyLoader, DifyVectorStore

    common = {"api_key": local["dataset_key"], "base_url": local["base_url"]}
    with pytest.raises(TypeError, match="'api_base'; did you mean 'base_url'"):
        DifyVectorStore(local["dataset_id"], api_key=local["dataset_key"], api_base="x")
    with pytest.raises(TypeError, match="'mod'; did you mean 'mode'"):
        DifyLoader(local["dataset_id"], mod="segments", **common)
    loader = DifyLoader(local["dataset_id"], request_timeout=5.0, **common)
    assert loader.load()  # over HTTP: the alias did not break the call

"""What tracers and callback handlers see of a ChatDify call, over HTTP on loopback.

The app's name is the model name from the very first call (LangSmith reads ``ls_model_name``
when a run starts); ``on_llm_end`` gets ``llm_output`` with ``token_usage``, ``model_name``
and ``model_provider``; the message's id is Dify's message id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import LLMResult

from dify_integrations.langchain import ChatDify, DifyLLM
from dify_integrations.testing import DifyTestServer


@pytest.fixture(scope="module")
def local() -> Iterator[dict[str, Any]]:
    with DifyTestServer() as server:
        chat = server.create_chat_app("Support Bot")
        writer = server.create_completion_app("Answer Writer")
        yield {
            "server": server,
            "base_url": server.base_url,
            "chat": chat.api_key,
            "writer": writer.api_key,
        }


class Recorder(BaseCallbackHandler):
    """Keeps what a tracer reads: start metadata and the end result."""

    def __init__(self) -> None:
        self.start_metadata: list[dict[str, Any]] = []
        self.ends: list[LLMResult] = []

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.start_metadata.append(dict(metadata or {}))

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.start_metadata.append(dict(metadata or {}))

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        self.ends.append(response)


class AsyncRecorder(AsyncCallbackHandler, Recorder):
    """The same, as an async handler."""

    async def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        Recorder.on_chat_model_start(self, *args, **kwargs)

    async def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:  # type: ignore[override]
        Recorder.on_llm_end(self, response, **kwargs)


def _chat(local: dict[str, Any]) -> ChatDify:
    return ChatDify(api_key=local["chat"], base_url=local["base_url"], user="tracer")


def test_first_invoke_reports_the_app_name_and_llm_output(local: dict[str, Any]) -> None:
    server: DifyTestServer = local["server"]
    recorder = Recorder()
    message = _chat(local).invoke("hello there", config={"callbacks": [recorder]})

    assert recorder.start_metadata[0]["ls_model_name"] == "Support Bot"
    assert recorder.start_metadata[0]["ls_provider"] == "dify"
    (end,) = recorder.ends
    output = end.llm_output
    assert output is not None
    assert output["model_name"] == "Support Bot"
    assert output["model_provider"] == "dify"
    usage = output["token_usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert message.usage_metadata is not None
    assert usage["total_tokens"] == message.usage_metadata["total_tokens"]

    assert message.response_metadata["model_provider"] == "dify"
    assert message.response_metadata["model_name"] == "Support Bot"
    dify_id = message.response_metadata["message_id"]
    assert message.id == dify_id
    stored = server.requests_to("/chat-messages", method="POST")[-1]
    assert stored.user == "tracer"


def test_app_name_is_read_once(local: dict[str, Any]) -> None:
    server: DifyTestServer = local["server"]
    llm = _chat(local)
    before = len(server.requests_to("/info"))
    for _ in range(3):
        llm.invoke("hello")
    assert len(server.requests_to("/info")) - before == 1


def test_first_stream_reports_the_app_name_and_keeps_the_dify_id(local: dict[str, Any]) -> None:
    recorder = Recorder()
    chunks = list(_chat(local).stream("hello stream", config={"callbacks": [recorder]}))
    assert recorder.start_metadata[0]["ls_model_name"] == "Support Bot"
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert isinstance(merged, AIMessageChunk)
    assert merged.id == merged.response_metadata["message_id"]
    assert merged.response_metadata["model_provider"] == "dify"


async def test_first_ainvoke_reports_the_app_name_and_llm_output(local: dict[str, Any]) -> None:
    recorder = AsyncRecorder()
    message = await _chat(local).ainvoke("hello async", config={"callbacks": [recorder]})
    assert recorder.start_metadata[0]["ls_model_name"] == "Support Bot"
    output = recorder.ends[0].llm_output
    assert output is not None
    assert output["model_provider"] == "dify"
    assert output["token_usage"]["total_tokens"] > 0
    assert message.id == message.response_metadata["message_id"]


async def test_first_astream_reports_the_app_name(local: dict[str, Any]) -> None:
    recorder = AsyncRecorder()
    chunks = [c async for c in _chat(local).astream("hi", config={"callbacks": [recorder]})]
    assert recorder.start_metadata[0]["ls_model_name"] == "Support Bot"
    assert chunks[-1].id == chunks[-1].response_metadata["message_id"]


def test_batch_sums_token_usage(local: dict[str, Any]) -> None:
    llm = _chat(local)
    result = llm.generate([[HumanMessage("one")], [HumanMessage("two words")]])
    assert result.llm_output is not None
    per_call = [g[0].message.usage_metadata["total_tokens"] for g in result.generations]  # type: ignore[attr-defined]
    assert result.llm_output["token_usage"]["total_tokens"] == sum(per_call)


def test_a_given_model_name_needs_no_info_request(local: dict[str, Any]) -> None:
    server: DifyTestServer = local["server"]
    before = len(server.requests_to("/info"))
    recorder = Recorder()
    llm = ChatDify(api_key=local["chat"], base_url=local["base_url"], model="my-bot")
    llm.invoke("hi", config={"callbacks": [recorder]})
    assert recorder.start_metadata[0]["ls_model_name"] == "my-bot"
    assert len(server.requests_to("/info")) == before


def test_bad_input_still_sends_nothing(local: dict[str, Any]) -> None:
    server: DifyTestServer = local["server"]
    before = len(server.request_log)
    with pytest.raises(ValueError, match="must not be empty"):
        _chat(local).invoke("   ")
    with pytest.raises(ValueError, match="must not be empty"):
        list(_chat(local).stream("   "))
    assert len(server.request_log) == before


def test_completion_llm_output_names_the_provider(local: dict[str, Any]) -> None:
    recorder = Recorder()
    llm = DifyLLM(api_key=local["writer"], base_url=local["base_url"])
    llm.invoke("Question: what?", config={"callbacks": [recorder]})
    output = recorder.ends[0].llm_output
    assert output is not None
    assert output["model_provider"] == "dify"
    assert output["model_name"] == "Answer Writer"

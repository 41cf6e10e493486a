"""What LlamaIndex's token counting and instrumentation see of DifyChatEngine, over HTTP.

Each engine turn is reported as an LLM chat call, with the same events and the same usage
in ``raw`` as ``DifyLLM``'s, so ``TokenCountingHandler`` counts Dify's own token figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent, LLMChatStartEvent
from llama_index.core.llms import ChatMessage
from pydantic import Field

from dify_integrations.llama_index import DifyChatEngine, DifyLLM
from dify_integrations.testing import DifyTestServer


@pytest.fixture(scope="module")
def local() -> Iterator[dict[str, Any]]:
    with DifyTestServer() as server:
        yield {
            "server": server,
            "base_url": server.base_url,
            "chat": server.create_chat_app("Support Bot").api_key,
        }


def _counter() -> TokenCountingHandler:
    # The tokenizer is only a fallback for events without usage; Dify's figures must win.
    return TokenCountingHandler(tokenizer=lambda text: [0] * 1000)


def _engine(local: dict[str, Any], counter: TokenCountingHandler) -> DifyChatEngine:
    return DifyChatEngine(
        local["chat"], base_url=local["base_url"], callback_manager=CallbackManager([counter])
    )


def _usage(response: Any) -> dict[str, int]:
    usage = response.metadata["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    return dict(usage)


def test_token_counting_handler_counts_engine_chat(local: dict[str, Any]) -> None:
    counter = _counter()
    engine = _engine(local, counter)
    first = _usage(engine.chat("hello there"))
    second = _usage(engine.chat("and a second question"))
    assert len(counter.llm_token_counts) == 2
    assert counter.prompt_llm_token_count == first["prompt_tokens"] + second["prompt_tokens"]
    assert counter.completion_llm_token_count == (
        first["completion_tokens"] + second["completion_tokens"]
    )
    assert counter.total_llm_token_count == first["total_tokens"] + second["total_tokens"]


def test_token_counting_handler_counts_engine_stream_chat(local: dict[str, Any]) -> None:
    counter = _counter()
    streaming = _engine(local, counter).stream_chat("hello stream")
    text = "".join(streaming.response_gen)
    assert text
    usage = _usage(streaming)
    assert counter.total_llm_token_count == usage["total_tokens"]
    assert len(counter.llm_token_counts) == 1


async def test_token_counting_handler_counts_engine_achat(local: dict[str, Any]) -> None:
    counter = _counter()
    usage = _usage(await _engine(local, counter).achat("hello async"))
    assert counter.total_llm_token_count == usage["total_tokens"]


async def test_token_counting_handler_counts_engine_astream_chat(local: dict[str, Any]) -> None:
    counter = _counter()
    streaming = await _engine(local, counter).astream_chat("hello async stream")
    pieces = [piece async for piece in streaming.async_response_gen()]
    assert "".join(pieces)
    assert counter.total_llm_token_count == _usage(streaming)["total_tokens"]
    assert len(counter.llm_token_counts) == 1


class _Events(BaseEventHandler):
    events: list[BaseEvent] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "_Events"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)


@pytest.fixture
def dispatched() -> Iterator[list[BaseEvent]]:
    root = get_dispatcher()
    handler = _Events(events=[])
    root.add_event_handler(handler)
    try:
        yield handler.events
    finally:
        root.event_handlers.remove(handler)


def _llm_events(events: list[BaseEvent]) -> list[BaseEvent]:
    return [e for e in events if isinstance(e, LLMChatStartEvent | LLMChatEndEvent)]


def test_dispatcher_sees_the_engine_like_dify_llm(
    local: dict[str, Any], dispatched: list[BaseEvent]
) -> None:
    llm = DifyLLM(api_key=local["chat"], base_url=local["base_url"])
    llm.chat([ChatMessage(role="user", content="hello llm")])
    from_llm = _llm_events(dispatched)
    dispatched.clear()
    DifyChatEngine(local["chat"], base_url=local["base_url"]).chat("hello engine")
    from_engine = _llm_events(dispatched)

    assert [type(e) for e in from_engine] == [type(e) for e in from_llm]
    assert [type(e) for e in from_engine] == [LLMChatStartEvent, LLMChatEndEvent]
    start, end = from_engine
    assert isinstance(start, LLMChatStartEvent)
    assert isinstance(end, LLMChatEndEvent)
    assert start.messages[0].content == "hello engine"
    assert start.model_dict["class_name"] == "DifyChatEngine"
    assert local["chat"] not in repr(start.model_dict)
    assert end.response is not None
    assert end.response.raw["usage"]["total_tokens"] > 0
    llm_end = from_llm[1]
    assert isinstance(llm_end, LLMChatEndEvent)
    assert llm_end.response is not None
    assert set(end.response.raw) >= {"usage", "message_id", "conversation_id"}
    assert set(llm_end.response.raw) >= {"usage", "message_id", "conversation_id"}


def test_reading_dify_llm_metadata_makes_no_request(local: dict[str, Any]) -> None:
    server: DifyTestServer = local["server"]
    before = len(server.request_log)
    llm = DifyLLM(api_key=local["chat"], base_url=local["base_url"])
    assert llm.metadata.model_name == "dify"
    assert llm.to_payload()["model_name"] == "dify"
    assert len(server.request_log) == before
    llm.chat([ChatMessage(role="user", content="hi")])
    assert llm.metadata.model_name == "Support Bot"

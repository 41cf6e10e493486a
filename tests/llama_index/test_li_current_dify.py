"""DifyLLM and DifyChatEngine on the streams of current Dify (``fixtures/dify/current``).

Over loopback: a New Agent answer once, a current chatflow complete with its reasoning as a
thinking block (off the answer text), a paused chatflow reported as paused with its form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from llama_index.core.base.llms.types import ChatMessage, TextBlock, ThinkingBlock

from dify_integrations.llama_index import DifyChatEngine, DifyLLM
from tests._replay import replay_server

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")
RUN_ID = "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"
HOW = ["chat", "stream_chat", "achat", "astream_chat"]
MESSAGES = [ChatMessage(role="user", content="hi")]


async def _llm_chat(llm: DifyLLM, how: str) -> tuple[Any, list[Any]]:
    """The final ChatResponse, and every streamed response."""
    if how == "chat":
        return llm.chat(MESSAGES), []
    if how == "achat":
        return await llm.achat(MESSAGES), []
    if how == "stream_chat":
        steps = list(llm.stream_chat(MESSAGES))
    else:
        steps = [r async for r in await llm.astream_chat(MESSAGES)]
    return steps[-1], steps


async def _engine_chat(engine: DifyChatEngine, how: str) -> tuple[str, dict[str, Any]]:
    if how == "chat":
        response: Any = engine.chat("hi")
    elif how == "achat":
        response = await engine.achat("hi")
    elif how == "stream_chat":
        response = engine.stream_chat("hi")
        for _ in response.response_gen:
            pass
    else:
        response = await engine.astream_chat("hi")
        async for _ in response.async_response_gen():
            pass
    return str(response.response), dict(response.metadata or {})


@pytest.mark.parametrize("how", HOW)
async def test_new_agent_answer_once(how: str, track: Callable[[T], T]) -> None:
    with replay_server("agent_app_streaming.sse", mode="agent") as replay:
        llm = track(DifyLLM(api_key="app-x", base_url=replay.base_url, user="u"))
        response, steps = await _llm_chat(llm, how)
        engine = track(DifyChatEngine(api_key="app-x", base_url=replay.base_url, user="u"))
        text, _ = await _engine_chat(engine, how)
    assert response.message.content == "The answer is 42."
    assert text == "The answer is 42."
    if steps:
        assert "".join(s.delta or "" for s in steps) == "The answer is 42."


@pytest.mark.parametrize("how", HOW)
async def test_current_chatflow_with_thinking(how: str, track: Callable[[T], T]) -> None:
    with replay_server("advanced_chat_streaming_current.sse") as replay:
        llm = track(DifyLLM(api_key="app-x", base_url=replay.base_url, user="u"))
        response, steps = await _llm_chat(llm, how)
        engine = track(DifyChatEngine(api_key="app-x", base_url=replay.base_url, user="u"))
        text, meta = await _engine_chat(engine, how)
    message = response.message
    assert message.content == "Hello world"
    thinking = [b for b in message.blocks if isinstance(b, ThinkingBlock)]
    assert [b.content for b in thinking] == ["thinking..."]
    assert [b.text for b in message.blocks if isinstance(b, TextBlock)] == ["Hello world"]
    assert response.additional_kwargs["status"] == "succeeded"
    assert response.raw["usage"]["total_tokens"] == 3
    if steps:
        deltas = [s.additional_kwargs.get("thinking_delta") for s in steps]
        assert [d for d in deltas if d] == ["thinking..."]
        assert "".join(s.delta or "" for s in steps) == "Hello world"
    assert text == "Hello world"
    assert meta["reasoning"] == "thinking..."
    assert meta["status"] == "succeeded"


@pytest.mark.parametrize("how", HOW)
async def test_paused_chatflow_reports_the_form(how: str, track: Callable[[T], T]) -> None:
    with replay_server("advanced_chat_paused_streaming.sse") as replay:
        llm = track(DifyLLM(api_key="app-x", base_url=replay.base_url, user="u"))
        response, _ = await _llm_chat(llm, how)
        engine = track(DifyChatEngine(api_key="app-x", base_url=replay.base_url, user="u"))
        text, meta = await _engine_chat(engine, how)
    for extra in (response.additional_kwargs, meta):
        assert extra["status"] == "paused"
        assert extra["workflow_run_id"] == RUN_ID
        (form,) = extra["human_input"]
        assert form["form_token"] == "tok123"
        assert form["form_content"] == "Approve?"
        assert form["actions"] == [{"id": "ok", "title": "OK"}]
    assert response.message.content == ""
    assert text == ""

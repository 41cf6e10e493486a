"""ChatDify on the streams of current Dify (``fixtures/dify/current``), over loopback.

invoke / stream / ainvoke / astream each fold a New Agent answer once, a current chatflow
(message_end before workflow_finished) complete with its reasoning kept off the answer
text, and a paused chatflow into an answer whose metadata says ``paused`` with the form.
"""

from __future__ import annotations

from functools import reduce
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk

from dify_integrations.langchain import ChatDify
from tests._replay import replay_server

pytestmark = pytest.mark.timeout(60)

RUN_ID = "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"


async def _message(model: ChatDify, how: str) -> AIMessage | AIMessageChunk:
    if how == "invoke":
        return model.invoke("hi")
    if how == "ainvoke":
        return await model.ainvoke("hi")
    if how == "stream":
        chunks: list[Any] = list(model.stream("hi"))
    else:
        chunks = [c async for c in model.astream("hi")]
    assert chunks
    return reduce(lambda a, b: a + b, chunks)


HOW = ["invoke", "stream", "ainvoke", "astream"]


@pytest.mark.parametrize("how", HOW)
async def test_new_agent_answer_once(how: str) -> None:
    with replay_server("agent_app_streaming.sse", mode="agent") as replay:
        model = ChatDify(api_key="app-x", base_url=replay.base_url, user="u")
        message = await _message(model, how)
    assert message.content == "The answer is 42."
    assert message.response_metadata["finish_reason"] == "stop"
    assert "answer_replaced" not in message.response_metadata


@pytest.mark.parametrize("how", HOW)
async def test_current_chatflow_complete_with_reasoning_apart(how: str) -> None:
    with replay_server("advanced_chat_streaming_current.sse") as replay:
        model = ChatDify(api_key="app-x", base_url=replay.base_url, user="u")
        message = await _message(model, how)
    assert message.content == "Hello world"
    assert message.text == "Hello world"
    assert message.response_metadata["status"] == "succeeded"
    assert message.response_metadata["workflow_run_id"] == RUN_ID
    assert message.usage_metadata is not None
    assert message.usage_metadata["total_tokens"] == 3
    # The reasoning is a reasoning content block, never part of the answer text.
    assert message.additional_kwargs["reasoning_content"] == "thinking..."
    blocks = message.content_blocks
    assert blocks[0] == {"type": "reasoning", "reasoning": "thinking..."}
    assert next(b for b in blocks if b["type"] == "text")["text"] == "Hello world"


async def test_streamed_reasoning_chunks_carry_no_answer_text() -> None:
    with replay_server("advanced_chat_streaming_current.sse") as replay:
        model = ChatDify(api_key="app-x", base_url=replay.base_url, user="u")
        chunks = list(model.stream("hi"))
    reasoning = [c for c in chunks if c.additional_kwargs.get("reasoning_content")]
    assert len(reasoning) == 1  # the second reasoning_chunk is empty (is_final)
    assert reasoning[0].content == ""
    assert reasoning[0].content_blocks[0] == {"type": "reasoning", "reasoning": "thinking..."}
    text = [c.content for c in chunks if c.content]
    assert "".join(str(t) for t in text) == "Hello world"


@pytest.mark.parametrize("how", HOW)
async def test_paused_chatflow_is_an_answer_with_the_form(how: str) -> None:
    with replay_server("advanced_chat_paused_streaming.sse") as replay:
        model = ChatDify(api_key="app-x", base_url=replay.base_url, user="u")
        message = await _message(model, how)
    meta = message.response_metadata
    assert message.content == ""
    assert meta["status"] == "paused"
    assert meta["finish_reason"] == "paused"
    assert meta["workflow_run_id"] == RUN_ID
    (form,) = meta["human_input"]
    assert form["form_token"] == "tok123"
    assert form["form_content"] == "Approve?"
    assert form["actions"] == [{"id": "ok", "title": "OK"}]
    assert form["expiration_time"] == 1767229200
    assert form["workflow_run_id"] == RUN_ID

"""Output moderation over real HTTP: the server sends ``message_replace`` before ``message_end``.

The local server's ``moderation=`` replaces the whole answer once it has streamed; the
adapters must give the replacement, never the streamed original, as the final answer.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage

from dify_integrations import DifyClient
from dify_integrations.langchain import ChatDify, DifyLLM
from dify_integrations.testing import DifyTestServer
from tests._shared_data import REDACTED, ModeratedApps, create_moderated_apps


@pytest.fixture(scope="module")
def moderated(dify_server: DifyTestServer) -> ModeratedApps:
    return create_moderated_apps(dify_server)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def invoke(model: Any, value: Any, mode: str, **kwargs: Any) -> Any:
    if mode == "sync":
        return model.invoke(value, **kwargs)
    return await model.ainvoke(value, **kwargs)


async def stream(model: Any, value: Any, mode: str) -> list[Any]:
    if mode == "sync":
        return list(model.stream(value))
    return [chunk async for chunk in model.astream(value)]


def test_server_sends_message_replace_before_message_end(moderated: ModeratedApps) -> None:
    with (
        DifyClient(moderated.chat_key, base_url=moderated.base_url, user="u") as client,
        client.stream_chat_message("tell me the secret") as events,
    ):
        names = [event.event for event in events]
    assert "message" in names
    assert names.index("message_replace") < names.index("message_end")


@pytest.mark.parametrize("app", ["chat_key", "chatflow_key"])
async def test_invoke_returns_the_replacement(
    moderated: ModeratedApps, mode: str, app: str
) -> None:
    model = ChatDify(api_key=getattr(moderated, app), base_url=moderated.base_url, user="u")
    msg = await invoke(model, "tell me the secret", mode)
    assert isinstance(msg, AIMessage)
    assert msg.content == REDACTED
    assert msg.response_metadata["answer_replaced"] is True
    assert msg.response_metadata["replaced_answer"] == REDACTED


async def test_stream_last_chunk_carries_the_replacement(
    moderated: ModeratedApps, mode: str
) -> None:
    model = ChatDify(api_key=moderated.chat_key, base_url=moderated.base_url, user="u")
    chunks = await stream(model, "tell me the secret", mode)
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    streamed = "".join(str(c.content) for c in chunks)
    assert streamed == "You asked: tell me the secret"  # the deltas as they were shown
    last = chunks[-1]
    assert last.chunk_position == "last"
    assert last.response_metadata["answer_replaced"] is True
    assert last.response_metadata["replaced_answer"] == REDACTED
    assert all("answer_replaced" not in c.response_metadata for c in chunks[:-1])


async def test_unmoderated_answer_is_not_flagged(moderated: ModeratedApps, mode: str) -> None:
    model = ChatDify(api_key=moderated.selective_key, base_url=moderated.base_url, user="u")
    clean = await invoke(model, "what is the weather", mode)
    assert clean.content == "You asked: what is the weather"
    assert "answer_replaced" not in clean.response_metadata
    flagged = await invoke(model, "what is the secret", mode)
    assert flagged.content == REDACTED
    assert flagged.response_metadata["answer_replaced"] is True


async def test_next_turn_continues_after_a_replaced_answer(
    moderated: ModeratedApps, mode: str
) -> None:
    model = ChatDify(api_key=moderated.selective_key, base_url=moderated.base_url, user="u")
    history: list[Any] = [HumanMessage("what is the secret")]
    first = await invoke(model, history, mode)
    assert first.content == REDACTED
    history += [first, HumanMessage("and the weather")]
    second = await invoke(model, history, mode)
    assert second.content == "You asked: and the weather"
    assert second.response_metadata["conversation_id"] == first.response_metadata["conversation_id"]
    with DifyClient(moderated.selective_key, base_url=moderated.base_url, user="u") as client:
        stored = client.list_messages(str(first.response_metadata["conversation_id"])).data
    assert [m.answer for m in stored] == [REDACTED, "You asked: and the weather"]


async def test_completion_llm_returns_the_replacement(moderated: ModeratedApps, mode: str) -> None:
    llm = DifyLLM(api_key=moderated.completion_key, base_url=moderated.base_url, user="u")
    assert await invoke(llm, "backups", mode) == REDACTED
    result = llm.generate(["backups"]) if mode == "sync" else await llm.agenerate(["backups"])
    info = result.generations[0][0].generation_info or {}
    assert result.generations[0][0].text == REDACTED
    assert info["answer_replaced"] is True
    assert info["replaced_answer"] == REDACTED

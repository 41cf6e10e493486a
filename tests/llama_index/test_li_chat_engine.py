"""DifyChatEngine over real HTTP: Dify's server-side memory as a LlamaIndex chat engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.chat_engine.types import (
    AgentChatResponse,
    BaseChatEngine,
    StreamingAgentChatResponse,
)

from dify_integrations.core.errors import AuthenticationError, NotFoundError
from dify_integrations.llama_index import DifyChatEngine

if TYPE_CHECKING:
    from conftest import Apps

pytestmark = pytest.mark.timeout(60)


def test_is_a_chat_engine(apps: Apps) -> None:
    engine = DifyChatEngine(api_key=apps.echo_key, base_url=apps.base_url)
    assert isinstance(engine, BaseChatEngine)
    assert apps.echo_key not in repr(engine)
    assert engine.chat_history == []
    assert engine.conversation_id is None


def test_five_turns_in_one_dify_conversation_then_reset(apps: Apps) -> None:
    engine = DifyChatEngine(api_key=apps.echo_key, base_url=apps.base_url, user="u-five")
    for turn in range(1, 6):
        response = engine.chat(f"message {turn}")
        assert isinstance(response, AgentChatResponse)
        assert str(response).startswith(f"Turn {turn}:")
        assert f"'message {turn}'" in str(response)
        assert response.metadata is not None
        assert response.metadata["conversation_id"] == engine.conversation_id
    first = engine.conversation_id
    assert first is not None
    assert apps.server.message_count(first) == 5
    # Only the new message travels: Dify holds the history.
    bodies = [r.body for r in apps.server.requests_to("/chat-messages")[-5:]]
    assert [b["query"] for b in bodies] == [f"message {i}" for i in range(1, 6)]
    assert [b.get("conversation_id") or None for b in bodies][1:] == [first] * 4

    engine.reset()
    assert engine.conversation_id is None
    again = engine.chat("fresh start")
    assert str(again).startswith("Turn 1:")
    assert engine.conversation_id not in (None, first)
    assert apps.server.message_count(first) == 5  # the old one is untouched


async def test_async_five_turns_and_areset(apps: Apps, track: Callable[[Any], Any]) -> None:
    engine = track(DifyChatEngine(api_key=apps.echo_key, base_url=apps.base_url, user="u-afive"))
    for turn in range(1, 6):
        response = await engine.achat(f"async {turn}")
        assert str(response).startswith(f"Turn {turn}:")
    conversation_id = engine.conversation_id
    assert conversation_id is not None
    assert apps.server.message_count(conversation_id) == 5
    history = await engine.aget_chat_history()
    assert len(history) == 10
    await engine.areset(delete_old=True)
    resumed = track(
        DifyChatEngine(
            api_key=apps.echo_key,
            base_url=apps.base_url,
            user="u-afive",
            conversation_id=conversation_id,
        )
    )
    with pytest.raises(NotFoundError):
        await resumed.achat("still there?")
    assert str(await engine.achat("again")).startswith("Turn 1:")


def test_reset_delete_old_removes_the_conversation_on_the_server(apps: Apps) -> None:
    engine = DifyChatEngine(api_key=apps.echo_key, base_url=apps.base_url, user="u-delete")
    engine.chat("remember me")
    old = engine.conversation_id
    assert old is not None
    engine.reset(delete_old=True)
    assert engine.conversation_id is None
    resumed = DifyChatEngine(
        api_key=apps.echo_key, base_url=apps.base_url, user="u-delete", conversation_id=old
    )
    with pytest.raises(NotFoundError):
        resumed.chat("still there?")


def test_chat_history_is_read_from_dify(apps: Apps) -> None:
    engine = DifyChatEngine(api_key=apps.echo_key, base_url=apps.base_url, user="u-history")
    answers = [str(engine.chat(f"q{i}")) for i in range(3)]
    history = engine.chat_history
    assert [m.role for m in history] == [MessageRole.USER, MessageRole.ASSISTANT] * 3
    assert [m.content for m in history[::2]] == ["q0", "q1", "q2"]
    assert [m.content for m in history[1::2]] == answers
    # Another engine on the same conversation sees the same history (it lives in Dify).
    other = DifyChatEngine(
        api_key=apps.echo_key,
        base_url=apps.base_url,
        user="u-history",
        conversation_id=engine.conversation_id,
    )
    assert [m.content for m in other.chat_history] == [m.content for m in history]
    assert str(other.chat("q3")).startswith("Turn 4:")


def test_explicit_chat_history_starts_a_conversation_with_it_as_context(apps: Apps) -> None:
    engine = DifyChatEngine(api_key=apps.echo_key, base_url=apps.base_url, user="u-given")
    engine.chat("old conversation")
    response = engine.chat(
        "What is my name?",
        chat_history=[
            ChatMessage(role="user", content="My name is Ada."),
            ChatMessage(role="assistant", content="Hello Ada."),
        ],
    )
    assert str(response).startswith("Turn 1:")
    query = apps.server.requests_to("/chat-messages")[-1].body["query"]
    assert "My name is Ada." in query
    assert query.endswith("What is my name?")


def test_stream_chat_tokens_and_sources(apps: Apps) -> None:
    engine = DifyChatEngine(api_key=apps.kb_chat_key, base_url=apps.base_url, user="u-stream")
    response = engine.stream_chat("How many days do I have to return an item?")
    assert isinstance(response, StreamingAgentChatResponse)
    tokens = list(response.response_gen)
    assert len(tokens) > 1
    text = "".join(tokens)
    assert "30 days" in text
    assert response.response == text.strip()
    assert response.source_nodes
    top = response.source_nodes[0]
    assert top.node.metadata["document_name"] == "returns.md"
    assert "30 days" in top.node.get_content()
    assert top.score is not None
    assert response.sources
    assert response.sources[0].raw_output[0]["document_name"] == "returns.md"
    assert engine.conversation_id is not None
    follow_up = engine.chat("And how long do refunds take?")
    assert follow_up.metadata is not None
    assert follow_up.metadata["conversation_id"] == engine.conversation_id
    assert apps.server.message_count(engine.conversation_id) == 2


async def test_astream_chat_tokens_and_sources(apps: Apps, track: Callable[[Any], Any]) -> None:
    engine = track(
        DifyChatEngine(api_key=apps.kb_chat_key, base_url=apps.base_url, user="u-astream")
    )
    response = await engine.astream_chat("How long does express shipping take?")
    tokens = [token async for token in response.async_response_gen()]
    assert len(tokens) > 1
    assert "1 to 2" in "".join(tokens)
    assert response.source_nodes
    assert response.source_nodes[0].node.metadata["document_name"] == "shipping.md"
    assert engine.conversation_id is not None
    blocking = await engine.achat("Is shipping free?")
    assert blocking.source_nodes
    assert apps.server.message_count(engine.conversation_id) == 2


def test_inputs_are_sent(apps: Apps) -> None:
    engine = DifyChatEngine(
        api_key=apps.echo_key, base_url=apps.base_url, inputs={"tier": "gold"}, user="u-in"
    )
    assert "Inputs: tier=gold." in str(engine.chat("hi"))


async def test_errors_are_the_core_exceptions(apps: Apps, track: Callable[[Any], Any]) -> None:
    engine = track(DifyChatEngine(api_key="app-wrong", base_url=apps.base_url))
    with pytest.raises(AuthenticationError):
        engine.chat("hi")
    with pytest.raises(AuthenticationError):
        await engine.achat("hi")
    with pytest.raises(ValueError, match="empty"):
        engine.chat("  ")

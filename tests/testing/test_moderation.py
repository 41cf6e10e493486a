"""Output moderation: deltas, then ``message_replace``, then ``message_end`` (reference §4.1)."""

from __future__ import annotations

from typing import Any

import pytest

from dify_integrations.testing import DifyTestServer

from ._support import Api, assert_same_shape, collapse, fixture_stream

REFUSAL = "Sorry, I can't help with that request."


def words(
    query: str, inputs: dict[str, Any], history: list[tuple[str, str]], files: list[dict[str, Any]]
) -> list[str]:
    return ["Here is how to", " bypass the", f" {query}"]


class Moderator:
    """Replaces answers mentioning ``bypass``; remembers what it was shown."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, answer: str) -> str | None:
        self.seen.append(answer)
        return REFUSAL if "bypass" in answer else None


def test_chat_stream_matches_fixture_and_stores_replacement(server: DifyTestServer) -> None:
    moderator = Moderator()
    app = server.create_chat_app("Moderated", responder=words, moderation=moderator)
    api = Api(server, app.api_key)
    frames = api.stream("/chat-messages", {"query": "lock", "inputs": {}, "user": "u"})
    expected = fixture_stream("chat_streaming_message_replace.sse")
    names = [n for n, _ in frames]
    assert collapse(names) == collapse([n for n, _ in expected])
    for event in ("message", "message_replace", "message_end"):
        assert_same_shape(
            next(p for n, p in frames if n == event), next(p for n, p in expected if n == event)
        )
    deltas = "".join(p["answer"] for n, p in frames if n == "message" and p)
    assert deltas == "Here is how to bypass the lock"
    assert moderator.seen == [deltas]  # called once, on the full answer
    replace = next(p for n, p in frames if n == "message_replace")
    assert replace is not None
    assert replace["answer"] == REFUSAL
    assert replace["reason"] == ""
    end = frames[-1][1]
    assert end is not None
    assert end["event"] == "message_end"
    assert end["message_id"] == replace["message_id"]
    stored = api.get(
        "/messages", params={"user": "u", "conversation_id": end["conversation_id"]}
    ).json()["data"]
    assert [m["answer"] for m in stored] == [REFUSAL]


def test_blocking_returns_replacement(server: DifyTestServer) -> None:
    app = server.create_chat_app("Moderated blocking", responder=words, moderation=Moderator())
    api = Api(server, app.api_key)
    body = api.post(
        "/chat-messages",
        json={"query": "lock", "inputs": {}, "user": "u", "response_mode": "blocking"},
    ).json()
    assert body["answer"] == REFUSAL


def test_moderation_none_keeps_answer(server: DifyTestServer) -> None:
    moderator = Moderator()
    app = server.create_chat_app("Clean", moderation=moderator)
    api = Api(server, app.api_key)
    frames = api.stream("/chat-messages", {"query": "hello", "inputs": {}, "user": "u"})
    assert "message_replace" not in [n for n, _ in frames]
    assert moderator.seen == ["You said: hello"]


def test_completion_replace_has_no_conversation(server: DifyTestServer) -> None:
    app = server.create_completion_app(
        "Writer", template="Steps to bypass the {{query}}", moderation=Moderator()
    )
    api = Api(server, app.api_key)
    frames = api.stream("/completion-messages", {"query": "lock", "inputs": {}, "user": "u"})
    assert collapse([n for n, _ in frames]) == ["message", "message_replace", "message_end"]
    replace = next(p for n, p in frames if n == "message_replace")
    assert replace is not None
    assert "conversation_id" not in replace
    assert replace["answer"] == REFUSAL
    blocking = api.post(
        "/completion-messages",
        json={"query": "lock", "inputs": {}, "user": "u", "response_mode": "blocking"},
    ).json()
    assert blocking["answer"] == REFUSAL


@pytest.mark.parametrize(
    ("mode", "delta"), [("agent-chat", "agent_message"), ("advanced-chat", "message")]
)
def test_other_chat_modes(server: DifyTestServer, mode: Any, delta: str) -> None:
    app = server.create_chat_app(
        f"Moderated {mode}", mode=mode, responder=words, moderation=Moderator()
    )
    api = Api(server, app.api_key)
    frames = api.stream("/chat-messages", {"query": "lock", "inputs": {}, "user": "u"})
    names = [n for n, _ in frames if n != "ping"]
    tail = ["message_replace", "message_end"]
    if mode == "advanced-chat":  # current chatflows end with workflow_finished
        tail.append("workflow_finished")
    assert names[-len(tail) :] == tail
    assert delta in names
    replace = frames[-len(tail)][1]
    assert replace is not None
    assert replace["answer"] == REFUSAL


def test_moderation_failure_is_error_event(server: DifyTestServer) -> None:
    def broken(answer: str) -> str | None:
        raise ValueError("moderation service unavailable")

    app = server.create_chat_app("Broken moderation", responder=words, moderation=broken)
    api = Api(server, app.api_key)
    frames = api.stream("/chat-messages", {"query": "lock", "inputs": {}, "user": "u"})
    assert collapse([n for n, _ in frames]) == ["message", "error"]
    error = frames[-1][1]
    assert error is not None
    assert (error["code"], error["message"]) == ("invalid_param", "moderation service unavailable")

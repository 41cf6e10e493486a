"""Fault injection: every kind, scoped by route, method and count; the request log."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from dify_integrations.testing import App, DifyTestServer

from ._support import Api, iter_frames, parse_sse

CHAT = {"query": "When are refunds issued?", "inputs": {}, "user": "u"}
STREAM = {**CHAT, "response_mode": "streaming"}


def test_status_with_retry_after_and_count(server: DifyTestServer, chat: Api) -> None:
    fault = server.inject_fault(
        "/chat-messages",
        status=429,
        retry_after=2,
        code="rate_limit_error",
        message="slow down",
        count=2,
    )
    for _ in range(2):
        resp = chat.post("/chat-messages", json=CHAT)
        assert resp.status_code == 429
        assert resp.headers["Retry-After"] == "2"
        assert resp.json() == {"code": "rate_limit_error", "message": "slow down", "status": 429}
    assert chat.post("/chat-messages", json=CHAT).status_code == 200
    assert fault.fired == 2


def test_status_default_body_and_scoping(server: DifyTestServer, chat: Api) -> None:
    server.inject_fault("/chat-messages", status=503, method="GET")
    assert chat.post("/chat-messages", json=CHAT).status_code == 200  # method does not match
    server.clear_faults()
    server.inject_fault("/parameters", status=503)
    assert chat.post("/chat-messages", json=CHAT).status_code == 200  # route does not match
    resp = chat.get("/parameters")
    assert resp.status_code == 503
    assert resp.json()["code"] == "service_unavailable"
    assert resp.json()["status"] == 503
    server.inject_fault("/chat-messages/{task_id}/stop", status=502)
    assert chat.post("/chat-messages/abc/stop", json={"user": "u"}).status_code == 502
    server.inject_fault("*", status=500, body=b"not json at all")
    raw = chat.get("/info")
    assert raw.status_code == 500
    assert raw.content == b"not json at all"


def test_stream_fault_on_streaming_request_when_it_is_a_status(
    server: DifyTestServer, chat: Api
) -> None:
    server.inject_fault("/chat-messages", status=500)
    resp = chat.post("/chat-messages", json=STREAM)
    assert resp.status_code == 500
    assert resp.headers["Content-Type"].startswith("application/json")


def test_delay(server: DifyTestServer, chat: Api) -> None:
    server.inject_fault("/info", "delay", delay=0.3)
    with pytest.raises(requests.ReadTimeout):
        chat.session.get(chat.base + "/info", timeout=0.1)
    assert chat.get("/info").status_code == 200


def test_drop_before_response(server: DifyTestServer, chat: Api) -> None:
    server.inject_fault("/chat-messages", "drop")
    with pytest.raises(requests.ConnectionError):
        requests.post(
            chat.base + "/chat-messages", json=CHAT, headers=dict(chat.session.headers), timeout=10
        )
    assert chat.post("/chat-messages", json=CHAT).status_code == 200


def test_drop_after_events(server: DifyTestServer, chat: Api) -> None:
    server.inject_fault("/chat-messages", "drop_after", after_events=2)
    frames: list[tuple[str, Any]] = []

    def consume() -> None:
        with chat.session.post(
            chat.base + "/chat-messages", json=STREAM, stream=True, timeout=10
        ) as resp:
            frames.extend(iter_frames(resp))

    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        consume()
    assert [n for n, _ in frames] == ["message", "message"]


def test_drop_after_events_clean(server: DifyTestServer, chat: Api) -> None:
    server.inject_fault("/chat-messages", "drop_after", after_events=1, clean=True)
    resp = chat.post("/chat-messages", json=STREAM)
    assert [n for n, _ in parse_sse(resp.content)] == ["message"]  # ends without message_end


def test_drop_after_only_matches_streams(server: DifyTestServer, chat: Api) -> None:
    fault = server.inject_fault("/chat-messages", "drop_after", after_events=0)
    assert chat.post("/chat-messages", json=CHAT).status_code == 200
    assert fault.fired == 0


def test_error_event(server: DifyTestServer, chat: Api) -> None:
    server.inject_fault(
        "/chat-messages",
        "error_event",
        after_events=2,
        code="completion_request_error",
        status=400,
        message="[openai] boom",
    )
    frames = parse_sse(chat.post("/chat-messages", json=STREAM).content)
    assert [n for n, _ in frames] == ["message", "message", "error"]
    error = frames[-1][1]
    assert error is not None
    assert list(error) == [
        "event",
        "conversation_id",
        "message_id",
        "created_at",
        "code",
        "status",
        "message",
    ]
    assert (error["code"], error["status"], error["message"]) == (
        "completion_request_error",
        400,
        "[openai] boom",
    )


def test_error_event_in_workflow_envelope(server: DifyTestServer) -> None:
    api = Api(server, server.create_workflow_app("Faulty flow", lambda inputs: {"x": 1}).api_key)
    server.inject_fault("/workflows/run", "error_event", after_events=1)
    frames = parse_sse(
        api.post(
            "/workflows/run", json={"inputs": {}, "user": "u", "response_mode": "streaming"}
        ).content
    )
    assert [n for n, _ in frames] == ["ping", "workflow_started", "error"]
    error = frames[-1][1]
    assert error is not None
    assert list(error) == [
        "event",
        "workflow_run_id",
        "code",
        "status",
        "message",
    ]
    assert error["code"] == "internal_server_error"
    assert error["status"] == 500


def test_malformed_frame(server: DifyTestServer, chat: Api) -> None:
    server.inject_fault("/chat-messages", "malformed", after_events=1, frame=b"data: {broken\n\n")
    body = chat.post("/chat-messages", json=STREAM).content
    assert body.endswith(b"data: {broken\n\n")
    assert body.count(b"data: ") == 2


def test_stall_sends_only_pings_then_continues(server: DifyTestServer, chat: Api) -> None:
    server.inject_fault("/chat-messages", "stall", after_events=1, duration=0.5, ping_interval=0.1)
    names = [n for n, _ in parse_sse(chat.post("/chat-messages", json=STREAM).content)]
    assert names[0] == "message"
    first_non_ping = next(i for i, n in enumerate(names[1:], 1) if n != "ping")
    assert first_non_ping >= 3  # several pings while stalled
    assert names[-1] == "message_end"


def test_pings_at_interval(server: DifyTestServer) -> None:
    app = server.create_chat_app(
        "Pinger", responder=lambda q, i, h, f: ["a", "b"], token_delay=0.35
    )
    saved = server.ping_interval
    server.ping_interval = 0.1
    try:
        names = [n for n, _ in Api(server, app.api_key).stream("/chat-messages", CHAT)]
    finally:
        server.ping_interval = saved
    assert "ping" in names
    assert names[-1] == "message_end"
    assert names.count("message") == 2


def test_request_log_never_holds_the_key(server: DifyTestServer, chat_app: App, chat: Api) -> None:
    server.reset_log()
    before = time.time()
    chat.post("/chat-messages", json={**CHAT, "user": "logged-user"})
    chat.get("/conversations", params={"user": "q-user"})
    log = server.request_log
    assert [(e.method, e.path, e.route) for e in log] == [
        ("POST", "/v1/chat-messages", "/chat-messages"),
        ("GET", "/v1/conversations", "/conversations"),
    ]
    assert log[0].user == "logged-user"
    assert log[1].user == "q-user"
    assert log[0].body["query"] == CHAT["query"]
    assert log[0].status == 200
    assert log[0].key_kind == "app"
    assert log[0].time >= before
    assert chat_app.api_key not in repr(log)
    assert all("authorization" not in (h.lower() for h in e.headers) for e in log)

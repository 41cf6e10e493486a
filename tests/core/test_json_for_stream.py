"""A streaming request answered with one JSON body (a gateway, an older server) still folds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import dify_integrations as di
from dify_integrations.core.bodies import blocking_body_as_stream
from dify_integrations.core.sse import SSEDecoder

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dify"


def load_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _events(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(f.data) for f in SSEDecoder().feed(raw) if f.data]


def test_chat_blocking_body_becomes_message_and_message_end() -> None:
    body = load_json("chat_blocking.json")
    events = _events(blocking_body_as_stream(json.dumps(body).encode()))
    assert [e["event"] for e in events] == ["message", "message_end"]
    assert events[0]["answer"] == body["answer"]
    assert events[1]["metadata"] == body["metadata"]
    assert {e["conversation_id"] for e in events} == {body["conversation_id"]}


def test_workflow_blocking_body_becomes_workflow_finished() -> None:
    body = load_json("workflow_blocking.json")
    (event,) = _events(blocking_body_as_stream(json.dumps(body).encode()))
    assert event["event"] == "workflow_finished"
    assert event["data"] == body["data"]
    assert event["workflow_run_id"] == body["workflow_run_id"]


def test_unknown_json_passes_through_for_the_stream_to_judge() -> None:
    assert _events(blocking_body_as_stream(b'{"result": "success"}')) == [{"result": "success"}]


@pytest.mark.parametrize("method", ["send_chat_message", "stream_chat_message"])
def test_json_answer_to_a_streaming_request_over_http(
    apps: Any, make_runner: Any, method: str
) -> None:
    body = load_json("chat_blocking.json")
    apps.server.inject_fault("/chat-messages", "status", status=200, body=body, count=1)
    runner = make_runner(apps.chat_key, user="jay")
    if method == "send_chat_message":
        reply = runner(method, "hi")
        assert reply.answer == body["answer"]
        assert reply.conversation_id == body["conversation_id"]
        return
    events, stream = runner.stream(method, "hi")
    assert [type(e).__name__ for e in events] == ["MessageEvent", "MessageEndEvent"]
    assert stream.result.answer == body["answer"]
    assert stream.result.usage is not None


def test_json_that_is_no_answer_raises_a_dify_error(apps: Any, make_runner: Any) -> None:
    apps.server.inject_fault(
        "/chat-messages", "status", status=200, body={"result": "success"}, count=1
    )
    with pytest.raises(di.DifyError, match="event"):
        make_runner(apps.chat_key, user="jay")("send_chat_message", "hi")

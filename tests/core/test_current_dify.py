"""Streams of current Dify (``fixtures/dify/current``) fold to their documented results.

Each fixture is decoded in every two-piece split of its bytes, then sent over loopback
through `DifyClient` and `AsyncDifyClient` (send and stream).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from dify_integrations import AsyncDifyClient, DifyClient
from dify_integrations.core.accumulate import StreamResult
from dify_integrations.core.events import (
    HumanInputRequiredEvent,
    ReasoningChunkEvent,
    WorkflowPausedEvent,
    parse_event,
)
from dify_integrations.core.sse import SSEDecoder
from tests._replay import CURRENT, replay_server

RUN_ID = "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"
MESSAGE_ID = "5d8e2f1a-3b4c-4d5e-9f60-7a8b9c0d1e2f"

# fixture -> what it folds to (the documented result of fixtures/dify/current/README.md)
EXPECTED: dict[str, dict[str, Any]] = {
    "agent_app_streaming.sse": {
        "answer": "The answer is 42.",
        "status": None,
        "reasoning": "",
        "forms": [],
        "replaced": False,
    },
    "advanced_chat_streaming_current.sse": {
        "answer": "Hello world",
        "status": "succeeded",
        "reasoning": "thinking...",
        "forms": [],
        "replaced": False,
    },
    "advanced_chat_paused_streaming.sse": {
        "answer": "",
        "status": "paused",
        "reasoning": "",
        "forms": ["tok123"],
        "replaced": False,
    },
}


def test_every_current_fixture_has_an_expectation() -> None:
    assert sorted(p.name for p in CURRENT.glob("*.sse")) == sorted(EXPECTED)


def _fold(chunks: list[bytes]) -> StreamResult:
    decoder = SSEDecoder()
    result = StreamResult()
    for chunk in chunks:
        for frame in decoder.feed(chunk):
            if frame.data is None or frame.event == "ping":
                continue
            result.add(parse_event(json.loads(frame.data)))
    assert not decoder.pending  # every fixture ends with a complete frame
    return result


def _check(result: Any, expected: dict[str, Any]) -> None:
    assert result.answer == expected["answer"]
    assert result.status == expected["status"]
    assert result.reasoning == expected["reasoning"]
    assert [f.form_token for f in result.human_input] == expected["forms"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_folds_in_every_split(name: str) -> None:
    data = (CURRENT / name).read_bytes()
    step = max(1, len(data) // 97)  # every split would be slow; ~100 spread over the file
    for cut in range(0, len(data) + 1, step):
        result = _fold([data[:cut], data[cut:]])
        assert result.finished, cut
        _check(result, EXPECTED[name])
        assert result.replaced is EXPECTED[name]["replaced"]
        assert result.message_id == MESSAGE_ID


def test_one_byte_at_a_time() -> None:
    for name, expected in EXPECTED.items():
        data = (CURRENT / name).read_bytes()
        result = _fold([data[i : i + 1] for i in range(len(data))])
        _check(result, expected)


def test_paused_fixture_carries_the_whole_form() -> None:
    result = _fold([(CURRENT / "advanced_chat_paused_streaming.sse").read_bytes()])
    assert result.paused
    assert result.finished
    (form,) = result.human_input
    assert form.form_token == "tok123"
    assert form.form_content == "Approve?"
    assert form.actions == [{"id": "ok", "title": "OK"}]
    assert form.inputs == []
    assert form.expiration_time == 1767229200
    assert form.workflow_run_id == RUN_ID
    assert form.node_title == "Approve"
    response = result.to_chat_response()
    assert response.paused
    assert response.status == "paused"
    assert response.workflow_run_id == RUN_ID
    assert response.human_input[0].form_token == "tok123"


def test_typed_events_of_current_fixtures() -> None:
    data = (CURRENT / "advanced_chat_paused_streaming.sse").read_bytes()
    events = [
        parse_event(json.loads(f.data)) for f in SSEDecoder().feed(data) if f.data is not None
    ]
    assert [type(e) for e in events[1:]] == [HumanInputRequiredEvent, WorkflowPausedEvent]
    paused = events[-1]
    assert isinstance(paused, WorkflowPausedEvent)
    assert paused.data.paused_nodes == ["hi"]
    assert paused.data.reasons[0]["form_token"] == "tok123"
    data = (CURRENT / "advanced_chat_streaming_current.sse").read_bytes()
    kinds = [
        type(parse_event(json.loads(f.data))) for f in SSEDecoder().feed(data) if f.data is not None
    ]
    assert kinds.count(ReasoningChunkEvent) == 2


# ----------------------------------------------------------------------- over HTTP


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_clients_fold_current_streams(name: str, kind: str) -> None:
    expected = EXPECTED[name]
    with replay_server(name) as replay:
        if kind == "sync":
            with DifyClient("app-x", base_url=replay.base_url, user="u") as client:
                sent = client.send_chat_message("hi")
                with client.stream_chat_message("hi") as stream:
                    events = list(stream)
                streamed = stream.result
        else:

            async def go() -> tuple[Any, Any, list[Any]]:
                async with AsyncDifyClient("app-x", base_url=replay.base_url, user="u") as c:
                    sent = await c.send_chat_message("hi")
                    async with c.stream_chat_message("hi") as stream:
                        events = [e async for e in stream]
                    return sent, stream.result, events

            sent, streamed, events = asyncio.run(go())
    _check(sent, expected)
    _check(streamed, expected)
    assert sent.message_id == MESSAGE_ID
    assert events  # every event but pings reached the caller
    # Finished streams are never stopped: only the two sends reached the server.
    assert [path for _, path, _ in replay.requests] == ["/v1/chat-messages"] * 2


def test_new_agent_closing_message_that_differs_replaces() -> None:
    result = StreamResult()
    assert result.add(parse_event({"event": "agent_message", "answer": "The ans"})) == "The ans"
    closing = parse_event({"event": "message", "answer": "The answer is 42."})
    assert result.add(closing) == ""
    assert result.answer == "The answer is 42."
    assert result.replaced
    assert result.replacements == 1


def test_chatflow_orders_both_complete() -> None:
    env = {"conversation_id": "c", "message_id": "m", "task_id": "t", "workflow_run_id": "r"}
    end = {"event": "message_end", **env, "id": "m", "metadata": {}}
    done = {"event": "workflow_finished", **env, "data": {"status": "succeeded", "outputs": {}}}
    msg = {"event": "message", **env, "answer": "hi"}
    for order in ([msg, end, done], [msg, done, end]):
        result = StreamResult()
        for obj in order:
            result.add(parse_event(obj))
        assert result.finished
        assert result.answer == "hi"
        assert result.status == "succeeded"
    # The older order is not finished at workflow_finished: its message_end is still due.
    result = StreamResult()
    result.add(parse_event(msg))
    result.add(parse_event(done))
    assert not result.finished


def test_form_filled_later_in_the_stream_is_no_longer_pending() -> None:
    result = StreamResult()
    env = {"workflow_run_id": "r", "task_id": "t"}
    result.add(
        parse_event(
            {"event": "human_input_required", **env, "data": {"node_id": "n", "form_token": "a"}}
        )
    )
    assert [f.form_token for f in result.human_input] == ["a"]
    result.add(
        parse_event(
            {
                "event": "human_input_form_filled",
                **env,
                "data": {"node_id": "n", "action_id": "ok", "rendered_content": "x"},
            }
        )
    )
    assert result.human_input == []
    assert result.human_input_events[0].data.action_id == "ok"


@pytest.mark.parametrize(
    ("obj", "cls_name"),
    [
        ({"event": "node_retry", "data": {"retry_index": 2, "status": "retry"}}, "NodeRetryEvent"),
        ({"event": "iteration_started", "data": {"node_id": "i"}}, "IterationStartedEvent"),
        ({"event": "iteration_next", "data": {"index": 1}}, "IterationNextEvent"),
        ({"event": "iteration_completed", "data": {"steps": 3}}, "IterationCompletedEvent"),
        ({"event": "loop_started", "data": {"node_id": "l"}}, "LoopStartedEvent"),
        ({"event": "loop_next", "data": {"pre_loop_output": {}}}, "LoopNextEvent"),
        ({"event": "loop_completed", "data": {"steps": 2}}, "LoopCompletedEvent"),
        ({"event": "agent_log", "data": {"label": "step", "status": "success"}}, "AgentLogEvent"),
        (
            {"event": "human_input_form_timeout", "data": {"node_id": "n"}},
            "HumanInputFormTimeoutEvent",
        ),
        ({"event": "reasoning_chunk", "data": {"reasoning": "r"}}, "ReasoningChunkEvent"),
    ],
)
def test_new_events_are_typed(obj: dict[str, Any], cls_name: str) -> None:
    event = parse_event({**obj, "workflow_run_id": "r", "task_id": "t"})
    assert type(event).__name__ == cls_name
    result = StreamResult()
    assert result.add(event) == ""  # none of them is answer text

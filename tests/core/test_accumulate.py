"""Events and the reducer over every byte-exact stream fixture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dify_integrations.core.accumulate import StreamResult
from dify_integrations.core.events import (
    AgentMessageEvent,
    AgentThoughtEvent,
    ErrorEvent,
    MessageEndEvent,
    MessageEvent,
    MessageReplaceEvent,
    StreamEvent,
    TextChunkEvent,
    WorkflowEvent,
    WorkflowFinishedEvent,
    parse_event,
)
from dify_integrations.core.sse import SSEDecoder

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dify"
SSE_FILES = sorted(FIXTURES.glob("*.sse"))


def payloads(name: str) -> list[dict[str, Any]]:
    """The decoded JSON payloads of a fixture (pings skipped), via plain text splitting."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return [
        json.loads(block.removeprefix("data: "))
        for block in text.split("\n\n")
        if block.startswith("data: ")
    ]


def fold(name: str) -> tuple[StreamResult, str]:
    result = StreamResult()
    deltas = ""
    for frame in SSEDecoder().feed((FIXTURES / name).read_bytes()):
        if frame.data is not None:
            deltas += result.add(parse_event(json.loads(frame.data)))
    return result, deltas


@pytest.mark.parametrize("path", SSE_FILES, ids=lambda p: p.name)
def test_every_event_parses_to_its_class(path: Path) -> None:
    for obj in payloads(path.name):
        event = parse_event(obj)
        assert event.event == obj["event"]
        # Unknown fields are kept, known fields typed.
        dumped = event.model_dump()
        for key in obj:
            assert key in dumped
        if obj["event"] in ("message", "agent_message"):
            assert isinstance(event, MessageEvent)
            assert event.answer == obj["answer"]
        if obj["event"].startswith(("node_", "iteration_", "loop_", "workflow_", "text_")):
            assert isinstance(event, WorkflowEvent)


def expected_message_answer(objs: list[dict[str, Any]]) -> str:
    answer = ""
    for obj in objs:
        if obj["event"] in ("message", "agent_message"):
            answer += obj["answer"]
        elif obj["event"] == "message_replace":
            answer = obj["answer"]
    return answer


@pytest.mark.parametrize(
    "name",
    [
        "chat_streaming.sse",
        "agent_chat_streaming.sse",
        "completion_streaming.sse",
        "chat_streaming_message_replace.sse",
        "advanced_chat_streaming.sse",
    ],
)
def test_message_streams_fold_to_final_answer_and_usage(name: str) -> None:
    objs = payloads(name)
    result, deltas = fold(name)
    end = next(o for o in objs if o["event"] == "message_end")
    assert result.finished
    assert result.answer == expected_message_answer(objs)
    assert result.answer
    assert result.usage is not None
    assert result.usage.total_tokens == end["metadata"]["usage"]["total_tokens"]
    assert result.usage.prompt_tokens == end["metadata"]["usage"]["prompt_tokens"]
    assert result.usage.total_price == end["metadata"]["usage"]["total_price"]
    assert [r.segment_id for r in result.retriever_resources] == [
        r["segment_id"] for r in end["metadata"]["retriever_resources"]
    ]
    assert result.task_id == objs[0]["task_id"]
    assert result.message_id == end["message_id"]
    assert result.conversation_id == objs[0].get("conversation_id")
    if any(o["event"] == "message_replace" for o in objs):
        assert result.replaced
        assert deltas != result.answer
    else:
        assert deltas == result.answer


def test_agent_thoughts_are_upserted_by_id_in_position_order() -> None:
    objs = payloads("agent_chat_streaming.sse")
    result, _ = fold("agent_chat_streaming.sse")
    thoughts = [o for o in objs if o["event"] == "agent_thought"]
    ids = list(dict.fromkeys(t["id"] for t in thoughts))
    assert [t.id for t in result.agent_thoughts] == ids
    last = {t["id"]: t for t in thoughts}
    for folded in result.agent_thoughts:
        assert isinstance(folded, AgentThoughtEvent)
        assert folded.observation == last[folded.id]["observation"]
        assert folded.thought == last[folded.id]["thought"]
        assert folded.tool == last[folded.id]["tool"]
    positions = [t.position for t in result.agent_thoughts]
    assert positions == sorted(positions)
    assert isinstance(
        parse_event(next(o for o in objs if o["event"] == "agent_message")), AgentMessageEvent
    )


@pytest.mark.parametrize(
    "name",
    [
        "workflow_streaming.sse",
        "workflow_failed_streaming.sse",
        "workflow_iteration_loop_streaming.sse",
    ],
)
def test_workflow_streams_fold_outputs_status_and_text(name: str) -> None:
    objs = payloads(name)
    result, deltas = fold(name)
    finished = next(o for o in objs if o["event"] == "workflow_finished")
    assert result.finished
    assert result.status == finished["data"]["status"]
    assert result.outputs == (finished["data"]["outputs"] or {})
    assert result.error == finished["data"]["error"]
    assert result.workflow_run_id == finished["workflow_run_id"]
    chunks = "".join(o["data"]["text"] for o in objs if o["event"] == "text_chunk")
    assert result.answer == chunks == deltas
    response = result.to_workflow_response()
    assert response.data.status == finished["data"]["status"]
    assert response.data.total_steps == finished["data"]["total_steps"]
    assert response.workflow_run_id == finished["workflow_run_id"]


def test_chatflow_is_finished_only_after_message_end() -> None:
    result = StreamResult()
    seen_finished_before_end = False
    for obj in payloads("advanced_chat_streaming.sse"):
        event = parse_event(obj)
        result.add(event)
        if isinstance(event, WorkflowFinishedEvent):
            seen_finished_before_end = result.finished
            assert result.status == obj["data"]["status"]
        if isinstance(event, MessageEndEvent):
            assert result.finished
    assert seen_finished_before_end is False
    assert result.is_chatflow
    chat = result.to_chat_response()
    assert chat.mode == "advanced-chat"
    assert chat.answer == result.answer
    assert chat.conversation_id == result.conversation_id


@pytest.mark.parametrize("name", ["stream_with_error.sse", "advanced_chat_failed_streaming.sse"])
def test_error_streams_never_finish(name: str) -> None:
    objs = payloads(name)
    result, _ = fold(name)
    error = next(o for o in objs if o["event"] == "error")
    assert not result.finished
    assert result.error == error["message"]
    event = parse_event(error)
    assert isinstance(event, ErrorEvent)
    assert event.task_id is None
    assert (event.code, event.status) == (error["code"], error["status"])


def test_message_replace_returns_empty_delta_and_sets_replaced() -> None:
    result = StreamResult()
    assert result.add(parse_event({"event": "message", "answer": "bad"})) == "bad"
    replace = parse_event({"event": "message_replace", "answer": "good"})
    assert isinstance(replace, MessageReplaceEvent)
    assert result.add(replace) == ""
    assert (result.answer, result.replaced) == ("good", True)


def test_unknown_events_and_fields_pass_through() -> None:
    future = parse_event({"event": "future_thing", "task_id": "t", "text": "x"})
    assert type(future) is StreamEvent
    assert future.model_extra == {"text": "x"}
    wf = parse_event({"event": "future_node", "workflow_run_id": "r", "data": {"retry_index": 1}})
    assert type(wf) is WorkflowEvent
    assert wf.data == {"retry_index": 1}
    result = StreamResult()
    assert result.add(future) == ""
    assert result.task_id == "t"
    # A known event whose text cannot be read is reported, never dropped (issue 12 §2).
    with pytest.raises(ValueError, match="'data' field cannot be read"):
        parse_event({"event": "text_chunk", "data": "not-an-object"})
    # An odd metadata type only loses that value: the event keeps its class and text.
    odd = parse_event({"event": "text_chunk", "created_at": 1.5, "data": {"text": "t"}})
    assert isinstance(odd, TextChunkEvent)
    assert result.add(odd) == "t"


def test_message_file_text_variant_counts_as_answer() -> None:
    result = StreamResult()
    assert result.add(parse_event({"event": "message_file", "answer": "hi"})) == "hi"
    result.add(parse_event({"event": "message_file", "id": "f", "type": "image", "url": "u"}))
    assert result.answer == "hi"
    assert result.files == [{"event": "message_file", "id": "f", "type": "image", "url": "u"}]


def test_parse_event_rejects_non_events() -> None:
    with pytest.raises(ValueError, match="event"):
        parse_event({"answer": "x"})


@pytest.mark.timeout(60)  # a quadratic fold of 300,000 deltas would take minutes
def test_a_long_stream_of_tiny_deltas_folds_to_the_whole_answer() -> None:
    pieces = [
        parse_event({"event": "message", "task_id": "t", "answer": str(digit)})
        for digit in range(10)
    ]
    result = StreamResult()
    n = 300_000
    for i in range(n):
        assert result.add(pieces[i % 10]) == str(i % 10)
        if i == n // 2:  # reading midway does not disturb the fold
            assert result.answer == "".join(str(j % 10) for j in range(i + 1))
    expected = "".join(str(i % 10) for i in range(n))
    assert result.answer == expected
    assert result.last_delta == str((n - 1) % 10)
    assert result.event_count == n
    # a replacement swaps the whole answer; later deltas append to it
    result.add(parse_event({"event": "message_replace", "answer": "redacted"}))
    assert (result.answer, result.replacements, result.last_delta) == ("redacted", 1, "")
    result.add(pieces[7])
    assert result.answer == "redacted7"

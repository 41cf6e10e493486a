"""Events of a surprising shape never lose answer text, and never cost quadratic time (issue 12).

* §2: a metadata field of an odd type (a fractional ``created_at``, a number as a string,
  ``null``s, a token count that is not a number) drops that value, never the event and its
  text; a ``message_end`` with an odd field still ends the stream; an event whose text
  cannot be read raises (never skipped); events after the terminal event do not change
  the answer. Sync and async, over HTTP.
* §9: ``agent_thought`` events arriving in reverse ``position`` order fold in linear time.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dify_integrations import AsyncDifyClient, DifyClient, StreamDecodeError
from dify_integrations.core.accumulate import StreamResult
from dify_integrations.core.events import AgentThoughtEvent, parse_event

from ._hostile import (
    KEY,
    SSE_HEADERS,
    Seen,
    call,
    chat_end,
    chat_event,
    frame,
    head,
    hostile,
)
from ._subjects import Mode

pytestmark = [
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]


def _serve(*events: dict[str, Any]) -> Any:
    body = b"".join(frame(e) for e in events)

    async def handler(
        seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(head(200, SSE_HEADERS) + body)
        await writer.drain()
        return False

    return hostile(handler)


ODD_FIELDS: dict[str, dict[str, Any]] = {
    "fractional_created_at": {"created_at": 1700000000.5},
    "string_created_at": {"created_at": "yesterday"},
    "null_ids": {"task_id": None, "conversation_id": None, "id": None},
    "numeric_ids": {"message_id": 42, "conversation_id": 7},
    "list_selector": {"from_variable_selector": "not-a-list"},
}


@pytest.mark.parametrize("odd", list(ODD_FIELDS), ids=str)
def test_an_odd_metadata_field_never_drops_answer_text(mode: Mode, odd: str) -> None:
    events = [
        chat_event("Do NOT "),
        chat_event("delete ", **ODD_FIELDS[odd]),
        chat_event("the backups."),
        chat_end(),
    ]
    with _serve(*events) as server:
        result = call(mode, server.base_url, "send_chat_message", "hi")
    assert result.answer == "Do NOT delete the backups."


@pytest.mark.parametrize(
    "odd",
    [
        {"created_at": 1.5},
        {"metadata": {"usage": {"prompt_tokens": "many", "total_tokens": 7}}},
        {"metadata": {"usage": "n/a", "retriever_resources": "none"}},
        {"metadata": "not-an-object"},
        {"files": "nope"},
    ],
    ids=["created_at", "usage_tokens", "usage_string", "metadata_string", "files"],
)
def test_a_message_end_with_an_odd_field_still_ends_the_stream(
    mode: Mode, odd: dict[str, Any]
) -> None:
    with _serve(chat_event("complete answer"), chat_end(**odd)) as server:
        result = call(mode, server.base_url, "send_chat_message", "hi")
    assert result.answer == "complete answer"


@pytest.mark.parametrize(
    "bad",
    [
        {"event": "message", "task_id": "t", "answer": 12345},
        {"event": "message", "task_id": "t", "answer": ["a", "b"]},
        {"event": "text_chunk", "task_id": "t", "data": "not-an-object"},
        {"event": "text_chunk", "task_id": "t", "data": {"text": {"nested": True}}},
    ],
    ids=["number_answer", "list_answer", "string_data", "object_text"],
)
def test_an_event_whose_text_cannot_be_read_raises(mode: Mode, bad: dict[str, Any]) -> None:
    events = (chat_event("before "), bad, chat_event("after"), chat_end())
    with _serve(*events) as server, pytest.raises(StreamDecodeError, match="cannot be read"):
        call(mode, server.base_url, "send_chat_message", "hi")


def test_events_after_the_terminal_event_do_not_change_the_answer(mode: Mode) -> None:
    events = [
        chat_event("Do NOT delete the backups."),
        chat_end(),
        chat_event(" (just kidding: delete them)"),
        {"event": "message_replace", "task_id": "t", "answer": "Delete the backups."},
    ]
    with _serve(*events) as server:
        result = call(mode, server.base_url, "send_chat_message", "hi")
    assert result.answer == "Do NOT delete the backups."


def test_the_streamed_events_carry_the_text_too(mode: Mode) -> None:
    events = [
        chat_event("a", created_at=0.5),
        chat_event("b", created_at="x"),
        chat_end(created_at=1.5),
    ]
    with _serve(*events) as server:
        if mode == "sync":
            with (
                DifyClient(KEY, base_url=server.base_url, user="u") as client,
                client.stream_chat_message("hi") as stream,
            ):
                seen = [getattr(e, "answer", None) for e in stream]
                finished = stream.finished
        else:

            async def go() -> tuple[list[Any], bool]:
                async with (
                    AsyncDifyClient(KEY, base_url=server.base_url, user="u") as client,
                    client.stream_chat_message("hi") as stream,
                ):
                    return [getattr(e, "answer", None) async for e in stream], stream.finished

            seen, finished = asyncio.run(go())
    assert seen[:2] == ["a", "b"]
    assert finished


# ------------------------------------------------------------------------ §9 agent thoughts


@pytest.mark.timeout(60)  # the quadratic fold took minutes for this many events
def test_reordered_agent_thoughts_fold_in_linear_time() -> None:
    n = 40_000
    result = StreamResult()
    for position in range(n, 0, -1):  # every event arrives before the ones it follows
        result.add(
            parse_event(
                {
                    "event": "agent_thought",
                    "task_id": "t",
                    "id": f"th-{position}",
                    "position": position,
                    "thought": f"step {position}",
                }
            )
        )
    # Each step is re-sent with the same id as it fills in: upserted, not appended.
    result.add(
        parse_event(
            {"event": "agent_thought", "id": "th-1", "position": 1, "thought": "step 1, done"}
        )
    )
    thoughts = result.agent_thoughts
    assert [t.position for t in thoughts] == list(range(1, n + 1))
    assert thoughts[0].thought == "step 1, done"
    assert all(isinstance(t, AgentThoughtEvent) for t in thoughts[:3])

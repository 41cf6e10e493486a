"""``stream.result`` is the fold of the events yielded so far, never of events still queued.

A network chunk often carries many events; the stream decodes them all at once but must
fold each one only when it hands it to the caller.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dify_integrations import AsyncDifyClient, DifyClient
from dify_integrations.core.events import (
    MessageEndEvent,
    MessageEvent,
    TextChunkEvent,
    WorkflowFinishedEvent,
)
from dify_integrations.testing import DifyTestServer

pytestmark = pytest.mark.timeout(60)

PIECES = 300
_TERMINAL = (MessageEndEvent, WorkflowFinishedEvent)
# A pause after the first event lets the rest pile up in the socket, so the next read
# carries many events (pacing only; nothing here measures time).
_PAUSE = 0.1


def _pieces(*_: Any) -> Iterator[str]:
    # No token delay: the server writes the pieces back to back, so reads carry many.
    for n in range(PIECES):
        yield f"p{n} "


@pytest.fixture(scope="module")
def chat_key(dify_server: DifyTestServer) -> str:
    return dify_server.create_chat_app("Pieces", responder=_pieces).api_key


@pytest.fixture(scope="module")
def workflow_key(dify_server: DifyTestServer) -> str:
    return dify_server.create_workflow_app("PieceFlow", handler=_pieces).api_key


def _check_step(stream: Any, event: Any, deltas: list[str], count: int) -> None:
    """After each yielded event: the fold holds exactly the events yielded so far."""
    if isinstance(event, MessageEvent):
        deltas.append(event.answer)
    elif isinstance(event, TextChunkEvent):
        deltas.append(event.data.text)
    assert stream.result.answer == "".join(deltas)
    assert stream.result.event_count == count
    # Finished only once the terminal event itself was yielded, not when it was read.
    assert not stream.result.finished or isinstance(event, _TERMINAL)


def _consume_sync(client: DifyClient, method: str, *args: Any) -> tuple[Any, list[str]]:
    deltas: list[str] = []
    with getattr(client, method)(*args) as stream:
        for count, event in enumerate(stream, start=1):
            if count == 1:
                time.sleep(_PAUSE)
            _check_step(stream, event, deltas, count)
    return stream, deltas


async def _consume_async(client: AsyncDifyClient, method: str, *args: Any) -> tuple[Any, list[str]]:
    deltas: list[str] = []
    try:
        async with getattr(client, method)(*args) as stream:
            count = 0
            async for event in stream:
                count += 1
                if count == 1:
                    await asyncio.sleep(_PAUSE)
                _check_step(stream, event, deltas, count)
    finally:
        await client.aclose()
    return stream, deltas


def _consume(kind: str, dify_server: DifyTestServer, key: str, method: str, *args: Any) -> Any:
    kwargs: dict[str, Any] = {"api_key": key, "base_url": dify_server.base_url, "user": "u"}
    if kind == "sync":
        with DifyClient(**kwargs) as client:
            return _consume_sync(client, method, *args)
    return asyncio.run(_consume_async(AsyncDifyClient(**kwargs), method, *args))


def test_result_follows_the_yielded_message_events(
    kind: str, dify_server: DifyTestServer, chat_key: str
) -> None:
    stream, deltas = _consume(kind, dify_server, chat_key, "stream_chat_message", "go")
    assert len([d for d in deltas if d]) == PIECES
    assert stream.result.answer == "".join(f"p{n} " for n in range(PIECES))
    assert stream.finished


def test_result_follows_the_yielded_text_chunks(
    kind: str, dify_server: DifyTestServer, workflow_key: str
) -> None:
    stream, deltas = _consume(kind, dify_server, workflow_key, "stream_workflow", {"x": "1"})
    assert "".join(deltas) == "".join(f"p{n} " for n in range(PIECES))
    assert stream.result.status == "succeeded"
    assert stream.finished

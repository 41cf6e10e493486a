"""Waits a hostile server stretches: idle streams, slow headers, a stop call that hangs (issue 12).

* §4: comment lines, blank lines or a line that never ends reset neither stream bound:
  the call raises `APITimeoutError` instead of waiting for ever.
* §6: leaving a stream early or cancelling its task never waits for a stop call that does
  not answer: the stop call has its own short budget (`Timeout.stop`), is sent once, and
  an ``asyncio.wait_for`` deadline goes through at once.
* §11: ``timeout=<number>`` bounds the wait for the response headers of a streaming call.
* §19 (Timeout half): NaN, infinite, zero or negative timeouts are refused.

Servers here stop misbehaving after a while (they end the stream normally): a client that
ignored the bound would then return an answer, and the test fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time

import pytest

from dify_integrations import APITimeoutError, AsyncDifyClient, DifyClient, Timeout

from ._hostile import (
    KEY,
    SSE_HEADERS,
    TASK_ID,
    Seen,
    call,
    chat_end,
    chat_event,
    chat_stream,
    frame,
    head,
    hostile,
    send_json,
)
from ._subjects import Mode

pytestmark = [
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]

#: How long a misbehaving server keeps it up before ending its stream normally.
MISBEHAVE_FOR = 6.0

# ------------------------------------------------------------------------ §4 idle bounds

TRICKLES = {
    "comments": b": keep-alive\n",
    "blank_lines": b"\n",
    "endless_line": b"x",
}


@pytest.mark.parametrize("trickle", list(TRICKLES), ids=str)
def test_bytes_that_complete_no_event_do_not_reset_the_total_idle_bound(
    mode: Mode, trickle: str
) -> None:
    async def handler(
        seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(head(200, SSE_HEADERS))
        writer.write(frame(chat_event("partial ")))
        if trickle == "endless_line":
            writer.write(b"data: ")
        deadline = time.monotonic() + MISBEHAVE_FOR
        with contextlib.suppress(ConnectionError):
            while time.monotonic() < deadline:  # well within stream_idle, every time
                writer.write(TRICKLES[trickle])
                await writer.drain()
                await asyncio.sleep(0.05)
            writer.write(b"\n\n" + chat_stream("answer"))
            await writer.drain()
        return False

    bounds = Timeout(connect=5, read=30, stream_idle=5, stream_total_idle=0.5)
    with hostile(handler) as server, pytest.raises(APITimeoutError) as info:
        call(mode, server.base_url, "send_chat_message", "hi", client={"timeout": bounds})
    assert "0.5 s" in info.value.message


def test_a_line_trickled_byte_by_byte_hits_the_idle_bound_between_frames(mode: Mode) -> None:
    async def handler(
        seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(head(200, SSE_HEADERS))
        writer.write(frame(chat_event("partial ")) + b"data: ")
        deadline = time.monotonic() + MISBEHAVE_FOR
        with contextlib.suppress(ConnectionError):
            while time.monotonic() < deadline:  # one byte every 50 ms keeps the socket busy
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.05)
            writer.write(b"\n\n" + chat_stream("answer"))
            await writer.drain()
        return False

    bounds = Timeout(connect=5, read=30, stream_idle=0.5, stream_total_idle=60)
    with (
        hostile(handler) as server,
        pytest.raises(APITimeoutError, match="no complete stream frame"),
    ):
        call(mode, server.base_url, "send_chat_message", "hi", client={"timeout": bounds})


# ------------------------------------------------------------------------ §11 one number


def test_a_number_bounds_the_wait_for_the_headers_of_a_streaming_call(mode: Mode) -> None:
    async def handler(
        seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        await asyncio.sleep(MISBEHAVE_FOR)  # the headers come late
        writer.write(head(200, SSE_HEADERS) + chat_stream("late answer"))
        await writer.drain()
        return False

    with hostile(handler) as server, pytest.raises(APITimeoutError):
        call(mode, server.base_url, "send_chat_message", "hi", client={"timeout": 0.5})


def test_a_number_bounds_the_gaps_between_events(mode: Mode) -> None:
    async def handler(
        seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(head(200, SSE_HEADERS) + frame(chat_event("partial ")))
        await writer.drain()
        await asyncio.sleep(MISBEHAVE_FOR)  # silence: no byte at all
        with contextlib.suppress(ConnectionError):
            writer.write(frame(chat_event("rest")) + frame(chat_end()))
            await writer.drain()
        return False

    with hostile(handler) as server, pytest.raises(APITimeoutError):
        call(mode, server.base_url, "send_chat_message", "hi", client={"timeout": 0.5})


def test_a_number_caps_every_bound_of_a_timeout() -> None:
    bounds = Timeout.coerce(1.5)
    assert bounds.read == 1.5
    assert max(bounds.connect, bounds.stream_idle, bounds.stream_total_idle, bounds.stop) <= 1.5
    defaults = Timeout()
    assert Timeout.coerce(10_000) == Timeout(
        connect=defaults.connect,
        read=10_000,
        stream_idle=defaults.stream_idle,
        stream_total_idle=defaults.stream_total_idle,
        stop=defaults.stop,
    )


# ------------------------------------------------------------------------ §19 NaN


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -1.0, 0])
def test_a_timeout_that_is_not_a_positive_finite_number_is_refused(bad: float) -> None:
    for field in ("connect", "read", "stream_idle", "stream_total_idle", "stop"):
        with pytest.raises(ValueError, match="positive, finite"):
            Timeout(**{field: bad})
    with pytest.raises(ValueError, match="positive, finite"):
        Timeout.coerce(bad)
    for cls in (DifyClient, AsyncDifyClient):
        with pytest.raises(ValueError, match="positive, finite"):
            cls(KEY, base_url="http://127.0.0.1:1/v1", timeout=bad)


# ------------------------------------------------------------------------ §6 stop budget


class StopGate:
    """A server whose chat stream stalls after one event and whose stop call hangs.

    The stop handler answers only when `release` is called (or after a long while), and
    records when it finished: a client that waited for it would return after that.
    """

    def __init__(self) -> None:
        self.release_event = threading.Event()
        self.stop_finished = threading.Event()

    def release(self) -> None:
        self.release_event.set()

    async def handler(
        self, seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        if seen.path.endswith("/stop"):
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self.release_event.wait, 30.0)
            self.stop_finished.set()
            with contextlib.suppress(ConnectionError):
                await send_json(writer, {"result": "success"})
            return False
        writer.write(head(200, SSE_HEADERS) + frame(chat_event("partial ")))
        await writer.drain()
        with contextlib.suppress(ConnectionError):
            await reader.read()  # stall until the client goes away
        return False


STOP_BUDGET = Timeout(connect=5, read=30, stream_idle=30, stream_total_idle=60, stop=0.3)


def test_leaving_a_stream_does_not_wait_for_a_hanging_stop_call_sync() -> None:
    gate = StopGate()
    with hostile(gate.handler) as server:
        try:
            with DifyClient(
                KEY, base_url=server.base_url, user="u", timeout=STOP_BUDGET, max_retries=2
            ) as client:
                with client.stream_chat_message("hi") as stream:
                    assert next(stream).answer == "partial "
                # Left early: the stop call was made, and given up after its budget.
                assert not gate.stop_finished.is_set()
        finally:
            gate.release()
    stops = [p for p in server.paths("POST") if p.endswith("/stop")]
    assert stops == [f"/v1/chat-messages/{TASK_ID}/stop"]  # once: never retried


def test_a_wait_for_deadline_goes_through_at_once_and_the_stop_is_sent_async() -> None:
    gate = StopGate()

    async def go(server_url: str) -> None:
        async with AsyncDifyClient(
            KEY, base_url=server_url, user="u", timeout=STOP_BUDGET, max_retries=2
        ) as client:

            async def consume() -> None:
                async with client.stream_chat_message("hi") as stream:
                    async for _ in stream:
                        pass

            with pytest.raises(TimeoutError):
                await asyncio.wait_for(consume(), 0.5)
            # The cancellation did not wait for the (hanging) stop call.
            assert not gate.stop_finished.is_set()
            for _ in range(500):  # the stop call goes out in the background
                if any(p.endswith("/stop") for p in server.paths("POST")):
                    break
                await asyncio.sleep(0.01)
            gate.release()

    with hostile(gate.handler) as server:
        try:
            asyncio.run(go(server.base_url))
        finally:
            gate.release()
    stops = [p for p in server.paths("POST") if p.endswith("/stop")]
    assert stops == [f"/v1/chat-messages/{TASK_ID}/stop"]


def test_leaving_a_stream_gives_the_stop_call_its_own_budget_async() -> None:
    gate = StopGate()

    async def go(server_url: str) -> None:
        async with AsyncDifyClient(
            KEY, base_url=server_url, user="u", timeout=STOP_BUDGET, max_retries=2
        ) as client:
            async with client.stream_chat_message("hi") as stream:
                await stream.__anext__()
            assert not gate.stop_finished.is_set()

    with hostile(gate.handler) as server:
        try:
            asyncio.run(go(server.base_url))
        finally:
            gate.release()
    stops = [p for p in server.paths("POST") if p.endswith("/stop")]
    assert stops == [f"/v1/chat-messages/{TASK_ID}/stop"]

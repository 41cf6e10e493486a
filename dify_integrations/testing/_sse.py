"""SSE frame writer: ``data: <json>\\n\\n`` payload frames, ``event: ping\\n\\n`` keep-alives,
and the in-stream faults (drop, error event, malformed frame, stall)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import web

from ._faults import DEFAULT_MALFORMED_FRAME, Fault

PING_FRAME = b"event: ping\n\n"
_STALL_POLL = 0.1  # seconds between checks that a stalled stream's client is still there


def dumps_stream(obj: Any) -> bytes:
    """Compact JSON with raw UTF-8, as current Dify builds (orjson) emit in streams."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def dumps_blocking(obj: Any) -> bytes:
    """JSON as Flask's ``json.dumps`` writes blocking bodies (ASCII-escaped)."""
    return json.dumps(obj).encode("ascii")


class EventStream:
    """One open ``text/event-stream`` response.

    Args:
        request: The aiohttp request.
        ping_interval: Seconds of silence after which a ``ping`` frame is sent.
        fault: An in-stream fault to apply, if any.
        headers: Extra response headers (e.g. ``X-Workflow-Run-ID``).
    """

    def __init__(
        self,
        request: web.Request,
        ping_interval: float,
        fault: Fault | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.request = request
        self.ping_interval = ping_interval
        self.fault = fault
        self.response = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
                **(headers or {}),
            },
        )
        self.events_sent = 0
        self.open = False
        self.ended = False
        #: Leading keys of an ``error`` event (the route's envelope, no ``task_id``).
        self.error_envelope: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self._last_write = time.monotonic()
        self._pinger: asyncio.Task[None] | None = None

    async def start(self, ping_first: bool = False) -> None:
        """Send the headers (and a first ``ping`` when ``ping_first``)."""
        await self.response.prepare(self.request)
        self.open = True
        if ping_first:
            await self._write(PING_FRAME)
        self._pinger = asyncio.get_running_loop().create_task(self._ping_loop())

    async def _ping_loop(self) -> None:
        while not self.ended:
            wait = self._last_write + self.ping_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            await self._write(PING_FRAME)

    async def _write(self, data: bytes) -> bool:
        if self.ended:
            return False
        async with self._lock:
            try:
                await self.response.write(data)
            except (ConnectionError, RuntimeError, asyncio.CancelledError):
                self.ended = True
                return False
            self._last_write = time.monotonic()
            return True

    @property
    def alive(self) -> bool:
        """The client is still connected and the stream has not ended."""
        if self.ended:
            return False
        transport = self.request.transport
        return transport is not None and not transport.is_closing()

    async def send(self, event: dict[str, Any]) -> bool:
        """Write one payload frame; ``False`` once the stream is over (client gone or fault)."""
        if self.ended:
            return False
        fault = self.fault
        if fault is not None and self.events_sent >= fault.after_events:
            self.fault = None
            if not await self._apply(fault):
                return False
        ok = await self._write(b"data: " + dumps_stream(event) + b"\n\n")
        if ok:
            self.events_sent += 1
        return ok

    async def _apply(self, fault: Fault) -> bool:
        """Apply an in-stream fault; ``True`` when the stream continues afterwards."""
        if fault.kind == "stall":
            interval = (
                fault.ping_interval if fault.ping_interval is not None else self.ping_interval
            )
            deadline = time.monotonic() + fault.duration
            saved, self.ping_interval = self.ping_interval, interval
            while self.alive and time.monotonic() < deadline:
                # Short naps, so that a client that left ends the stall promptly.
                nap = min(interval, _STALL_POLL, max(deadline - time.monotonic(), 0.0))
                await asyncio.sleep(nap)
                if time.monotonic() - self._last_write >= interval and not await self._write(
                    PING_FRAME
                ):
                    break
            if not self.alive:
                self.ended = True
            self.ping_interval = saved
            return not self.ended
        if fault.kind == "error_event":
            status = fault.status if fault.status is not None else 500
            code = fault.code or (
                "internal_server_error" if status >= 500 else "completion_request_error"
            )
            message = fault.message or (
                "Internal Server Error, please contact support."
                if status >= 500
                else "[test] injected error"
            )
            body = {
                "event": "error",
                **self.error_envelope,
                "code": code,
                "status": status,
                "message": message,
            }
            await self._write(b"data: " + dumps_stream(body) + b"\n\n")
            await self.finish()
            return False
        if fault.kind == "malformed":
            await self._write(fault.frame or DEFAULT_MALFORMED_FRAME)
            await self.finish()
            return False
        # drop_after
        if fault.clean:
            await self.finish()
        else:
            self.abort()
        return False

    def abort(self) -> None:
        """Drop the TCP connection without finishing the chunked body."""
        self.ended = True
        if self._pinger is not None:
            self._pinger.cancel()
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def finish(self) -> None:
        """End the stream normally (the connection closes after the last event)."""
        if self._pinger is not None:
            self._pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pinger
        if self.ended:
            return
        self.ended = True
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.response.write_eof()

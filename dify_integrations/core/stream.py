"""`EventStream` (sync) and `AsyncEventStream` (async): one shared base holds the logic.

The base turns body chunks into typed events (decoder, JSON, `parse_event`), folds each
into `StreamResult` as it is handed to the caller (so ``result`` never runs ahead of the
events yielded), enforces the no-content bound that pings do not reset, raises on ``error``
events, malformed frames and premature ends, and decides whether closing must call the stop
endpoint. The two subclasses only read bytes and close connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any

from pydantic import SecretStr

from .accumulate import StreamResult
from .config import Limits, Timeout
from .decode import loads_json
from .errors import (
    APIConnectionError,
    APITimeoutError,
    DifyError,
    StreamDecodeError,
    error_from_event,
    excerpt,
    redact,
)
from .events import (
    ErrorEvent,
    MessageEndEvent,
    StreamEvent,
    WorkflowFinishedEvent,
    WorkflowPausedEvent,
    parse_event,
)
from .operations import Operation, stop_task
from .scrub import scrub_exception
from .sse import SSEDecoder, SSEFrame

__all__ = ["AsyncEventStream", "EventStream"]

logger = logging.getLogger("dify_integrations")

# Events after which the server task is over (a chatflow's message_end follows its
# workflow_finished at once).
_TERMINAL = (MessageEndEvent, WorkflowFinishedEvent, WorkflowPausedEvent)
_LIMITS = Limits()


class _StreamCore:
    """Pure stream logic shared by the sync and async streams (no I/O)."""

    def __init__(
        self,
        op: Operation[Any],
        timeout: Timeout,
        secret: SecretStr | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._op = op
        self._timeout = timeout
        # The API key (kept masked), scrubbed from every error built from what the server sent.
        self._secret_key = secret
        self._decoder = SSEDecoder((limits or _LIMITS).max_frame_bytes)
        self.result = StreamResult()
        self._last_content = self._last_frame = time.monotonic()
        self._stop_sent = False
        self._closed = False
        self._eof = False
        self._queue: deque[StreamEvent] = deque()
        # An error found while decoding waits until the events before it were yielded; an
        # ``error`` event comes with it so that it is folded when the error is raised.
        self._deferred: tuple[DifyError, StreamEvent | None] | None = None

    @property
    def task_id(self) -> str | None:
        """The generation's ``task_id`` (known after the first event that carries it)."""
        return self.result.task_id

    @property
    def finished(self) -> bool:
        """Whether the terminal event arrived."""
        return self.result.finished

    @property
    def user(self) -> str | None:
        """The end user the stream runs for (the stop call reuses it)."""
        return self._op.user

    @property
    def _secret(self) -> str | None:
        key = self._secret_key
        return None if key is None else key.get_secret_value()

    def _consume(self, chunk: bytes) -> None:
        """Decode a chunk into queued events; an error is deferred until they are yielded.

        Both idle bounds are checked on every chunk, whatever it holds: comment lines,
        blank lines or part of a line that never ends reset neither of them.
        """
        now = time.monotonic()
        try:
            frames = self._decoder.feed(chunk)
        except DifyError as exc:
            self._deferred = (exc, None)
            return
        for frame in frames:
            try:
                event = self._on_frame(frame, now)
            except DifyError as exc:
                self._deferred = (exc, None)
                return
            if event is None:
                continue
            if isinstance(event, ErrorEvent):
                if self._secret and event.message:
                    event = event.model_copy(
                        update={"message": redact(event.message, self._secret)}
                    )
                error = error_from_event(event.model_dump(), secret=self._secret)
                self._deferred = (error, event)
                return
            self._queue.append(event)
        if now - self._last_frame > self._timeout.stream_idle:
            self._deferred = (
                APITimeoutError(
                    f"no complete stream frame for {self._timeout.stream_idle:g} s "
                    "(only partial lines, comments or blank lines)"
                ),
                None,
            )
        elif now - self._last_content > self._timeout.stream_total_idle:
            self._deferred = (
                APITimeoutError(
                    f"no stream event for {self._timeout.stream_total_idle:g} s "
                    "(only keep-alive pings, comments or partial lines)"
                ),
                None,
            )

    def _next_ready(self) -> StreamEvent | None:
        """The next event, folded as it is handed out; the deferred error is raised.

        Returns:
            The event, or ``None`` when no decoded event is waiting.
        """
        if self._queue:
            event = self._queue.popleft()
            self.result.add(event)
            return event
        if self._deferred is not None:
            (error, error_event), self._deferred = self._deferred, None
            if error_event is not None:
                self.result.add(error_event)
            raise error
        return None

    def _on_frame(self, frame: SSEFrame, now: float) -> StreamEvent | None:
        self._last_frame = now
        if frame.data is None or frame.event == "ping":
            return None
        try:
            obj = loads_json(frame.data)
        except ValueError:
            raise self._decode_error("not JSON", frame.data) from None
        if isinstance(obj, dict) and not isinstance(obj.get("event"), str) and frame.event:
            obj["event"] = frame.event
        if not isinstance(obj, dict) or not isinstance(obj.get("event"), str):
            raise self._decode_error("no 'event' name", frame.data)
        try:
            event = parse_event(obj)
        except ValueError as exc:
            raise self._decode_error(str(exc), frame.data) from None
        self._last_content = now
        return event

    def _decode_error(self, reason: str, data: str) -> StreamDecodeError:
        """The error for a malformed frame: a redacted excerpt (redacted before the cut)."""
        frame = excerpt(redact(data, self._secret), 120)
        return StreamDecodeError(f"malformed stream frame ({reason}): {frame!r}", frame=frame)

    def _on_eof(self) -> None:
        if not self.result.finished:
            raise APIConnectionError(
                "the stream ended before its final event "
                f"({self.result.event_count} events received)"
            )

    def _stop_operation(self) -> Operation[Any] | None:
        """The stop call to make on close, or ``None`` when none is needed.

        Events decoded but not yet yielded count too: when the terminal event already
        arrived, the server task is over and there is nothing to stop.
        """
        if self._stop_sent or self.result.finished or self._op.stop_kind is None:
            return None
        if self.result.error is not None or (
            self._deferred is not None and self._deferred[1] is not None
        ):
            return None  # an ``error`` event ended the server task: nothing to stop
        task_id = self.result.task_id
        for event in self._queue:
            if isinstance(event, _TERMINAL):
                return None
            task_id = task_id or event.task_id
        if not task_id or not self._op.user:
            return None
        self._stop_sent = True
        try:
            return stop_task(self._op.stop_kind, task_id, user=self._op.user)
        except (TypeError, ValueError):
            # A server-sent task_id that is not a Dify id ("..", braces...) is never put in
            # a URL: there is no task to stop that this client can name.
            logger.debug("not stopping the %s task: its task_id is not a UUID", self._op.name)
            return None

    def _begin_close(self) -> Operation[Any] | None:
        """Mark the stream closed and drop unread events; the stop call to make, if any.

        The stop decision is taken before the queue is dropped, so a terminal event that
        was decoded but never yielded still means there is nothing to stop.
        """
        self._closed = True
        stop_op = self._stop_operation()
        self._queue.clear()
        return stop_op

    def _explicit_stop_operation(self) -> Operation[Any]:
        task_id = self.task_id
        if not task_id or self._op.stop_kind is None:
            raise ValueError("the task id is not known yet: no event carrying it arrived")
        return stop_task(self._op.stop_kind, task_id, user=self._op.user)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self._op.name}, task_id={self.task_id!r}, "
            f"finished={self.finished})"
        )


# ------------------------------------------------------------------------------- sync


class EventStream(_StreamCore):
    """A live Dify stream (sync). Iterate it for typed events; use it as a context manager.

    Pings are not yielded. An ``error`` event raises `StreamError` after the events before
    it; a connection that ends without the terminal event raises `APIConnectionError`.
    Closing an unfinished stream (``with`` exit, ``close()``, ``break`` + garbage
    collection) closes the connection and calls the stop endpoint with the same user.

    Attributes:
        result: The running fold (`StreamResult`) of every event yielded so far.
    """

    def __init__(
        self,
        chunks: Iterator[bytes],
        *,
        op: Operation[Any],
        timeout: Timeout,
        close_transport: Callable[[], None],
        run_stop: Callable[[Operation[Any]], Any],
        map_error: Callable[[BaseException], BaseException | None],
        secret: SecretStr | None = None,
        limits: Limits | None = None,
    ) -> None:
        super().__init__(op, timeout, secret, limits)
        self._chunks = chunks
        self._close_transport = close_transport
        self._run_stop = run_stop
        self._map_error = map_error

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> StreamEvent:
        try:
            while True:
                event = self._next_ready()
                if event is not None:
                    return event
                if self._eof or self._closed:
                    raise StopIteration
                try:
                    chunk = next(self._chunks)
                except StopIteration:
                    self._eof = True
                    self._on_eof()
                    self.close()
                    raise
                self._consume(chunk)
        except StopIteration:
            raise
        except BaseException as exc:
            mapped = self._map_error(exc)
            scrub_exception(exc, self._secret)
            self.close()
            if mapped is not None and mapped is not exc:
                raise mapped from exc
            raise

    def until_done(self) -> StreamResult:
        """Consume the rest of the stream and return the final fold."""
        for _ in self:
            pass
        return self.result

    def stop(self) -> None:
        """Ask Dify to stop the task now; the stream then ends the Dify way.

        Raises:
            ValueError: If no event carrying the task id arrived yet.
        """
        op = self._explicit_stop_operation()
        self._stop_sent = True
        self._run_stop(op)

    def close(self) -> None:
        """Close the connection; stop the server task if the stream was not finished."""
        if self._closed:
            return
        stop_op = self._begin_close()
        with contextlib.suppress(Exception):
            self._close_transport()
        if stop_op is not None:
            try:
                self._run_stop(stop_op)
            except Exception as exc:  # best effort: never raise from close
                logger.debug("stop after early close failed: %s", type(exc).__name__)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            with contextlib.suppress(Exception):
                self.close()


# ------------------------------------------------------------------------------- async


class AsyncEventStream(_StreamCore):
    """A live Dify stream (async): an async iterator and an async context manager.

    The request is sent lazily, on ``async with`` entry or on the first ``__anext__``.
    Cancelling the consuming task closes the connection and calls the stop endpoint with
    the same user. Otherwise as `EventStream`.

    Attributes:
        result: The running fold (`StreamResult`) of every event yielded so far.
    """

    def __init__(
        self,
        open_stream: Callable[[], Awaitable[tuple[AsyncIterator[bytes], Callable[[], None]]]],
        *,
        op: Operation[Any],
        timeout: Timeout,
        run_stop: Callable[[Operation[Any]], Awaitable[Any]],
        map_error: Callable[[BaseException], BaseException | None],
        secret: SecretStr | None = None,
        limits: Limits | None = None,
        spawn_stop: Callable[[Operation[Any]], asyncio.Future[Any]] | None = None,
    ) -> None:
        super().__init__(op, timeout, secret, limits)
        self._open_stream = open_stream
        self._run_stop = run_stop
        self._spawn_stop = spawn_stop
        self._map_error = map_error
        self._chunks: AsyncIterator[bytes] | None = None
        self._close_transport: Callable[[], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _ensure_open(self) -> AsyncIterator[bytes]:
        if self._chunks is None:
            if self._closed:
                raise DifyError("the stream is closed")
            self._loop = asyncio.get_running_loop()
            self._chunks, self._close_transport = await self._open_stream()
            self._last_content = self._last_frame = time.monotonic()
        return self._chunks

    def _check_loop(self) -> None:
        """Refuse use from another event loop than the one the stream was opened in.

        Its connection belongs to that loop: the stream is closed (the socket shut down
        at once, the transport released in its own loop) and a clear error raised.
        """
        loop = self._loop
        if loop is None or loop is asyncio.get_running_loop():
            return
        self._close_in_background()
        raise DifyError(
            "this stream was opened in another event loop and cannot be used from this "
            "one; it was closed (open a new stream in this loop)"
        )

    def __aiter__(self) -> AsyncEventStream:
        return self

    async def __anext__(self) -> StreamEvent:
        self._check_loop()
        try:
            event = self._next_ready()
            if event is not None:
                return event
            if self._closed or self._eof:
                raise StopAsyncIteration
            chunks = await self._ensure_open()
            while True:
                event = self._next_ready()
                if event is not None:
                    return event
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    self._eof = True
                    self._on_eof()
                    await self.aclose()
                    raise
                self._consume(chunk)
        except StopAsyncIteration:
            raise
        except asyncio.CancelledError:
            self._close_in_background()  # a cancellation never waits for the stop call
            raise
        except BaseException as exc:
            mapped = self._map_error(exc)
            scrub_exception(exc, self._secret)
            await self._shielded_close()
            if mapped is not None and mapped is not exc:
                raise mapped from exc
            raise

    async def _shielded_close(self) -> None:
        await self.aclose()

    async def until_done(self) -> StreamResult:
        """Consume the rest of the stream and return the final fold."""
        async for _ in self:
            pass
        return self.result

    async def stop(self) -> None:
        """Ask Dify to stop the task now; the stream then ends the Dify way.

        Raises:
            ValueError: If no event carrying the task id arrived yet.
        """
        op = self._explicit_stop_operation()
        self._stop_sent = True
        await self._run_stop(op)

    def _close_now(self) -> Operation[Any] | None:
        """Close the connection at once; the stop call still to make, if any."""
        stop_op = self._begin_close()
        close_transport = self._close_transport
        if close_transport is not None:
            with contextlib.suppress(Exception):
                close_transport()
        return stop_op

    def _close_in_background(self) -> None:
        """Close the connection now and leave the stop call (if any) to a background task."""
        if self._closed:
            return
        stop_op = self._close_now()
        if stop_op is not None:
            self._stop_in_background(stop_op)

    def _stop_in_background(self, stop_op: Operation[Any]) -> asyncio.Future[Any]:
        """Start the stop call as a task of its own (the client waits for it on close)."""
        if self._spawn_stop is not None:
            return self._spawn_stop(stop_op)
        return _spawn(self._run_stop(stop_op))

    async def aclose(self) -> None:
        """Close the connection; stop the server task if the stream was not finished.

        The stop call has its own short budget (`Timeout.stop`) and is not retried; if
        the closing task is cancelled meanwhile, the cancellation goes through at once
        and the stop call finishes in the background.
        """
        if self._closed:
            return
        stop_op = self._close_now()
        if stop_op is not None:
            await asyncio.shield(self._stop_in_background(stop_op))

    async def __aenter__(self) -> AsyncEventStream:
        try:
            await self._ensure_open()
        except BaseException:
            self._closed = True
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None and issubclass(exc_type, asyncio.CancelledError):
            self._close_in_background()  # a cancellation never waits for the stop call
            return
        await self._shielded_close()

    def __del__(self) -> None:
        if getattr(self, "_closed", True) or getattr(self, "_chunks", None) is None:
            return
        stop_op = self._close_now()
        if stop_op is None:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self._stop_in_background(stop_op)


_BACKGROUND: set[asyncio.Future[Any]] = set()


def _spawn(awaitable: Awaitable[Any]) -> asyncio.Future[Any]:
    """Run ``awaitable`` in the background of the running loop; its failure is only logged."""
    task = asyncio.ensure_future(_quiet(awaitable))
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    return task


async def _quiet(awaitable: Awaitable[Any]) -> None:
    try:
        await awaitable
    except Exception as exc:
        logger.debug("stop after early close failed: %s", type(exc).__name__)

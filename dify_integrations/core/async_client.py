"""`AsyncDifyClient`: the native-async Dify client on aiohttp.

An `aiohttp.ClientSession` belongs to one event loop, so the client keeps one per running
loop, created lazily on first use there; ``aclose()`` closes the current loop's session and
drops those of loops that have ended. The protocol logic is the same pure core as
`DifyClient`'s; only the I/O differs.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
import ssl
import urllib.request
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from pydantic import SecretStr

from . import operations as ops
from ._fork import track
from .app_methods import AsyncAppMethods
from .base_client import BaseClient, logger
from .bodies import blocking_body_as_stream, is_json_response
from .config import DEFAULT_MAX_RETRIES, Limits, TimeoutLike
from .decode import BodyBuffer, BodyDecoder, body_too_large
from .errors import (
    APIConnectionError,
    APITimeoutError,
    DifyError,
    raise_mapped,
)
from .models import (
    AppInfo,
    AppMeta,
    AppParameters,
    ChatMessageResponse,
    CompletionMessageResponse,
    Conversation,
    ConversationList,
    DatasetList,
    MessageList,
    RetrieveResponse,
    UploadedFile,
    WorkflowRunDetail,
    WorkflowRunResponse,
)
from .stream import AsyncEventStream

__all__ = ["AsyncDifyClient", "map_transport_error"]

T = TypeVar("T")


def map_transport_error(exc: BaseException) -> DifyError | None:
    """Map an aiohttp/asyncio exception to `APIConnectionError`/`APITimeoutError`.

    Args:
        exc: Any exception raised while sending or reading.

    Returns:
        The mapped error, or ``None`` when ``exc`` is not a transport error.
    """
    if isinstance(exc, DifyError | asyncio.CancelledError):
        return None
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return APITimeoutError("Timed out connecting to the Dify server.", request_sent=False)
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return APITimeoutError("Timed out waiting for the Dify server.", request_sent=True)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return APIConnectionError(
            f"Could not connect to the Dify server ({type(exc).__name__}).", request_sent=False
        )
    if isinstance(exc, aiohttp.ClientError | ConnectionError | OSError):
        return APIConnectionError(f"Connection lost ({type(exc).__name__}).", request_sent=True)
    return None


def _env_proxy(base_url: str) -> str | None:
    """The environment's proxy for ``base_url``, read once."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    with contextlib.suppress(Exception):
        if urllib.request.proxy_bypass(host):
            return None
    return urllib.request.getproxies().get(parts.scheme)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _inflated(decoder: BodyDecoder, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        for piece in decoder.feed(chunk):
            yield piece
    tail = decoder.flush()
    if tail:
        yield tail


def _decoded_chunks(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The body's bytes as they arrive, with its ``Content-Encoding`` undone (bounded)."""
    decoder = BodyDecoder(response.headers.get("Content-Encoding"))
    chunks = response.content.iter_any().__aiter__()
    return chunks if decoder.identity else _inflated(decoder, chunks)


def _closer(response: aiohttp.ClientResponse) -> Callable[[], None]:
    """Close ``response``'s connection, from its own event loop or from anywhere else.

    From another loop (or thread), the socket is shut down at once, so the server sees
    the connection end, and the transport is released in its own loop.
    """
    loop = asyncio.get_running_loop()

    def close() -> None:
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            response.close()
            return
        connection = response.connection
        transport = connection.transport if connection is not None else None
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if loop.is_closed():
            with contextlib.suppress(Exception):
                response.close()
        else:
            loop.call_soon_threadsafe(response.close)

    return close


# Background stop calls, held until they finish.
_TASKS: set[asyncio.Task[None]] = set()

# Sessions a forked child inherited: never closed there (closing would act on the
# parent's event loop, whose selector the child shares), only forgotten.
_INHERITED: list[Any] = []


async def _session_keeper(
    session: aiohttp.ClientSession, stopping: set[asyncio.Future[None]], budget: float
) -> AsyncGenerator[None, None]:
    """Park at ``yield`` until the loop's runner finalises async generators, then close.

    Stop calls still running (those of streams cancelled as the loop ends) finish first.
    """
    try:
        yield
    finally:
        if stopping:
            await _settle(stopping, budget)
        if not session.closed:
            await session.close()


async def _settle(stopping: set[asyncio.Future[None]], budget: float) -> None:
    """Wait (at most ``budget`` s) for this loop's background stop calls to finish."""
    loop = asyncio.get_running_loop()
    current = asyncio.current_task()
    pending = [t for t in stopping if t is not current and t.get_loop() is loop and not t.done()]
    if pending:
        await asyncio.wait(pending, timeout=budget)


async def _start(keeper: AsyncGenerator[None, None]) -> None:
    with contextlib.suppress(StopAsyncIteration):
        await keeper.__anext__()


class AsyncDifyClient(AsyncAppMethods, BaseClient):
    """Native-async client for the Dify Service API (aiohttp).

    Every method of `DifyClient` exists here as a coroutine, except the ``stream_*``
    methods: they are plain methods returning an `AsyncEventStream`, which is both an async
    iterator and an async context manager::

        async with client.stream_chat_message("Hi") as stream:
            async for event in stream:
                ...

    Args:
        api_key: App key (``app-…``) or knowledge key (``dataset-…``); else ``DIFY_API_KEY``.
        base_url: API root; else ``DIFY_BASE_URL``, else ``https://api.dify.ai/v1``.
        user: Default end user for calls that need one; else ``DIFY_USER``.
        timeout: ``None``, seconds (bounding every wait of a call) or a `Timeout`.
        max_retries: Retries after the first attempt (default 2).
        verify: TLS verification: ``True``, ``False`` or a CA bundle path.
        env_key: Environment variable read first for the key.
        limits: Size bounds on responses (`Limits`).

    A stream belongs to the event loop it was opened in: used from another loop it is
    closed and raises `DifyError`. After ``os.fork()`` the child's client opens its own
    connections.
    """

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        *,
        user: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int | None = DEFAULT_MAX_RETRIES,
        verify: bool | str = True,
        env_key: str = "DIFY_API_KEY",
        limits: Limits | None = None,
        session: aiohttp.ClientSession | None = None,
        headers: Mapping[str, str] | None = None,
        proxy: str | None = None,
    ) -> None:
        super().__init__(
            api_key,
            base_url=base_url,
            user=user,
            timeout=timeout,
            max_retries=max_retries,
            env_key=env_key,
            limits=limits,
            headers=headers,
        )
        # A caller's session: used on its own event loop, never closed here.
        self._given_session = session
        self._ssl: bool | ssl.SSLContext
        if isinstance(verify, str):
            self._ssl = ssl.create_default_context(cafile=verify)
        else:
            self._ssl = bool(verify)
        self._proxy = proxy if proxy is not None else _env_proxy(self.base_url)
        self._sessions: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, aiohttp.ClientSession
        ] = weakref.WeakKeyDictionary()
        self._keepers: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, AsyncGenerator[None, None]
        ] = weakref.WeakKeyDictionary()
        t = self._config.timeout
        self._blocking_timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=t.connect, sock_read=t.read
        )
        self._stream_timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=t.connect, sock_read=t.stream_idle
        )
        self._stop_timeout = aiohttp.ClientTimeout(
            total=t.stop, connect=None, sock_connect=min(t.connect, t.stop), sock_read=t.stop
        )
        # Stop calls running in the background (a cancelled stream's): aclose waits for them.
        self._stopping: set[asyncio.Future[None]] = set()
        track(self)

    def _after_fork(self) -> None:
        """In a forked child: forget the inherited sessions; each loop opens a new one."""
        _INHERITED.extend(self._sessions.values())
        _INHERITED.extend(self._keepers.values())
        self._sessions = weakref.WeakKeyDictionary()
        self._keepers = weakref.WeakKeyDictionary()
        self._stopping = set()

    # ------------------------------------------------------------------ sessions

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        given = self._given_session
        if given is not None:
            if given.closed:
                raise RuntimeError("the aiohttp.ClientSession given to AsyncDifyClient is closed")
            if given.loop is not loop:  # pragma: no branch - a clear error, not aiohttp's
                raise RuntimeError(
                    "the aiohttp.ClientSession given to AsyncDifyClient belongs to another "
                    "event loop: use the client in that loop, or give it no session"
                )
            return given
        session = self._sessions.get(loop)
        if session is None or session.closed:
            self._drop_dead_sessions()
            session = self._new_session()
            self._sessions[loop] = session
            self._close_with_loop(loop, session)
        return session

    def _new_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ssl=self._ssl),
            trust_env=False,
            # Bodies are decoded by the client itself, with a size bound.
            auto_decompress=False,
        )

    def _close_with_loop(
        self, loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession
    ) -> None:
        """Close ``session`` when its loop shuts down (``asyncio.run``, ``asyncio.Runner``).

        Those runners finalise every live async generator before closing the loop, so a
        generator parked at its ``yield`` is the one hook that runs *inside* the loop at its
        end: its ``finally`` closes the session cleanly, with no "Unclosed client session".
        """
        keeper = _session_keeper(session, self._stopping, self._config.timeout.stop)
        self._keepers[loop] = keeper  # the loop only holds async generators weakly
        loop.create_task(_start(keeper))

    def _drop_dead_sessions(self) -> None:
        for loop, session in list(self._sessions.items()):
            if loop.is_closed():
                connector = session.connector
                with contextlib.suppress(Exception):
                    session.detach()
                if connector is not None:
                    with contextlib.suppress(Exception):
                        connector._close()
                self._sessions.pop(loop, None)

    async def aclose(self) -> None:
        """Close this event loop's session and forget those of closed loops.

        Stop calls still running in the background (left by a cancelled stream) are
        awaited first; each has its own short budget (`Timeout.stop`).
        """
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0)  # lets a stream cancelled just now start its stop call
        await _settle(self._stopping, self._config.timeout.stop)
        session = self._sessions.pop(loop, None)
        if session is not None and not session.closed:
            await session.close()
        self._drop_dead_sessions()

    async def __aenter__(self) -> AsyncDifyClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ transport

    async def _send_once(
        self,
        op: ops.Operation[Any],
        client_timeout: aiohttp.ClientTimeout | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> aiohttp.ClientResponse:
        url, headers, body = self._prepare(op)
        data: Any = body
        if op.multipart is not None:
            part = op.multipart
            form = aiohttp.FormData()
            for name, value in part.fields.items():
                form.add_field(name, value)
            # A file object, not bytes: aiohttp warns (ResourceWarning) that large raw bytes
            # may block the event loop, and it streams a file object in chunks instead.
            form.add_field(
                "file",
                io.BytesIO(part.content),
                filename=part.filename,
                content_type=part.mime_type,
            )
            data = form
        try:
            response = await (session or self._session()).request(
                op.method,
                url,
                params=op.params,
                data=data,
                headers=headers,
                timeout=client_timeout
                or (self._stream_timeout if op.stream else self._blocking_timeout),
                allow_redirects=False,
                proxy=self._proxy,
                # Bodies are decoded by the client itself (a caller's session may inflate).
                auto_decompress=False,
            )
        except Exception as exc:
            raise_mapped(exc, map_transport_error(exc), secret=self._secret)
        status = response.status
        self._log(op, status)
        if status >= 300:
            try:
                raw = await self._read_body(response)
            except Exception:
                raw = b""
            finally:
                response.release()
            raise self._status_error(status, response.headers, raw)
        return response

    async def _read_body(self, response: aiohttp.ClientResponse) -> bytes:
        """The whole body, decoded, bounded by ``Limits.max_body_bytes``."""
        limit = self._config.limits.max_body_bytes
        encoding = response.headers.get("Content-Encoding")
        length = response.content_length
        if encoding is None and length is not None:
            # The common case: a plain body of a declared length, read in one go.
            if length > limit:
                raise body_too_large(limit)
            return await response.read()
        buffer = BodyBuffer(encoding, limit)
        async for chunk in response.content.iter_any():
            buffer.add(chunk)
        return buffer.finish()

    async def _fetch_once(
        self,
        op: ops.Operation[Any],
        client_timeout: aiohttp.ClientTimeout | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> tuple[int, bytes]:
        """One attempt: send ``op`` and read its whole body (a cut body fails the attempt)."""
        response = await self._send_once(op, client_timeout, session)
        try:
            raw = b"" if op.empty else await self._read_body(response)
        except BaseException as exc:
            response.close()
            raise_mapped(exc, map_transport_error(exc), secret=self._secret)
        finally:
            response.release()
        return response.status, raw

    async def _request(self, op: ops.Operation[Any]) -> aiohttp.ClientResponse:
        return await self._retry.acall(self._send_once, op)

    async def _call(self, op: ops.Operation[T]) -> T:
        status, raw = await self._retry.acall(self._fetch_once, op)
        return self._parse_body(op, status, raw)

    async def _stop_call(self, op: ops.Operation[Any]) -> Any:
        """A stop call on its own short budget (`Timeout.stop`): one attempt, no retry.

        After ``aclose`` (or as the loop ends) it goes through a session of its own,
        closed at once, rather than opening a pooled one nobody would close.
        """
        session = self._given_session or self._sessions.get(asyncio.get_running_loop())
        if session is not None and not session.closed:
            status, raw = await self._fetch_once(op, self._stop_timeout)
        else:
            async with self._new_session() as own:
                status, raw = await self._fetch_once(op, self._stop_timeout, own)
        return self._parse_body(op, status, raw)

    def _open_stream(self, op: ops.Operation[Any]) -> AsyncEventStream:
        async def open_stream() -> tuple[AsyncIterator[bytes], Callable[[], None]]:
            response = await self._request(op)
            try:
                chunks = _decoded_chunks(response)
                if is_json_response(response.headers.get("Content-Type")):
                    raw = await self._read_body(response)
                    response.release()
                    chunks = _once(blocking_body_as_stream(raw))
            except BaseException as exc:
                response.close()
                raise_mapped(exc, map_transport_error(exc), secret=self._secret)
            return chunks, _closer(response)

        return AsyncEventStream(
            open_stream,
            op=op,
            timeout=self._config.timeout,
            run_stop=self._stop_call,
            spawn_stop=self._spawn_stop,
            map_error=map_transport_error,
            secret=self._config.api_key,
            limits=self._config.limits,
        )

    def _spawn_stop(self, op: ops.Operation[Any]) -> asyncio.Future[None]:
        """Run a stop call in a task of its own (a cancellation never waits for it).

        The returned future is done when the call is. ``aclose`` and the end of the loop
        wait for it (it has its own short budget, `Timeout.stop`). The task is started
        from a callback, so a loop that is cancelling its tasks to shut down (the end of
        ``asyncio.run``) does not cancel it before it was even sent.
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._stopping.add(done)
        done.add_done_callback(self._stopping.discard)

        def finished(task: asyncio.Task[None]) -> None:
            _TASKS.discard(task)
            if not done.done():
                done.set_result(None)

        def start() -> None:
            task = loop.create_task(self._quiet_stop(op))
            _TASKS.add(task)
            task.add_done_callback(finished)

        loop.call_soon(start)
        return done

    async def _quiet_stop(self, op: ops.Operation[Any]) -> None:
        try:
            await self._stop_call(op)
        except Exception as exc:
            logger.debug("stop after early close failed: %s", type(exc).__name__)

    async def _send(self, op: ops.Operation[T]) -> T:
        """Blocking mode: the JSON answer; streaming: the stream folded into the same model."""
        if not op.stream:
            return await self._call(op)
        async with self._open_stream(op) as stream:
            await stream.until_done()
        return op.from_stream(stream.result)

    # ------------------------------------------------------------------ chat

    async def send_chat_message(
        self,
        query: str,
        *,
        user: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
        files: Sequence[Mapping[str, Any]] | None = None,
        auto_generate_name: bool | None = None,
        response_mode: ops.ResponseMode = "streaming",
        workflow_id: str | None = None,
        trace_id: str | None = None,
    ) -> ChatMessageResponse:
        """Send a chat message and return the whole answer (see `DifyClient.send_chat_message`)."""
        return await self._send(
            ops.chat_message(
                query,
                user=self._user(user),
                inputs=inputs,
                conversation_id=conversation_id,
                files=files,
                auto_generate_name=auto_generate_name,
                response_mode=response_mode,
                workflow_id=workflow_id,
                trace_id=trace_id,
            )
        )

    def stream_chat_message(
        self,
        query: str,
        *,
        user: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
        files: Sequence[Mapping[str, Any]] | None = None,
        auto_generate_name: bool | None = None,
        workflow_id: str | None = None,
        trace_id: str | None = None,
    ) -> AsyncEventStream:
        """Stream a chat answer; input is validated now, the request is sent on first use."""
        return self._open_stream(
            ops.chat_message(
                query,
                user=self._user(user),
                inputs=inputs,
                conversation_id=conversation_id,
                files=files,
                auto_generate_name=auto_generate_name,
                workflow_id=workflow_id,
                trace_id=trace_id,
            )
        )

    async def stop_chat_message(self, task_id: str, *, user: str | None = None) -> dict[str, Any]:
        """Stop a streaming chat generation (``{"result": "success"}``)."""
        return await self._call(ops.stop_task("chat", task_id, user=self._user(user)))

    # ------------------------------------------------------------------ completion

    async def send_completion(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        query: str | None = None,
        user: str | None = None,
        files: Sequence[Mapping[str, Any]] | None = None,
        response_mode: ops.ResponseMode = "streaming",
        trace_id: str | None = None,
    ) -> CompletionMessageResponse:
        """Run a completion app and return the whole answer."""
        return await self._send(
            ops.completion_message(
                inputs,
                query=query,
                user=self._user(user),
                files=files,
                response_mode=response_mode,
                trace_id=trace_id,
            )
        )

    def stream_completion(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        query: str | None = None,
        user: str | None = None,
        files: Sequence[Mapping[str, Any]] | None = None,
        trace_id: str | None = None,
    ) -> AsyncEventStream:
        """Stream a completion app's events."""
        return self._open_stream(
            ops.completion_message(
                inputs, query=query, user=self._user(user), files=files, trace_id=trace_id
            )
        )

    async def stop_completion(self, task_id: str, *, user: str | None = None) -> dict[str, Any]:
        """Stop a streaming completion."""
        return await self._call(ops.stop_task("completion", task_id, user=self._user(user)))

    # ------------------------------------------------------------------ workflow

    async def run_workflow(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        user: str | None = None,
        files: Sequence[Mapping[str, Any]] | None = None,
        response_mode: ops.ResponseMode = "streaming",
        workflow_id: str | None = None,
        trace_id: str | None = None,
    ) -> WorkflowRunResponse:
        """Run a workflow app and return its result (a failed run is returned, not raised)."""
        return await self._send(
            ops.run_workflow(
                inputs,
                user=self._user(user),
                files=files,
                response_mode=response_mode,
                workflow_id=workflow_id,
                trace_id=trace_id,
            )
        )

    def stream_workflow(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        user: str | None = None,
        files: Sequence[Mapping[str, Any]] | None = None,
        workflow_id: str | None = None,
        trace_id: str | None = None,
    ) -> AsyncEventStream:
        """Stream a workflow app's events."""
        return self._open_stream(
            ops.run_workflow(
                inputs,
                user=self._user(user),
                files=files,
                workflow_id=workflow_id,
                trace_id=trace_id,
            )
        )

    async def stop_workflow(self, task_id: str, *, user: str | None = None) -> dict[str, Any]:
        """Stop a running workflow (``POST /workflows/tasks/{task_id}/stop``)."""
        return await self._call(ops.stop_task("workflow", task_id, user=self._user(user)))

    async def get_workflow_run(self, workflow_run_id: str) -> WorkflowRunDetail:
        """Details of a workflow run."""
        return await self._call(ops.get_workflow_run(workflow_run_id))

    # ------------------------------------------------------------------ conversations

    async def list_conversations(
        self,
        *,
        user: str | None = None,
        last_id: str | None = None,
        limit: int = 20,
        sort_by: str | None = None,
    ) -> ConversationList:
        """One page of the user's conversations."""
        return await self._call(
            ops.list_conversations(
                user=self._user(user), last_id=last_id, limit=limit, sort_by=sort_by
            )
        )

    async def delete_conversation(self, conversation_id: str, *, user: str | None = None) -> None:
        """Delete a conversation (204)."""
        await self._call(ops.delete_conversation(conversation_id, user=self._user(user)))

    async def rename_conversation(
        self,
        conversation_id: str,
        name: str | None = None,
        *,
        auto_generate: bool = False,
        user: str | None = None,
    ) -> Conversation:
        """Rename a conversation."""
        return await self._call(
            ops.rename_conversation(
                conversation_id, name, auto_generate=auto_generate, user=self._user(user)
            )
        )

    async def list_messages(
        self,
        conversation_id: str,
        *,
        user: str | None = None,
        first_id: str | None = None,
        limit: int = 20,
    ) -> MessageList:
        """One page of a conversation's messages."""
        return await self._call(
            ops.list_messages(
                conversation_id, user=self._user(user), first_id=first_id, limit=limit
            )
        )

    # ------------------------------------------------------------------ knowledge

    async def list_datasets(
        self, *, page: int = 1, limit: int = 20, keyword: str | None = None
    ) -> DatasetList:
        """One page of knowledge bases (knowledge key)."""
        return await self._call(ops.list_datasets(page=page, limit=limit, keyword=keyword))

    async def retrieve(
        self,
        dataset_id: str,
        query: str,
        *,
        retrieval_model: Mapping[str, Any] | None = None,
    ) -> RetrieveResponse:
        """Search a knowledge base (knowledge key)."""
        return await self._call(ops.retrieve(dataset_id, query, retrieval_model=retrieval_model))

    # ------------------------------------------------------------------ files and app

    async def upload_file(
        self,
        file: ops.FileInput,
        *,
        filename: str | None = None,
        mime_type: str | None = None,
        user: str | None = None,
    ) -> UploadedFile:
        """Upload a file (path, bytes or binary file object)."""
        ops.check_upload(file, filename=filename, mime_type=mime_type)
        if not self._system_parameters_known:
            try:
                await self.get_parameters()
            except (DifyError, ValueError) as exc:
                self._parameters_unavailable(exc)
        return await self._call(
            ops.upload_file(
                file,
                filename=filename,
                mime_type=mime_type,
                user=self._user(user),
                system_parameters=self._system_parameters,
            )
        )

    async def get_parameters(self) -> AppParameters:
        """The app's input form, opening statement and feature settings."""
        parameters: AppParameters = self._remember_parameters(
            await self._call(ops.get_parameters())
        )
        return parameters

    async def get_info(self) -> AppInfo:
        """The app's name, description and mode."""
        return await self._call(ops.get_info())

    async def get_meta(self) -> AppMeta:
        """The app's tool icons."""
        return await self._call(ops.get_meta())

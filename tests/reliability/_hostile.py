"""Small hostile HTTP servers on loopback, written per test (raw asyncio, no framework).

`HostileServer` runs an asyncio server in a background thread and hands every parsed
request to the test's handler coroutine, which writes whatever bytes it likes: a gzip
stream nobody asked for, a line that never ends, a body cut short, a stop call that never
answers. It records each request (with the client's port, so a reused connection is
visible) and which connections the client closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dify_integrations import AsyncDifyClient, DifyClient

from ._subjects import Mode

KEY = "app-hostile-server-secret-0123456789"
TASK_ID = "7f3e2a8c-5b1d-4c6e-9f0a-1b2c3d4e5f60"
MESSAGE_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
CONVERSATION_ID = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"
RUN_ID = "c4d5e6f7-a8b9-4c0d-8e1f-2a3b4c5d6e7f"


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    port: int


Handler = Callable[[Seen, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]
"""Writes the response; returns whether to keep the connection for another request."""


@dataclass
class HostileServer:
    """A loopback HTTP/1.1 server whose every answer is written by ``handler``."""

    handler: Handler
    requests: list[Seen] = field(default_factory=list)
    closed_by_client: list[int] = field(default_factory=list)
    port: int = 0
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> HostileServer:
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._server = self.run(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()

        try:
            self.run(stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self.loop.close()

    def run(self, coro: Awaitable[Any], timeout: float = 30.0) -> Any:
        """Run ``coro`` in the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def paths(self, method: str | None = None) -> list[str]:
        """Paths of the requests received so far (optionally of one method)."""
        return [r.path for r in self.requests if method is None or r.method == method]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        port = writer.get_extra_info("peername")[1]
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    self.closed_by_client.append(port)
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                seen = Seen(method, target.split("?", 1)[0], headers, body, port)
                self.requests.append(seen)
                if not await self.handler(seen, reader, writer):
                    return
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()


@contextlib.contextmanager
def hostile(handler: Handler) -> Iterator[HostileServer]:
    """Serve ``handler`` on loopback for the duration of the block."""
    with HostileServer(handler) as server:
        yield server


# ----------------------------------------------------------------------------- writing


def head(
    status: int = 200, headers: dict[str, str] | None = None, *, length: int | None = None
) -> bytes:
    """A response head; without ``length`` the body runs until the connection closes."""
    lines = [f"HTTP/1.1 {status} X"]
    all_headers = dict(headers or {})
    if length is not None:
        all_headers["Content-Length"] = str(length)
    else:
        all_headers["Connection"] = "close"
    lines += [f"{k}: {v}" for k, v in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def send_json(
    writer: asyncio.StreamWriter,
    obj: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> bool:
    """Write a complete JSON answer (keep-alive); returns ``True`` to keep the connection."""
    body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    writer.write(
        head(status, {"Content-Type": "application/json", **(headers or {})}, length=len(body))
    )
    writer.write(body)
    await writer.drain()
    return True


SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


def frame(obj: dict[str, Any]) -> bytes:
    """One SSE frame."""
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def chat_event(answer: str, **extra: Any) -> dict[str, Any]:
    """A ``message`` event of the test's chat."""
    return {
        "event": "message",
        "task_id": TASK_ID,
        "id": MESSAGE_ID,
        "message_id": MESSAGE_ID,
        "conversation_id": CONVERSATION_ID,
        "answer": answer,
        "created_at": 1700000000,
        **extra,
    }


def chat_end(**extra: Any) -> dict[str, Any]:
    """The ``message_end`` event of the test's chat."""
    return {
        "event": "message_end",
        "task_id": TASK_ID,
        "id": MESSAGE_ID,
        "message_id": MESSAGE_ID,
        "conversation_id": CONVERSATION_ID,
        "metadata": {"usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}},
        "created_at": 1700000000,
        **extra,
    }


def chat_stream(*answers: str) -> bytes:
    """A whole chat stream: one ``message`` per answer piece, then ``message_end``."""
    return b"".join(frame(chat_event(a)) for a in answers) + frame(chat_end())


def workflow_stream(text: str) -> bytes:
    """A whole workflow stream with ``text`` streamed and returned as output ``answer``."""
    envelope = {"task_id": TASK_ID, "workflow_run_id": RUN_ID}
    return (
        frame({"event": "workflow_started", **envelope, "data": {"id": RUN_ID}})
        + frame({"event": "text_chunk", **envelope, "data": {"text": text}})
        + frame(
            {
                "event": "workflow_finished",
                **envelope,
                "data": {"id": RUN_ID, "status": "succeeded", "outputs": {"answer": text}},
            }
        )
    )


INFO = {"name": "Hostile", "description": "", "tags": [], "mode": "chat"}


# ----------------------------------------------------------------------------- calling


def call(
    mode: Mode,
    base_url: str,
    method: str,
    *args: Any,
    client: dict[str, Any] | None = None,
    **kw: Any,
) -> Any:
    """Build a client of ``mode`` for ``base_url``, make one call, close the client."""
    opts: dict[str, Any] = {"base_url": base_url, "user": "u", "max_retries": 0, **(client or {})}
    if mode == "sync":
        with DifyClient(KEY, **opts) as sync_client:
            return getattr(sync_client, method)(*args, **kw)

    async def go() -> Any:
        async with AsyncDifyClient(KEY, **opts) as async_client:
            return await getattr(async_client, method)(*args, **kw)

    return asyncio.run(go())

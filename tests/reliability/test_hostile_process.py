"""Processes, event loops and the key in memory (issue 12).

* §3: a client used before ``os.fork()``: the child gets connections of its own, sync and
  async, without being told; the parent's pooled connection keeps working.
* §10: an async stream used from a second event loop raises a clear `DifyError` and its
  connection is closed (the server sees it end).
* §14: the key is kept only in a `SecretStr`: ``vars()`` of a client (and of what it holds)
  never shows it, yet every request carries the ``Authorization`` header.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import pytest
from pydantic import SecretStr

from dify_integrations import AsyncDifyClient, DifyClient, DifyError

from ._hostile import (
    INFO,
    KEY,
    SSE_HEADERS,
    Seen,
    chat_event,
    frame,
    head,
    hostile,
    send_json,
)
from ._subjects import Mode

pytestmark = [
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork"),
]


async def _keep_alive(
    seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> bool:
    """Answer every request on a kept-alive connection (info for /info, else parameters)."""
    if seen.path.endswith("/info"):
        return await send_json(writer, INFO)
    return await send_json(writer, {"opening_statement": "child", "user_input_form": []})


def _in_child(work: Any) -> int:
    """Run ``work()`` in a forked child; its exit status (0: it returned normally)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child process
        status = 1
        try:
            work()
            status = 0
        except BaseException as exc:
            sys.stderr.write(f"child failed: {exc!r}\n")
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


# ------------------------------------------------------------------------ §3 fork


def test_a_forked_child_opens_its_own_connection_sync() -> None:
    with hostile(_keep_alive) as server:
        with DifyClient(KEY, base_url=server.base_url, user="u") as client:
            assert client.get_info().name == "Hostile"  # one pooled connection now
            assert _in_child(client.get_parameters) == 0
            assert client.get_info().name == "Hostile"  # the parent's connection still works
        parent_first, child, parent_again = server.requests
    assert child.path == "/v1/parameters"
    assert child.port != parent_first.port  # the child did not write on the parent's socket
    assert parent_again.port == parent_first.port  # and left it intact


def test_a_forked_child_opens_its_own_connection_async() -> None:
    loop = asyncio.new_event_loop()
    with hostile(_keep_alive) as server:
        client = AsyncDifyClient(KEY, base_url=server.base_url, user="u")
        try:
            assert loop.run_until_complete(client.get_info()).name == "Hostile"

            def child_work() -> None:  # the same loop object, as a forked child inherits it
                loop.run_until_complete(client.get_parameters())

            assert _in_child(child_work) == 0
            assert loop.run_until_complete(client.get_info()).name == "Hostile"
        finally:
            loop.run_until_complete(client.aclose())
            loop.close()
        parent_first, child, parent_again = server.requests
    assert child.path == "/v1/parameters"
    assert child.port != parent_first.port
    assert parent_again.port == parent_first.port


# ------------------------------------------------------------------------ §10 second loop


def test_an_async_stream_used_from_another_event_loop_is_refused_and_closed() -> None:
    async def stalled(
        seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        if seen.path.endswith("/stop"):
            return await send_json(writer, {"result": "success"})
        writer.write(head(200, SSE_HEADERS) + frame(chat_event("partial ")))
        await writer.drain()
        await reader.read()  # until the client closes the connection
        server.closed_by_client.append(seen.port)
        return False

    first = asyncio.new_event_loop()
    with hostile(stalled) as server:
        client = AsyncDifyClient(KEY, base_url=server.base_url, user="u")
        try:
            stream = client.stream_chat_message("hi")
            first.run_until_complete(stream.__aenter__())
            first.run_until_complete(stream.__anext__())  # the task id is known
            stream_port = server.requests[0].port

            async def from_another_loop() -> None:
                with pytest.raises(DifyError, match="another event loop"):
                    await stream.__anext__()
                await client.aclose()  # waits for the stop call, made from this loop

            asyncio.run(from_another_loop())
            deadline = time.monotonic() + 10
            while stream_port not in server.closed_by_client and time.monotonic() < deadline:
                time.sleep(0.01)
            assert stream_port in server.closed_by_client  # the socket was closed at once
        finally:
            first.run_until_complete(client.aclose())
            first.close()
    # The unfinished task was still stopped, once.
    assert [r.path for r in server.requests if r.path.endswith("/stop")] == [
        "/v1/chat-messages/7f3e2a8c-5b1d-4c6e-9f0a-1b2c3d4e5f60/stop"
    ]


# ------------------------------------------------------------------------ §14 key at rest


def _reachable(obj: Any, depth: int = 3) -> list[str]:
    """``repr`` of ``vars()`` of ``obj`` and of the objects it holds, a few levels deep.

    A `SecretStr` is the one place the key may live: it is not opened.
    """
    seen: list[str] = []
    todo: list[tuple[Any, int]] = [(obj, 0)]
    ids: set[int] = set()
    while todo:
        current, level = todo.pop()
        if id(current) in ids or level > depth or isinstance(current, SecretStr):
            continue
        ids.add(id(current))
        try:
            attrs = vars(current)
        except TypeError:
            continue
        seen.append(repr(attrs))
        for value in attrs.values():
            children = value.values() if isinstance(value, dict) else [value]
            todo.extend((child, level + 1) for child in children)
    return seen


def test_the_key_is_not_in_the_attributes_of_a_client_or_its_stream(mode: Mode) -> None:
    async def handler(
        seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        if seen.path.endswith("/info"):
            return await send_json(writer, INFO)
        writer.write(head(200, SSE_HEADERS) + frame(chat_event("hi")))
        writer.write(frame({"event": "message_end", "task_id": "t", "id": "m"}))
        await writer.drain()
        return False

    with hostile(handler) as server:
        if mode == "sync":
            with DifyClient(KEY, base_url=server.base_url, user="u") as client:
                client.get_info()
                with client.stream_chat_message("hi") as stream:
                    for _ in stream:
                        views = _reachable(client) + _reachable(stream)
        else:

            async def go() -> list[str]:
                async with AsyncDifyClient(KEY, base_url=server.base_url, user="u") as client:
                    await client.get_info()
                    async with client.stream_chat_message("hi") as stream:
                        async for _ in stream:
                            pass
                        return _reachable(client) + _reachable(stream)

            views = asyncio.run(go())
    assert len(views) > 3
    for view in views:
        assert KEY not in view
        assert KEY[4:20] not in view
    assert {r.headers["authorization"] for r in server.requests} == {f"Bearer {KEY}"}

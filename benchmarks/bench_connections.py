"""Benchmark 5: TCP connections opened by 100 sequential calls from one instance.

Counted two ways, in the same run:

- client side: every `socket.connect` to the server's port made by this process while the
  calls run (`socket.socket.connect` is wrapped here, in the benchmark process only; both
  urllib3 and aiohttp connect through it);
- server side: the distinct client ports of the server process's established connections
  (psutil), sampled after every call.

Target: at most 2 connections for 100 calls, sync and async.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from benchmarks._harness import Context, Table, verdict

NAME = "connections"
USER = "bench-user"
QUERY = "ping"
RETRIEVE_QUERY = "remote work"
TARGET = 2


class ConnectCounter:
    """Counts `connect` calls to one port made through `socket.socket.connect`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.count = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def counting(self) -> Iterator[ConnectCounter]:
        """Wrap `socket.socket.connect` / `connect_ex` while the block runs."""
        original_connect = socket.socket.connect
        original_connect_ex = socket.socket.connect_ex
        counter = self

        def connect(sock: socket.socket, address: Any) -> None:
            counter._seen(address)
            original_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            counter._seen(address)
            return original_connect_ex(sock, address)

        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
        try:
            yield self
        finally:
            socket.socket.connect = original_connect  # type: ignore[method-assign]
            socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]

    def _seen(self, address: Any) -> None:
        if isinstance(address, tuple) and len(address) >= 2 and address[1] == self.port:
            with self._lock:
                self.count += 1


class ServerPorts:
    """Distinct client ports seen on the server process's established connections."""

    def __init__(self, server_pid: int, server_port: int) -> None:
        import psutil

        self._proc = psutil.Process(server_pid)
        self._port = server_port
        self.ports: set[int] = set()

    def sample(self) -> None:
        """Record the client ports connected to the server right now."""
        for conn in self._proc.net_connections(kind="tcp"):
            established = conn.status == "ESTABLISHED" and conn.raddr
            if established and conn.laddr and conn.laddr.port == self._port:
                self.ports.add(conn.raddr.port)


def _sync_count(ctx: Context, call: Callable[[], object], calls: int) -> tuple[int, int]:
    port = urlsplit(ctx.server.base_url).port or 80
    counter = ConnectCounter(port)
    ports = ServerPorts(ctx.server.pid, port)
    with counter.counting():
        for _ in range(calls):
            call()
            ports.sample()
    return counter.count, len(ports.ports)


async def _async_count(
    ctx: Context, call: Callable[[], Awaitable[object]], calls: int
) -> tuple[int, int]:
    port = urlsplit(ctx.server.base_url).port or 80
    counter = ConnectCounter(port)
    ports = ServerPorts(ctx.server.pid, port)
    with counter.counting():
        for _ in range(calls):
            await call()
            ports.sample()
    return counter.count, len(ports.ports)


def _row(table: Table, name: str, mode: str, counts: tuple[int, int], calls: int) -> None:
    client, server = counts
    table.add(
        name, mode, calls, client, server, f"<= {TARGET}", verdict(max(client, server) <= TARGET)
    )


def _sync_rows(ctx: Context, table: Table, calls: int) -> None:
    from llama_index.core.base.llms.types import ChatMessage

    from dify_integrations import DifyClient
    from dify_integrations.langchain import ChatDify
    from dify_integrations.langchain import DifyRetriever as LCRetriever
    from dify_integrations.llama_index import DifyLLM
    from dify_integrations.llama_index import DifyRetriever as LIRetriever

    server = ctx.server
    key, base = server.key("tiny"), server.base_url
    dataset_id, dataset_key = str(server.info["dataset_id"]), str(server.info["dataset_key"])
    messages = [ChatMessage(role="user", content=QUERY)]

    core = DifyClient(key, base_url=base, user=USER)
    try:
        _row(
            table,
            "DifyClient.send_chat_message",
            "sync",
            _sync_count(ctx, lambda: core.send_chat_message(QUERY), calls),
            calls,
        )
    finally:
        core.close()
    chat = ChatDify(api_key=key, base_url=base, user=USER)
    _row(
        table,
        "LangChain ChatDify.invoke",
        "sync",
        _sync_count(ctx, lambda: chat.invoke(QUERY), calls),
        calls,
    )
    _row(
        table,
        "LangChain ChatDify.stream",
        "sync",
        _sync_count(ctx, lambda: list(chat.stream(QUERY)), calls),
        calls,
    )
    lc_retriever = LCRetriever(api_key=dataset_key, base_url=base, dataset_id=dataset_id)
    _row(
        table,
        "LangChain DifyRetriever.invoke",
        "sync",
        _sync_count(ctx, lambda: lc_retriever.invoke(RETRIEVE_QUERY), calls),
        calls,
    )
    llm = DifyLLM(api_key=key, base_url=base, user=USER)
    _row(
        table,
        "LlamaIndex DifyLLM.chat",
        "sync",
        _sync_count(ctx, lambda: llm.chat(messages), calls),
        calls,
    )
    li_retriever = LIRetriever(dataset_id, api_key=dataset_key, base_url=base)
    _row(
        table,
        "LlamaIndex DifyRetriever.retrieve",
        "sync",
        _sync_count(ctx, lambda: li_retriever.retrieve(RETRIEVE_QUERY), calls),
        calls,
    )


async def _async_rows(ctx: Context, table: Table, calls: int) -> None:
    from llama_index.core.base.llms.types import ChatMessage

    from dify_integrations import AsyncDifyClient
    from dify_integrations.langchain import ChatDify
    from dify_integrations.langchain import DifyRetriever as LCRetriever
    from dify_integrations.llama_index import DifyLLM
    from dify_integrations.llama_index import DifyRetriever as LIRetriever

    server = ctx.server
    key, base = server.key("tiny"), server.base_url
    dataset_id, dataset_key = str(server.info["dataset_id"]), str(server.info["dataset_key"])
    messages = [ChatMessage(role="user", content=QUERY)]

    core = AsyncDifyClient(key, base_url=base, user=USER)
    try:
        _row(
            table,
            "AsyncDifyClient.send_chat_message",
            "async",
            await _async_count(ctx, lambda: core.send_chat_message(QUERY), calls),
            calls,
        )
    finally:
        await core.aclose()
    chat = ChatDify(api_key=key, base_url=base, user=USER)
    _row(
        table,
        "LangChain ChatDify.ainvoke",
        "async",
        await _async_count(ctx, lambda: chat.ainvoke(QUERY), calls),
        calls,
    )

    async def astream() -> None:
        async for _ in chat.astream(QUERY):
            pass

    _row(
        table, "LangChain ChatDify.astream", "async", await _async_count(ctx, astream, calls), calls
    )
    lc_retriever = LCRetriever(api_key=dataset_key, base_url=base, dataset_id=dataset_id)
    _row(
        table,
        "LangChain DifyRetriever.ainvoke",
        "async",
        await _async_count(ctx, lambda: lc_retriever.ainvoke(RETRIEVE_QUERY), calls),
        calls,
    )
    llm = DifyLLM(api_key=key, base_url=base, user=USER)
    _row(
        table,
        "LlamaIndex DifyLLM.achat",
        "async",
        await _async_count(ctx, lambda: llm.achat(messages), calls),
        calls,
    )
    li_retriever = LIRetriever(dataset_id, api_key=dataset_key, base_url=base)
    _row(
        table,
        "LlamaIndex DifyRetriever.aretrieve",
        "async",
        await _async_count(ctx, lambda: li_retriever.aretrieve(RETRIEVE_QUERY), calls),
        calls,
    )


def run(ctx: Context) -> list[Table]:
    """Run benchmark 5."""
    calls = ctx.pick(100, 3)
    table = Table(
        f"5. TCP connections opened by {calls} sequential calls from one instance",
        [
            "instance and call",
            "mode",
            "calls",
            "connects (client)",
            "client ports (server)",
            "target",
            "result",
        ],
    )
    _sync_rows(ctx, table, calls)
    asyncio.run(_async_rows(ctx, table, calls))
    table.note(
        "connects (client): socket.connect calls to the server's port from this process; "
        "client ports (server): distinct peer ports of the server's established connections, "
        "sampled after every call"
    )
    return [table]

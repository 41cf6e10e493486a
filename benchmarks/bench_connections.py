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

        socket.socket.connect = connect  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
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
    """New client ports seen on the server process's established connections."""

    def __init__(self, server_pid: int, server_port: int) -> None:
        import psutil  # type: ignore[import-untyped]

        self._proc = psutil.Process(server_pid)
        self._port = server_port
        self._before = self._current()
        self.ports: set[int] = set()

    def _current(self) -> set[int]:
        ports: set[int] = set()
        for conn in self._proc.net_connections(kind="tcp"):
            established = conn.status == "ESTABLISHED" and conn.raddr
            if established and conn.laddr and conn.laddr.port == self._port:
                ports.add(conn.raddr.port)
        return ports

    def sample(self) -> None:
        """Record the client ports connected to the server now that were not there before."""
        self.ports |= self._current() - self._before


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


def _cases(ctx: Context) -> list[tuple[str, Callable[[], Any], str]]:
    """(label, factory of a fresh instance, method to call) for every instance kind."""
    from dify_integrations import AsyncDifyClient, DifyClient
    from dify_integrations.langchain import ChatDify
    from dify_integrations.langchain import DifyRetriever as LCRetriever
    from dify_integrations.llama_index import DifyLLM
    from dify_integrations.llama_index import DifyRetriever as LIRetriever

    server = ctx.server
    key, base = server.key("tiny"), server.base_url
    dataset_id, dataset_key = str(server.info["dataset_id"]), str(server.info["dataset_key"])
    return [
        ("DifyClient", lambda: DifyClient(key, base_url=base, user=USER), "core"),
        ("AsyncDifyClient", lambda: AsyncDifyClient(key, base_url=base, user=USER), "core"),
        ("LangChain ChatDify", lambda: ChatDify(api_key=key, base_url=base, user=USER), "chat"),
        (
            "LangChain DifyRetriever",
            lambda: LCRetriever(api_key=dataset_key, base_url=base, dataset_id=dataset_id),
            "lc_retriever",
        ),
        ("LlamaIndex DifyLLM", lambda: DifyLLM(api_key=key, base_url=base, user=USER), "llm"),
        (
            "LlamaIndex DifyRetriever",
            lambda: LIRetriever(dataset_id, api_key=dataset_key, base_url=base),
            "li_retriever",
        ),
    ]


def _sync_call(kind: str, instance: Any) -> Callable[[], object]:
    from llama_index.core.base.llms.types import ChatMessage

    messages = [ChatMessage(role="user", content=QUERY)]
    calls: dict[str, Callable[[], object]] = {
        "core": lambda: instance.send_chat_message(QUERY),
        "chat": lambda: instance.invoke(QUERY),
        "chat_stream": lambda: list(instance.stream(QUERY)),
        "lc_retriever": lambda: instance.invoke(RETRIEVE_QUERY),
        "llm": lambda: instance.chat(messages),
        "li_retriever": lambda: instance.retrieve(RETRIEVE_QUERY),
    }
    return calls[kind]


def _async_call(kind: str, instance: Any) -> Callable[[], Awaitable[object]]:
    from llama_index.core.base.llms.types import ChatMessage

    messages = [ChatMessage(role="user", content=QUERY)]

    async def astream() -> None:
        async for _ in instance.astream(QUERY):
            pass

    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "core": lambda: instance.send_chat_message(QUERY),
        "chat": lambda: instance.ainvoke(QUERY),
        "chat_stream": astream,
        "lc_retriever": lambda: instance.ainvoke(RETRIEVE_QUERY),
        "llm": lambda: instance.achat(messages),
        "li_retriever": lambda: instance.aretrieve(RETRIEVE_QUERY),
    }
    return calls[kind]


_METHODS = {
    "core": ("send_chat_message", "send_chat_message"),
    "chat": ("invoke", "ainvoke"),
    "chat_stream": ("stream", "astream"),
    "lc_retriever": ("invoke", "ainvoke"),
    "llm": ("chat", "achat"),
    "li_retriever": ("retrieve", "aretrieve"),
}


def _expanded(ctx: Context, *, sync: bool) -> list[tuple[str, Callable[[], Any], str]]:
    cases = []
    for label, factory, kind in _cases(ctx):
        if label == ("AsyncDifyClient" if sync else "DifyClient"):
            continue
        kinds = [kind, "chat_stream"] if kind == "chat" else [kind]
        for k in kinds:
            method = _METHODS[k][0 if sync else 1]
            cases.append((f"{label}.{method}", factory, k))
    return cases


def _sync_rows(ctx: Context, table: Table, calls: int) -> None:
    for label, factory, kind in _expanded(ctx, sync=True):
        instance = factory()
        try:
            counts = _sync_count(ctx, _sync_call(kind, instance), calls)
        finally:
            _close(instance)
        _row(table, label, "sync", counts, calls)


async def _async_rows(ctx: Context, table: Table, calls: int) -> None:
    for label, factory, kind in _expanded(ctx, sync=False):
        instance = factory()
        try:
            counts = await _async_count(ctx, _async_call(kind, instance), calls)
        finally:
            await _aclose(instance)
        _row(table, label, "async", counts, calls)


def _close(instance: Any) -> None:
    closer = getattr(instance, "close", None)
    if callable(closer):
        closer()


async def _aclose(instance: Any) -> None:
    closer = getattr(instance, "aclose", None)
    if callable(closer):
        await closer()


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
        "client ports (server): distinct new peer ports on the server's established connections, "
        "sampled after every call"
    )
    return [table]

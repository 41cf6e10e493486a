"""Benchmark 4: streaming latency and throughput.

Latency: the `clock` app streams pieces that each carry the server's `time.time_ns()`, taken
right before the piece goes to the writer, a few ms apart (so the client is idle, waiting,
when each arrives). The caller subtracts it from its own `time.time_ns()` the moment the
chunk reaches it (same machine, same clock). Target: median < 2 ms.

Throughput: a 20,000-event stream through the bare `requests` SSE loop, the core
`DifyClient.stream_chat_message`, LangChain `ChatDify.stream` and LlamaIndex
`DifyLLM.stream_chat`. Events per second (wall), and the client process's CPU time per
event, which is each layer's own cost whatever the server's speed; ratios are relative to
the core.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

from benchmarks import _bare
from benchmarks._harness import Context, Table, median, ms, percentile, ratio, verdict

NAME = "streaming"
USER = "bench-user"
LATENCY_TARGET = 0.002
FRAMEWORK_LC = "framework alone: LangChain BaseChatModel.stream, no-I/O model"
FRAMEWORK_LI = "framework alone: LlamaIndex MockLLM.stream_chat, no I/O"
THEIRS_STREAM = "dify-client-python 1.0.3 Client.chat_messages (streaming)"


def _stamps(text: str, received_ns: int, out: list[float]) -> None:
    for part in text.split(";"):
        if part:
            out.append((received_ns - int(part)) / 1e9)


# --------------------------------------------------------------------------------------------
# Latency
# --------------------------------------------------------------------------------------------


def _latency_sync(consume: Callable[[Callable[[str], None]], None]) -> list[float]:
    out: list[float] = []

    def on_piece(text: str) -> None:
        _stamps(text, time.time_ns(), out)

    consume(on_piece)
    return out


def _latency_table(ctx: Context) -> Table:
    import dify_client  # type: ignore[import-untyped]
    import requests
    from llama_index.core.base.llms.types import ChatMessage

    from dify_integrations import DifyClient
    from dify_integrations.langchain import ChatDify
    from dify_integrations.llama_index import DifyLLM

    server = ctx.server
    key = server.key("clock")
    count, gap = ctx.pick(150, 5), 0.004
    query = f"clock {count} {gap}"
    url = f"{server.base_url}/chat-messages"
    session = requests.Session()
    core = DifyClient(key, base_url=server.base_url, user=USER)
    chat = ChatDify(api_key=key, base_url=server.base_url, user=USER)
    llm = DifyLLM(api_key=key, base_url=server.base_url, user=USER)
    messages = [ChatMessage(role="user", content=query)]

    def bare(on_piece: Callable[[str], None]) -> None:
        _bare.stream_answer(
            session, url, key, _bare.chat_body(query, USER, streaming=True), on_piece
        )

    def core_stream(on_piece: Callable[[str], None]) -> None:
        with core.stream_chat_message(query) as stream:
            for event in stream:
                answer = getattr(event, "answer", None)
                if event.event == "message" and answer:
                    on_piece(answer)

    def langchain_stream(on_piece: Callable[[str], None]) -> None:
        for chunk in chat.stream(query):
            if chunk.content:
                on_piece(str(chunk.content))

    def llama_stream(on_piece: Callable[[str], None]) -> None:
        for response in llm.stream_chat(messages):
            if response.delta:
                on_piece(response.delta)

    theirs = dify_client.Client(api_key=key, api_base=server.base_url)

    def theirs_stream(on_piece: Callable[[str], None]) -> None:
        req = dify_client.models.ChatRequest(
            query=query, inputs={}, response_mode="streaming", user=USER
        )
        for event in theirs.chat_messages(req):
            if isinstance(event, dify_client.models.stream.MessageStreamResponse) and event.answer:
                on_piece(event.answer)

    sync_variants: dict[str, Callable[[Callable[[str], None]], None]] = {
        "bare requests SSE loop": bare,
        "DifyClient.stream_chat_message": core_stream,
        "LangChain ChatDify.stream": langchain_stream,
        "LlamaIndex DifyLLM.stream_chat": llama_stream,
        THEIRS_STREAM: theirs_stream,
    }
    results: dict[str, list[float]] = {name: [] for name in sync_variants}
    repeats = ctx.pick(3, 1)
    try:
        for fn in sync_variants.values():  # warm-up
            _latency_sync(fn)
        for _ in range(repeats):
            for name, fn in sync_variants.items():
                results[name].extend(_latency_sync(fn))
        results.update(asyncio.run(_latency_async(ctx, query, repeats)))
    finally:
        session.close()
        core.close()

    table = Table(
        "4a. Streaming latency: server flush -> chunk in the caller's hands",
        ["path", "events", "median", "p90", "max", "target", "result"],
    )
    labels = {
        "bare requests SSE loop": "bare requests SSE loop (floor)",
        "DifyClient.stream_chat_message": "DifyClient.stream_chat_message (ours)",
        "LangChain ChatDify.stream": "ChatDify.stream (ours)",
        "LlamaIndex DifyLLM.stream_chat": "DifyLLM.stream_chat (ours)",
        THEIRS_STREAM: "dify-client-python Client (streaming)",
    }
    for name, label in labels.items():
        ctx.record("first_token", label, median(results[name]))
    for name, values in results.items():
        med = median(values)
        table.add(
            name,
            len(values),
            ms(med, 2),
            ms(percentile(values, 90), 2),
            ms(max(values), 2),
            f"< {ms(LATENCY_TARGET, 0)}",
            verdict(med < LATENCY_TARGET),
        )
    table.note(
        f"{repeats} streams of {count} pieces, {ms(gap, 0)} apart; the stamp is taken in the "
        "server's responder just before the piece is framed and written, so the figure also "
        "holds the server's own framing (an upper bound on the client's share)"
    )
    return table


async def _latency_async(ctx: Context, query: str, repeats: int) -> dict[str, list[float]]:
    from llama_index.core.base.llms.types import ChatMessage

    from dify_integrations import AsyncDifyClient
    from dify_integrations.langchain import ChatDify
    from dify_integrations.llama_index import DifyLLM

    server = ctx.server
    key = server.key("clock")
    core = AsyncDifyClient(key, base_url=server.base_url, user=USER)
    chat = ChatDify(api_key=key, base_url=server.base_url, user=USER, async_client=core)
    llm = DifyLLM(api_key=key, base_url=server.base_url, user=USER, async_client=core)
    messages = [ChatMessage(role="user", content=query)]

    async def core_stream(out: list[float]) -> None:
        async with core.stream_chat_message(query) as stream:
            async for event in stream:
                answer = getattr(event, "answer", None)
                if event.event == "message" and answer:
                    _stamps(answer, time.time_ns(), out)

    async def langchain_stream(out: list[float]) -> None:
        async for chunk in chat.astream(query):
            if chunk.content:
                _stamps(str(chunk.content), time.time_ns(), out)

    async def llama_stream(out: list[float]) -> None:
        async for response in await llm.astream_chat(messages):
            if response.delta:
                _stamps(response.delta, time.time_ns(), out)

    variants = {
        "AsyncDifyClient.stream_chat_message": core_stream,
        "LangChain ChatDify.astream": langchain_stream,
        "LlamaIndex DifyLLM.astream_chat": llama_stream,
    }
    results: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for fn in variants.values():
            await fn([])
        for _ in range(repeats):
            for name, fn in variants.items():
                await fn(results[name])
    finally:
        await core.aclose()
    return results


# --------------------------------------------------------------------------------------------
# Throughput
# --------------------------------------------------------------------------------------------


def _timed(consume: Callable[[], int]) -> tuple[float, float, int]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    events = consume()
    return time.perf_counter() - wall0, time.process_time() - cpu0, events


def _count(items: Iterable[Any], has_text: Callable[[Any], bool]) -> int:
    return sum(1 for item in items if has_text(item))


def _throughput_table(ctx: Context) -> Table:
    import requests
    from llama_index.core.base.llms.types import ChatMessage

    from dify_integrations import DifyClient
    from dify_integrations.langchain import ChatDify
    from dify_integrations.llama_index import DifyLLM

    server = ctx.server
    key = server.key("firehose")
    n = ctx.pick(20_000, 50)
    query = f"events {n}"
    url = f"{server.base_url}/chat-messages"
    session = requests.Session()
    core = DifyClient(key, base_url=server.base_url, user=USER)
    chat = ChatDify(api_key=key, base_url=server.base_url, user=USER, client=core)
    llm = DifyLLM(api_key=key, base_url=server.base_url, user=USER, client=core)
    messages = [ChatMessage(role="user", content=query)]

    def bare() -> int:
        pieces = 0

        def on_piece(_: str) -> None:
            nonlocal pieces
            pieces += 1

        _bare.stream_answer(
            session, url, key, _bare.chat_body(query, USER, streaming=True), on_piece
        )
        return pieces

    def core_stream() -> int:
        with core.stream_chat_message(query) as stream:
            return _count(stream, lambda e: e.event == "message")

    def langchain_stream() -> int:
        return _count(chat.stream(query), lambda c: bool(c.content))

    def llama_stream() -> int:
        return _count(llm.stream_chat(messages), lambda r: bool(r.delta))

    from llama_index.core.llms import MockLLM

    from benchmarks._fakes import PieceChatModel

    piece_model = PieceChatModel(count=n, size=4)
    mock = MockLLM()
    # MockLLM streams its prompt back one character per response: n responses
    mock_messages = [ChatMessage(role="user", content="x" * n)]

    def langchain_alone() -> int:
        return _count(piece_model.stream("go"), lambda c: bool(c.content))

    def llama_alone() -> int:
        return _count(mock.stream_chat(mock_messages), lambda r: bool(r.delta))

    variants: dict[str, Callable[[], int]] = {
        "bare requests SSE loop": bare,
        "DifyClient.stream_chat_message (core)": core_stream,
        "LangChain ChatDify.stream": langchain_stream,
        "LlamaIndex DifyLLM.stream_chat": llama_stream,
        FRAMEWORK_LC: langchain_alone,
        FRAMEWORK_LI: llama_alone,
    }
    rounds = ctx.pick(3, 1)
    walls: dict[str, list[float]] = {name: [] for name in variants}
    cpus: dict[str, list[float]] = {name: [] for name in variants}
    events: dict[str, int] = {}
    try:
        for r in range(rounds):
            names = list(variants)
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                wall, cpu, count = _timed(variants[name])
                walls[name].append(wall)
                cpus[name].append(cpu)
                events[name] = count
    finally:
        session.close()
        core.close()

    core_name = "DifyClient.stream_chat_message (core)"
    core_wall, core_cpu = median(walls[core_name]), median(cpus[core_name])
    table = Table(
        f"4b. Streaming throughput: one {n:,}-event stream",
        [
            "path",
            "events seen",
            "wall",
            "events/s",
            "client CPU / event",
            "CPU vs core",
            "wall vs core",
        ],
    )
    for name in variants:
        wall, cpu = median(walls[name]), median(cpus[name])
        table.add(
            name,
            f"{events[name]:,}",
            ms(wall, 0),
            f"{n / wall:,.0f}",
            f"{cpu / n * 1e6:,.1f} µs",
            ratio(cpu / core_cpu),
            ratio(wall / core_wall),
        )
    table.note(
        f"median of {rounds} rounds, variants rotated; client CPU = time.process_time() of "
        "the benchmark process (all threads), so it excludes the server process"
    )
    table.note(
        "framework alone: the framework's own streaming machinery with no I/O and no Dify "
        f"code, {n:,} chunks (LlamaIndex: MockLLM echoes its {n:,}-character prompt one "
        "character per response); the adapters' CPU per event minus this is their own share"
    )
    return table


def run(ctx: Context) -> list[Table]:
    """Run benchmark 4 (latency, then throughput)."""
    return [_latency_table(ctx), _throughput_table(ctx)]

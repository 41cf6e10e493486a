"""Soak: many core calls in one process, with no growth in open files or memory.

10,000 sequential `AsyncDifyClient.send_chat_message` calls, then 2,000 concurrent ones
(`asyncio.gather`), then 10,000 sequential sync `DifyClient.send_chat_message` calls. Open
file descriptors and RSS are read after a warm-up and after each phase (after
`gc.collect()`). `python -m benchmarks soak --full-soak` always runs the full sizes; the
default run of `python -m benchmarks` uses them too unless `--quick`.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

from benchmarks._harness import Context, Table, mib, open_fds, rss_bytes, verdict

NAME = "soak"
USER = "bench-user"
QUERY = "ping"
#: Allowed RSS growth over a phase (allocator noise, caches that fill once).
RSS_SLACK = 8 * 2**20


def _snapshot() -> tuple[int, int]:
    gc.collect()
    return open_fds(), rss_bytes()


def _row(
    table: Table,
    phase: str,
    calls: int,
    seconds: float,
    before: tuple[int, int],
    after: tuple[int, int],
) -> None:
    fd_ok = after[0] <= before[0]
    rss_ok = after[1] - before[1] < RSS_SLACK
    table.add(
        phase,
        f"{calls:,}",
        f"{seconds:.1f} s",
        f"{before[0]} -> {after[0]}",
        f"{mib(before[1])} -> {mib(after[1])} ({(after[1] - before[1]) / 2**20:+.1f} MiB)",
        verdict(fd_ok and rss_ok),
    )


async def _async_phases(ctx: Context, table: Table, sequential: int, concurrent: int) -> None:
    from dify_integrations import AsyncDifyClient

    server = ctx.server
    client = AsyncDifyClient(server.key("tiny"), base_url=server.base_url, user=USER)
    try:
        start_snapshot = _snapshot()
        start = time.perf_counter()
        for _ in range(200):
            await client.send_chat_message(QUERY)
        await asyncio.gather(*(client.send_chat_message(QUERY) for _ in range(concurrent)))
        before = _snapshot()
        table.add(
            f"AsyncDifyClient, warm-up: 200 sequential + {concurrent:,} concurrent",
            f"{200 + concurrent:,}",
            f"{time.perf_counter() - start:.1f} s",
            f"{start_snapshot[0]} -> {before[0]}",
            f"{mib(start_snapshot[1])} -> {mib(before[1])}",
            "(pool fills)",
        )
        start = time.perf_counter()
        for _ in range(sequential):
            await client.send_chat_message(QUERY)
        seconds = time.perf_counter() - start
        after = _snapshot()
        _row(table, "AsyncDifyClient, sequential", sequential, seconds, before, after)

        before = after
        start = time.perf_counter()
        results = await asyncio.gather(
            *(client.send_chat_message(QUERY) for _ in range(concurrent))
        )
        seconds = time.perf_counter() - start
        assert len(results) == concurrent
        del results
        after = _snapshot()
        _row(table, "AsyncDifyClient, concurrent (gather)", concurrent, seconds, before, after)
    finally:
        await client.aclose()


def _sync_phase(ctx: Context, table: Table, sequential: int) -> None:
    from dify_integrations import DifyClient

    server = ctx.server
    with DifyClient(server.key("tiny"), base_url=server.base_url, user=USER) as client:
        call: Callable[[], object] = lambda: client.send_chat_message(QUERY)  # noqa: E731
        for _ in range(200):
            call()
        before = _snapshot()
        start = time.perf_counter()
        for _ in range(sequential):
            call()
        seconds = time.perf_counter() - start
        after = _snapshot()
    _row(table, "DifyClient, sequential", sequential, seconds, before, after)


def run(ctx: Context) -> list[Table]:
    """Run the soak (full size unless quick)."""
    sequential = 10_000 if ctx.full_soak or not ctx.quick else 20
    concurrent = 2_000 if ctx.full_soak or not ctx.quick else 20
    table = Table(
        "Soak: core client, open file descriptors and RSS before/after each phase",
        ["phase", "calls", "wall", "open fds", "RSS", "result"],
    )
    asyncio.run(_async_phases(ctx, table, sequential, concurrent))
    _sync_phase(ctx, table, sequential)
    table.note(
        "before = after the warm-up and gc.collect(); result: no more open fds after than "
        f"before, RSS growth < {mib(RSS_SLACK)}; the async fd counts include the idle "
        "keep-alive connections the concurrent burst left in the client's pool"
    )
    return [table]

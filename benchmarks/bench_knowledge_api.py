"""Benchmark: the External Knowledge API service (``dify_integrations.knowledge_api``).

The service runs in its own process (``benchmarks._knowledge_api_main``) with three
knowledge ids: ``noop`` (an async callable returning four fixed records: the service's own
cost), ``langchain`` (an ``InMemoryVectorStore`` retriever) and ``llamaindex`` (a
``VectorStoreIndex`` retriever over the demo handbook), beside a bare aiohttp handler that
answers the same four records (the HTTP floor on this machine).

1. Latency: sequential requests from one ``aiohttp.ClientSession`` (keep-alive), Dify's
   request body, each variant interleaved with the others round by round. "Added" is the
   median over the service minus the median of calling the same retriever directly in
   this process (``ainvoke`` / ``aretrieve``), target under 1 ms.
2. Throughput: requests per second with 32 requests in flight, for ``noop`` and the two
   retrievers, and for the bare handler.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks._harness import (
    Context,
    Table,
    _project_root,
    _readline_with_timeout,
    median,
    percentile,
    verdict,
)

NAME = "knowledge_api"
QUERY = "Which release added immutable snapshots?"
TOP_K = 4
TARGET = 0.001
IN_FLIGHT = 32


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} µs"


class _Child:
    def __enter__(self) -> dict[str, Any]:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._knowledge_api_main"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=_project_root(),
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        line = _readline_with_timeout(self.proc, 120)
        if not line:
            self.proc.kill()
            raise RuntimeError("the knowledge API benchmark server did not start")
        info: dict[str, Any] = json.loads(line)
        info["pid"] = self.proc.pid
        return info

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the service process has used so far."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


async def _latencies(
    variants: dict[str, Callable[[], Awaitable[object]]],
    rounds: int,
    per_round: int,
    pid: int,
    cpu: dict[str, float],
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in variants}
    for fn in variants.values():  # warm up connections, caches, JIT-free paths
        for _ in range(20):
            await fn()
    names = list(variants)
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            fn = variants[name]
            direct = "direct" in name  # in this process: our CPU; else the service's
            before = time.process_time() if direct else _server_cpu(pid)
            for _ in range(per_round):
                start = time.perf_counter()
                await fn()
                out[name].append(time.perf_counter() - start)
            after = time.process_time() if direct else _server_cpu(pid)
            cpu[name] = cpu.get(name, 0.0) + after - before
    return out


async def _throughput(call: Callable[[], Awaitable[object]], total: int) -> float:
    queue = iter(range(total))

    async def worker() -> None:
        for _ in queue:
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return total / (time.perf_counter() - start)


async def _run(ctx: Context, info: dict[str, Any]) -> list[Table]:
    import aiohttp

    from dify_integrations.knowledge_api.example import handbook_retriever, release_notes_retriever

    lc = release_notes_retriever()
    li = handbook_retriever(similarity_top_k=TOP_K)
    headers = {"Authorization": f"Bearer {info['key']}"}
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=IN_FLIGHT))

    def post(url: str, knowledge_id: str) -> Callable[[], Awaitable[object]]:
        body = {
            "knowledge_id": knowledge_id,
            "query": QUERY,
            "retrieval_setting": {"top_k": TOP_K, "score_threshold": 0.0},
        }

        async def call() -> object:
            async with session.post(url + "/retrieval", json=body, headers=headers) as resp:
                assert resp.status == 200, resp.status
                return await resp.json()

        return call

    async def lc_direct() -> object:
        return await lc.ainvoke(QUERY, k=TOP_K)

    async def li_direct() -> object:
        return await li.aretrieve(QUERY)

    async def nothing() -> object:
        return None

    service, floor = info["service"], info["bare"]
    variants = {
        "bare aiohttp handler (HTTP floor)": post(floor, "noop"),
        "service, noop retriever": post(service, "noop"),
        "LangChain retriever, direct": lc_direct,
        "LangChain retriever, via service": post(service, "langchain"),
        "LlamaIndex retriever, direct": li_direct,
        "LlamaIndex retriever, via service": post(service, "llamaindex"),
        "noop, direct": nothing,
    }
    try:
        server_cpu: dict[str, float] = {}
        lat = await _latencies(variants, ctx.pick(15, 1), ctx.pick(100, 3), info["pid"], server_cpu)
        total = ctx.pick(3000, 40)
        rps = {
            "bare aiohttp handler (HTTP floor)": await _throughput(post(floor, "noop"), total),
            "service, noop retriever": await _throughput(post(service, "noop"), total),
            "LangChain retriever, via service": await _throughput(post(service, "langchain"), total),
            "LlamaIndex retriever, via service": await _throughput(post(service, "llamaindex"), total),
        }  # fmt: skip
    finally:
        await session.close()

    latency = Table(
        "External Knowledge API: latency per request (sequential, keep-alive)",
        ["variant", "median", "p90", "added at the median", "target < 1 ms", "CPU", "added CPU"],
    )
    pairs = {
        "service, noop retriever": "noop, direct",
        "LangChain retriever, via service": "LangChain retriever, direct",
        "LlamaIndex retriever, via service": "LlamaIndex retriever, direct",
    }
    for name, samples in lat.items():
        added = ok = added_cpu = ""
        if name in pairs:
            extra = median(samples) - median(lat[pairs[name]])
            added, ok = _us(extra), verdict(extra < TARGET)
            base = pairs[name]
            added_cpu = _us((server_cpu[name] - server_cpu[base]) / len(samples))
        cpu_cell = _us(server_cpu[name] / len(samples))
        latency.add(
            name, _us(median(samples)), _us(percentile(samples, 90)), added, ok, cpu_cell, added_cpu
        )
    floor_cost = median(lat["bare aiohttp handler (HTTP floor)"])
    own = median(lat["service, noop retriever"]) - floor_cost
    count = len(lat["service, noop retriever"])
    own_cpu = (
        server_cpu["service, noop retriever"] - server_cpu["bare aiohttp handler (HTTP floor)"]
    ) / count
    latency.note(
        f"The service's own cost beyond a bare aiohttp handler: {_us(own)} at the median, "
        f"{_us(own_cpu)} of server CPU per request (auth, validation, semaphore, "
        "normalisation, access log)."
    )
    latency.note(
        "CPU: per request, user + system time of the service process (psutil) for requests "
        "over HTTP, of this process for direct calls; robust to other load on the machine, "
        "which the wall-clock columns are not. Added CPU: service minus the direct call."
    )
    latency.note(f"{len(next(iter(lat.values())))} requests per variant, interleaved by round.")

    throughput = Table(
        f"External Knowledge API: requests per second ({IN_FLIGHT} in flight)",
        ["variant", "requests/s"],
    )
    for name, value in rps.items():
        throughput.add(name, f"{value:,.0f}")
    throughput.note(f"{total} requests per variant; client and service share the machine.")
    return [latency, throughput]


def run(ctx: Context) -> list[Table]:
    """Run the benchmark."""
    with _Child() as info:
        return asyncio.run(_run(ctx, info))

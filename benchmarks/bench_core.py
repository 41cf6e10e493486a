"""Benchmark 1: per-call overhead of the core clients against bare HTTP.

`DifyClient.send_chat_message` vs a bare `requests.Session.post(...).json()` of the same
request, with `dify-client-python` 1.0.3 (httpx) measured in the same run; and
`AsyncDifyClient.send_chat_message` vs a bare `aiohttp.ClientSession`. The app answers a
fixed one-word reply, so the server's share is small and stable. Variants are interleaved
round by round; the ratio is the median over rounds of (variant / bare) in the same round.
"""

from __future__ import annotations

import asyncio
from typing import Any

from benchmarks._harness import (
    Context,
    Table,
    ainterleaved,
    interleaved,
    median,
    paired_ratio,
    ratio,
    us,
    verdict,
)

NAME = "core"
QUERY = "ping"
USER = "bench-user"
TARGET = 1.10


def _body() -> dict[str, Any]:
    return {"query": QUERY, "inputs": {}, "user": USER, "response_mode": "blocking"}


def run_sync(ctx: Context) -> Table:
    """Sync clients: bare requests, DifyClient, dify-client-python."""
    import dify_client
    import requests

    from dify_integrations import DifyClient

    base_url, key = ctx.server.base_url, ctx.server.key("tiny")
    url = f"{base_url}/chat-messages"
    headers = {"Authorization": f"Bearer {key}"}

    session = requests.Session()
    ours = DifyClient(key, base_url=base_url, user=USER)
    theirs = dify_client.Client(api_key=key, api_base=base_url)

    def bare() -> None:
        response = session.post(url, json=_body(), headers=headers)
        response.raise_for_status()
        data = response.json()
        assert data["answer"]

    def ours_call() -> None:
        assert ours.send_chat_message(QUERY).answer

    def theirs_call() -> None:
        req = dify_client.models.ChatRequest(
            query=QUERY, inputs={}, response_mode="blocking", user=USER
        )
        assert theirs.chat_messages(req).answer  # type: ignore[union-attr]

    variants = {
        "bare requests.Session": bare,
        "DifyClient": ours_call,
        "dify-client-python 1.0.3": theirs_call,
    }
    try:
        samples = interleaved(
            variants,
            rounds=ctx.pick(15, 2),
            calls=ctx.pick(100, 3),
            warmup=ctx.pick(30, 1),
        )
    finally:
        session.close()
        ours.close()

    base = "bare requests.Session"
    table = Table(
        "1a. Core overhead, sync: blocking chat call, per call",
        ["variant", "median per call", "vs bare requests", "target", "result"],
    )
    table.add(base, us(median(samples[base])), ratio(1.0), "baseline", "")
    r_ours = paired_ratio(samples, "DifyClient", base)
    table.add(
        "DifyClient.send_chat_message",
        us(median(samples["DifyClient"])),
        ratio(r_ours),
        f"<= {TARGET:.2f}x",
        verdict(r_ours <= TARGET),
    )
    theirs_name = "dify-client-python 1.0.3"
    r_theirs = paired_ratio(samples, theirs_name, base)
    r_vs = paired_ratio(samples, "DifyClient", theirs_name)
    table.add(
        f"{theirs_name} (httpx) chat_messages",
        us(median(samples[theirs_name])),
        ratio(r_theirs),
        "reference",
        "",
    )
    table.note(
        f"DifyClient / dify-client-python in the same rounds: {ratio(r_vs)} "
        f"(stretch target <= 1.00x: {verdict(r_vs <= 1.0)})"
    )
    _note_rounds(table, samples)
    return table


def run_async(ctx: Context) -> Table:
    """Async clients: bare aiohttp, AsyncDifyClient, dify-client-python AsyncClient."""
    return asyncio.run(_run_async(ctx))


async def _run_async(ctx: Context) -> Table:
    import aiohttp
    import dify_client

    from dify_integrations import AsyncDifyClient

    base_url, key = ctx.server.base_url, ctx.server.key("tiny")
    url = f"{base_url}/chat-messages"
    headers = {"Authorization": f"Bearer {key}"}

    session = aiohttp.ClientSession()
    ours = AsyncDifyClient(key, base_url=base_url, user=USER)
    theirs = dify_client.AsyncClient(api_key=key, api_base=base_url)

    async def bare() -> None:
        async with session.post(url, json=_body(), headers=headers) as response:
            response.raise_for_status()
            data = await response.json()
        assert data["answer"]

    async def ours_call() -> None:
        assert (await ours.send_chat_message(QUERY)).answer

    async def theirs_call() -> None:
        req = dify_client.models.ChatRequest(
            query=QUERY, inputs={}, response_mode="blocking", user=USER
        )
        assert (await theirs.achat_messages(req)).answer  # type: ignore[union-attr]

    variants = {
        "bare aiohttp.ClientSession": bare,
        "AsyncDifyClient": ours_call,
        "dify-client-python 1.0.3": theirs_call,
    }
    try:
        samples = await ainterleaved(
            variants,
            rounds=ctx.pick(15, 2),
            calls=ctx.pick(100, 3),
            warmup=ctx.pick(30, 1),
        )
    finally:
        await session.close()
        await ours.aclose()

    base = "bare aiohttp.ClientSession"
    table = Table(
        "1b. Core overhead, async: blocking chat call, per call (sequential awaits)",
        ["variant", "median per call", "vs bare aiohttp", "target", "result"],
    )
    table.add(base, us(median(samples[base])), ratio(1.0), "baseline", "")
    r_ours = paired_ratio(samples, "AsyncDifyClient", base)
    table.add(
        "AsyncDifyClient.send_chat_message",
        us(median(samples["AsyncDifyClient"])),
        ratio(r_ours),
        f"<= {TARGET:.2f}x",
        verdict(r_ours <= TARGET),
    )
    theirs_name = "dify-client-python 1.0.3"
    table.add(
        f"{theirs_name} (httpx) AsyncClient.achat_messages",
        us(median(samples[theirs_name])),
        ratio(paired_ratio(samples, theirs_name, base)),
        "reference",
        "",
    )
    _note_rounds(table, samples)
    return table


def _note_rounds(table: Table, samples: dict[str, list[float]]) -> None:
    rounds = len(next(iter(samples.values())))
    table.note(
        f"{rounds} interleaved rounds; each sample is the mean of one round's back-to-back "
        "calls; ratio = median over rounds of (variant / baseline) in the same round"
    )


def run(ctx: Context) -> list[Table]:
    """Run benchmark 1 (sync and async)."""
    return [run_sync(ctx), run_async(ctx)]

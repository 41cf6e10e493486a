"""Benchmark 1: per-call overhead of the core clients against bare HTTP.

`DifyClient.send_chat_message(..., response_mode="blocking")` vs a bare
`requests.Session.post(...).json()` of the same blocking request, with `dify-client-python`
1.0.3 (httpx) measured in the same run; and `AsyncDifyClient` vs a bare
`aiohttp.ClientSession`. `send_chat_message` streams internally by default (and folds the
events); that default is measured too, against the bare *streaming* request read to its end.

The app answers a fixed one-word reply, so the server's share is small and stable. Variants
are interleaved in short batches, the order rotating each round; the ratio is the median
over rounds of (variant / bare) measured in the same round.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from benchmarks import _bare
from benchmarks._harness import (
    Context,
    Samples,
    Table,
    ainterleaved,
    interleaved,
    ratio,
    us,
    verdict,
)

NAME = "core"
QUERY = "ping"
USER = "bench-user"
TARGET = 1.10

BARE_BLOCKING = "bare, blocking"
OURS_BLOCKING = "ours, blocking"
THEIRS = "dify-client-python"
BARE_STREAMING = "bare, streaming"
OURS_DEFAULT = "ours, default (streams)"


def _settings(ctx: Context) -> dict[str, int]:
    return {"rounds": ctx.pick(40, 2), "calls": ctx.pick(25, 2), "warmup": ctx.pick(50, 1)}


def run_sync(ctx: Context) -> Table:
    """Sync clients: bare requests, DifyClient, dify-client-python."""
    import dify_client  # type: ignore[import-untyped]
    import requests

    from dify_integrations import DifyClient

    base_url, key = ctx.server.base_url, ctx.server.key("tiny")
    url = f"{base_url}/chat-messages"
    blocking = _bare.chat_body(QUERY, USER, streaming=False)
    streaming = _bare.chat_body(QUERY, USER, streaming=True)

    session = requests.Session()
    ours = DifyClient(key, base_url=base_url, user=USER)
    theirs = dify_client.Client(api_key=key, api_base=base_url)

    def theirs_call() -> None:
        req = dify_client.models.ChatRequest(
            query=QUERY, inputs={}, response_mode="blocking", user=USER
        )
        assert theirs.chat_messages(req).answer

    variants: dict[str, Callable[[], object]] = {
        BARE_BLOCKING: lambda: _bare.post_json(session, url, key, blocking),
        OURS_BLOCKING: lambda: ours.send_chat_message(QUERY, response_mode="blocking"),
        THEIRS: theirs_call,
        BARE_STREAMING: lambda: _bare.stream_answer(session, url, key, streaming),
        OURS_DEFAULT: lambda: ours.send_chat_message(QUERY),
    }
    try:
        samples = interleaved(variants, **_settings(ctx))
    finally:
        session.close()
        ours.close()
    _record(ctx, samples, "sync", "requests.Session", "DifyClient", "dify-client-python Client")
    return _table(
        "1a. Core overhead, sync: one chat call, per call",
        samples,
        bare_name="requests.Session",
        ours_name="DifyClient.send_chat_message",
        theirs_name="dify-client-python 1.0.3 (httpx) Client.chat_messages",
    )


def run_async(ctx: Context) -> Table:
    """Async clients: bare aiohttp, AsyncDifyClient, dify-client-python AsyncClient."""
    return asyncio.run(_run_async(ctx))


async def _run_async(ctx: Context) -> Table:
    import aiohttp
    import dify_client

    from dify_integrations import AsyncDifyClient

    base_url, key = ctx.server.base_url, ctx.server.key("tiny")
    url = f"{base_url}/chat-messages"
    blocking = _bare.chat_body(QUERY, USER, streaming=False)
    streaming = _bare.chat_body(QUERY, USER, streaming=True)

    session = aiohttp.ClientSession()
    ours = AsyncDifyClient(key, base_url=base_url, user=USER)
    # dify-client-python keeps one module-level httpx.AsyncClient, bound to the event loop
    # that first used it: each async benchmark gives it a fresh one (default pool).
    import httpx
    from dify_client import _clientx

    _clientx._async_httpx_client = httpx.AsyncClient()
    theirs = dify_client.AsyncClient(api_key=key, api_base=base_url)

    async def theirs_call() -> None:
        req = dify_client.models.ChatRequest(
            query=QUERY, inputs={}, response_mode="blocking", user=USER
        )
        assert (await theirs.achat_messages(req)).answer

    variants: dict[str, Callable[[], Awaitable[object]]] = {
        BARE_BLOCKING: lambda: _bare.apost_json(session, url, key, blocking),
        OURS_BLOCKING: lambda: ours.send_chat_message(QUERY, response_mode="blocking"),
        THEIRS: theirs_call,
        BARE_STREAMING: lambda: _bare.astream_answer(session, url, key, streaming),
        OURS_DEFAULT: lambda: ours.send_chat_message(QUERY),
    }
    try:
        samples = await ainterleaved(variants, **_settings(ctx))
    finally:
        await session.close()
        await ours.aclose()
        await _clientx._async_httpx_client.aclose()
        # Leave the module as it was imported, with an open (unused) client: later users in
        # the same process (the dify-client-python tests after the smoke test) need one.
        _clientx._async_httpx_client = httpx.AsyncClient()
    _record(
        ctx,
        samples,
        "async",
        "aiohttp.ClientSession",
        "AsyncDifyClient",
        "dify-client-python AsyncClient",
    )
    return _table(
        "1b. Core overhead, async: one chat call, per call (sequential awaits)",
        samples,
        bare_name="aiohttp.ClientSession",
        ours_name="AsyncDifyClient.send_chat_message",
        theirs_name="dify-client-python 1.0.3 (httpx) AsyncClient.achat_messages",
    )


def _record(ctx: Context, s: Samples, kind: str, bare: str, ours: str, theirs: str) -> None:
    """The chart's figures: wall time per blocking call (the like-for-like comparison)."""
    chart = f"overhead_{kind}"
    ctx.record(chart, f"bare {bare} (floor)", s.median(BARE_BLOCKING))
    ctx.record(chart, f"{ours} (ours)", s.median(OURS_BLOCKING))
    ctx.record(chart, theirs, s.median(THEIRS))


def _table(title: str, s: Samples, *, bare_name: str, ours_name: str, theirs_name: str) -> Table:
    table = Table(
        title,
        [
            "variant",
            "wall / call",
            "wall ratio",
            "client CPU / call",
            "CPU ratio",
            "target",
            "result",
        ],
    )

    def row(label: str, name: str, base: str, base_label: str, target: str, goal: float) -> None:
        r = s.ratio(name, base)
        table.add(
            label,
            us(s.median(name)),
            f"{ratio(r)} {base_label}",
            us(s.median(name, cpu=True)),
            ratio(s.ratio(name, base, cpu=True)),
            target,
            verdict(r <= goal) if goal else "",
        )

    row(
        f"bare {bare_name}, blocking POST + json()", BARE_BLOCKING, BARE_BLOCKING, "", "baseline", 0
    )
    row(
        f'{ours_name}(response_mode="blocking")',
        OURS_BLOCKING,
        BARE_BLOCKING,
        "bare blocking",
        f"<= {TARGET:.2f}x",
        TARGET,
    )
    row(theirs_name, THEIRS, BARE_BLOCKING, "bare blocking", "reference", 0)
    row(
        f"{ours_name} blocking / {theirs_name.split(' (')[0]}",
        OURS_BLOCKING,
        THEIRS,
        "",
        "<= 1.00x (stretch)",
        1.0,
    )
    row(
        f"bare {bare_name}, streaming request read to the end",
        BARE_STREAMING,
        BARE_BLOCKING,
        "bare blocking",
        "baseline (streaming)",
        0,
    )
    row(
        f"{ours_name}() default: streams internally, folds",
        OURS_DEFAULT,
        BARE_STREAMING,
        "bare streaming",
        f"<= {TARGET:.2f}x",
        TARGET,
    )
    table.note(
        f"{s.rounds} rounds; each sample is the mean of one short batch of back-to-back calls; "
        "ratio = median over rounds of (variant / baseline) measured in the same round; "
        "client CPU = time.process_time() of the benchmark process (excludes the server)"
    )
    return table


def run(ctx: Context) -> list[Table]:
    """Run benchmark 1 (sync and async)."""
    return [run_sync(ctx), run_async(ctx)]

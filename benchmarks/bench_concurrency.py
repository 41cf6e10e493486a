"""Benchmark 3: 200 concurrent calls against an app that takes 250 ms per answer.

Wall time of `asyncio.gather` over 200 LangChain `ChatDify.ainvoke` and 200 LlamaIndex
`DifyLLM.achat`, against 200 bare streaming requests on one `aiohttp.ClientSession` (no
connection limit) in the same run, against 200 calls of the fastest existing Dify client
(`dify-client-python`'s `AsyncClient`, httpx at its default pool), and against the thread-pool fallback a framework uses
without native async: the sync `invoke` / `chat` in `asyncio.to_thread` (the loop's default
executor). All variants run in one event loop, after a warm-up burst, interleaved.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable

from benchmarks import _bare
from benchmarks._harness import Context, Table, median, ms, ratio, verdict

NAME = "concurrency"
USER = "bench-user"
QUERY = "ping"
WALL_TARGET = 0.5
RATIO_TARGET = 1.3
FAKE_LC = "GenericFakeChatModel.ainvoke"
FAKE_LI = "MockLLM.achat"
THEIRS = "dify-client-python"


async def _burst(n: int, make: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    results = await asyncio.gather(*(make() for _ in range(n)))
    elapsed = time.perf_counter() - start
    assert len(results) == n
    return elapsed


async def _run(ctx: Context) -> Table:
    import aiohttp
    import dify_client  # type: ignore[import-untyped]
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.core.llms import MockLLM

    from dify_integrations.langchain import ChatDify
    from dify_integrations.llama_index import DifyLLM

    n = ctx.pick(200, 5)
    rounds = ctx.pick(7, 1)
    server = ctx.server
    key = server.key("slow")
    url = f"{server.base_url}/chat-messages"
    body = _bare.chat_body(QUERY, USER, streaming=True)
    messages = [ChatMessage(role="user", content=QUERY)]

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    chat = ChatDify(api_key=key, base_url=server.base_url, user=USER)
    llm = DifyLLM(api_key=key, base_url=server.base_url, user=USER)

    fake_chat = GenericFakeChatModel(messages=itertools.repeat(AIMessage("pong")))
    mock = MockLLM()
    # dify-client-python keeps one module-level httpx.AsyncClient, bound to the first event
    # loop that used it (the core benchmark's): give it a fresh one, at its default pool.
    import httpx
    from dify_client import _clientx

    _clientx._async_httpx_client = httpx.AsyncClient()
    theirs = dify_client.AsyncClient(api_key=key, api_base=server.base_url)

    async def theirs_call() -> None:
        req = dify_client.models.ChatRequest(
            query=QUERY, inputs={}, response_mode="blocking", user=USER
        )
        assert (await theirs.achat_messages(req)).answer

    variants: dict[str, Callable[[], Awaitable[object]]] = {
        "bare aiohttp": lambda: _bare.astream_answer(session, url, key, body),
        "ChatDify.ainvoke": lambda: chat.ainvoke(QUERY),
        "DifyLLM.achat": lambda: llm.achat(messages),
        THEIRS: theirs_call,
        FAKE_LC: lambda: fake_chat.ainvoke(QUERY),
        FAKE_LI: lambda: mock.achat(messages),
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for make in variants.values():  # warm-up: open the pools, learn app names
            await _burst(n, make)
        for r in range(rounds):
            order = list(variants)[r % len(variants) :] + list(variants)[: r % len(variants)]
            for name in order:
                samples[name].append(await _burst(n, variants[name]))
        threads: dict[str, list[float]] = {"ChatDify.invoke": [], "DifyLLM.chat": []}
        for _ in range(1):
            threads["ChatDify.invoke"].append(
                await _burst(n, lambda: asyncio.to_thread(chat.invoke, QUERY))
            )
            threads["DifyLLM.chat"].append(
                await _burst(n, lambda: asyncio.to_thread(llm.chat, messages))
            )
    finally:
        await session.close()
        await _clientx._async_httpx_client.aclose()
        if chat.async_client is None:
            await _aclose_owned(chat)
        await _aclose_owned(llm)

    base = median(samples["bare aiohttp"])
    table = Table(
        f"3. Concurrency: {n} concurrent calls, server takes {ms(0.25, 0)} per answer",
        ["variant", "median wall time", "vs bare aiohttp", "target", "result"],
    )
    table.add(
        f"bare aiohttp.ClientSession, {n} streaming requests", ms(base, 0), ratio(1.0), "", ""
    )
    for name in ("ChatDify.ainvoke", "DifyLLM.achat"):
        wall = median(samples[name])
        per_round = [a / b for a, b in zip(samples[name], samples["bare aiohttp"], strict=True)]
        rel = median(per_round)
        table.add(
            f"{name} x{n} (asyncio.gather)",
            ms(wall, 0),
            ratio(rel),
            f"< {ms(WALL_TARGET, 0)} and <= {RATIO_TARGET:.1f}x",
            verdict(wall < WALL_TARGET and rel <= RATIO_TARGET),
        )
    theirs_wall = median(samples[THEIRS])
    table.add(
        f"{THEIRS} AsyncClient.achat_messages x{n} (asyncio.gather)",
        ms(theirs_wall, 0),
        ratio(
            median([a / b for a, b in zip(samples[THEIRS], samples["bare aiohttp"], strict=True)])
        ),
        "reference",
        "",
    )
    ctx.record("concurrency", "bare aiohttp.ClientSession (floor)", base)
    ctx.record("concurrency", "ChatDify.ainvoke (ours)", median(samples["ChatDify.ainvoke"]))
    ctx.record("concurrency", "DifyLLM.achat (ours)", median(samples["DifyLLM.achat"]))
    ctx.record("concurrency", f"{THEIRS} AsyncClient", theirs_wall)
    for name in (FAKE_LC, FAKE_LI):
        table.add(
            f"framework alone: {name} x{n}, no I/O (what the framework's own async path costs)",
            ms(median(samples[name]), 0),
            "",
            "reference",
            "",
        )
    for name, values in threads.items():
        wall = median(values)
        table.add(
            f"thread-pool fallback: {name} in asyncio.to_thread x{n}",
            ms(wall, 0),
            ratio(wall / base),
            "comparison",
            "",
        )
    table.note(
        f"{rounds} interleaved rounds after a warm-up burst, one event loop; "
        "ratio = median over rounds of variant / bare in the same round"
    )
    table.note(
        "thread-pool fallback uses the default executor "
        "(min(32, cpu_count + 4) threads on this machine)"
    )
    return table


async def _aclose_owned(adapter: object) -> None:
    """Close the adapter's own async client, if it exposes a way to (best effort)."""
    for name in ("aclose", "_aclose"):
        closer = getattr(adapter, name, None)
        if closer is not None:
            await closer()
            return


def run(ctx: Context) -> list[Table]:
    """Run benchmark 3."""
    return [asyncio.run(_run(ctx))]

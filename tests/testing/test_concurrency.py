"""The server holds 500 concurrent open streams (aiohttp client, one session)."""

from __future__ import annotations

import asyncio

import aiohttp

from dify_integrations.testing import DifyTestServer

from ._support import parse_sse

STREAMS = 500


async def test_500_concurrent_streams(server: DifyTestServer) -> None:
    app = server.create_chat_app(
        "Crowd", responder=lambda q, i, h, f: [f"{q}", " piece", " end"], token_delay=0.2
    )
    open_streams = 0
    peak = 0

    async def one(session: aiohttp.ClientSession, i: int) -> list[str]:
        nonlocal open_streams, peak
        body = {"query": f"q{i}", "inputs": {}, "user": f"user-{i}", "response_mode": "streaming"}
        async with session.post(
            f"{server.base_url}/chat-messages",
            json=body,
            headers={"Authorization": f"Bearer {app.api_key}"},
        ) as resp:
            assert resp.status == 200
            open_streams += 1
            peak = max(peak, open_streams)
            raw = await resp.read()
            open_streams -= 1
        frames = parse_sse(raw)
        assert "".join(p["answer"] for n, p in frames if n == "message" and p) == f"q{i} piece end"
        return [n for n, _ in frames]

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=120)
    ) as session:
        results = await asyncio.gather(*(one(session, i) for i in range(STREAMS)))
    assert len(results) == STREAMS
    assert all(names[-1] == "message_end" for names in results)
    assert peak > STREAMS // 2  # streams really were open at the same time

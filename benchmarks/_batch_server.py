"""The batch benchmark's workspace, served from its own process.

`python -m benchmarks._batch_server LATENCY CAPACITY` serves a `DifyTestServer` with one
workflow app (`wf`) whose every run takes LATENCY seconds (an `asyncio.sleep`: the server
is never CPU-bound by it), and in front of it a small gateway that admits at most CAPACITY
new workflow runs per second and answers the rest `429` with `Retry-After: 1`, the way a
Dify deployment with a rate limit (or the cloud's per-key limit) does. It prints one JSON
line (`base_url` of the server, `gateway_url`, `apps`, `pid`) and serves until terminated.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import time
from typing import Any

from aiohttp import ClientSession, TCPConnector, web

_HOP_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}
)


class _Bucket:
    """Token bucket: CAPACITY per second, burst of one second's worth."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


async def _gateway(upstream: str, capacity: float, ready: Any) -> None:
    bucket = _Bucket(capacity)
    session = ClientSession(connector=TCPConnector(limit=0))
    counts = {"admitted": 0, "limited": 0}

    async def proxy(request: web.Request) -> web.StreamResponse:
        if request.path == "/_stats":
            return web.json_response(counts)
        if request.method == "POST" and request.path.endswith("/workflows/run"):
            if not bucket.take():
                counts["limited"] += 1
                return web.json_response(
                    {"code": "too_many_requests", "message": "Rate limit exceeded", "status": 429},
                    status=429,
                    headers={"Retry-After": "1"},
                )
            counts["admitted"] += 1
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        async with session.request(
            request.method, upstream + request.path_qs, headers=headers, data=await request.read()
        ) as upstream_response:
            response = web.StreamResponse(status=upstream_response.status)
            for name in ("Content-Type", "Retry-After"):
                if name in upstream_response.headers:
                    response.headers[name] = upstream_response.headers[name]
            await response.prepare(request)
            async for chunk in upstream_response.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=2048)
    await site.start()
    ready.append(f"http://127.0.0.1:{runner.addresses[0][1]}")
    await asyncio.Event().wait()


def main() -> None:
    """Build the workspace, print its JSON line, serve until terminated."""
    from dify_integrations.testing import DifyTestServer

    latency = float(sys.argv[1]) if len(sys.argv) > 1 else 0.1
    capacity = float(sys.argv[2]) if len(sys.argv) > 2 else 100.0

    async def slow(values: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(latency)
        return {"text": f"done {values.get('n')}"}

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = DifyTestServer(ping_interval=60.0)
    server.start()
    try:
        wf = server.create_workflow_app("wf", slow)
        server.settings.finish_on_disconnect = True
        ready: list[str] = []
        loop = asyncio.new_event_loop()
        upstream = server.base_url.removesuffix("/v1")
        threading.Thread(
            target=loop.run_until_complete,
            args=(_gateway(upstream, capacity, ready),),
            daemon=True,
        ).start()
        while not ready:
            time.sleep(0.01)
        info = {
            "base_url": server.base_url,
            "gateway_url": ready[0] + "/v1",
            "pid": os.getpid(),
            "apps": {"wf": wf.api_key},
            "latency": latency,
            "capacity": capacity,
        }
        print(json.dumps(info), flush=True)
        stop.wait()
    finally:
        server.stop()


if __name__ == "__main__":
    main()

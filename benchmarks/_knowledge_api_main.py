"""Child process of the knowledge API benchmark: the service and a bare aiohttp endpoint.

Prints one JSON line ``{"service": url, "bare": url, "key": key}`` and serves until
terminated. The service serves ``noop`` (an async callable returning four fixed records),
``langchain`` and ``llamaindex`` (the retrievers of ``dify_integrations.knowledge_api.example``);
``bare`` is a plain aiohttp handler answering the same four records (the HTTP floor).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from aiohttp import web

from dify_integrations.knowledge_api import create_app
from dify_integrations.knowledge_api.example import build

KEY = "bench-knowledge-key"
RECORDS: list[dict[str, Any]] = [
    {"content": f"Record {i}: a short passage of retrieved text.", "score": 0.9 - i / 10,
     "title": f"doc-{i}.md", "metadata": {"i": i, "source": "bench"}}
    for i in range(4)
]  # fmt: skip


async def noop(query: str) -> list[dict[str, Any]]:
    return RECORDS


async def bare(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"records": RECORDS})


async def main() -> None:
    retrievers = {"noop": noop, **build()}
    retrievers["langchain"] = retrievers.pop("release-notes")
    retrievers["llamaindex"] = retrievers.pop("handbook")
    service = web.AppRunner(create_app(retrievers, api_key=KEY), access_log=None)
    plain = web.Application()
    plain.router.add_post("/retrieval", bare)
    floor = web.AppRunner(plain, access_log=None)
    urls = []
    for runner in (service, floor):
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        urls.append(f"http://127.0.0.1:{port}")
    print(json.dumps({"service": urls[0], "bare": urls[1], "key": KEY}), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

"""The benchmark workspace, served by `DifyTestServer` in its own process.

`python -m benchmarks._server_main` builds the apps the benchmarks need through the server's
public Python API and serves them the way every server command does
(`dify_integrations.testing._serve.serve_populated`): it prints one JSON line (`base_url`, `pid`, `apps` name -> key, `dataset_id`,
`dataset_key`) and serves until terminated (SIGTERM/SIGINT).

Responders use the server's documented forms: a `str`, an iterable of pieces, an awaitable
or an async iterable (the last two never block the server's event loop while they wait).

Apps (all `chat` mode):

- `tiny`: answers the fixed word `pong` (the per-call overhead benchmarks);
- `slow`: answers `pong` after 250 ms (the concurrency benchmark);
- `clock`: query `clock N GAP` streams N pieces, each the server's `time.time_ns()` taken
  right before the piece is handed to the writer, GAP seconds apart (streaming latency);
- `firehose`: query `events N` streams N one-token pieces as fast as possible (throughput);
  query `bytes N PIECE` streams N bytes of text in PIECE-byte pieces (memory).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dify_integrations.testing import DifyTestServer

SLOW_SECONDS = 0.25

_DOCUMENTS = [
    {
        "name": f"policy-{i}.md",
        "text": (
            f"Policy {i}. Employees may work remotely up to {i % 5 + 1} days a week. "
            f"Expense reports are due within {10 + i} days. Laptops are replaced every "
            f"{2 + i % 3} years. The on-call rotation changes every Monday."
        ),
    }
    for i in range(20)
]


def _tiny(query: str, inputs: dict[str, Any], history: Any, files: Any) -> str:
    return "pong"


async def _slow(query: str, inputs: dict[str, Any], history: Any, files: Any) -> str:
    await asyncio.sleep(SLOW_SECONDS)
    return "pong"


async def _clock(
    query: str, inputs: dict[str, Any], history: Any, files: Any
) -> AsyncIterator[str]:
    parts = query.split()
    count = int(parts[1]) if len(parts) > 1 else 100
    gap = float(parts[2]) if len(parts) > 2 else 0.002
    for _ in range(count):
        await asyncio.sleep(gap)
        yield f"{time.time_ns()};"


def _firehose(query: str, inputs: dict[str, Any], history: Any, files: Any) -> Iterator[str]:
    parts = query.split()
    if parts and parts[0] == "bytes":
        total = int(parts[1])
        piece_size = int(parts[2]) if len(parts) > 2 else 8192
        piece = "a" * (piece_size - 1) + "\n"
        sent = 0
        while sent + piece_size <= total:
            yield piece
            sent += piece_size
        if total - sent > 0:
            yield "b" * (total - sent)
        return
    count = int(parts[1]) if len(parts) > 1 else 1000
    for _ in range(count):
        yield "tok "


def populate(server: DifyTestServer) -> dict[str, Any]:
    """Create the benchmark workspace on ``server``; returns its JSON-able description."""
    dataset = server.create_dataset("Bench handbook", documents=_DOCUMENTS)
    apps = {
        "tiny": server.create_chat_app("tiny", mode="chat", responder=_tiny),
        "slow": server.create_chat_app("slow", mode="chat", responder=_slow),
        "clock": server.create_chat_app("clock", mode="chat", responder=_clock),
        "firehose": server.create_chat_app("firehose", mode="chat", responder=_firehose),
    }
    return {
        "base_url": server.base_url,
        "pid": os.getpid(),
        "apps": {name: app.api_key for name, app in apps.items()},
        "dataset_id": dataset.id,
        "dataset_key": server.dataset_api_key,
        "slow_seconds": SLOW_SECONDS,
    }


def main() -> None:
    """Build the workspace, print its JSON line, serve until terminated."""
    from dify_integrations.testing._serve import serve_populated

    def announce(info: dict[str, Any]) -> None:
        print(json.dumps(info), flush=True)

    # The soak opens 2,000 connections at once: above the server's default guard (half the
    # file-descriptor limit, at most 1,024), which is meant for tests, not this load.
    serve_populated(populate, announce, max_connections=4096)


if __name__ == "__main__":
    main()

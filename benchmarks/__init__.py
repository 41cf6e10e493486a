"""Benchmarks of dify_integrations: `python -m benchmarks` (or `make bench`).

Each module `bench_*.py` measures one figure of DESIGN §6 against the local server running
in a separate process and returns Markdown tables; `_harness.py` holds what they share.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks._harness import Context, Table

#: Benchmark name -> module, in the order `python -m benchmarks` runs them.
MODULES: dict[str, str] = {
    "core": "benchmarks.bench_core",
    "adapters": "benchmarks.bench_adapters",
    "concurrency": "benchmarks.bench_concurrency",
    "streaming": "benchmarks.bench_streaming",
    "connections": "benchmarks.bench_connections",
    "memory": "benchmarks.bench_memory",
    "soak": "benchmarks.bench_soak",
    "knowledge_api": "benchmarks.bench_knowledge_api",
    "batch": "benchmarks.bench_batch",
}


def runner(name: str) -> Callable[[Context], list[Table]]:
    """The `run(ctx) -> list[Table]` function of benchmark `name` (imported on demand)."""
    module = importlib.import_module(MODULES[name])
    run: Callable[[Context], list[Table]] = module.run
    return run

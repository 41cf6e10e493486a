"""Benchmark 8: batch runs (`dify_integrations.batch`) through a workflow that takes 100 ms.

1. Rows per second against concurrency, one process, 10,000 rows with the JSONL results
   file on: the physical floor of a run is rows x latency / concurrency (the server takes
   100 ms per run however fast the client is), so `floor / wall` says how much of the
   server's capacity one client process turns into rows; the client's CPU time per row
   says where one process tops out.
2. The Ray Data path (`batch.ray.map_dify`, a local 2-CPU cluster, 2 actors) against the
   single-process path at the same total concurrency, same rows.
3. A 429 storm: a gateway in front of the server admits at most 100 new runs per second
   and answers the rest 429 with `Retry-After: 1`; the adaptive (AIMD) limiter against
   fixed-rate limiters above and at the gateway's capacity.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import BenchServer, Context, Table, ms

NAME = "batch"
LATENCY = 0.1
CAPACITY = 50.0


class _BatchServer(BenchServer):
    module = "benchmarks._batch_server"


def _rows(n: int) -> list[dict[str, Any]]:
    return [{"id": f"r{i}", "n": i} for i in range(n)]


def _run(
    rows: list[dict[str, Any]],
    base_url: str,
    key: str,
    limiter: Any = None,
    **options: Any,
) -> dict[str, Any]:
    from dify_integrations.batch import BatchRunner

    with tempfile.TemporaryDirectory() as tmp:
        runner = BatchRunner(
            api_key=key,
            base_url=base_url,
            mode="workflow",
            output=Path(tmp) / "results.jsonl",
            progress=False,
            **options,
        )
        if limiter is not None:
            runner.limiter = limiter
        cpu0, t0 = time.process_time(), time.perf_counter()
        result = runner.run(rows)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    summary = result.summary
    return {
        "wall": wall,
        "cpu": cpu,
        "ok": summary.succeeded,
        "failed": summary.failed,
        "rate_limited": summary.rate_limited,
        "p50": summary.latency_p50,
        "lowest_rate": runner.limiter.lowest_rate,
    }


def _throughput(ctx: Context, srv: BenchServer, n: int) -> tuple[Table, dict[int, float]]:
    # (concurrency, rows): the low levels run fewer rows (their floor alone is minutes).
    levels = [(8, n), (32, n)] if ctx.quick else [(10, 2000), (25, 4000), (50, n), (200, n),
                                                 (1000, n)]  # fmt: skip
    table = Table(
        f"8a. Batch: up to {n} rows through a {ms(LATENCY, 0)} workflow, one process",
        ["concurrency", "rows", "wall", "rows/s", "floor (rows x latency / concurrency)",
         "floor / wall", "client CPU per row", "p50 latency", "failed"],
    )  # fmt: skip
    walls: dict[int, float] = {}
    _run(_rows(ctx.pick(200, 20)), srv.base_url, srv.key("wf"), concurrency=50)  # warm-up
    for c, count in levels:
        r = _run(_rows(count), srv.base_url, srv.key("wf"), concurrency=c)
        floor = count * LATENCY / c
        walls[c] = r["wall"]
        table.add(
            str(c),
            str(count),
            f"{r['wall']:.2f} s",
            f"{count / r['wall']:.0f}",
            f"{floor:.2f} s",
            f"{floor / r['wall']:.2f}",
            ms(r["cpu"] / count, 2),
            ms(r["p50"] or 0.0, 0),
            str(r["failed"]),
        )
    table.note(
        "BatchRunner over AsyncDifyClient (streaming workflow runs), JSONL results file on; "
        "server (DifyTestServer) in its own process; the rows/s one process sustains is "
        "about 1 / (client CPU per row)"
    )
    return table, walls


def _ray(ctx: Context, srv: BenchServer, n: int, single_wall: float | None, c: int) -> Table:
    table = Table(
        f"8b. Batch: Ray Data path vs one process, {n} rows, concurrency {c}",
        ["path", "wall", "rows/s", "rows ok"],
    )
    if single_wall is not None:
        table.add("one process (BatchRunner, table 8a)", f"{single_wall:.2f} s",
                  f"{n / single_wall:.0f}", str(n))  # fmt: skip
    if ctx.quick:
        table.add("Ray Data (map_dify)", "skipped in --quick", "", "")
        return table
    import logging

    import ray

    from dify_integrations.batch.ray import map_dify

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    logging.getLogger("ray").setLevel(logging.WARNING)
    t0 = time.perf_counter()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        logging_level=logging.WARNING,
        runtime_env={"env_vars": {"WF_KEY": srv.key("wf"), "RAY_USAGE_STATS_ENABLED": "0"}},
    )
    start_wall = time.perf_counter() - t0
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False
        ds = ray.data.from_items(_rows(n))
        t0 = time.perf_counter()
        out = map_dify(ds, api_key_env="WF_KEY", base_url=srv.base_url, mode="workflow",
                       concurrency=c, actors=2, batch_size=500, id_field="id").take_all()  # fmt: skip
        wall = time.perf_counter() - t0
    finally:
        ray.shutdown()
    ok = sum(1 for row in out if row["dify_state"] == "ok")
    table.add("Ray Data, 2 actors (map_dify), job wall incl. actor start", f"{wall:.2f} s",
              f"{n / wall:.0f}", str(ok))  # fmt: skip
    table.note(
        f"local Ray cluster, num_cpus=2 (ray.init took {start_wall:.1f} s, not counted); "
        "on one 2-core machine Ray adds process hops and actor start-up: it pays off when "
        "the actors run on several machines"
    )
    return table


def _storm(ctx: Context, srv: BenchServer) -> Table:
    n = ctx.pick(1000, 30)
    c = 256
    url = str(srv.info["gateway_url"])
    key = srv.key("wf")
    table = Table(
        f"8c. Batch: 429 storm, {n} rows, concurrency {c}, gateway admits "
        f"{CAPACITY:.0f} runs/s (else 429, Retry-After: 1)",
        ["limiter", "wall", "rows/s", "429 answers", "lowest rate", "failed"],
    )
    from dify_integrations.batch import RateLimiter

    class IgnoresRetryAfter(RateLimiter):
        """A naive client: a fixed rate, a 429 is retried at that rate, no hold."""

        def on_rate_limited(self, retry_after: float | None, started: float | None = None) -> None:
            super().on_rate_limited(None, started)

    variants: list[tuple[str, dict[str, Any]]] = [
        ("adaptive (AIMD), no ceiling", {"rate_limit": None, "adaptive": True}),
        ("adaptive (AIMD), ceiling 200/s", {"rate_limit": 200.0, "adaptive": True}),
        ("fixed 200/s (4x the capacity), honours Retry-After",
         {"rate_limit": 200.0, "adaptive": False}),
        ("fixed 200/s, ignores Retry-After (a naive client)",
         {"limiter": IgnoresRetryAfter(200.0, adaptive=False)}),
        (f"fixed {CAPACITY:.0f}/s (the capacity, known)", {"rate_limit": CAPACITY,
                                                          "adaptive": False}),
    ]  # fmt: skip
    for name, options in variants:
        time.sleep(ctx.pick(1100, 0) / 1000)  # let the gateway's bucket refill
        r = _run(_rows(n), url, key, concurrency=c, max_rate_limit_retries=100, **options)
        lowest = r["lowest_rate"]
        adaptive = bool(options.get("adaptive"))
        table.add(
            name,
            f"{r['wall']:.2f} s",
            f"{n / r['wall']:.0f}",
            str(r["rate_limited"]),
            "-" if lowest is None or not adaptive else f"{lowest:.0f}/s",
            str(r["failed"]),
        )
    table.note(
        "the gateway's bucket holds one second of capacity; every 429 holds all senders for "
        "Retry-After (except the naive client); the adaptive limiter also cuts its rate to "
        "0.7x the rate the server answered (once per overload) and adds 2 % of the ceiling "
        "(no ceiling: 5 % of the cut rate) back per second"
    )
    return table


def run(ctx: Context) -> list[Table]:
    """Run benchmark 8."""
    n = ctx.pick(10_000, 100)
    with _BatchServer(str(LATENCY), str(CAPACITY)) as srv:
        throughput, walls = _throughput(ctx, srv, n)
        c = 200 if not ctx.quick else 32
        tables = [throughput, _ray(ctx, srv, n, walls.get(c), c), _storm(ctx, srv)]
    return tables

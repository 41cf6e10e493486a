"""The issue's acceptance runs: 1,000 rows through faults, and a killed run resumed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from dify_integrations.batch import BatchRunner, load_results
from dify_integrations.testing import DifyTestServer

from .conftest import runs_started

ROWS = 1000


def _write_rows(path: Path, n: int = ROWS) -> None:
    path.write_text("".join(json.dumps({"id": f"r{i}", "n": i}) + "\n" for i in range(n)))


async def test_1000_rows_through_429_5xx_and_dropped_connections(
    server: DifyTestServer, workflow_key: str, tmp_path: Path
):
    server.inject_fault("/workflows/run", "status", status=429, retry_after=0.01, count=60)
    server.inject_fault("/workflows/run", "status", status=502, count=10)
    server.inject_fault("/workflows/run", "status", status=500, count=10)
    server.inject_fault("/workflows/run", "drop", count=10)
    # A request answered by a status/drop fault also uses up a stream fault: inject the
    # mid-stream drops once those have fired.
    front = list(server.settings.faults.pending)

    async def inject_stream_drops() -> None:
        while any(f.count for f in front):  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        server.inject_fault("/workflows/run", "drop_after", after_events=2, count=10)

    injector = asyncio.create_task(inject_stream_drops())
    out = tmp_path / "results.jsonl"
    rows = [{"id": f"r{i}", "n": i} for i in range(ROWS)]
    runner = BatchRunner(
        api_key=workflow_key,
        base_url=server.base_url,
        output=out,
        concurrency=16,
        rate_limit=2000.0,
        recover_timeout=0.3,
    )
    result = await runner.arun(rows)
    await injector
    assert not server.settings.faults.pending
    assert len(result) == ROWS
    by_id = {r.id: r for r in result}
    assert set(by_id) == {f"r{i}" for i in range(ROWS)}
    for i in range(ROWS):
        r = by_id[f"r{i}"]
        if r.ok:
            assert r.output == {"text": f"echo {i}", "n": i}
        else:
            assert r.error_code
            assert r.error
    errors = result.summary.errors
    assert errors.get("bad_gateway", 0) + errors.get("internal_server_error", 0) == 20, errors
    # 10 drops before any answer: recorded, never resent.
    assert errors.get("connection_lost", 0) == 10, errors
    # 10 drops mid-stream, after the run id arrived: read back from Dify, not resent.
    assert sum(r.recovered for r in result) == 10
    assert all(r.ok for r in result if r.recovered)
    assert result.summary.rate_limited == 60
    assert result.summary.succeeded == ROWS - 30
    # The server log: no row's run started twice (429s never start one).
    started = runs_started(server)
    assert max(started.values()) == 1
    posts = server.requests_to("/workflows/run", "POST")
    assert len(posts) == ROWS + 60  # every row once, plus one resend per 429
    recorded = load_results(out)
    assert set(recorded) == set(by_id)
    assert {k: v["state"] for k, v in recorded.items()} == {r.id: r.state for r in result}


def _child_env(server: DifyTestServer, key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIFY_")}
    env["MY_WORKFLOW_KEY"] = key
    env["DIFY_BASE_URL"] = server.base_url
    return env


def _batch_cmd(rows: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "dify_integrations.cli", "batch",
        "--app-key-env", "MY_WORKFLOW_KEY", "--input", str(rows), "--output", str(out),
        "--concurrency", "8", "--mode", "workflow",
    ]  # fmt: skip


def _count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


async def test_killed_run_resumes_without_repeating_a_row(server: DifyTestServer, tmp_path: Path):
    async def slow(values: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.01)
        return {"text": f"echo {values['n']}", "n": values["n"]}

    key = server.create_workflow_app("Slow", slow).api_key
    rows, out = tmp_path / "rows.jsonl", tmp_path / "results.jsonl"
    _write_rows(rows)
    child = subprocess.Popen(  # noqa: ASYNC220
        _batch_cmd(rows, out), env=_child_env(server, key), stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while _count_lines(out) < ROWS // 3 and child.poll() is None:
        assert time.monotonic() < deadline, "the child made no progress"
        await asyncio.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    first = load_results(out)
    succeeded_first = {k for k, v in first.items() if v["state"] == "ok"}
    assert ROWS // 3 <= len(succeeded_first) < ROWS
    server.reset_log()

    result = await BatchRunner(
        api_key=key, base_url=server.base_url, output=out, mode="workflow", concurrency=8
    ).arun(rows)
    assert len(result) == ROWS
    assert all(r.skipped for r in result if r.id in succeeded_first)
    interrupted = [r for r in result if not r.ok]
    for r in result:
        n = int(r.id[1:])
        if r.ok:
            assert r.output == {"text": f"echo {n}", "n": n}
        else:
            # In flight at the kill before Dify's run id arrived: it may have run, so it is
            # recorded, not sent again (rows with a run id were read back from Dify).
            assert r.error_code == "interrupted"
            assert not r.retryable
    assert len(interrupted) <= 8  # at most the rows in flight
    assert len(result) - len(interrupted) - len(succeeded_first) > ROWS // 3
    # No row sent twice: not in the re-run's log, and no run started twice overall.
    resent = {p.body["inputs"]["n"] for p in server.requests_to("/workflows/run", "POST")}
    assert not resent & {int(k[1:]) for k in succeeded_first}
    assert max(runs_started(server).values()) == 1
    assert set(load_results(out)) == {f"r{i}" for i in range(ROWS)}

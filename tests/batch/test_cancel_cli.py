"""Cancellation stops the Dify tasks in flight and leaves a results file to resume from;
the ``dify-integrations batch`` command."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from dify_integrations.batch import BatchRunner, load_results
from dify_integrations.cli import main
from dify_integrations.testing import DifyTestServer

from .conftest import runs_started


async def test_cancel_stops_in_flight_runs_and_resumes(server: DifyTestServer, tmp_path: Path):
    app = server.create_workflow_app("Slow", lambda v: {"n": v["n"]}, token_delay=30.0)
    out = tmp_path / "r.jsonl"
    rows = [{"id": i, "n": i} for i in range(6)]
    runner = BatchRunner(api_key=app.api_key, base_url=server.base_url, output=out, concurrency=3)
    task = asyncio.create_task(runner.arun(rows))
    while len(server.workspace.runs) < 3:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # let the first events (with the run ids) arrive
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runner.summary is not None
    assert runner.summary.cancelled
    stops = server.requests_to("/workflows/tasks/{task_id}/stop", "POST")
    with server.workspace.lock:
        runs = list(server.workspace.runs.values())
    assert len(stops) == 3
    assert {s.path.split("/")[-2] for s in stops} == {r.task_id for r in runs}
    for _ in range(100):  # the stopped runs end on the server
        if all(r.status == "stopped" for r in runs):
            break
        await asyncio.sleep(0.02)
    assert [r.status for r in runs] == ["stopped"] * 3
    assert load_results(out) == {}  # nothing finished; the in-flight notes hold the run ids

    server.get_app(app.api_key).token_delay = 0.0  # type: ignore[union-attr]
    again = await BatchRunner(api_key=app.api_key, base_url=server.base_url, output=out).arun(rows)
    assert [r.output for r in again] == [{"n": i} for i in range(6)]
    # A stopped run produced nothing: those rows ran once more; the others once.
    started = runs_started(server)
    assert sorted(started.values()) == [1, 1, 1, 2, 2, 2]


def test_cli_batch_runs_and_resumes(
    server: DifyTestServer,
    workflow_key: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    rows, out = tmp_path / "rows.jsonl", tmp_path / "results.jsonl"
    rows.write_text("".join(json.dumps({"id": f"q{i}", "n": i}) + "\n" for i in range(5)))
    monkeypatch.setenv("WF_KEY", workflow_key)
    args = ["batch", "--app-key-env", "WF_KEY", "--base-url", server.base_url,
            "--input", str(rows), "--output", str(out), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "rows 5: 5 ok, 0 failed" in err
    assert workflow_key not in err
    assert main(args) == 0
    assert "(5 from an earlier run, 0 sent now)" in capsys.readouterr().err
    assert len(server.requests_to("/workflows/run", "POST")) == 5
    assert workflow_key not in out.read_text()


def test_cli_batch_missing_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"id": 1}\n')
    code = main(["batch", "--app-key-env", "NOPE_KEY", "--input", str(rows), "--output", "x"])
    assert code == 2
    assert "NOPE_KEY" in capsys.readouterr().err

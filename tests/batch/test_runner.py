"""The batch runner over HTTP against the local server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dify_integrations.batch import BatchRunner, load_results, run_batch
from dify_integrations.testing import DifyTestServer

from .conftest import runs_started


def _rows(n: int) -> list[dict[str, int]]:
    return [{"id": i, "n": i} for i in range(n)]


async def test_workflow_rows_in_order_with_summary(server: DifyTestServer, workflow_key: str):
    runner = BatchRunner(api_key=workflow_key, base_url=server.base_url, concurrency=4)
    result = await runner.arun(_rows(20))
    assert [r.id for r in result] == [str(i) for i in range(20)]
    assert all(r.ok for r in result)
    assert [r.output for r in result] == [{"text": f"echo {i}", "n": i} for i in range(20)]
    assert result.summary.succeeded == 20
    assert result.summary.failed == 0
    assert result.summary.latency_p50 is not None
    assert runs_started(server) == {i: 1 for i in range(20)}


async def test_as_completed_yields_every_row_once(server: DifyTestServer, workflow_key: str):
    runner = BatchRunner(api_key=workflow_key, base_url=server.base_url, concurrency=8)
    seen = [r.id async for r in runner.aiter(_rows(30), ordered=False)]
    assert sorted(seen, key=int) == [str(i) for i in range(30)]


def test_bad_rows_fail_before_any_request(server: DifyTestServer, workflow_key: str):
    for rows, message in (
        ([{"id": 1, "n": 1}, {"id": 1, "n": 2}], "duplicate row id"),
        ([{"n": 1}], "no 'id' field"),
        ([{"id": 1, "n": float("nan")}], "NaN"),
        (["text"], "expected a mapping"),
    ):
        with pytest.raises(ValueError, match=message):
            run_batch(rows, api_key=workflow_key, base_url=server.base_url)
    assert server.request_log == []


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MY_APP_KEY", raising=False)
    with pytest.raises(ValueError, match="MY_APP_KEY"):
        BatchRunner(api_key_env="MY_APP_KEY")


async def test_one_bad_row_does_not_stop_the_batch(server: DifyTestServer):
    def handler(values: dict[str, int]) -> dict[str, int]:
        if values["n"] == 3:
            raise RuntimeError("boom")
        return {"n": values["n"]}

    app = server.create_workflow_app("Flaky", handler)
    result = await BatchRunner(api_key=app.api_key, base_url=server.base_url).arun(_rows(6))
    states = {r.id: r.state for r in result}
    assert states == {"0": "ok", "1": "ok", "2": "ok", "3": "error", "4": "ok", "5": "ok"}
    bad = result.results[3]
    assert bad.error_code == "workflow_failed"
    assert "boom" in (bad.error or "")
    assert bad.retryable is False
    assert result.summary.errors == {"workflow_failed": 1}


@pytest.mark.parametrize("suffix", [".jsonl", ".sqlite"])
async def test_rerun_skips_finished_rows(
    server: DifyTestServer, workflow_key: str, tmp_path: Path, suffix: str
):
    out = tmp_path / f"results{suffix}"
    first = await BatchRunner(api_key=workflow_key, base_url=server.base_url, output=out).arun(
        _rows(5)
    )
    assert first.summary.sent == 5
    second = await BatchRunner(api_key=workflow_key, base_url=server.base_url, output=out).arun(
        _rows(8)
    )
    assert second.summary.skipped == 5
    assert second.summary.sent == 3
    assert [r.skipped for r in second] == [True] * 5 + [False] * 3
    assert [r.output["n"] for r in second] == list(range(8))
    assert runs_started(server) == {i: 1 for i in range(8)}
    assert set(load_results(out)) == {str(i) for i in range(8)}


async def test_changed_row_content_is_refused(
    server: DifyTestServer, workflow_key: str, tmp_path: Path
):
    out = tmp_path / "r.jsonl"
    await BatchRunner(api_key=workflow_key, base_url=server.base_url, output=out).arun(_rows(2))
    server.reset_log()
    with pytest.raises(ValueError, match="content changed"):
        await BatchRunner(api_key=workflow_key, base_url=server.base_url, output=out).arun(
            [{"id": 0, "n": 0}, {"id": 1, "n": 99}]
        )
    assert server.request_log == []


async def test_torn_last_line_is_dropped(server: DifyTestServer, workflow_key: str, tmp_path: Path):
    out = tmp_path / "r.jsonl"
    await BatchRunner(api_key=workflow_key, base_url=server.base_url, output=out).arun(_rows(3))
    raw = out.read_bytes()
    # Rows finish in any order: the torn row is whichever was written last.
    torn = json.loads(raw.splitlines()[-1])["id"]
    out.write_bytes(raw[: len(raw) - 20])  # a kill in the middle of the last write
    again = await BatchRunner(api_key=workflow_key, base_url=server.base_url, output=out).arun(
        _rows(3)
    )
    assert all(r.ok for r in again)
    assert [r.skipped for r in again] == [str(i) != torn for i in range(3)]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["id"] for line in lines) == ["0", "1", "2"]


async def test_chat_and_completion_apps(server: DifyTestServer):
    chat = server.create_chat_app("Echo chat", responder=lambda q, *_: f"A: {q}")
    comp = server.create_completion_app("Writer", template="Summary of {{topic}}")
    rows = [{"id": "a", "query": "one"}, {"id": "b", "query": "two"}]
    result = await BatchRunner(api_key=chat.api_key, base_url=server.base_url).arun(rows)
    assert [r.output for r in result] == ["A: one", "A: two"]
    assert all(r.message_id for r in result)
    rows2 = [{"id": "x", "topic": "cats"}]
    result2 = await BatchRunner(api_key=comp.api_key, base_url=server.base_url).arun(rows2)
    assert result2.results[0].ok, result2.results[0]
    assert "cats" in result2.results[0].output


async def test_429_is_retried_and_the_rate_adapts(server: DifyTestServer, workflow_key: str):
    server.inject_fault("/workflows/run", "status", status=429, retry_after=0.05, count=5)
    runner = BatchRunner(api_key=workflow_key, base_url=server.base_url, rate_limit=200.0)
    result = await runner.arun(_rows(10))
    assert all(r.ok for r in result)
    assert runner.limiter.rate_limited == 5
    assert runner.limiter.lowest_rate is not None
    assert runner.limiter.lowest_rate < 200.0
    assert result.summary.rate_limited == 5
    assert runs_started(server) == {i: 1 for i in range(10)}


async def test_dropped_connection_is_recorded_not_resent(server: DifyTestServer, workflow_key: str):
    server.inject_fault("/workflows/run", "drop", count=1)
    result = await BatchRunner(api_key=workflow_key, base_url=server.base_url, concurrency=1).arun(
        _rows(3)
    )
    first = result.results[0]
    assert first.state == "error"
    assert first.error_code == "connection_lost"
    assert first.retryable is False
    assert [r.ok for r in result.results[1:]] == [True, True]
    posts = server.requests_to("/workflows/run", "POST")
    assert [p.body["inputs"]["n"] for p in posts] == [0, 1, 2]


async def test_5xx_is_recorded_not_resent(server: DifyTestServer, workflow_key: str):
    server.inject_fault("/workflows/run", "status", status=500, count=1)
    result = await BatchRunner(api_key=workflow_key, base_url=server.base_url, concurrency=1).arun(
        _rows(2)
    )
    assert result.results[0].error_code == "internal_server_error"
    assert result.results[0].status_code == 500
    assert not result.results[0].retryable
    assert len(server.requests_to("/workflows/run", "POST")) == 2


async def test_dataframe_and_jsonl_inputs(
    server: DifyTestServer, workflow_key: str, tmp_path: Path
):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"id": [10, 11, 12], "n": [1, 2, 3]})  # numpy int64 values
    result = await BatchRunner(api_key=workflow_key, base_url=server.base_url).arun(frame)
    assert [(r.id, r.output["n"]) for r in result] == [("10", 1), ("11", 2), ("12", 3)]
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"id": "a", "n": 5}\n\n{"id": "b", "n": 6}\n')
    result = await BatchRunner(api_key=workflow_key, base_url=server.base_url).arun(rows)
    assert [r.output["n"] for r in result] == [5, 6]
    rows.write_text('{"id": "a", "n": 5}\nnot json\n')
    with pytest.raises(ValueError, match=r"rows.jsonl:2: not a JSON line"):
        await BatchRunner(api_key=workflow_key, base_url=server.base_url).arun(rows)

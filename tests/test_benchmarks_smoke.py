"""Smoke test of `benchmarks/`: every benchmark runs in quick mode and fills its tables.

Nothing here looks at a timing (the machine is shared and noisy): only that each benchmark
module imports, talks to the benchmark server in its own process, and produces table rows
with one cell per column.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# `benchmarks/` is not part of the installed package: import it from the project root.
from benchmarks import MODULES, runner
from benchmarks._harness import BenchServer, Context, Table

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bench_server() -> Iterator[BenchServer]:
    with BenchServer() as server:
        yield server


def test_server_process_reports_its_workspace(bench_server: BenchServer) -> None:
    assert bench_server.base_url.startswith("http://127.0.0.1:")
    assert bench_server.base_url.endswith("/v1")
    assert bench_server.pid > 0
    assert set(bench_server.info["apps"]) == {"tiny", "slow", "clock", "firehose"}
    assert all(key.startswith("app-") for key in bench_server.info["apps"].values())
    assert str(bench_server.info["dataset_key"]).startswith("dataset-")


@pytest.mark.parametrize("name", list(MODULES))
def test_benchmark_produces_rows(bench_server: BenchServer, name: str) -> None:
    tables = runner(name)(Context(server=bench_server, quick=True))
    assert tables
    for table in tables:
        assert isinstance(table, Table)
        assert table.rows, f"{name}: {table.title} has no rows"
        for row in table.rows:
            assert len(row) == len(table.columns)
            assert row[0].strip()
        rendered = table.render()
        assert table.title in rendered
        assert rendered.count("\n|") == len(table.rows) + 2  # header + rule + rows


def test_table_rejects_a_row_of_the_wrong_width() -> None:
    table = Table("t", ["a", "b"])
    with pytest.raises(ValueError, match="2 columns"):
        table.add("only one")


def test_quick_run_writes_the_charts(bench_server: BenchServer, tmp_path: object) -> None:
    """`--charts` (what `make bench` passes) turns the recorded figures into SVG charts."""
    import json
    import xml.etree.ElementTree as ET
    from pathlib import Path

    from benchmarks._charts import write_charts

    ctx = Context(server=bench_server, quick=True)
    for name in ("core", "concurrency", "streaming"):
        runner(name)(ctx)
    out = Path(str(tmp_path))
    written = {p.name for p in write_charts(ctx.figures, out)}
    assert written == {"overhead.svg", "concurrency.svg", "first_token.svg", "figures.json"}
    figures = json.loads((out / "figures.json").read_text(encoding="utf-8"))
    for chart, labels in {
        "overhead_sync": ("DifyClient (ours)", "dify-client-python Client"),
        "overhead_async": ("AsyncDifyClient (ours)", "dify-client-python AsyncClient"),
        "concurrency": ("ChatDify.ainvoke (ours)", "dify-client-python AsyncClient"),
        "first_token": ("ChatDify.stream (ours)", "dify-client-python Client (streaming)"),
    }.items():
        for label in labels:
            assert figures[chart][label] > 0, (chart, label)
        assert any("(floor)" in label for label in figures[chart])
    for svg in ("overhead.svg", "concurrency.svg", "first_token.svg"):
        root = ET.fromstring((out / svg).read_text(encoding="utf-8"))  # well-formed XML
        assert root.tag.endswith("svg")
        text = "".join(root.itertext())
        assert "(ours)" in text
        assert "(floor)" in text

"""The Ray Data path on a local two-CPU cluster, over the local server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import cloudpickle
import pytest

from dify_integrations.testing import DifyTestServer

from .conftest import runs_started

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, str]]:
    """A local Ray cluster whose runtime environment carries the key (not the tasks)."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    with DifyTestServer() as server:
        key = server.create_workflow_app("Double", lambda v: {"text": str(int(v["n"]) * 2)}).api_key
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            log_to_driver=False,
            runtime_env={"env_vars": {"WF_KEY": key, "RAY_USAGE_STATS_ENABLED": "0"}},
        )
        try:
            yield {"key": key, "base_url": server.base_url, "server": server}  # type: ignore[misc]
        finally:
            ray.shutdown()


def test_ray_data_job_checks_every_row(cluster: dict[str, object]):
    from dify_integrations.batch.ray import map_dify

    server = cluster["server"]
    assert isinstance(server, DifyTestServer)
    ds = ray.data.from_items([{"id": f"r{i}", "n": i} for i in range(200)])
    mapped = map_dify(
        ds,
        api_key_env="WF_KEY",
        base_url=str(cluster["base_url"]),
        mode="workflow",
        concurrency=8,
        actors=2,
        batch_size=25,
        id_field="id",
    )
    rows = mapped.take_all()
    assert len(rows) == 200
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {f"r{i}" for i in range(200)}
    for i in range(200):
        row = by_id[f"r{i}"]
        assert row["dify_state"] == "ok", row
        assert row["dify_output"] == f'{{"text": "{2 * i}"}}'
        assert row["dify_workflow_run_id"]
    assert max(runs_started(server).values()) == 1
    assert len(runs_started(server)) == 200


def test_the_key_is_not_in_the_task_payload(cluster: dict[str, object]):
    from dify_integrations.batch.ray import map_dify

    class Recorder:  # stands in for the Dataset: records what map_dify hands to Ray
        def map_batches(self, fn: object, **kwargs: object) -> dict[str, object]:
            return {"fn": fn, **kwargs}

    shipped = map_dify(Recorder(), api_key_env="WF_KEY", base_url=str(cluster["base_url"]))
    blob = cloudpickle.dumps(shipped)
    assert str(cluster["key"]).encode() not in blob
    assert b"WF_KEY" in blob


def test_a_missing_key_on_the_workers_is_a_clear_error(cluster: dict[str, object]):
    from dify_integrations.batch.ray import map_dify

    ds = ray.data.from_items([{"n": 1}])
    mapped = map_dify(ds, api_key_env="NOT_ON_THE_WORKERS", base_url=str(cluster["base_url"]))
    with pytest.raises(Exception, match="NOT_ON_THE_WORKERS"):
        mapped.take_all()

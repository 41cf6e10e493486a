"""Map a Dify app over a Ray Data ``Dataset``: the same batch runner, on a cluster.

```python
import ray
from dify_integrations.batch.ray import map_dify

ray.init(runtime_env={"env_vars": {"DIFY_API_KEY": key, "DIFY_BASE_URL": url}})
ds = ray.data.read_json("rows.jsonl")
results = map_dify(ds, mode="workflow", concurrency=64, rate_limit=50, actors=4)
results.write_json("results/")
```

Each Ray actor holds one `AsyncDifyClient` (one connection pool) on its own event loop
and runs its batches through a `BatchRunner`; the cluster-wide ``concurrency`` and
``rate_limit`` are split evenly across the actors (each adapts to 429s on its own). The
key never travels with the tasks: actors read it from the environment variable named by
``api_key_env``, which the Ray runtime environment sets on every worker
(``runtime_env={"env_vars": {...}}`` at ``ray.init`` or job submission).

Each output row is the input row plus ``dify_*`` columns: ``dify_state`` (``ok`` or
``error``), ``dify_output`` (the answer text; workflow outputs as a JSON string),
``dify_error_code``, ``dify_error``, ``dify_total_tokens``, ``dify_latency``,
``dify_workflow_run_id``, ``dify_message_id``. A bad row never fails the job. Ray retries a
failed task as a whole, so the no-double-send guarantees of the results file do not apply
here: use `BatchRunner` with ``output=`` on one machine when a re-run must never resend.

Requires ``pip install 'dify-integrations[ray]'``.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import threading
from typing import Any

from ..core.async_client import AsyncDifyClient
from .rows import plain_value
from .runner import AppMode, BatchRunner

__all__ = ["DifyBatchActor", "map_dify"]

OUTPUT_COLUMNS = (
    "dify_state",
    "dify_output",
    "dify_error_code",
    "dify_error",
    "dify_total_tokens",
    "dify_latency",
    "dify_workflow_run_id",
    "dify_message_id",
)


class DifyBatchActor:
    """The Ray Data callable class: one client and one event loop per actor.

    Args:
        settings: `BatchRunner` options without any key (``api_key_env`` names the
            variable read here, on the worker); plus ``base_url``.
    """

    def __init__(self, settings: dict[str, Any]) -> None:
        settings = dict(settings)
        env = settings.pop("api_key_env", "DIFY_API_KEY")
        key = os.environ.get(env)
        if not key:
            raise ValueError(
                f"no Dify app key on this Ray worker: set {env} in the runtime environment "
                "(ray.init(runtime_env={'env_vars': {...}}))"
            )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="dify-batch-loop", daemon=True
        )
        self._thread.start()
        client = AsyncDifyClient(
            key,
            base_url=settings.pop("base_url", None),
            user=settings.get("user", "dify-batch"),
            timeout=settings.pop("timeout", None),
            max_retries=0,
        )
        self._runner = BatchRunner(client=client, progress=False, **settings)

    def __call__(self, batch: Any) -> Any:
        """Run one pandas batch; returns it with the ``dify_*`` columns added."""
        rows = [{k: plain_value(v) for k, v in r.items()} for r in batch.to_dict("records")]
        future = asyncio.run_coroutine_threadsafe(self._runner.arun(rows), self._loop)
        results = future.result()
        columns: dict[str, list[Any]] = {name: [] for name in OUTPUT_COLUMNS}
        for r in results:
            output = r.output
            if output is not None and not isinstance(output, str):
                output = json.dumps(output, ensure_ascii=False, default=str)
            columns["dify_state"].append(r.state)
            columns["dify_output"].append(output)
            columns["dify_error_code"].append(r.error_code)
            columns["dify_error"].append(r.error)
            columns["dify_total_tokens"].append(r.total_tokens)
            columns["dify_latency"].append(r.latency)
            columns["dify_workflow_run_id"].append(r.workflow_run_id)
            columns["dify_message_id"].append(r.message_id)
        out = batch.copy()
        for name, values in columns.items():
            out[name] = values
        return out


def map_dify(
    dataset: Any,
    *,
    api_key_env: str = "DIFY_API_KEY",
    base_url: str | None = None,
    mode: AppMode | None = None,
    concurrency: int = 16,
    rate_limit: float | None = None,
    adaptive: bool = True,
    actors: int = 2,
    num_cpus: float = 0.5,
    batch_size: int = 64,
    id_field: str | None = None,
    query_field: str = "query",
    user: str = "dify-batch",
    timeout: float | None = None,
) -> Any:
    """Run a Dify app over every row of a Ray ``Dataset`` (lazy, like any ``map_batches``).

    Args:
        dataset: The ``ray.data.Dataset`` of input rows.
        api_key_env: Environment variable holding the app key on the workers.
        base_url: Dify API root (else ``DIFY_BASE_URL`` on the workers).
        mode: ``"chat"``, ``"completion"`` or ``"workflow"`` (else asked from ``/info``).
        concurrency: Rows in flight across the cluster (split across the actors).
        rate_limit: Requests per second across the cluster (split across the actors).
        adaptive: Adapt each actor's rate to 429s (AIMD).
        actors: Actors in the pool (each with one connection pool).
        num_cpus: CPUs reserved per actor (the work is I/O: a fraction is enough).
        batch_size: Rows per batch handed to an actor.
        id_field: Row id column (``None``: position within the batch; ids are only used
            to report results).
        query_field: Chat query column.
        user: Dify end user of the requests.
        timeout: Client read timeout, seconds.

    Returns:
        The mapped ``Dataset`` (input columns plus the ``dify_*`` columns).
    """
    if isinstance(actors, bool) or not isinstance(actors, int) or actors < 1:
        raise ValueError("actors must be a positive integer")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError("concurrency must be a positive integer")
    settings: dict[str, Any] = {
        "api_key_env": api_key_env,
        "base_url": base_url,
        "mode": mode,
        "concurrency": max(1, math.ceil(concurrency / actors)),
        "rate_limit": None if rate_limit is None else rate_limit / actors,
        "adaptive": adaptive,
        "id_field": id_field,
        "query_field": query_field,
        "user": user,
        "timeout": timeout,
    }
    from ray.data import ActorPoolStrategy

    return dataset.map_batches(
        DifyBatchActor,
        fn_constructor_kwargs={"settings": settings},
        batch_format="pandas",
        batch_size=batch_size,
        compute=ActorPoolStrategy(size=actors),
        num_cpus=num_cpus,
    )

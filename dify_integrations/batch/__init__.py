"""Run a Dify app over a data set: many rows, one result each, resumable.

```python
from dify_integrations.batch import run_batch

result = run_batch("rows.jsonl", api_key_env="DIFY_WORKFLOW_KEY", output="results.jsonl",
                   concurrency=16, rate_limit=20)
print(result.summary)
```

`BatchRunner` holds the options; `RateLimiter` is the adaptive (AIMD) limiter; the results
file doubles as the checkpoint (`load_results` reads it). The Ray Data integration is in
``dify_integrations.batch.ray`` (``pip install dify-integrations[ray]``).
"""

from .checkpoint import load_results, open_checkpoint
from .limiter import RateLimiter
from .report import BatchSummary, RowResult
from .rows import load_rows
from .runner import AppMode, BatchResult, BatchRunner, arun_batch, run_batch

__all__ = [
    "AppMode",
    "BatchResult",
    "BatchRunner",
    "BatchSummary",
    "RateLimiter",
    "RowResult",
    "arun_batch",
    "load_results",
    "load_rows",
    "open_checkpoint",
    "run_batch",
]

"""Run a Dify app over many rows: bounded concurrency, adaptive rate limit, checkpoint.

The rules that keep answers single and right:

- A row that succeeded (in this run or one recorded in the results file) is never sent
  again.
- A request is sent again automatically only when Dify cannot have run it: a 429 (or
  Dify's "Too many requests" concurrency cap) and a connection that failed before the
  request was sent. Anything after which Dify may have started the run (connection lost
  after sending, timeout, 5xx, an ``error`` event) ends the row with a recorded error,
  marked ``retryable=False``.
- Before each send the row is noted as in flight in the results file, with Dify's run id
  as soon as the stream carries it. A workflow row whose connection dropped (or whose
  process was killed) is read back from Dify (``GET /workflows/run/{id}``) instead of
  being sent again; a chat or completion row in that state ends as ``interrupted``.
- A re-run sends rows with no record, and rows whose error is ``retryable``
  (``retry_failed=True`` sends every failed row again).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..core.async_client import AsyncDifyClient
from ..core.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BadRequestError,
    DifyError,
    RateLimitError,
    StreamError,
)
from ..core.retry import backoff_delay, retry_delay
from ..core.stream import AsyncEventStream
from .checkpoint import Checkpoint, open_checkpoint
from .limiter import RateLimiter
from .report import BatchSummary, Progress, RowResult
from .rows import Row, RowId, load_rows

__all__ = ["AppMode", "BatchResult", "BatchRunner", "arun_batch", "run_batch"]

AppMode = Literal["chat", "completion", "workflow"]
_MODES: dict[str, AppMode] = {
    "chat": "chat",
    "agent-chat": "chat",
    "advanced-chat": "chat",
    "completion": "completion",
    "workflow": "workflow",
}
_OK_STATUSES = frozenset({"succeeded", "partial-succeeded"})
_CONNECT_RETRIES = 3


@dataclass
class BatchResult:
    """Every row's result (input order) and the summary of the run."""

    results: list[RowResult]
    summary: BatchSummary

    def __iter__(self) -> Iterator[RowResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)


@dataclass
class _Failure:
    code: str
    message: str
    status_code: int | None = None
    retryable: bool = False  # Dify cannot have run it: a re-run may send it again
    rate_limited: bool = False
    not_sent: bool = False  # the request never left: may be retried now


def _classify(exc: BaseException) -> _Failure:
    message = str(getattr(exc, "message", None) or exc) or type(exc).__name__
    if isinstance(exc, RateLimitError) or (
        isinstance(exc, BadRequestError)
        and exc.code == "invalid_param"
        and exc.message.startswith("Too many requests")
    ):
        status = exc.status_code
        return _Failure("rate_limited", message, status, retryable=True, rate_limited=True)
    if isinstance(exc, APIConnectionError):
        if not exc.request_sent:
            return _Failure("connection_failed", message, retryable=True, not_sent=True)
        code = "timeout" if isinstance(exc, APITimeoutError) else "connection_lost"
        return _Failure(code, message)
    if isinstance(exc, APIStatusError):
        # 4xx: Dify refused the request, nothing ran; 5xx: it may have started the run.
        return _Failure(exc.code, message, exc.status_code, retryable=exc.status_code < 500)
    if isinstance(exc, StreamError):
        return _Failure(exc.code or "stream_error", message, exc.status)
    if isinstance(exc, DifyError):
        return _Failure("invalid_stream", message)
    return _Failure(type(exc).__name__, message)


class BatchRunner:
    """Run one Dify app over rows of inputs.

    Give either an app key (``api_key=``, or ``api_key_env=`` naming the variable), an
    `AsyncDifyClient` (``client=``), or an adapter (``adapter=``: any LangChain runnable
    such as ``ChatDify``/``DifyLLM``/``DifyWorkflowTool``, or a LlamaIndex ``DifyLLM``/
    tool), whose ``ainvoke``/``acomplete``/``acall`` is called with each row's input.

    Row shape: a mapping with the id field (``id_field``); chat rows have a ``query``
    (``query_field``); inputs are the row's ``inputs`` mapping if it has one, else every
    other field. The key is never stored in results, logs or errors.

    Args:
        api_key: The app key (``app-…``).
        api_key_env: Environment variable holding the app key (default ``DIFY_API_KEY``).
        base_url: Dify API root (else ``DIFY_BASE_URL``).
        client: An existing async client (its own ``max_retries`` should be 0, so that
            429s reach the rate limiter).
        adapter: An adapter to call instead of the client.
        mode: ``"chat"``, ``"completion"`` or ``"workflow"`` (default: asked from
            ``GET /info`` once).
        concurrency: Rows in flight at once.
        rate_limit: Ceiling in requests per second (``None``: none until a 429).
        adaptive: Cut the rate on a 429 (to 0.7x, see `RateLimiter`) and recover on success (``False``: fixed rate).
        max_rate_limit_retries: 429s tolerated per row before it is recorded as
            ``rate_limited`` (retryable on a re-run).
        output: Results file (``.jsonl``, or ``.sqlite``/``.db``); a re-run with the same
            file skips finished rows. ``None``: no checkpoint.
        id_field: Field holding the row id, a callable, or ``None`` (row position).
        query_field: Field holding the chat query (or the completion ``query``).
        input_fn: For adapters: turn a row into the adapter's input (default: the query
            for chat models and LLMs, the inputs mapping otherwise).
        user: Dify end user of every request.
        retry_failed: Also send rows again whose recorded error is not retryable.
        recover_timeout: Seconds to wait for a workflow run whose connection dropped to
            finish on Dify before recording the row as ``connection_lost``.
        timeout: Client timeout (seconds or a `Timeout`), when the runner builds it.
        progress: Show a progress line (default: when stderr is a terminal).
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        api_key_env: str = "DIFY_API_KEY",
        base_url: str | None = None,
        client: AsyncDifyClient | None = None,
        adapter: Any = None,
        mode: AppMode | None = None,
        concurrency: int = 8,
        rate_limit: float | None = None,
        adaptive: bool = True,
        max_rate_limit_retries: int = 20,
        output: str | os.PathLike[str] | None = None,
        id_field: RowId = "id",
        query_field: str = "query",
        input_fn: Callable[[Mapping[str, Any]], Any] | None = None,
        user: str = "dify-batch",
        retry_failed: bool = False,
        recover_timeout: float = 60.0,
        timeout: Any = None,
        progress: bool | None = None,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError("concurrency must be a positive integer")
        if mode is not None and mode not in ("chat", "completion", "workflow"):
            raise ValueError(f"mode must be 'chat', 'completion' or 'workflow', not {mode!r}")
        if sum(x is not None for x in (api_key, client, adapter)) > 1:
            raise ValueError("give only one of api_key=, client= and adapter=")
        if not user:
            raise ValueError("user must be a non-empty string")
        self._client = client
        self._owns_client = False
        if adapter is None and client is None:
            key = api_key if api_key is not None else os.environ.get(api_key_env)
            if not key:
                raise ValueError(
                    f"no app key: pass api_key= or set the {api_key_env} environment variable"
                )
            self._client = AsyncDifyClient(
                key, base_url=base_url, user=user, timeout=timeout, max_retries=0
            )
            self._owns_client = True
        self.adapter = adapter
        self.mode: AppMode | None = mode
        self.concurrency = concurrency
        self.limiter = RateLimiter(rate_limit, adaptive=adaptive)
        self.max_rate_limit_retries = max_rate_limit_retries
        self.output = None if output is None else Path(output)
        self.id_field = id_field
        self.query_field = query_field
        self.input_fn = input_fn
        self.user = user
        self.retry_failed = retry_failed
        self.recover_timeout = recover_timeout
        self.progress = progress
        self.summary: BatchSummary | None = None

    # ------------------------------------------------------------------ public API

    def run(self, rows: Any) -> BatchResult:
        """Run every row (blocking); results in input order. Ctrl-C stops cleanly."""
        return asyncio.run(self.arun(rows))

    async def arun(self, rows: Any) -> BatchResult:
        """Run every row; results in input order."""
        results = [r async for r in self.aiter(rows, ordered=True)]
        assert self.summary is not None
        return BatchResult(results, self.summary)

    async def aiter(self, rows: Any, *, ordered: bool = True) -> AsyncIterator[RowResult]:
        """Yield one `RowResult` per row, in input order or as they complete.

        Rows finished by an earlier run (from the results file) are yielded too, with
        ``skipped=True``. Cancelling the consumer stops the rows in flight (their Dify tasks
        get a stop call) and leaves a valid results file. ``self.summary`` is set at the
        end.
        """
        loaded = load_rows(rows, self.id_field)  # every check before any request
        checkpoint = open_checkpoint(self.output) if self.output is not None else None
        started = time.monotonic()
        done: list[RowResult] = []
        progress = Progress(len(loaded), self.progress)
        try:
            plan = self._plan(loaded, checkpoint)
            if any(action != "skip" for _, action, _ in plan) and self.adapter is None:
                await self._resolve_mode()
            queue: asyncio.Queue[RowResult] = asyncio.Queue()
            todo = [(row, action, note) for row, action, note in plan if action != "skip"]
            pending: dict[int, RowResult] = {}
            next_index = 0
            for row, action, note in plan:
                if action == "skip":
                    assert note is not None
                    pending[row.index] = RowResult.from_record(note)
            work = iter(todo)
            workers = [
                asyncio.create_task(self._worker(work, checkpoint, queue))
                for _ in range(min(self.concurrency, max(1, len(todo))))
            ]
            remaining = len(todo)
            try:
                if not ordered:
                    for result in list(pending.values()):
                        done.append(result)
                        progress.update(result)
                        yield result
                    pending.clear()
                while True:
                    if ordered:
                        while next_index < len(loaded) and next_index in pending:
                            result = pending.pop(next_index)
                            next_index += 1
                            done.append(result)
                            progress.update(result)
                            yield result
                    if remaining == 0:
                        break
                    result = await queue.get()
                    remaining -= 1
                    if ordered:
                        pending[result.index] = result
                    else:
                        done.append(result)
                        progress.update(result)
                        yield result
                for w in workers:
                    await w
            finally:
                cancelled = remaining > 0
                for w in workers:
                    w.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                self.summary = BatchSummary.build(
                    done, len(loaded), time.monotonic() - started, self.limiter.rate_limited
                )
                self.summary.cancelled = cancelled
        finally:
            progress.close()
            if checkpoint is not None:
                checkpoint.close()
            if self._owns_client and self._client is not None:
                with contextlib.suppress(Exception):
                    await self._client.aclose()

    # ------------------------------------------------------------------ planning

    def _plan(
        self, rows: list[Row], checkpoint: Checkpoint | None
    ) -> list[tuple[Row, str, dict[str, Any] | None]]:
        """For each row: ``skip`` (with its record), ``send``, ``recover`` or ``interrupted``."""
        if checkpoint is None:
            return [(row, "send", None) for row in rows]
        finished, in_flight = checkpoint.load()
        plan: list[tuple[Row, str, dict[str, Any] | None]] = []
        for row in rows:
            record = finished.get(row.id)
            note = in_flight.get(row.id)
            for earlier in (record, note):
                if earlier is not None and earlier.get("fingerprint") not in (
                    None,
                    row.fingerprint,
                ):
                    raise ValueError(
                        f"row {row.id!r}: its content changed since {checkpoint.path} recorded "
                        "it; give changed rows new ids or use a new results file"
                    )
            if note is not None:
                if note.get("workflow_run_id"):
                    plan.append((row, "recover", note))
                elif self.retry_failed:
                    plan.append((row, "send", None))
                else:
                    plan.append((row, "interrupted", note))
            elif record is None:
                plan.append((row, "send", None))
            elif record.get("state") == "ok":
                plan.append((row, "skip", {**record, "index": row.index}))
            elif record.get("retryable") or self.retry_failed:
                plan.append((row, "send", None))
            else:
                plan.append((row, "skip", {**record, "index": row.index}))
        return plan

    async def _resolve_mode(self) -> None:
        if self.mode is not None:
            return
        assert self._client is not None
        info = await self._client.get_info()
        mode = _MODES.get(str(info.mode or ""))
        if mode is None:
            raise ValueError(
                f"cannot run a batch on an app in mode {info.mode!r}; pass mode= explicitly"
            )
        self.mode = mode

    # ------------------------------------------------------------------ workers

    async def _worker(
        self,
        work: Iterator[tuple[Row, str, dict[str, Any] | None]],
        checkpoint: Checkpoint | None,
        queue: asyncio.Queue[RowResult],
    ) -> None:
        for row, action, note in work:
            result = await self._row(row, action, note, checkpoint)
            if result is None:  # cancelled: recorded (or left in flight) already
                return
            if checkpoint is not None:
                checkpoint.finished(result.to_record())
            queue.put_nowait(result)

    async def _row(
        self, row: Row, action: str, note: dict[str, Any] | None, checkpoint: Checkpoint | None
    ) -> RowResult | None:
        if action == "interrupted":
            return self._error(
                row,
                _Failure(
                    "interrupted",
                    "an earlier run stopped while this row was in flight, before Dify's run id "
                    "was known: it may have run; not sent again (retry_failed=True sends it)",
                ),
                0,
                note or {},
            )
        ids: dict[str, Any] = {}
        if action == "recover" and note is not None:
            ids = {k: note[k] for k in ("workflow_run_id", "task_id") if note.get(k)}
            recovered = await self._recover(row, ids, 0, _Failure("interrupted", ""))
            if recovered is not None:
                return recovered
            # the earlier run was stopped on Dify: it produced nothing, send it now
        attempts = 0
        while True:
            started = await self.limiter.acquire()
            attempts += 1
            ids = {}

            def note_ids(
                found: dict[str, Any], _ids: dict[str, Any] = ids, _row: Row = row
            ) -> None:
                _ids.update(found)
                if checkpoint is not None:
                    checkpoint.started(
                        {"id": _row.id, "t": time.time(), "fingerprint": _row.fingerprint, **found}
                    )

            note_ids({})
            sent_at = time.monotonic()
            try:
                result = await self._call(row, note_ids)
            except asyncio.CancelledError:
                self._on_cancel(row, ids, attempts, checkpoint)
                return None
            except Exception as exc:
                failure = _classify(exc)
                if failure.rate_limited and attempts <= self.max_rate_limit_retries:
                    self.limiter.on_rate_limited(retry_delay(exc, attempts), started)
                    continue
                if failure.not_sent and attempts <= _CONNECT_RETRIES:
                    await asyncio.sleep(backoff_delay(attempts))
                    continue
                if ids.get("workflow_run_id") and not failure.retryable:
                    try:
                        recovered = await self._recover(row, ids, attempts, failure)
                    except asyncio.CancelledError:
                        self._on_cancel(row, ids, attempts, checkpoint)
                        return None
                    if recovered is not None:
                        return recovered
                return self._error(row, failure, attempts, ids)
            self.limiter.on_success()
            result.latency = time.monotonic() - sent_at
            result.attempts = attempts
            return result

    def _on_cancel(
        self, row: Row, ids: dict[str, Any], attempts: int, checkpoint: Checkpoint | None
    ) -> None:
        """The stream was closed and its stop sent. A workflow row with a run id stays in
        flight (a re-run reads it back from Dify); others are recorded as ``cancelled``."""
        if checkpoint is None or ids.get("workflow_run_id"):
            return
        failure = _Failure(
            "cancelled",
            "the batch was cancelled while this row was in flight (stop sent)",
            retryable=True,
        )
        checkpoint.finished(self._error(row, failure, attempts, ids).to_record())

    def _error(
        self, row: Row, failure: _Failure, attempts: int, ids: Mapping[str, Any]
    ) -> RowResult:
        return RowResult(
            id=row.id,
            index=row.index,
            state="error",
            error_code=failure.code,
            error=failure.message,
            status_code=failure.status_code,
            retryable=failure.retryable,
            attempts=attempts,
            task_id=ids.get("task_id"),
            workflow_run_id=ids.get("workflow_run_id"),
            fingerprint=row.fingerprint,
        )

    # ------------------------------------------------------------------ calls

    def _inputs(self, data: Mapping[str, Any]) -> dict[str, Any]:
        inputs = data.get("inputs")
        if isinstance(inputs, Mapping):
            return dict(inputs)
        skip = {self.query_field}
        if isinstance(self.id_field, str):
            skip.add(self.id_field)
        return {k: v for k, v in data.items() if k not in skip}

    async def _call(self, row: Row, note_ids: Callable[[dict[str, Any]], None]) -> RowResult:
        if self.adapter is not None:
            return await self._call_adapter(row)
        assert self._client is not None
        data = row.data
        inputs = self._inputs(data)
        stream: AsyncEventStream
        if self.mode == "workflow":
            stream = self._client.stream_workflow(inputs, user=self.user)
        elif self.mode == "completion":
            query = data.get(self.query_field)
            stream = self._client.stream_completion(
                inputs, query=None if query is None else str(query), user=self.user
            )
        else:
            query = data.get(self.query_field)
            if not isinstance(query, str) or not query.strip():
                raise BadRequestError(
                    f"row has no {self.query_field!r} text", status_code=400, code="invalid_param"
                )
            stream = self._client.stream_chat_message(query, inputs=inputs, user=self.user)
        noted = False
        async with stream:
            async for _ in stream:
                if not noted and stream.result.workflow_run_id:
                    noted = True
                    note_ids(
                        {
                            "workflow_run_id": stream.result.workflow_run_id,
                            "task_id": stream.task_id,
                        }
                    )
        fold = stream.result
        usage = fold.usage
        result = RowResult(
            id=row.id,
            index=row.index,
            state="ok",
            task_id=fold.task_id,
            workflow_run_id=fold.workflow_run_id,
            message_id=fold.message_id,
            conversation_id=fold.conversation_id,
            fingerprint=row.fingerprint,
        )
        if usage is not None:
            result.prompt_tokens = usage.prompt_tokens
            result.completion_tokens = usage.completion_tokens
            result.total_tokens = usage.total_tokens
            result.total_price = usage.total_price
            result.currency = usage.currency
        if self.mode == "workflow":
            result.output = fold.outputs
            if fold.status not in _OK_STATUSES:
                result.state = "error"
                result.error_code = (
                    "workflow_failed" if fold.status == "failed" else str(fold.status)
                )
                result.error = fold.error or f"workflow run {fold.status}"
        else:
            result.output = fold.answer
        return result

    async def _call_adapter(self, row: Row) -> RowResult:
        adapter = self.adapter
        data = row.data
        value: Any
        if self.input_fn is not None:
            value = self.input_fn(data)
        elif self.query_field in data:
            value = data[self.query_field]
        else:
            value = self._inputs(data)
        call: Callable[..., Awaitable[Any]]
        if hasattr(adapter, "ainvoke"):
            call = adapter.ainvoke
        elif hasattr(adapter, "acomplete"):
            call = adapter.acomplete
        elif hasattr(adapter, "acall"):
            call = adapter.acall
        else:
            raise TypeError(f"{type(adapter).__name__} has no ainvoke, acomplete or acall")
        out = await (
            call(**value) if call.__name__ == "acall" and isinstance(value, dict) else call(value)
        )
        result = RowResult(id=row.id, index=row.index, state="ok", fingerprint=row.fingerprint)
        for attr in ("content", "text", "raw_output"):
            if hasattr(out, attr):
                result.output = getattr(out, attr)
                break
        else:
            result.output = out
        usage = getattr(out, "usage_metadata", None)
        if isinstance(usage, Mapping):
            result.prompt_tokens = int(usage.get("input_tokens", 0))
            result.completion_tokens = int(usage.get("output_tokens", 0))
            result.total_tokens = int(usage.get("total_tokens", 0))
        return result

    async def _recover(
        self, row: Row, ids: Mapping[str, Any], attempts: int, failure: _Failure
    ) -> RowResult | None:
        """Read a workflow run back from Dify after its connection dropped.

        Returns:
            The row's result (its answer, or the run's failure), or ``None`` when the run
            was stopped on Dify (nothing was produced: the row may be sent now).
        """
        assert self._client is not None
        run_id = str(ids["workflow_run_id"])
        deadline = time.monotonic() + self.recover_timeout
        last: Exception | None = None
        while True:
            try:
                detail = await self._client.get_workflow_run(run_id)
            except Exception as exc:  # keep trying until the deadline
                last = exc
                detail = None
            if detail is not None and detail.status != "running":
                break
            if time.monotonic() >= deadline:
                reason = failure.message or "interrupted"
                if last is not None:
                    reason += f"; reading the run back failed: {_classify(last).message}"
                else:
                    reason += "; the run was still running on Dify"
                code = failure.code
                return self._error(row, _Failure(code, reason, failure.status_code), attempts, ids)
            await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        if detail.status == "stopped":
            return None
        result = RowResult(
            id=row.id,
            index=row.index,
            state="ok" if detail.status in _OK_STATUSES else "error",
            output=detail.outputs,
            total_tokens=detail.total_tokens or 0,
            attempts=attempts,
            task_id=ids.get("task_id"),
            workflow_run_id=run_id,
            recovered=True,
            fingerprint=row.fingerprint,
        )
        if not result.ok:
            result.error_code = (
                "workflow_failed" if detail.status == "failed" else str(detail.status)
            )
            result.error = detail.error or f"workflow run {detail.status}"
        return result


def run_batch(rows: Any, **options: Any) -> BatchResult:
    """Run an app over ``rows`` (blocking). Options: see `BatchRunner`."""
    return BatchRunner(**options).run(rows)


async def arun_batch(rows: Any, **options: Any) -> BatchResult:
    """Run an app over ``rows``. Options: see `BatchRunner`."""
    return await BatchRunner(**options).arun(rows)

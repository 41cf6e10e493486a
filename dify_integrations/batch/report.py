"""Per-row results, the run summary and the progress line."""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TextIO

__all__ = ["BatchSummary", "Progress", "RowResult"]


@dataclass
class RowResult:
    """The outcome of one row: its answer, or the error that ended it.

    Attributes:
        id: The row id (checkpoint key).
        index: Position of the row in the input.
        state: ``"ok"`` or ``"error"``.
        output: Workflow ``outputs`` (a dict) or the chat/completion answer (a string).
        error_code: Dify's error code, or ``connection_lost``, ``timeout``, ``rate_limited``,
            ``workflow_failed``, ``cancelled``, ``interrupted``, ``input_changed``...
        error: The error message (never contains the key).
        status_code: HTTP status of the error, if any.
        retryable: Whether a re-run may send the row again without risking a second run of
            it on Dify (``False`` when the request may have reached Dify).
        prompt_tokens, completion_tokens, total_tokens: Usage reported by Dify.
        total_price, currency: Price reported by Dify (a decimal string).
        latency: Seconds from the last send to the answer, measured here.
        attempts: Requests sent for this row in this run (429s retried count too).
        task_id, workflow_run_id, message_id, conversation_id: Dify ids, when known.
        recovered: The answer was read back from Dify (``GET /workflows/run/{id}``) after
            the connection dropped, instead of from the stream.
        skipped: Finished in an earlier run (read from the results file, not sent now).
        fingerprint: Hash of the row content.
        t: ``time.time()`` when the row finished.
    """

    id: str
    index: int
    state: Literal["ok", "error"]
    output: Any = None
    error_code: str | None = None
    error: str | None = None
    status_code: int | None = None
    retryable: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    total_price: str | None = None
    currency: str | None = None
    latency: float | None = None
    attempts: int = 0
    task_id: str | None = None
    workflow_run_id: str | None = None
    message_id: str | None = None
    conversation_id: str | None = None
    recovered: bool = False
    skipped: bool = False
    fingerprint: str | None = None
    t: float = field(default_factory=time.time)

    @property
    def ok(self) -> bool:
        """``state == "ok"``."""
        return self.state == "ok"

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready record written to the results file."""
        record = asdict(self)
        record.pop("skipped")
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any], *, skipped: bool = True) -> RowResult:
        """Rebuild a result from a results-file record (unknown fields ignored)."""
        known = {k: v for k, v in record.items() if k in cls.__dataclass_fields__}
        known["id"] = str(known["id"])
        return cls(**{**known, "skipped": skipped})


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


@dataclass
class BatchSummary:
    """What a batch run did.

    Attributes:
        rows: Rows in the input.
        succeeded: Rows with an answer (this run or an earlier one).
        failed: Rows that ended with an error.
        skipped: Rows finished by an earlier run (not sent now).
        sent: Rows sent in this run.
        errors: Failures by error code.
        prompt_tokens, completion_tokens, total_tokens: Token totals of this run's rows.
        price: Total price by currency (decimal strings), this run's rows.
        latency_p50, latency_p90, latency_p99, latency_max: Seconds, rows answered now.
        elapsed: Wall-clock seconds of this run.
        rate_limited: 429 answers seen.
        cancelled: The run was cancelled before every row finished.
    """

    rows: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    sent: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    price: dict[str, str] = field(default_factory=dict)
    latency_p50: float | None = None
    latency_p90: float | None = None
    latency_p99: float | None = None
    latency_max: float | None = None
    elapsed: float = 0.0
    rate_limited: int = 0
    cancelled: bool = False

    @property
    def rows_per_second(self) -> float:
        """Rows finished in this run per wall-clock second."""
        return (self.sent / self.elapsed) if self.elapsed > 0 else 0.0

    @classmethod
    def build(
        cls, results: list[RowResult], rows: int, elapsed: float, rate_limited: int = 0
    ) -> BatchSummary:
        """Summarise ``results`` (one per finished row)."""
        summary = cls(rows=rows, elapsed=elapsed, rate_limited=rate_limited)
        errors: Counter[str] = Counter()
        prices: dict[str, Decimal] = {}
        latencies: list[float] = []
        for r in results:
            if r.ok:
                summary.succeeded += 1
            else:
                summary.failed += 1
                errors[r.error_code or "unknown"] += 1
            if r.skipped:
                summary.skipped += 1
                continue
            summary.sent += 1
            summary.prompt_tokens += r.prompt_tokens
            summary.completion_tokens += r.completion_tokens
            summary.total_tokens += r.total_tokens
            if r.total_price:
                try:
                    amount = Decimal(r.total_price)
                except InvalidOperation:
                    amount = Decimal(0)
                key = r.currency or "?"
                prices[key] = prices.get(key, Decimal(0)) + amount
            if r.ok and r.latency is not None:
                latencies.append(r.latency)
        latencies.sort()
        summary.errors = dict(errors.most_common())
        summary.price = {k: str(v) for k, v in prices.items()}
        summary.latency_p50 = _percentile(latencies, 0.5)
        summary.latency_p90 = _percentile(latencies, 0.9)
        summary.latency_p99 = _percentile(latencies, 0.99)
        summary.latency_max = latencies[-1] if latencies else None
        return summary

    def __str__(self) -> str:
        def ms(v: float | None) -> str:
            return "-" if v is None else f"{v * 1000:.0f} ms"

        lines = [
            f"rows {self.rows}: {self.succeeded} ok, {self.failed} failed"
            f" ({self.skipped} from an earlier run, {self.sent} sent now)"
            + (" - CANCELLED" if self.cancelled else ""),
            f"time {self.elapsed:.1f} s, {self.rows_per_second:.1f} rows/s"
            f", {self.rate_limited} rate-limited answers (429)",
            f"tokens {self.total_tokens} (prompt {self.prompt_tokens}, "
            f"completion {self.completion_tokens})"
            + "".join(f", price {v} {k}" for k, v in self.price.items()),
            f"latency p50 {ms(self.latency_p50)}, p90 {ms(self.latency_p90)}, "
            f"p99 {ms(self.latency_p99)}, max {ms(self.latency_max)}",
        ]
        if self.errors:
            lines.append(
                "failures by code: " + ", ".join(f"{k} {v}" for k, v in self.errors.items())
            )
        return "\n".join(lines)


class Progress:
    """A one-line progress display on a terminal (silent when ``stream`` is not a TTY)."""

    def __init__(self, total: int, enabled: bool | None = None, stream: TextIO | None = None):
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = (bool(isatty and isatty())) if enabled is None else enabled
        self.total = total
        self.done = 0
        self.errors = 0
        self.tokens = 0
        self._start = time.monotonic()
        self._last = 0.0

    def update(self, result: RowResult) -> None:
        """Count a finished row and redraw at most ten times a second."""
        self.done += 1
        self.errors += 0 if result.ok else 1
        self.tokens += result.total_tokens
        now = time.monotonic()
        if self.enabled and (now - self._last >= 0.1 or self.done == self.total):
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        pct = 100.0 * self.done / self.total if self.total else 100.0
        self.stream.write(
            f"\r{self.done}/{self.total} ({pct:3.0f}%) {rate:7.1f} rows/s  errors {self.errors}"
            f"  tokens {self.tokens}  eta {eta:5.0f} s "
        )
        self.stream.flush()

    def close(self) -> None:
        """End the progress line."""
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()

"""Retry policy: the pure decision, ``Retry-After`` parsing, and the tenacity strategies.

The strategies are built once per client (`RetryPolicy`) and handed to both
`tenacity.Retrying` (sync) and `tenacity.AsyncRetrying` (async), so both clients retry
exactly the same way. What is retried:

* a connection that failed before the request could be sent (any operation);
* HTTP 429, and Dify's concurrency-cap 400 (``Too many requests...``), honouring
  ``Retry-After`` (seconds or HTTP-date) capped at `MAX_RETRY_AFTER`;
* HTTP 502/503/504, timeouts and connections lost after sending, only for idempotent
  operations (GET, retrieve, stop, rename).

A POST that creates a message or a workflow run is never resent once the server may have
received it, and streams are only retried while opening: never after the first event.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_base,
    stop_after_attempt,
)
from tenacity.wait import wait_base

from .errors import APIConnectionError, APIStatusError, BadRequestError, RateLimitError
from .operations import Operation

T = TypeVar("T")

__all__ = [
    "INITIAL_BACKOFF",
    "MAX_BACKOFF",
    "MAX_RETRY_AFTER",
    "RetryPolicy",
    "backoff_delay",
    "parse_retry_after",
    "retry_delay",
    "should_retry",
]

logger = logging.getLogger("dify_integrations")

INITIAL_BACKOFF: Final = 0.5
MAX_BACKOFF: Final = 8.0
MAX_RETRY_AFTER: Final = 60.0
_IDEMPOTENT_RETRY_STATUSES: Final = frozenset({502, 503, 504})


def _is_concurrency_cap(exc: BaseException) -> bool:
    return (
        isinstance(exc, BadRequestError)
        and exc.code == "invalid_param"
        and exc.message.startswith("Too many requests")
    )


def should_retry(exc: BaseException, op: Operation[Any]) -> bool:
    """Whether ``exc`` raised by ``op`` may be retried.

    Args:
        exc: The exception raised by one attempt.
        op: The operation.

    Returns:
        ``True`` when resending cannot duplicate work on the server.
    """
    if isinstance(exc, APIConnectionError):
        return not exc.request_sent or op.idempotent
    if isinstance(exc, RateLimitError) or _is_concurrency_cap(exc):
        return True
    if isinstance(exc, APIStatusError):
        return op.idempotent and exc.status_code in _IDEMPOTENT_RETRY_STATUSES
    return False


def parse_retry_after(
    value: str | None, *, now: float | None = None, cap: float = MAX_RETRY_AFTER
) -> float | None:
    """Parse a ``Retry-After`` header: delta seconds or an HTTP-date.

    Args:
        value: The header value.
        now: Current Unix time (for tests); defaults to `time.time`.
        cap: Longest delay honoured.

    Returns:
        Seconds to wait, between 0 and ``cap``; ``None`` if absent or unparsable.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:  # pragma: no cover - older Pythons
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(seconds, cap))


def backoff_delay(attempt: int, *, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter.

    Args:
        attempt: Number of the attempt that just failed (1-based).
        rng: Random source (for tests).

    Returns:
        ``min(MAX_BACKOFF, INITIAL_BACKOFF * 2 ** (attempt - 1))`` minus up to 25 % jitter.
    """
    base: float = min(MAX_BACKOFF, INITIAL_BACKOFF * 2.0 ** max(0, attempt - 1))
    jitter: float = (rng or random).random() * 0.25
    return base * (1.0 - jitter)


def retry_delay(exc: BaseException | None, attempt: int) -> float:
    """Seconds to wait before the next attempt.

    Args:
        exc: The exception of the failed attempt.
        attempt: Number of the attempt that just failed (1-based).

    Returns:
        ``Retry-After`` (capped) when the server sent one, else `backoff_delay`.
    """
    if isinstance(exc, APIStatusError):
        headers = exc.response_headers
        retry_ms = headers.get("retry-after-ms")
        if retry_ms is not None:
            try:
                return float(max(0.0, min(float(retry_ms) / 1000.0, MAX_RETRY_AFTER)))
            except ValueError:
                pass
        parsed = parse_retry_after(headers.get("retry-after"))
        if parsed is not None:
            return parsed
    return backoff_delay(attempt)


def _log_decision(op: Operation[Any], attempt: int, exc: BaseException, decision: bool) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "%s %s attempt %d failed with %s: %s",
            op.method,
            op.path,
            attempt,
            type(exc).__name__,
            "retryable" if decision else "not retried",
        )


class _RetryDecision(retry_base):
    """tenacity predicate: `should_retry` on the operation passed as first argument."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        if outcome is None or not outcome.failed:
            return False
        exc = outcome.exception()
        op = retry_state.args[0] if retry_state.args else None
        if exc is None or not isinstance(op, Operation):
            return False
        decision = should_retry(exc, op)
        # tenacity counts the attempts it made; the first attempt was made before it.
        _log_decision(op, retry_state.attempt_number + 1, exc, decision)
        return decision


class _RetryWait(wait_base):
    """tenacity wait: `retry_delay` (Retry-After, else exponential backoff with jitter)."""

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        delay = retry_delay(exc, retry_state.attempt_number + 1)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("retrying in %.2f s", delay)
        return delay


_DECISION: Final = _RetryDecision()
_WAIT: Final = _RetryWait()


class RetryPolicy:
    """tenacity strategies built once and shared by `Retrying` and `AsyncRetrying`.

    The first attempt runs outside tenacity (a call that succeeds, which is nearly every
    call, builds no retry state); only a retryable failure hands the *remaining* attempts
    to `Retrying` / `AsyncRetrying`, whose strategies count the first one in.

    Args:
        max_retries: Retries after the first attempt (0 disables retrying).
    """

    __slots__ = ("_kwargs", "max_retries")

    def __init__(self, max_retries: int) -> None:
        self.max_retries = max_retries
        self._kwargs: dict[str, Any] = {
            "stop": stop_after_attempt(max(max_retries, 1)),
            "wait": _WAIT,
            "retry": _DECISION,
            "reraise": True,
        }

    def after_first_failure(self, exc: BaseException, op: Operation[Any]) -> float | None:
        """Decide on the first attempt's failure.

        Returns:
            The seconds to wait before the second attempt, or ``None`` when ``exc`` must
            be raised (not retryable, or retries are off).
        """
        decision = self.max_retries > 0 and should_retry(exc, op)
        _log_decision(op, 1, exc, decision)
        if not decision:
            return None
        delay = retry_delay(exc, 1)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("retrying in %.2f s", delay)
        return delay

    def call(self, send: Callable[[Operation[Any]], T], op: Operation[Any]) -> T:
        """Run ``send(op)``, retrying what `should_retry` allows (sync)."""
        try:
            return send(op)
        except Exception as exc:
            delay = self.after_first_failure(exc, op)
            if delay is None:
                raise
        time.sleep(delay)
        return self.retrying()(send, op)

    async def acall(self, send: Callable[[Operation[Any]], Awaitable[T]], op: Operation[Any]) -> T:
        """Run ``await send(op)``, retrying what `should_retry` allows (async)."""
        try:
            return await send(op)
        except Exception as exc:
            delay = self.after_first_failure(exc, op)
            if delay is None:
                raise
        await asyncio.sleep(delay)
        result: T = await self.async_retrying()(send, op)
        return result

    def retrying(self) -> Retrying:
        """A fresh `tenacity.Retrying` for the attempts after the first."""
        return Retrying(**self._kwargs)

    def async_retrying(self) -> AsyncRetrying:
        """A fresh `tenacity.AsyncRetrying` for the attempts after the first."""
        return AsyncRetrying(**self._kwargs)

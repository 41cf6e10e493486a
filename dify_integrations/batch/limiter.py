"""A client-side request rate limit that adapts to Dify's 429s (AIMD).

`RateLimiter` spaces request starts ``1 / rate`` seconds apart. When the server answers
429 (or Dify's "Too many requests" concurrency cap), `RateLimiter.on_rate_limited` holds
every sender until ``Retry-After`` has passed and cuts the rate (multiplicative decrease)
to ``decrease`` times the lower of the current rate and the rate at which requests were
recently *answered successfully* (what the server really admits). A burst of 429s from one overload
cuts once: only a request started after the last cut can cut again. The rate then grows
back linearly with time (additive increase: ``increase`` requests per second, each second)
until the ceiling, or until the next 429. With ``adaptive=False`` the rate stays fixed and
only ``Retry-After`` is honoured: the baseline the benchmark compares against.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable

__all__ = ["RateLimiter"]

_WINDOW = 2.0  # seconds of history used to estimate rates


class RateLimiter:
    """Request-start spacing with an AIMD-adapted rate, for one event loop.

    Args:
        rate: Ceiling in requests per second (``None``: no ceiling; unlimited until the
            first 429, which sets the rate from what the server answered).
        adaptive: Cut on 429 and recover with time (``False``: fixed rate).
        min_rate: Floor of the adapted rate, requests per second.
        increase: Requests per second added back per second (default: 2 % of the
            ceiling, or 5 % of the rate after the last cut, at least 0.5).
        decrease: Factor applied on a 429.
        clock: Monotonic clock (for tests).
    """

    def __init__(
        self,
        rate: float | None = None,
        *,
        adaptive: bool = True,
        min_rate: float = 0.2,
        increase: float | None = None,
        decrease: float = 0.7,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate is not None and (not math.isfinite(rate) or rate <= 0):
            raise ValueError("rate must be a positive number of requests per second or None")
        if not 0 < decrease < 1:
            raise ValueError("decrease must be between 0 and 1")
        if min_rate <= 0:
            raise ValueError("min_rate must be positive")
        if increase is not None and increase <= 0:
            raise ValueError("increase must be positive")
        self.ceiling = rate
        self.adaptive = adaptive
        self.min_rate = min_rate if rate is None else min(min_rate, rate)
        self._increase = increase
        self.decrease = decrease
        self._clock = clock
        self.rate: float | None = rate  # current rate; None = unlimited
        self._next = 0.0  # earliest start of the next request
        self._hold_until = 0.0  # Retry-After: nobody starts before this
        self._starts: deque[float] = deque()
        self._answers: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._last_cut = -math.inf
        self._first_start: float | None = None
        self._cut_rate: float | None = None
        self._grown_at = clock()
        self.rate_limited = 0  # 429s seen
        self.cuts = 0  # times the rate was cut
        self.lowest_rate: float | None = rate

    @property
    def increase(self) -> float:
        """Requests per second added back per second."""
        if self._increase is not None:
            return self._increase
        if self.ceiling is not None:
            return max(0.5, self.ceiling * 0.02)
        return max(0.5, (self._cut_rate or 1.0) * 0.05)

    def _recent(self, stamps: deque[float]) -> float:
        now = self._clock()
        while stamps and stamps[0] < now - _WINDOW:
            stamps.popleft()
        # Early in a run the window is as long as the run so far (not an underestimate).
        first = self._first_start if self._first_start is not None else now
        return len(stamps) / max(0.25, min(_WINDOW, now - first))

    def admitted_rate(self) -> float:
        """Requests answered successfully per second, recently: what the server admits."""
        return self._recent(self._answers)

    def started_rate(self) -> float:
        """Requests started per second, recently."""
        return self._recent(self._starts)

    async def acquire(self) -> float:
        """Wait for this request's turn (spacing and any ``Retry-After`` hold).

        Returns:
            The start time, to pass back to `on_rate_limited`.
        """
        async with self._lock:
            while True:
                now = self._clock()
                start = max(now, self._hold_until)
                if self.rate is not None:
                    start = max(start, self._next)
                if start <= now:
                    break
                await asyncio.sleep(start - now)
            if self.rate is not None:
                self._next = max(now, self._next) + 1.0 / self.rate
            self._starts.append(now)
            if self._first_start is None:
                self._first_start = now
            if len(self._starts) > 100_000:
                self._starts.popleft()
            return now

    def on_success(self) -> None:
        """Count an answer; additive increase towards the ceiling, with time."""
        now = self._clock()
        self._answers.append(now)
        if len(self._answers) > 100_000:
            self._answers.popleft()
        if not self.adaptive or self.rate is None or now <= self._grown_at:
            return
        grown = self.rate + self.increase * (now - self._grown_at)
        self._grown_at = now
        self.rate = grown if self.ceiling is None else min(self.ceiling, grown)

    def on_rate_limited(self, retry_after: float | None, started: float | None = None) -> None:
        """Hold every sender for ``retry_after`` seconds and cut the rate (once per overload).

        Args:
            retry_after: Seconds from ``Retry-After`` (``None``: no hold).
            started: When the refused request started (from `acquire`); a request that
                started before the last cut does not cut again.
        """
        self.rate_limited += 1
        now = self._clock()
        if retry_after is not None and retry_after > 0:
            self._hold_until = max(self._hold_until, now + retry_after)
        if not self.adaptive:
            return
        if started is not None and started <= self._last_cut:
            return
        if started is None and now < self._last_cut + 1.0:
            return
        admitted = self.admitted_rate()
        if admitted > 0:  # what the server answered lately (at most the current rate)
            base = admitted if self.rate is None else min(admitted, self.rate)
        else:  # nothing answered yet: from the current rate, or what was sent
            base = self.rate if self.rate is not None else max(self.started_rate(), 1.0)
        self.rate = max(self.min_rate, base * self.decrease)
        self._cut_rate = self.rate
        self._last_cut = now
        self._grown_at = max(now, self._hold_until)  # grow again once the hold is over
        self.cuts += 1
        if self.lowest_rate is None or self.rate < self.lowest_rate:
            self.lowest_rate = self.rate

    def __repr__(self) -> str:
        rate = "unlimited" if self.rate is None else f"{self.rate:.2f}/s"
        return f"RateLimiter(rate={rate}, ceiling={self.ceiling}, adaptive={self.adaptive})"

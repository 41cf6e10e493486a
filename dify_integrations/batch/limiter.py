"""A client-side request rate limit that adapts to Dify's 429s (AIMD).

`RateLimiter` spaces request starts ``1 / rate`` seconds apart. When the server answers
429 (or Dify's "Too many requests" concurrency cap), `RateLimiter.on_rate_limited`
halves the rate (multiplicative decrease) and holds every sender until ``Retry-After``
has passed; each success then adds a small step back (additive increase) until the
configured ceiling is reached again. With ``adaptive=False`` the rate stays fixed and only
``Retry-After`` is honoured: the baseline the benchmark compares against.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable

__all__ = ["RateLimiter"]

_WINDOW = 2.0  # seconds of request starts used to estimate the achieved rate


class RateLimiter:
    """Request-start spacing with an AIMD-adapted rate, for one event loop.

    Args:
        rate: Ceiling in requests per second (``None``: no ceiling until the first 429,
            then the achieved rate at that moment is the starting point).
        adaptive: Halve on 429 and recover on success (``False``: fixed rate).
        min_rate: Floor of the adapted rate, requests per second.
        increase: Requests per second added back per success (default: 2 % of the
            ceiling, at least 0.05).
        decrease: Factor applied to the rate on a 429.
        clock: Monotonic clock (for tests).
    """

    def __init__(
        self,
        rate: float | None = None,
        *,
        adaptive: bool = True,
        min_rate: float = 0.2,
        increase: float | None = None,
        decrease: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate is not None and (not math.isfinite(rate) or rate <= 0):
            raise ValueError("rate must be a positive number of requests per second or None")
        if not 0 < decrease < 1:
            raise ValueError("decrease must be between 0 and 1")
        if min_rate <= 0:
            raise ValueError("min_rate must be positive")
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
        self._lock = asyncio.Lock()
        self.rate_limited = 0  # 429s seen
        self.lowest_rate: float | None = rate
        self._last_cut = -math.inf

    @property
    def increase(self) -> float:
        """Requests per second added back per success."""
        if self._increase is not None:
            return self._increase
        reference = self.ceiling if self.ceiling is not None else (self.rate or 1.0)
        return max(0.05, reference * 0.02)

    def achieved_rate(self) -> float:
        """Request starts per second over the last couple of seconds."""
        now = self._clock()
        while self._starts and self._starts[0] < now - _WINDOW:
            self._starts.popleft()
        return len(self._starts) / _WINDOW

    async def acquire(self) -> None:
        """Wait for this request's turn (spacing and any ``Retry-After`` hold)."""
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

    def on_success(self) -> None:
        """Additive increase back towards the ceiling."""
        if not self.adaptive or self.rate is None:
            return
        raised = self.rate + self.increase
        self.rate = raised if self.ceiling is None else min(self.ceiling, raised)

    def on_rate_limited(self, retry_after: float | None) -> None:
        """Multiplicative decrease, and hold every sender for ``retry_after`` seconds."""
        self.rate_limited += 1
        now = self._clock()
        if retry_after is not None and retry_after > 0:
            self._hold_until = max(self._hold_until, now + retry_after)
        if not self.adaptive:
            return
        current = self.rate if self.rate is not None else max(self.achieved_rate(), 1.0)
        # One halving per hold window: a burst of 429s from the same overload counts once.
        if now < self._last_cut + max(0.2, 1.0 / current):
            return
        self._last_cut = now
        self.rate = max(self.min_rate, current * self.decrease)
        if self.lowest_rate is None or self.rate < self.lowest_rate:
            self.lowest_rate = self.rate

    def __repr__(self) -> str:
        rate = "unlimited" if self.rate is None else f"{self.rate:.2f}/s"
        return f"RateLimiter(rate={rate}, ceiling={self.ceiling}, adaptive={self.adaptive})"

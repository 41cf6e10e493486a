"""The AIMD rate limiter's arithmetic, on a clock the test moves."""

from __future__ import annotations

import pytest

from dify_integrations.batch import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_cuts_once_per_overload_then_recovers_with_time():
    clock = Clock()
    limiter = RateLimiter(100.0, clock=clock)
    first = await limiter.acquire()
    limiter.on_rate_limited(1.0, first)
    assert limiter.rate == pytest.approx(70.0)  # nothing admitted yet: from the rate
    limiter.on_rate_limited(1.0, first)  # started before the cut: the same overload
    assert limiter.rate == pytest.approx(70.0)
    assert limiter.cuts == 1
    clock.now += 2.0  # the hold is over; two seconds into the run
    for _ in range(20):  # 20 answers within the last two seconds: 10/s admitted
        limiter.on_success()
    later = await limiter.acquire()
    limiter.on_rate_limited(None, later)
    assert limiter.rate == pytest.approx(7.0)  # 0.7 x what the server answered
    assert limiter.rate_limited == 3
    assert limiter.lowest_rate == pytest.approx(7.0)
    for _ in range(60):  # additive increase: 2 % of the ceiling per second
        clock.now += 1.0
        limiter.on_success()
    assert limiter.rate == pytest.approx(100.0)  # capped at the ceiling


def test_fixed_rate_never_changes_but_honours_retry_after():
    clock = Clock()
    limiter = RateLimiter(10.0, adaptive=False, clock=clock)
    limiter.on_rate_limited(2.0)
    limiter.on_success()
    assert limiter.rate == 10.0
    assert limiter._hold_until == clock.now + 2.0


def test_no_ceiling_starts_unlimited_and_cuts_from_the_achieved_rate():
    limiter = RateLimiter(None, clock=Clock())
    assert limiter.rate is None
    limiter.on_rate_limited(None)
    assert limiter.rate == pytest.approx(0.7)  # nothing started yet: from 1 request/s
    assert limiter.min_rate == 0.2


async def test_acquire_spaces_starts_by_the_rate():
    clock = Clock()
    limiter = RateLimiter(4.0, clock=clock)
    await limiter.acquire()
    assert limiter._next == pytest.approx(clock.now + 0.25)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"rate": 0.0}, "positive"), ({"rate": float("nan")}, "positive"),
     ({"decrease": 1.0}, "decrease"), ({"min_rate": 0}, "min_rate"),
     ({"increase": -1.0}, "increase")],
)  # fmt: skip
def test_bad_settings(kwargs: dict[str, float], message: str):
    with pytest.raises(ValueError, match=message):
        RateLimiter(**kwargs)

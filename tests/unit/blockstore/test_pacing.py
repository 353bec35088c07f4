"""TokenBucket on a fake clock: the rate is shared, idle credit is capped, 0 is unlimited."""

from __future__ import annotations

import pytest

from blockstore.pacing import TokenBucket
from tests.unit.blockstore.helpers import FakeClock

RATE = 1000.0  # bytes per second


def bucket(clock: FakeClock, *, rate: float = RATE, burst_s: float = 0.0) -> TokenBucket:
    return TokenBucket(rate, burst_s=burst_s, clock=clock, sleep=clock.sleep)


def test_bucket_makes_caller_wait_for_bytes_beyond_the_rate() -> None:
    clock = FakeClock()
    pace = bucket(clock)

    assert pace.reserve(500) == pytest.approx(0.5)
    clock.now = 0.5  # the caller waited as told: the debt is paid
    assert pace.reserve(250) == pytest.approx(0.25)


def test_bucket_debt_is_shared_by_callers_drawing_at_once() -> None:
    clock = FakeClock()
    pace = bucket(clock)

    delays = [pace.reserve(1000) for _ in range(3)]

    assert delays == pytest.approx([1.0, 2.0, 3.0])  # together, still 1000 bytes a second


def test_bucket_starts_with_burst_credit_and_idle_time_earns_no_more() -> None:
    clock = FakeClock()
    pace = bucket(clock, burst_s=0.5)

    assert pace.reserve(500) == 0.0  # a fresh bucket holds burst_s of credit
    assert pace.reserve(100) == pytest.approx(0.1)
    clock.now = 100.0  # a long lull earns burst_s of credit, not 100 s of it
    assert pace.reserve(500) == 0.0
    assert pace.reserve(1000) == pytest.approx(1.0)


def test_bucket_of_rate_zero_never_waits() -> None:
    clock = FakeClock()
    pace = bucket(clock, rate=0)

    assert [pace.reserve(10**12) for _ in range(3)] == [0.0, 0.0, 0.0]


async def test_bucket_take_sleeps_only_when_over_budget() -> None:
    clock = FakeClock()
    pace = bucket(clock, burst_s=1.0)

    await pace.take(1000)  # within the burst: no sleep at all
    await pace.take(2000)

    assert clock.slept == pytest.approx([2.0])


@pytest.mark.parametrize("rate, burst_s", [(-1, 0.1), (RATE, -0.1), (float("nan"), 0.1),
                                           (float("inf"), 0.1)])
def test_bucket_refuses_negative_or_non_finite_settings(rate: float, burst_s: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, burst_s=burst_s)

"""Join limits: a token bucket per user and a cap on live sessions, on a controlled clock."""

from __future__ import annotations

import pytest

from streaming.limits import JoinLimiter, JoinRefused, TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_beyond_the_rate_is_refused_with_a_retry_time_and_refills():
    clock = Clock()
    limiter = JoinLimiter(per_minute=6, max_sessions=100, clock=clock)
    for _ in range(6):
        limiter.admit("user:1", live_sessions=0)
    with pytest.raises(JoinRefused, match="at most 6 per minute") as refused:
        limiter.admit("user:1", live_sessions=0)
    assert refused.value.retry_after == 10  # one join every 10 s
    limiter.admit("user:2", live_sessions=0)  # somebody else is not affected
    clock.now += 10
    limiter.admit("user:1", live_sessions=0)
    with pytest.raises(JoinRefused):
        limiter.admit("user:1", live_sessions=0)


def test_too_many_live_sessions_are_refused_without_using_a_join():
    limiter = JoinLimiter(per_minute=2, max_sessions=3, clock=Clock())
    with pytest.raises(JoinRefused, match="already have 3 live sessions") as refused:
        limiter.admit("user:1", live_sessions=3)
    assert refused.value.retry_after == 30
    limiter.admit("user:1", live_sessions=2)
    limiter.admit("user:1", live_sessions=2)


def test_memory_stays_bounded_with_many_users():
    clock = Clock()
    limiter = JoinLimiter(per_minute=60, max_sessions=5, clock=clock)
    for n in range(5000):
        limiter.admit(f"subject:{n}", live_sessions=0)
        clock.now += 0.1
    assert len(limiter.joins) <= 1100


def test_token_buckets_refill_per_key() -> None:
    now = [0.0]
    buckets = TokenBuckets(per_minute=3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == 20  # one token back every 20 s
    assert buckets.take("b") == 0  # another address has its own bucket
    now[0] = 20.0
    assert buckets.take("a") == 0 and buckets.take("a") == 20

"""Join limits for WHEP: a token bucket of joins per user, and a cap on a user's live sessions.

A join costs the room PC a peer connection, ICE and a DTLS handshake; a script (or a stuck
player) joining a thousand times must not take the room down for everybody else. Each user (or
token subject) has a bucket of ``per_minute`` joins that refills continuously; an empty bucket
refuses with the seconds until the next join is allowed. Separately, one user holds at most
``max_sessions`` live sessions at once (a tab closed without leaving is counted until ICE
consent expires, about 30 s).

``TokenBuckets`` is the bucket on its own, for other per-key limits (the public certificate
verification page limits each client address with it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

#: A closed tab's session ends when ICE consent expires (aioice: 6 missed checks, ~5 s apart).
CONSENT_EXPIRY_SECONDS = 30


class JoinRefused(Exception):
    """Too many joins or sessions; ``retry_after`` seconds until trying again makes sense."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """``per_minute`` actions per key (a user, an address), refilling continuously.

    ``take`` spends one and returns 0, or returns the whole seconds until one is back. Memory
    stays bounded: a bucket that has refilled completely is the same as none and is dropped.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0:
            raise ValueError("a rate limit must be positive")
        self.per_minute = per_minute
        self._rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> int:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.per_minute), now)
        else:
            bucket.tokens = min(
                float(self.per_minute), bucket.tokens + (now - bucket.updated) * self._rate
            )
            bucket.updated = now
        if bucket.tokens < 1.0:
            return math.ceil((1.0 - bucket.tokens) / self._rate)
        bucket.tokens -= 1.0
        self._forget_full(now)
        return 0

    def _forget_full(self, now: float) -> None:
        if len(self._buckets) < 1024:
            return
        full = [
            key for key, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self._rate >= self.per_minute
        ]
        for key in full:
            del self._buckets[key]


class JoinLimiter:
    def __init__(
        self, per_minute: int, max_sessions: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= 0 or max_sessions <= 0:
            raise ValueError("join limits must be positive")
        self.per_minute = per_minute
        self.max_sessions = max_sessions
        self.joins = TokenBuckets(per_minute, clock)

    def admit(self, key: str, live_sessions: int) -> None:
        """Take one join for ``key`` (who holds ``live_sessions`` now), or raise JoinRefused."""
        if live_sessions >= self.max_sessions:
            raise JoinRefused(
                f"you already have {live_sessions} live sessions (at most "
                f"{self.max_sessions}): close a player you no longer watch; a closed tab "
                f"is noticed within about {CONSENT_EXPIRY_SECONDS} s",
                retry_after=CONSENT_EXPIRY_SECONDS,
            )
        wait = self.joins.take(key)
        if wait:
            raise JoinRefused(
                f"too many joins: at most {self.per_minute} per minute per user; "
                f"try again in {wait} s",
                retry_after=wait,
            )

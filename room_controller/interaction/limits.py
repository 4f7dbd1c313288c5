"""The classroom's bounds: text lengths, counts, and how fast one person may send.

Every number a message can grow is bounded here, so a single participant can never make the
hub (or what it records) grow without end. Rates are token buckets per person and per kind of
action: a burst is allowed, a sustained flood is refused with the time to wait.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from room_controller.interaction.errors import Invalid, RateLimited

MAX_CHAT = 500  # characters of a chat message
MAX_QUESTION = 500  # characters of a question
MAX_POLL_QUESTION = 300
MAX_POLL_OPTION = 100
MIN_POLL_OPTIONS, MAX_POLL_OPTIONS = 2, 6
MIN_POLL_SECONDS, MAX_POLL_SECONDS = 5, 600
MAX_OPEN_POLLS = 3  # polls accepting answers at once
MAX_POLLS = 50  # polls of one live session
MAX_QUESTIONS = 500  # questions of one live session
MAX_HANDS = 500  # people in the raised-hand queue
MAX_NAME = 100  # characters of a display name as shown
CHAT_KEPT = 200  # chat messages a newcomer is shown
BACKLOG = 2000  # events kept for a rejoining client ("since seq N")
MAX_ID = 40  # characters of an id a client sends back


@dataclass(frozen=True)
class Rate:
    """A bucket of ``burst`` tokens refilled at ``per_second``."""

    burst: float
    per_second: float
    what: str  # "chat messages and questions", for the error message


# Per person. Chat and questions share one bucket: both are "saying something".
RATES: dict[str, Rate] = {
    "message": Rate(30, 15, "messages"),  # anything at all, even junk: the flood guard
    "say": Rate(5, 0.5, "chat messages and questions"),
    "vote": Rate(10, 1, "votes"),
    "hand": Rate(4, 0.2, "raised and lowered hands"),
    "answer": Rate(5, 1, "poll answers"),
    "moderate": Rate(40, 10, "moderation actions"),
}

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # a newline is text, other controls are not


def check_text(name: str, value: object, limit: int, *, single_line: bool = False) -> str:
    """``value`` stripped, or ``Invalid`` saying what is wrong with it."""
    if not isinstance(value, str):
        raise Invalid(f"{name} must be text")
    text = value.strip()
    if not text:
        raise Invalid(f"{name} is empty")
    if len(text) > limit:
        raise Invalid(f"{name} is {len(text)} characters long; the limit is {limit}")
    if _CONTROL.search(text) or (single_line and "\n" in text):
        raise Invalid(f"{name} contains control characters" if _CONTROL.search(text)
                      else f"{name} must be a single line")
    return text


def check_id(name: str, value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID:
        raise Invalid(f"{name} must be an id (text of 1 to {MAX_ID} characters)")
    return value


def check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid(f"{name} must be a whole number from {low} to {high}")
    return value


class TokenBucket:
    """``burst`` tokens, refilled continuously; ``take`` returns the wait when empty."""

    def __init__(self, rate: Rate, now: float) -> None:
        self.rate = rate
        self.tokens = float(rate.burst)
        self.at = now

    def take(self, now: float) -> float:
        """Take one token: 0.0 when there was one, else the seconds until there is."""
        self.tokens = min(self.rate.burst, self.tokens + (now - self.at) * self.rate.per_second)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate.per_second


class RateLimiter:
    """The buckets of every participant; ``check`` raises ``RateLimited`` when one is empty."""

    MAX_KEYS = 20_000  # people tracked at once: past that, full buckets are forgotten

    def __init__(self, clock: Callable[[], float], rates: dict[str, Rate] | None = None) -> None:
        self.clock = clock
        self.rates = dict(RATES if rates is None else rates)
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def check(self, who: str, kind: str) -> None:
        now = self.clock()
        bucket = self._buckets.get((who, kind))
        if bucket is None:
            if len(self._buckets) >= self.MAX_KEYS:
                self._forget_full(now)
            bucket = self._buckets[(who, kind)] = TokenBucket(self.rates[kind], now)
        wait = bucket.take(now)
        if wait > 0:
            raise RateLimited(bucket.rate.what, wait)

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled completely holds no information: drop those.
        for key, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.at) * bucket.rate.per_second >= bucket.rate.burst:
                del self._buckets[key]

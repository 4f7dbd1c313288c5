"""The classroom's bounds: text lengths, counts, and how fast one person may send.

Every number a message can grow is bounded here, so a single participant can never make the
hub (or what it records) grow without end. Rates are token buckets per person and per kind of
action: a burst is allowed, a sustained flood is refused with the time to wait.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from library.i18n import LazyText, lazy
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
    reason: LazyText  # "Slow down: too many votes.", for the error message


# Per person. Chat and questions share one bucket: both are "saying something".
RATES: dict[str, Rate] = {
    # anything at all, even junk: the flood guard
    "message": Rate(30, 15, lazy("Slow down: too many messages.")),
    "say": Rate(5, 0.5, lazy("Slow down: too many chat messages and questions.")),
    "vote": Rate(10, 1, lazy("Slow down: too many votes.")),
    "hand": Rate(4, 0.2, lazy("Slow down: you raised and lowered your hand too often.")),
    "answer": Rate(5, 1, lazy("Slow down: too many poll answers.")),
    "moderate": Rate(40, 10, lazy("Slow down: too many moderation actions.")),
}

# What a text field is refused for, one full sentence per field (no sentence is glued from a
# field's name and a predicate: the languages decline and agree differently).
TEXT_REFUSALS: dict[str, dict[str, LazyText]] = {
    "chat": {
        "empty": lazy("The chat message is empty."),
        "long": lazy("The chat message is %(length)s characters long; the limit is %(limit)s."),
        "control": lazy("The chat message contains control characters."),
        "line": lazy("The chat message must be a single line."),
    },
    "question": {
        "empty": lazy("The question is empty."),
        "long": lazy("The question is %(length)s characters long; the limit is %(limit)s."),
        "control": lazy("The question contains control characters."),
        "line": lazy("The question must be a single line."),
    },
    "poll": {
        "empty": lazy("The poll's question is empty."),
        "long": lazy("The poll's question is %(length)s characters long; the limit is "
                     "%(limit)s."),
        "control": lazy("The poll's question contains control characters."),
        "line": lazy("The poll's question must be a single line."),
    },
    "option": {
        "empty": lazy("Option %(number)s is empty."),
        "long": lazy("Option %(number)s is %(length)s characters long; the limit is %(limit)s."),
        "control": lazy("Option %(number)s contains control characters."),
        "line": lazy("Option %(number)s must be a single line."),
    },
}

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # a newline is text, other controls are not


def check_text(field: str, value: object, limit: int, *, single_line: bool = False,
               number: int = 0) -> str:
    """``value`` stripped, or ``Invalid`` saying what is wrong with it; ``field`` is a key of
    ``TEXT_REFUSALS`` ("chat", "question", "poll", "option" with its ``number``)."""

    def refused(why: str, **params: int) -> Invalid:
        sentence = TEXT_REFUSALS[field][why]
        return Invalid(lazy(sentence.message, None, number=number, **params)
                       if field == "option" or params else sentence)

    if not isinstance(value, str):
        raise Invalid(lazy("The text must be text (a JSON string)."))
    text = value.strip()
    if not text:
        raise refused("empty")
    if len(text) > limit:
        raise refused("long", length=len(text), limit=limit)
    if _CONTROL.search(text):
        raise refused("control")
    if single_line and "\n" in text:
        raise refused("line")
    return text


def check_id(name: str, value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID:
        raise Invalid(lazy("%(name)s must be an id (text of 1 to %(max)s characters)", name=name,
                           max=MAX_ID))
    return value


def check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid(lazy("%(name)s must be a whole number from %(low)s to %(high)s",
                           name=name, low=low, high=high))
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
            raise RateLimited(bucket.rate.reason, wait)

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled completely holds no information: drop those.
        for key, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.at) * bucket.rate.per_second >= bucket.rate.burst:
                del self._buckets[key]

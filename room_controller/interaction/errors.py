"""What the classroom refuses, and why: every refusal is an ``InteractionError`` whose ``code``
a client can act on and whose message a person can read."""

from __future__ import annotations

import math


class InteractionError(Exception):
    """A message the hub refused; ``code`` is stable, ``str()`` says what to do."""

    code = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(InteractionError):
    """The message itself is wrong: a missing field, too long, an unknown id."""

    code = "invalid"


class NotAllowed(InteractionError):
    """The participant may not do this (a student moderating, voting twice...)."""

    code = "forbidden"


class Conflict(InteractionError):
    """Right message, wrong moment: the poll has closed, the hand is already raised."""

    code = "conflict"


class RateLimited(InteractionError):
    """Too many messages: ``retry_after`` seconds until the next one is taken."""

    code = "rate_limited"

    def __init__(self, what: str, retry_after: float) -> None:
        self.retry_after = max(0.1, math.ceil(retry_after * 10) / 10)
        seconds = max(1, math.ceil(self.retry_after))
        super().__init__(f"Slow down: too many {what}. You can send again in {seconds} s.")

"""What the classroom refuses, and why: every refusal is an ``InteractionError`` whose ``code``
a client can act on and whose message a person can read.

The message is a ``library.i18n.LazyText``: the socket sends it in the language of the page that
opened it (decided at the handshake, like any request's), while ``str()`` stays English for logs
and tests. A rate limit also carries its ``reason`` alone and ``retry_after``, so a page can count
the wait down in its own words."""

from __future__ import annotations

import math

from library.i18n import LazyText, lazy


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
    """Too many messages: ``retry_after`` seconds until the next one is taken; ``reason`` is
    the sentence saying what was sent too fast ("Slow down: too many votes.")."""

    code = "rate_limited"

    def __init__(self, reason: LazyText, retry_after: float) -> None:
        self.retry_after = max(0.1, math.ceil(retry_after * 10) / 10)
        self.reason = reason
        self.seconds = max(1, math.ceil(self.retry_after))
        super().__init__(lazy("%(reason)s You can send again in %(seconds)s s.",
                              reason=str(reason), seconds=self.seconds))

    def shown(self) -> str:
        """The message in the current language (the reason is translated on its own)."""
        from library.i18n import gettext, shown

        return gettext("%(reason)s You can send again in %(seconds)s s.",
                       reason=shown(self.reason), seconds=self.seconds)

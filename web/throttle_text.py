"""Telling someone who is held back (too many failed log-ins or refused check-ins) how long
to wait, in their language, with each language's plural forms ("15 minute", "20 de minute";
"2 минута", "5 минута")."""

from __future__ import annotations

import math

from library.checkin_throttle import CheckInThrottled
from library.i18n import gettext, ngettext
from library.login_throttle import LoginThrottled


def span(seconds: int) -> str:
    """'45 seconds' under a minute and a half, else whole minutes ('15 minutes')."""
    if seconds < 90:
        return ngettext("%(num)s second", "%(num)s seconds", seconds)
    return ngettext("%(num)s minute", "%(num)s minutes", math.ceil(seconds / 60))


def login_throttled(exc: LoginThrottled) -> str:
    params = {"limit": exc.limit, "window": span(exc.window_seconds),
              "wait": span(exc.retry_after)}
    if exc.scope == "account":
        return gettext("Too many failed log-ins for this account (at most %(limit)s in "
                       "%(window)s). Try again in %(wait)s.", **params)
    return gettext("Too many failed log-ins for this address (at most %(limit)s in "
                   "%(window)s). Try again in %(wait)s.", **params)


def checkin_throttled(exc: CheckInThrottled) -> str:
    params = {"limit": exc.limit, "window": span(exc.window_seconds),
              "seconds": exc.retry_after}
    if exc.scope == "account":
        return gettext("Too many refused check-ins from your account (at most %(limit)s in "
                       "%(window)s). Try again in %(seconds)s s, with the code on the screen at "
                       "that moment.", **params)
    return gettext("Too many refused check-ins from this network (at most %(limit)s in "
                   "%(window)s). Try again in %(seconds)s s, with the code on the screen at "
                   "that moment.", **params)

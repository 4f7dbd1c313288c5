"""Check-in throttling: a phone guessing codes is slowed per account and per client address.

The same idea as ``library.login_throttle`` (whose sliding failure window this reuses): only
refused attempts count, counted before the check runs and taken back when it succeeds. The
limits differ: a hall of sixty phones often shares one address (the hospital's Wi-Fi), so the
address limit is high, and one account guessing is stopped early. A success does not clear
the address's failures.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from library.login_throttle import _Window

PER_ACCOUNT = 10  # refused check-ins of one account
ACCOUNT_WINDOW = 300.0
PER_ADDRESS = 300  # refused check-ins from one address (a hall behind one NAT)
ADDRESS_WINDOW = 300.0


class CheckInThrottled(Exception):
    """Too many refused check-ins; the message is English, the fields let a page say it in the
    reader's language (``web.throttle_text``)."""

    def __init__(self, message: str, retry_after: int, scope: str = "account", limit: int = 0,
                 window_seconds: int = 0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.scope = scope  # "account" or "address"
        self.limit = limit
        self.window_seconds = window_seconds


@dataclass(frozen=True)
class Attempt:
    account: str
    address: str
    at_account: float
    at_address: float


class CheckInThrottle:
    def __init__(self, per_account: int = PER_ACCOUNT, account_window: float = ACCOUNT_WINDOW,
                 per_address: int = PER_ADDRESS, address_window: float = ADDRESS_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.accounts = _Window(per_account, account_window, clock)
        self.addresses = _Window(per_address, address_window, clock)

    def begin(self, account: str, address: str) -> Attempt:
        """Count one attempt, or raise ``CheckInThrottled`` saying when to try again."""
        for scope, what, window, key in (("account", "your account", self.accounts, account),
                                         ("address", "this network", self.addresses, address)):
            wait = window.wait(key)
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                raise CheckInThrottled(
                    f"Too many refused check-ins from {what} (at most {window.limit} in "
                    f"{int(window.seconds) // 60} minutes). Try again in {seconds} s, with the "
                    "code on the screen at that moment.", seconds, scope, window.limit,
                    int(window.seconds))
        return Attempt(account, address, self.accounts.add(account), self.addresses.add(address))

    def succeeded(self, attempt: Attempt) -> None:
        self.accounts.remove(attempt.account, attempt.at_account)
        self.addresses.remove(attempt.address, attempt.at_address)

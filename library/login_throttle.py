"""Login throttling: so many failed log-ins per account and per client address, then a wait.

Guessing passwords is slowed on two axes. Per account (the name as typed, normalised like the
user lookup, so guessing at a name that does not exist is throttled the same way and does not
tell which accounts exist): ``per_account`` failures within ``account_window`` seconds, then
every attempt on that account is refused, the right password included, until the oldest failure
leaves the window. Per client address: ``per_address`` failures within ``address_window``
seconds, which stops one machine spraying one password over many accounts.

Only failures count. An attempt is counted *before* the password is checked (the check takes
tens of milliseconds off the event loop, and concurrent attempts must not all slip past the
limit in that time) and taken back when it succeeds. A success clears the account's failures but
not the address's: one valid account must not buy its address fresh guesses at others.
Memory is bounded: each key keeps at most its limit of timestamps, and keys whose failures have
all left the window are dropped.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from config.settings import Settings
from library.users import normalize_username

_PRUNE_AT = 4096


class LoginThrottled(Exception):
    """Too many failed log-ins; ``retry_after`` whole seconds until the next attempt counts."""

    def __init__(self, message: str, retry_after: int, scope: str, limit: int = 0,
                 window_seconds: int = 0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.scope = scope  # "account" or "address"
        # What the message says, for a page that says it in the reader's language.
        self.limit = limit
        self.window_seconds = window_seconds


class _Window:
    """Failure times per key within a sliding window of ``seconds``, at most ``limit`` each."""

    def __init__(self, limit: int, seconds: float, clock: Callable[[], float]) -> None:
        if limit <= 0 or seconds <= 0:
            raise ValueError("a login limit and its window must be positive")
        self.limit, self.seconds, self._clock = limit, seconds, clock
        self._failures: dict[str, deque[float]] = {}

    def __len__(self) -> int:
        return len(self._failures)

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        now = self._clock()
        failures = self._failures.get(key)
        if failures is None:
            return 0.0
        while failures and failures[0] <= now - self.seconds:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return 0.0
        if len(failures) < self.limit:
            return 0.0
        return failures[0] + self.seconds - now

    def add(self, key: str) -> float:
        """Count a failure of ``key`` now; returns its time, to take it back by."""
        if len(self._failures) >= _PRUNE_AT:
            self._prune()
        at = self._clock()
        self._failures.setdefault(key, deque(maxlen=self.limit)).append(at)
        return at

    def remove(self, key: str, at: float) -> None:
        failures = self._failures.get(key)
        if failures is not None and at in failures:
            failures.remove(at)
            if not failures:
                del self._failures[key]

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)

    def _prune(self) -> None:
        oldest = self._clock() - self.seconds
        for key in [k for k, f in self._failures.items() if not f or f[-1] <= oldest]:
            del self._failures[key]


@dataclass(frozen=True)
class Attempt:
    """One log-in being checked, counted as a failure until ``LoginThrottle.succeeded``."""

    account: str
    address: str
    at_address: float


def _in_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


class LoginThrottle:
    def __init__(
        self, per_account: int, account_window: float, per_address: int, address_window: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.accounts = _Window(per_account, account_window, clock)
        self.addresses = _Window(per_address, address_window, clock)

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        return cls(settings.login_failures_per_account, settings.login_account_window_seconds,
                   settings.login_failures_per_address, settings.login_address_window_seconds)

    def begin(self, username: str, address: str) -> Attempt:
        """Count one attempt, or raise ``LoginThrottled`` saying when to try again."""
        # Real names have at most 64 characters: a megabyte typed as one must not be kept.
        account = normalize_username(username)[:100]
        for scope, window, key in (("account", self.accounts, account),
                                   ("address", self.addresses, address)):
            wait = window.wait(key)
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                what = ("this account" if scope == "account" else "this address")
                raise LoginThrottled(
                    f"Too many failed log-ins for {what} (at most {window.limit} in "
                    f"{_in_words(int(window.seconds))}). Try again in {_in_words(seconds)}.",
                    retry_after=seconds, scope=scope, limit=window.limit,
                    window_seconds=int(window.seconds),
                )
        self.accounts.add(account)
        return Attempt(account, address, self.addresses.add(address))

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the attempt is not a failure, the account starts afresh."""
        self.accounts.clear(attempt.account)
        self.addresses.remove(attempt.address, attempt.at_address)

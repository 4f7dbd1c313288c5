"""The session media clock: seconds of recorded media, paused time excluded.

Every timed thing of a recording (video packets after a resume, markers, notes, strokes, chat)
is stamped with this one clock, so that the timeline lines up with the files, whose paused
stretches are cut out.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class MediaClock:
    """A stopwatch over ``time.monotonic`` that can be paused; not thread-safe (loop only)."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._started: float | None = None
        self._paused_at: float | None = None
        self._paused_total = 0.0

    def start(self) -> None:
        self._started = self._now()
        self._paused_at = None
        self._paused_total = 0.0

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = self._now()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._paused_total += self._now() - self._paused_at
            self._paused_at = None

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def __call__(self) -> float:
        """Media seconds so far (0 before start; frozen while paused)."""
        if self._started is None:
            return 0.0
        end = self._paused_at if self._paused_at is not None else self._now()
        return max(0.0, end - self._started - self._paused_total)

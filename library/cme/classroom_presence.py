"""Presence proven by classroom check-ins: the time between the presence checks one answered.

A live session has presence checks (number 1 at its start, more when the instructor or the
random timer asks). A person who answered check *k* is present from that check's opening (or
from their answer, when they came later than ``ON_TIME`` after it opened: a late arrival is
absent before) until the next check opens, or the session ends after the last one. A check they
did not answer proves nothing until the next one they answer: missing check *k* leaves a gap
from its opening to the next check. The programme's drop tolerance then applies to these gaps
exactly as to a dropped video connection (``library.cme.attendance``): one engine, one rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

# How long after a check opens an answer still counts from the opening: scanning a code takes
# a phone out of a pocket, not an instant.
ON_TIME = timedelta(minutes=3)


@dataclass(frozen=True)
class CheckMoment:
    id: int
    opened_at: datetime


@dataclass(frozen=True)
class Answer:
    check_id: int
    at: datetime


@dataclass(frozen=True)
class Proven:
    start: datetime
    end: datetime


def proven_intervals(checks: Sequence[CheckMoment], answers: Sequence[Answer],
                     session_end: datetime, on_time: timedelta = ON_TIME) -> list[Proven]:
    """The stretches of one live session that one person's answers prove, in order."""
    ordered = sorted(checks, key=lambda c: c.opened_at)
    answered = {a.check_id: a.at for a in answers}
    out = []
    for i, check in enumerate(ordered):
        at = answered.get(check.id)
        if at is None:
            continue
        start = check.opened_at if at - check.opened_at <= on_time else at
        end = ordered[i + 1].opened_at if i + 1 < len(ordered) else session_end
        if end > start:
            out.append(Proven(start, end))
    return out

"""What the CME final-test API and pages show of a test and its attempts.

A participant never receives a correct answer: an attempt shows its questions and options only
while it runs, and its score once it is submitted or expired.
"""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from library.cme.quiz import QuestionKind, allowed_attempts
from library.cme.quiz_store import Attempt, attempts_of, pass_ratio, test_window
from library.cme.store import ProgrammeInfo, get_programme
from library.db import Database
from library.models import utcnow


class ShownQuestion(BaseModel):
    question_id: int
    kind: QuestionKind
    text: str
    options: list[str]


class AttemptOut(BaseModel):
    id: str
    programme_id: int
    number: int
    allowed: int
    started_at: datetime
    deadline_at: datetime
    seconds_left: int
    state: str = Field(..., description="running, submitted or expired")
    questions: list[ShownQuestion]
    correct: int | None = None
    total: int
    percent: float | None = None
    pass_percent: float
    passed: bool | None = None


class TestInfoOut(BaseModel):
    programme_id: int
    title: str
    questions: int
    time_limit_minutes: int
    allowed: int
    pass_percent: float
    opens_at: datetime
    closes_at: datetime
    open_now: bool
    status: str
    attempts: list[AttemptOut]


def _percent(ratio: Fraction) -> float:
    return round(float(ratio) * 100, 1)


def attempt_out(attempt: Attempt, now: datetime) -> AttemptOut:
    state = attempt.state(now)
    correct = attempt.correct
    return AttemptOut(
        id=attempt.id, programme_id=attempt.programme_id, number=attempt.number,
        allowed=attempt.allowed, started_at=attempt.started_at, deadline_at=attempt.deadline_at,
        seconds_left=max(0, int((attempt.deadline_at - now).total_seconds()))
        if state == "running" else 0,
        state=state,
        # Questions only while the attempt runs; never the correct options.
        questions=[ShownQuestion(question_id=q.question_id, kind=q.kind, text=q.text,
                                 options=list(q.options))
                   for q in attempt.questions] if state == "running" else [],
        correct=correct if correct is not None else (0 if state == "expired" else None),
        total=attempt.total,
        percent=round(100 * correct / attempt.total, 1) if correct is not None
        else (0.0 if state == "expired" else None),
        pass_percent=_percent(attempt.pass_ratio),
        passed=attempt.passed if correct is not None else (False if state == "expired" else None),
    )


def test_info(db: Database, info: ProgrammeInfo, person: str) -> TestInfoOut | None:
    """The programme's final test for ``person``; None when it has none."""
    test = info.programme.final_test
    if test is None:
        return None
    opens, closes = test_window(info.programme, ZoneInfo(info.timezone))
    now = utcnow()
    mine = [attempt_out(a, now) for a in attempts_of(db, info.id, person)]
    first = mine[0] if mine else None
    return TestInfoOut(
        programme_id=info.id, title=info.title, questions=test.question_count,
        time_limit_minutes=test.time_limit_minutes, allowed=allowed_attempts(test.max_attempts),
        # The engine's pass mark (attempts keep the one they were scored against).
        pass_percent=first.pass_percent if first else _percent(pass_ratio(info.programme)),
        opens_at=opens, closes_at=closes, open_now=opens <= now < closes,
        status=info.status.value, attempts=mine,
    )


def tests_of(db: Database, programme_ids: list[int], person: str) -> list[TestInfoOut]:
    """The final tests of these programmes (those that have one), for a doctor's own page."""
    tests = []
    for programme_id in programme_ids:
        info = get_programme(db, programme_id)
        found = test_info(db, info, person) if info is not None else None
        if found is not None:
            tests.append(found)
    return tests

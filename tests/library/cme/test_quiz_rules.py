"""What an attempt's state is and which pass mark a test shows (no database, no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

from library.cme import FinalTest, ProgrammeKind
from library.cme.quiz_store import Attempt, pass_ratio
from tests.library.cme.helpers import programme

START = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


def attempt(*, submitted: bool) -> Attempt:
    return Attempt(
        id="a1", programme_id=1, person_id="dr.ana", number=1, allowed=2, started_at=START,
        deadline_at=START + timedelta(minutes=30), questions=(),
        submitted_at=START + timedelta(minutes=10) if submitted else None,
        correct=20 if submitted else None, total=30, pass_ratio=Fraction(3, 4),
    )


def test_an_attempt_runs_until_its_deadline_then_expires_unless_submitted() -> None:
    running, done = attempt(submitted=False), attempt(submitted=True)
    assert running.state(START + timedelta(minutes=29)) == "running"
    assert running.state(START + timedelta(hours=1)) == "expired"
    assert done.state(START + timedelta(hours=1)) == "submitted"


def test_the_pass_mark_shown_is_the_one_the_engine_scores_against() -> None:
    """An online programme asking 80% passes at 80%; one asking 60% is raised to the 75%
    minimum (art. 10 lit. e); a course passes at what it asks."""
    online = ProgrammeKind.DISTANCE_ONLINE
    course = ProgrammeKind.CONTINUING_EDUCATION_COURSE
    def asking(kind: ProgrammeKind, ratio: Fraction) -> Fraction:
        return pass_ratio(programme(kind=kind, learning_hours=Fraction(10),
                                    final_test=FinalTest(30, ratio)))

    assert asking(online, Fraction(4, 5)) == Fraction(4, 5)
    assert asking(online, Fraction(3, 5)) == Fraction(3, 4)
    assert asking(course, Fraction(4, 5)) == Fraction(4, 5)

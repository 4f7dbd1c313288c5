"""Whether a participant was present for the whole programme (art. 5 lit. a) and passed its test.

Input is plain data a later step fills from MedRoom's records: for each participant, the seconds
they were present in each live session (key: the live session id), in each agenda item held
without a live session (key: the item's ref, e.g. from on-site check-in/out), and the seconds
they watched of each library lesson (key: the lesson id); plus their test attempts and, per live
session, what they did in its classroom (``Participation``: questions, poll answers, presence
checks answered of those asked, talkback time).

Presence is compared per live session, item or lesson: a participant qualifies when each one
was attended for all of its programme time. Art. 5 lit. a makes presence for the whole
programme compulsory, so the default tolerance is zero; a tolerance for network drops is a
setting the caller passes, in seconds per live session, item or lesson.

Presence checks (polls the instructor flags as such): a programme may ask that an attendee
answer at least a share of each live session's presence checks (``presence_check_percent``,
the organiser's choice, default none). A live session with no presence check asks nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from library.cme.errors import ProgrammeError
from library.cme.limits import MAX_TEST_ATTEMPTS, MIN_PASS_RATIO
from library.cme.programme import AgendaItem, Programme, ProgrammeKind, overlapping_groups


@dataclass(frozen=True)
class TestAttempt:
    """One attempt at the final test, as scored on the server."""

    __test__ = False  # not a pytest test class, despite the name

    correct: int
    total: int

    def __post_init__(self) -> None:
        if self.total <= 0 or not 0 <= self.correct <= self.total:
            raise ProgrammeError(
                f"test attempt: {self.correct} correct of {self.total}; need"
                " 0 <= correct <= total and total > 0"
            )

    @property
    def ratio(self) -> Fraction:
        return Fraction(self.correct, self.total)


@dataclass(frozen=True)
class Participation:
    """What one attendee did in one live session's classroom.

    ``checks_asked`` counts the session's presence checks that were theirs to answer (the
    store leaves out a session they followed only on a classroom's shared screen, where the
    classroom's own check-ins prove presence); ``checks_answered`` how many of those they
    answered.
    """

    questions: int = 0
    poll_answers: int = 0
    checks_asked: int = 0
    checks_answered: int = 0
    talkback_seconds: int = 0

    def __post_init__(self) -> None:
        counts = (self.questions, self.poll_answers, self.checks_asked, self.checks_answered,
                  self.talkback_seconds)
        if min(counts) < 0 or self.checks_answered > self.checks_asked:
            raise ProgrammeError(
                f"participation {counts}: counts cannot be negative, and no more presence"
                " checks can be answered than were asked"
            )


@dataclass(frozen=True)
class AttendeeRecord:
    """What MedRoom knows about one participant of one programme."""

    person_id: str
    seconds_present: Mapping[str, int] = field(default_factory=dict)
    test_attempts: tuple[TestAttempt, ...] = ()
    participation: Mapping[str, Participation] = field(default_factory=dict)
    """Per live session id (as ``seconds_present`` keys it)."""

    def __post_init__(self) -> None:
        for key, seconds in self.seconds_present.items():
            if seconds < 0:
                raise ProgrammeError(
                    f"attendee {self.person_id!r}: {seconds} s present in {key!r}; presence"
                    " cannot be negative"
                )


@dataclass(frozen=True)
class Gap:
    """A live session, item or lesson the participant did not attend in full."""

    unit: str
    required_seconds: int
    present_seconds: int

    @property
    def missing_seconds(self) -> int:
        return self.required_seconds - self.present_seconds


@dataclass(frozen=True)
class ChecksMissed:
    """A live session whose presence checks the participant answered too few of."""

    unit: str
    answered: int
    asked: int
    required_percent: int

    def describe(self) -> str:
        return (f"answered {self.answered} of {self.asked} presence checks in live session"
                f" {self.unit}; the programme asks for {self.required_percent} %")


@dataclass(frozen=True)
class TestOutcome:
    """How the final test went for one participant."""

    __test__ = False
    required: bool
    passed: bool
    counted_attempts: int
    ignored_attempts: int
    pass_ratio: Fraction
    best_ratio: Fraction | None


def presence_gaps(
    programme: Programme, record: AttendeeRecord, *, tolerance_seconds: int = 0
) -> tuple[Gap, ...]:
    """Every live session, agenda item or lesson the participant missed part of.

    Parallel sessions (art. 5 lit. g): a participant cannot be in two places at once, so for
    each block of parallel items only one track is required, the one that best matches where
    the participant actually was.
    """
    if tolerance_seconds < 0:
        raise ProgrammeError(f"tolerance {tolerance_seconds} s cannot be negative")
    present = record.seconds_present
    need: dict[str, int] = defaultdict(int)
    parallel: list[dict[str, dict[str, int]]] = []
    for component in _components(programme.agenda):
        per_track: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for item in component:
            per_track[item.track][_unit(item)] += item.seconds
        if len(per_track) == 1:
            for unit, seconds in next(iter(per_track.values())).items():
                need[unit] += seconds
        else:
            parallel.append(per_track)
    for per_track in parallel:
        best = min(
            sorted(per_track),
            key=lambda track: _shortfall(need, per_track[track], present),
        )
        for unit, seconds in per_track[best].items():
            need[unit] += seconds
    for lesson in programme.lessons:
        need[lesson.lesson_id] += lesson.duration_seconds
    gaps = []
    for unit in sorted(need):
        got = present.get(unit, 0)
        if got + tolerance_seconds < need[unit]:
            gaps.append(Gap(unit, need[unit], got))
    return tuple(gaps)


def presence_checks_missed(programme: Programme, record: AttendeeRecord
                           ) -> tuple[ChecksMissed, ...]:
    """Every live session of the programme whose presence checks the participant answered
    less than the programme's share of (exact: 1 of 3 is short of 34 %, 2 of 4 meets 50 %).

    Nothing when the programme asks for no share, or for a session with no check asked.
    """
    percent = programme.presence_check_percent
    if not percent:
        return ()
    units = sorted({_unit(i) for i in programme.agenda
                    if i.live_session_id is not None and i.kind.is_programme_time})
    missed = []
    for unit in units:
        done = record.participation.get(unit)
        if done is None or not done.checks_asked:
            continue
        if Fraction(done.checks_answered, done.checks_asked) * 100 < percent:
            missed.append(ChecksMissed(unit, done.checks_answered, done.checks_asked, percent))
    return tuple(missed)


def test_outcome(programme: Programme, record: AttendeeRecord) -> TestOutcome:
    """Whether the participant passed the final test within the allowed attempts.

    Distance programmes must test (art. 9 lit. a-b) at 75% or more (art. 10 lit. c, e), online
    ones with at most two attempts (art. 10 lit. e); a course's completion certificate states
    that its final evaluation was passed (art. 26 alin. (2)), so a course with a test requires
    passing it too. Attempts beyond the limit are ignored, never counted.
    """
    test = programme.final_test
    distance = programme.kind.is_distance
    required = test is not None or distance
    if test is None:
        return TestOutcome(required, not required, 0, len(record.test_attempts), Fraction(0), None)
    pass_ratio = max(test.pass_ratio, MIN_PASS_RATIO) if distance else test.pass_ratio
    allowed = test.max_attempts
    if programme.kind is ProgrammeKind.DISTANCE_ONLINE:
        allowed = min(allowed, MAX_TEST_ATTEMPTS)
    counted = record.test_attempts[:allowed]
    best = max((a.ratio for a in counted), default=None)
    return TestOutcome(
        required=True,
        passed=best is not None and best >= pass_ratio,
        counted_attempts=len(counted),
        ignored_attempts=len(record.test_attempts) - len(counted),
        pass_ratio=pass_ratio,
        best_ratio=best,
    )


def _unit(item: AgendaItem) -> str:
    return item.live_session_id if item.live_session_id is not None else item.ref


def _components(agenda: tuple[AgendaItem, ...]) -> list[list[AgendaItem]]:
    """Programme-time items grouped where they overlap in time (across tracks)."""
    return overlapping_groups(i for i in agenda if i.kind.is_programme_time)


def _shortfall(
    need: Mapping[str, int], extra: Mapping[str, int], present: Mapping[str, int]
) -> int:
    return sum(max(0, need.get(u, 0) + s - present.get(u, 0)) for u, s in extra.items())

"""Credits of a programme and of each participant, each result with how it was computed.

One effective hour is one credit: the text says so for online programmes (art. 10 lit. d) and
national events (art. 14 lit. b), and credits courses "by the number of effective hours"
(art. 8 lit. a). On top of that come the factors of art. 8 (courses), art. 10-11 (distance) and
art. 14 (events), the 60-credit cap (art. 5 lit. c) and rounding to whole credits at .50
(art. 5 lit. h). Arithmetic is exact (``Fraction``) until that final rounding, so a
result of exactly x.50 rounds up as the text says rather than by float luck.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import floor

from library.cme.attendance import (
    AttendeeRecord,
    ChecksMissed,
    Gap,
    presence_checks_missed,
    presence_gaps,
    test_outcome,
)
from library.cme.errors import ProgrammeError
from library.cme.limits import (
    ABROAD_COURSE_CREDITS_PER_DAY,
    ABROAD_COURSE_MAX_CREDITS,
    ABROAD_EVENT_CREDITS_PER_DAY,
    ABROAD_EVENT_MAX_CREDITS,
    CO_AUTHOR_SHARE,
    DISTANCE_CONTRIBUTOR_FACTOR,
    FIRST_AUTHOR_SHARE,
    GROUP_METHOD_FACTOR,
    JOURNAL_MAX_CREDITS_PER_ISSUE,
    LECTURER_FACTOR,
    LOCAL_EVENT_FACTOR,
    MAX_CREDITS_PER_PROGRAMME,
    MAX_DISTANCE_HOURS,
    MAX_WORKS,
    MOSTLY_PRACTICAL_SHARE,
    PRACTICAL_STAGE_FACTOR,
    TRAINER_FACTOR,
)
from library.cme.programme import LEVEL_NAMES, ItemKind, Level, Programme, ProgrammeKind
from library.cme.timeline import Split, day_times
from library.i18n import gettext, shown


@dataclass(frozen=True)
class Step:
    """One step of a computation: the article applied, what it did, the value after it."""

    article: str
    description: str
    value: Fraction

    def __str__(self) -> str:
        return f"{self.article}: {self.description} -> {_fmt(self.value)}"


@dataclass(frozen=True)
class CreditResult:
    credits: int
    exact: Fraction
    """Before rounding (art. 5 lit. h)."""
    uncapped: Fraction
    """Before the 60-credit cap (art. 5 lit. c)."""
    steps: tuple[Step, ...]

    def explain(self) -> str:
        return "\n".join(str(step) for step in self.steps)


@dataclass(frozen=True)
class AttendeeCredits:
    person_id: str
    credits: int
    exact: Fraction
    qualified: bool
    """Present throughout and passed the test where one is required (art. 5 lit. a)."""
    gaps: tuple[Gap, ...]
    steps: tuple[Step, ...]
    checks_missed: tuple[ChecksMissed, ...] = ()
    """Live sessions whose presence checks were answered below the programme's share."""

    def explain(self) -> str:
        return "\n".join(str(step) for step in self.steps)


def round_credits(value: Fraction) -> int:
    """Whole credits, rounding at 50 hundredths (art. 5 lit. h): 2.49 -> 2, 2.50 -> 3."""
    return floor(value + Fraction(1, 2))


def creditable_hours(programme: Programme) -> Fraction:
    """Hours that earn credits, before the factors of the programme's kind and level.

    For an agenda: effective time after parallel sessions counted once, the 6-hour daily cap,
    the break reduction and the 6-days-a-week limit (art. 5 lit. b, d, f, g). For a distance
    programme: the assessed learning time, at most 18 hours (art. 10 lit. a, art. 11 lit. b).
    """
    if programme.kind.is_distance:
        assert programme.learning_hours is not None  # Programme refuses a distance one without
        return min(programme.learning_hours, Fraction(MAX_DISTANCE_HOURS))
    return _agenda_split(programme).total / 60


def programme_credits(programme: Programme) -> CreditResult:
    """Credits a full participant earns, as the programme must announce them (art. 16 alin. (3))."""
    steps: list[Step] = []
    value = uncapped = _raw_credits(programme, steps)
    if value > MAX_CREDITS_PER_PROGRAMME:
        value = Fraction(MAX_CREDITS_PER_PROGRAMME)
        steps.append(Step("art. 5 lit. c", gettext("at most 60 credits per programme"), value))
    credits = round_credits(value)
    steps.append(Step("art. 5 lit. h", gettext("whole credits, rounded at .50"), Fraction(credits)))
    return CreditResult(credits, value, uncapped, tuple(steps))


def attendee_credits(
    programme: Programme,
    attendance: Sequence[AttendeeRecord],
    *,
    tolerance_seconds: int = 0,
) -> dict[str, AttendeeCredits]:
    """Credits of each participant in ``attendance``, by person id.

    A participant earns the programme's credits only when present for all of it and, where
    there is a final test, after passing it. Roles add or replace credits: event lecturers
    twice the event's credits (art. 14 lit. c), authors of papers half or a quarter more per
    work (art. 14 lit. d), course teachers twice the hours they delivered (art. 8 lit. e),
    distance-programme coordinators, authors and tutors three times their part (art. 11 lit. e).
    A role credit replaces the participant credit when larger (the text adds only the paper
    shares), and every result is capped at 60 (art. 5 lit. c) and rounded (art. 5 lit. h).
    """
    programme_result = programme_credits(programme)
    event_credits = Fraction(programme_result.credits)
    results: dict[str, AttendeeCredits] = {}
    for record in attendance:
        if record.person_id in results:
            raise ProgrammeError(
                f"attendee {record.person_id!r} appears twice in the attendance; merge the records"
            )
        gaps = presence_gaps(programme, record, tolerance_seconds=tolerance_seconds)
        missed = presence_checks_missed(programme, record)
        test = test_outcome(programme, record)
        steps: list[Step] = []
        if gaps:
            missing = sum(g.missing_seconds for g in gaps)
            where = ", ".join(g.unit for g in gaps)
            steps.append(
                Step(
                    "art. 5 lit. a",
                    gettext("absent for %(seconds)s s of the programme (%(where)s)",
                            seconds=missing, where=where),
                    Fraction(0),
                )
            )
        for shortfall in missed:
            # Presence confirmed by answering (the organiser's rule), reported as a gap is.
            steps.append(Step("art. 5 lit. a", shortfall.describe(), Fraction(0)))
        if test.ignored_attempts:
            steps.append(
                Step(
                    "art. 10 lit. e",
                    gettext("%(ignored)s attempt(s) beyond the allowed %(allowed)s ignored",
                            ignored=test.ignored_attempts, allowed=test.counted_attempts),
                    Fraction(0),
                )
            )
        if test.required and not test.passed:
            best = (
                gettext("no attempt") if test.best_ratio is None
                else gettext("best %(percent)s%%", percent=_fmt(test.best_ratio * 100))
            )
            steps.append(
                Step(
                    _test_article(programme),
                    gettext("final test not passed (%(best)s, pass at %(pass)s%%)", best=best,
                            **{"pass": _fmt(test.pass_ratio * 100)}),
                    Fraction(0),
                )
            )
        qualified = not gaps and not missed and (test.passed or not test.required)
        value = Fraction(0)
        if qualified:
            value = event_credits
            steps.append(
                Step("art. 5 lit. a", gettext("present throughout: the programme's credits"),
                     value)
            )
        value = _role_credits(programme, record.person_id, event_credits, value, steps)
        if value > MAX_CREDITS_PER_PROGRAMME:
            value = Fraction(MAX_CREDITS_PER_PROGRAMME)
            steps.append(Step("art. 5 lit. c", gettext("at most 60 credits per programme"), value))
        credits = round_credits(value)
        steps.append(Step("art. 5 lit. h", gettext("whole credits, rounded at .50"), Fraction(credits)))
        results[record.person_id] = AttendeeCredits(
            record.person_id, credits, value, qualified, gaps, tuple(steps), missed
        )
    return results


def _role_credits(
    programme: Programme,
    person_id: str,
    event_credits: Fraction,
    value: Fraction,
    steps: list[Step],
) -> Fraction:
    kind = programme.kind
    if kind is ProgrammeKind.SCIENTIFIC_EVENT:
        lectures = [
            i
            for i in programme.agenda
            if i.kind is ItemKind.LECTURE and i.speaker and i.speaker.person_id == person_id
        ]
        if lectures and LECTURER_FACTOR * event_credits > value:
            value = LECTURER_FACTOR * event_credits
            steps.append(
                Step(
                    "art. 14 lit. c",
                    gettext("lecturer (%(count)s lecture(s)): twice the event's %(credits)s"
                            " credits", count=len(lectures), credits=_fmt(event_credits)),
                    value,
                )
            )
        if value > 0:
            value = _paper_credits(programme, person_id, event_credits, value, steps)
    elif kind.is_course:
        minutes = sum(
            (
                i.minutes
                for i in programme.agenda
                if i.kind.is_effective and i.speaker and i.speaker.person_id == person_id
            ),
            Fraction(0),
        )
        trainer = TRAINER_FACTOR * minutes / 60
        if trainer > value:
            value = trainer
            steps.append(
                Step(
                    "art. 8 lit. e",
                    gettext("teacher/trainer: %(hours)s h delivered x %(factor)s",
                            hours=_fmt(minutes / 60), factor=TRAINER_FACTOR),
                    value,
                )
            )
    else:
        hours = sum(
            (c.learning_hours for c in programme.contributors if c.person_id == person_id),
            Fraction(0),
        )
        hours = min(hours, creditable_hours(programme))
        contributor = DISTANCE_CONTRIBUTOR_FACTOR * hours
        if contributor > value:
            value = contributor
            steps.append(
                Step(
                    "art. 11 lit. e",
                    gettext("coordinator/author/tutor of %(hours)s h of the programme x"
                            " %(factor)s", hours=_fmt(hours), factor=DISTANCE_CONTRIBUTOR_FACTOR),
                    value,
                )
            )
    return value


def _paper_credits(
    programme: Programme,
    person_id: str,
    event_credits: Fraction,
    value: Fraction,
    steps: list[Step],
) -> Fraction:
    """Art. 14 lit. d: per work, half the event's credits to the first author, a quarter to a
    co-author, for at most 3 works; the most valuable 3 count (first authorships first)."""
    shares = sorted(
        (
            FIRST_AUTHOR_SHARE if paper.first_author_id == person_id else CO_AUTHOR_SHARE
            for paper in programme.papers
            if person_id == paper.first_author_id or person_id in paper.co_author_ids
        ),
        reverse=True,
    )
    for share in shares[:MAX_WORKS]:
        value += share * event_credits
        text = (gettext("first author of a work: +%(share)s of %(credits)s", share=share,
                        credits=_fmt(event_credits)) if share == FIRST_AUTHOR_SHARE else
                gettext("co-author of a work: +%(share)s of %(credits)s", share=share,
                        credits=_fmt(event_credits)))
        steps.append(Step("art. 14 lit. d", text, value))
    if len(shares) > MAX_WORKS:
        steps.append(
            Step("art. 14 lit. d", gettext("%(count)s work(s) beyond 3 not counted",
                                           count=len(shares) - MAX_WORKS), value)
        )
    return value


def _agenda_split(programme: Programme) -> Split:
    total = Split()
    for day in day_times(programme):
        total = total.add(day.creditable)
    return total


def _raw_credits(programme: Programme, steps: list[Step]) -> Fraction:
    kind = programme.kind
    if programme.level is Level.INTERNATIONAL:
        if programme.foreign_credits is not None:
            article = {
                ProgrammeKind.SCIENTIFIC_EVENT: "art. 14 lit. e",
                ProgrammeKind.DISTANCE_ONLINE: "art. 11 lit. d",
                ProgrammeKind.DISTANCE_BY_POST: "art. 11 lit. d",
            }.get(kind, "art. 8 lit. g")
            value = Fraction(programme.foreign_credits)
            steps.append(Step(article, gettext("credits conferred by the international body"), value))
            return value
        if kind is ProgrammeKind.SCIENTIFIC_EVENT:
            value = min(
                Fraction(ABROAD_EVENT_CREDITS_PER_DAY * programme.days),
                Fraction(ABROAD_EVENT_MAX_CREDITS),
            )
            steps.append(
                Step(
                    "art. 14 lit. f",
                    gettext("abroad, no international credits: 6 x %(days)s day(s), at most 18",
                            days=programme.days),
                    value,
                )
            )
            return value
        if kind.is_course:
            effective = [i for i in programme.agenda if i.kind.is_effective]
            if effective and all(i.kind is ItemKind.PRACTICAL_STAGE for i in effective):
                steps.append(
                    Step(
                        "art. 8 lit. i",
                        gettext("practical stage abroad without international credits"),
                        Fraction(0),
                    )
                )
                return Fraction(0)
            value = min(
                Fraction(ABROAD_COURSE_CREDITS_PER_DAY * programme.days),
                Fraction(ABROAD_COURSE_MAX_CREDITS),
            )
            steps.append(
                Step(
                    "art. 8 lit. h",
                    gettext("course abroad, no international credits: 6 x %(days)s day(s), at"
                            " most 60", days=programme.days),
                    value,
                )
            )
            return value
    if kind.is_distance:
        return _distance_credits(programme, steps)
    _day_steps(programme, steps)
    split = _agenda_split(programme)
    theory, group, practical = split.theory / 60, split.group_method / 60, split.practical / 60
    if kind.is_course:
        value = theory
        steps.append(Step("art. 8 lit. a", gettext("%(hours)s effective hour(s) of theory",
                                                    hours=_fmt(theory)), value))
        if group:
            value += GROUP_METHOD_FACTOR * group
            steps.append(
                Step("art. 8 lit. b", gettext("%(hours)s h of Balint-type group work at 75%%",
                                              hours=_fmt(group)), value)
            )
        total = split.total / 60
        if practical and practical / total > MOSTLY_PRACTICAL_SHARE:
            value += practical
            steps.append(
                Step(
                    "art. 8 lit. d",
                    gettext("over 75%% practical (%(practical)s of %(total)s h): practical"
                            " hours counted as effective hours", practical=_fmt(practical),
                            total=_fmt(total)),
                    value,
                )
            )
        elif practical:
            value *= PRACTICAL_STAGE_FACTOR
            steps.append(
                Step(
                    "art. 8 lit. c",
                    gettext("associated practical stage (%(hours)s h): 125%% of the theory",
                            hours=_fmt(practical)),
                    value,
                )
            )
        return value
    hours = split.total / 60
    if programme.level in (Level.LOCAL, Level.REGIONAL):
        value = LOCAL_EVENT_FACTOR * hours
        steps.append(
            Step("art. 14 lit. a", gettext("%(level)s event: 75%% of %(hours)s h",
                                               level=shown(LEVEL_NAMES[programme.level]),
                                               hours=_fmt(hours)), value)
        )
    else:
        value = hours
        steps.append(Step("art. 14 lit. b", gettext("national event: %(hours)s effective h",
                                                     hours=_fmt(hours)), value))
    return value


def _distance_credits(programme: Programme, steps: list[Step]) -> Fraction:
    assert programme.learning_hours is not None
    hours = programme.learning_hours
    value = hours
    steps.append(Step("art. 10 lit. a", gettext("%(hours)s h of assessed learning time",
                                                 hours=_fmt(hours)), value))
    if programme.kind is ProgrammeKind.DISTANCE_ONLINE:
        if value > MAX_DISTANCE_HOURS:
            value = Fraction(MAX_DISTANCE_HOURS)
            steps.append(Step("art. 11 lit. b", gettext("at most 18 hours = 18 credits"), value))
        steps.append(Step("art. 10 lit. d", gettext("one hour of learning = one credit"), value))
    elif value > JOURNAL_MAX_CREDITS_PER_ISSUE:
        value = Fraction(JOURNAL_MAX_CREDITS_PER_ISSUE)
        steps.append(Step("art. 11 lit. a", gettext("at most two credits per journal issue"), value))
    return value


def _day_steps(programme: Programme, steps: list[Step]) -> None:
    """One step per day that the rules of art. 5 changed, so the organiser sees why."""
    for day in day_times(programme):
        for block in day.blocks:
            steps.append(
                Step(
                    "art. 5 lit. g",
                    f"{day.day}: parallel sessions on {', '.join(block.tracks)} counted once"
                    f" ({block.counted_track}, {_fmt(block.counted_minutes)} min)",
                    block.counted_minutes / 60,
                )
            )
        if day.effective.total > day.capped_minutes:
            steps.append(
                Step(
                    "art. 5 lit. d",
                    f"{day.day}: {_fmt(day.effective.total / 60)} h effective, at most 6 credited",
                    day.capped_minutes / 60,
                )
            )
        if day.break_penalty_minutes:
            steps.append(
                Step(
                    "art. 5 lit. d",
                    f"{day.day}: no 15-minute break every two hours, minus"
                    f" {_fmt(day.break_penalty_minutes)} min",
                    (day.capped_minutes - day.break_penalty_minutes) / 60,
                )
            )
        if not day.credited:
            steps.append(
                Step("art. 5 lit. b", f"{day.day}: 7th day in a week, not credited", Fraction(0))
            )
        if day.uncredited_refs:
            steps.append(
                Step(
                    "art. 5 lit. f",
                    f"{day.day}: outside opening-closing, not credited:"
                    f" {', '.join(day.uncredited_refs)}",
                    day.creditable.total / 60,
                )
            )


def _test_article(programme: Programme) -> str:
    if programme.kind is ProgrammeKind.DISTANCE_ONLINE:
        return "art. 10 lit. e"
    if programme.kind is ProgrammeKind.DISTANCE_BY_POST:
        return "art. 10 lit. c"
    return "art. 26 alin. (2)"


def _fmt(value: Fraction) -> str:
    """A readable number: whole numbers as such, others to two decimals."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.2f}"

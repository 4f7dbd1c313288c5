"""Credits worked out by hand from the procedure; the arithmetic is in each docstring."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import pytest

from library.cme import (
    ItemKind,
    Level,
    ProgrammeKind,
    creditable_hours,
    programme_credits,
    round_credits,
)
from tests.library.cme.helpers import DAY, full_day, item, lecture, pause, programme

COURSE = ProgrammeKind.POSTGRADUATE_COURSE
ONLINE = ProgrammeKind.DISTANCE_ONLINE
BY_POST = ProgrammeKind.DISTANCE_BY_POST


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Fraction(249, 100), 2), (Fraction(5, 2), 3), (Fraction(251, 100), 3), (Fraction(0), 0)],
)
def test_rounding_at_fifty_hundredths(value: Fraction, expected: int) -> None:
    """art. 5 lit. h: whole numbers, rounding at 50 hundredths."""
    assert round_credits(value) == expected


def test_national_event() -> None:
    """art. 14 lit. b: a national event earns its effective duration: 6 h -> 6 credits."""
    result = programme_credits(programme(*full_day()))
    assert creditable_hours(programme(*full_day())) == 6
    assert result.credits == 6
    assert [s.article for s in result.steps] == ["art. 14 lit. b", "art. 5 lit. h"]


def test_local_and_regional_events() -> None:
    """art. 14 lit. a: 75% of the effective duration.
    6 h local: 0.75 * 6 = 4.5 -> 5 (art. 5 lit. h); 5 h regional: 3.75 -> 4;
    3 h 20 min local: 0.75 * 10/3 = 2.5 -> 3 (exactly .50 rounds up)."""
    assert programme_credits(programme(*full_day(), level=Level.LOCAL)).exact == Fraction(9, 2)
    assert programme_credits(programme(*full_day(), level=Level.LOCAL)).credits == 5
    five = programme(*full_day()[:-1], lecture("l3", "14:00", "15:00"), level=Level.REGIONAL)
    assert programme_credits(five).credits == 4
    short = programme(
        lecture("a", "09:00", "11:00"), lecture("b", "11:15", "12:35"), level=Level.LOCAL
    )
    assert programme_credits(short).exact == Fraction(5, 2)
    assert programme_credits(short).credits == 3


def test_break_reduction() -> None:
    """art. 5 lit. d: 6 h with no 15-minute break: 15 min off for each 2 of the 6 hours:
    6 h - 3 * 15 min = 5.25 h -> national 5.25 credits -> 5."""
    prog = programme(
        lecture("a", "09:00", "11:00"),
        pause("short", "11:00", "11:10"),
        lecture("b", "11:10", "13:10"),
        lecture("c", "13:10", "15:10"),
    )
    assert creditable_hours(prog) == Fraction(21, 4)
    result = programme_credits(prog)
    assert result.credits == 5
    assert "no 15-minute break every two hours, minus 45 min" in result.explain()


def test_break_reduction_on_a_short_day() -> None:
    """3 h without a break: floor(3 / 2) = 1 block -> 15 min off -> 2.75 h -> 3 credits."""
    prog = programme(lecture("a", "09:00", "11:00"), lecture("b", "11:00", "12:00"))
    assert creditable_hours(prog) == Fraction(11, 4)
    assert programme_credits(prog).credits == 3


def test_six_hours_a_day_cap_then_reduction() -> None:
    """art. 5 lit. d: 8 h of lectures, breaks every 2 h -> capped at 6 h -> 6 credits.
    The same 8 h without a break: 6 h - 45 min = 5.25 -> 5 credits (cap first, then the
    reduction, which counts the blocks of the at most 6 creditable hours)."""
    with_breaks = programme(
        lecture("a", "08:00", "10:00"),
        lecture("b", "10:15", "12:15"),
        lecture("c", "12:30", "14:30"),
        lecture("d", "14:45", "16:45"),
    )
    assert programme_credits(with_breaks).credits == 6
    without = programme(*(lecture(f"x{h}", f"{h:02d}:00", f"{h + 1:02d}:00") for h in range(8, 16)))
    assert creditable_hours(without) == Fraction(21, 4)


def test_parallel_sessions_counted_once() -> None:
    """art. 5 lit. g: plenary 2 h; tracks A (2 h) and B (1.5 h) in parallel -> the longest
    counts: 2 + 2 = 4 h, not 5.5 -> 4 credits."""
    prog = programme(
        lecture("plenary", "09:00", "11:00"),
        lecture("a", "11:15", "13:15", track="A"),
        lecture("b", "11:15", "12:45", track="B"),
    )
    assert creditable_hours(prog) == 4
    assert programme_credits(prog).credits == 4


def test_week_of_seven_days() -> None:
    """art. 5 lit. b: 7 consecutive days of 6 h, national: 6 days * 6 h = 36 credits."""
    agenda = [i for n in range(7) for i in full_day(f"d{n}", day=DAY + timedelta(days=n))]
    result = programme_credits(programme(*agenda))
    assert result.credits == 36
    assert "2025-03-16: 7th day in a week, not credited" in result.explain()


def test_sixty_credit_cap() -> None:
    """art. 5 lit. c: 11 days of 6 h (a gap day after the 6th) = 66 -> 60."""
    days = [DAY + timedelta(days=n) for n in (0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11)]
    agenda = [i for n, d in enumerate(days) for i in full_day(f"d{n}", day=d)]
    result = programme_credits(programme(*agenda))
    assert result.uncapped == 66
    assert result.credits == 60


def test_ceremonies_and_satellites_earn_nothing() -> None:
    """Opening, closing, announcements and satellite symposia are not effective time
    (art. 5 lit. f for satellites): 2 h of lectures -> 2 credits."""
    prog = programme(
        item("open", ItemKind.OPENING, "08:30", "09:00"),
        lecture("a", "09:00", "11:00"),
        item("close", ItemKind.CLOSING, "11:00", "11:15"),
        item("sat", ItemKind.SATELLITE_SYMPOSIUM, "11:30", "12:30", title="Satellite"),
        lecture("after", "12:30", "13:00"),
    )
    assert programme_credits(prog).credits == 2


def test_course_theory_only() -> None:
    """art. 8 lit. a: a course earns its effective hours: 6 h -> 6."""
    assert programme_credits(programme(*full_day(), kind=COURSE)).credits == 6


def test_course_with_practical_stage() -> None:
    """art. 8 lit. c: 125% of the theory: 4 h theory + 2 h stage -> 1.25 * 4 = 5."""
    prog = programme(
        lecture("a", "09:00", "11:00"),
        item("demo", ItemKind.PRACTICAL_DEMONSTRATION, "11:15", "13:15"),
        item("stage", ItemKind.PRACTICAL_STAGE, "14:00", "16:00"),
        kind=COURSE,
    )
    result = programme_credits(prog)
    assert result.exact == 5
    assert "art. 8 lit. c" in [s.article for s in result.steps]


def test_course_exactly_three_quarters_practical() -> None:
    """art. 8 lit. c-d: 1 h theory + 3 h stage is 75%, not over 75%: 1.25 * 1 = 1.25 -> 1."""
    prog = programme(
        lecture("a", "09:00", "10:00"),
        item("s1", ItemKind.PRACTICAL_STAGE, "10:15", "12:15"),
        item("s2", ItemKind.PRACTICAL_STAGE, "12:30", "13:30"),
        kind=COURSE,
    )
    assert programme_credits(prog).exact == Fraction(5, 4)
    assert programme_credits(prog).credits == 1


def test_course_mostly_practical() -> None:
    """art. 8 lit. d: 1 h theory + 4 h stage = 80% practical: effective hours 1 + 4 = 5."""
    prog = programme(
        lecture("a", "09:00", "10:00"),
        item("s1", ItemKind.PRACTICAL_STAGE, "10:15", "12:15"),
        item("s2", ItemKind.PRACTICAL_STAGE, "12:30", "14:30"),
        kind=COURSE,
    )
    result = programme_credits(prog)
    assert result.credits == 5
    assert "art. 8 lit. d" in [s.article for s in result.steps]


def test_balint_group() -> None:
    """art. 8 lit. b: 2 h theory + 2 h Balint group at 75%: 2 + 1.5 = 3.5 -> 4."""
    prog = programme(
        lecture("a", "09:00", "11:00"),
        item("balint", ItemKind.GROUP_METHOD, "11:15", "13:15"),
        kind=COURSE,
    )
    assert programme_credits(prog).exact == Fraction(7, 2)
    assert programme_credits(prog).credits == 4


def test_international_with_foreign_credits() -> None:
    """art. 14 lit. e: the credits the international body conferred: 12."""
    prog = programme(*full_day(), level=Level.INTERNATIONAL, foreign_credits=12)
    assert programme_credits(prog).credits == 12
    assert programme_credits(prog).steps[0].article == "art. 14 lit. e"


def test_event_abroad_without_international_credits() -> None:
    """art. 14 lit. f: 6 per day, at most 18: 2 days -> 12, 4 days -> 24 -> 18."""
    two = programme(*full_day(), level=Level.INTERNATIONAL, ends_on=DAY + timedelta(days=1))
    four = programme(*full_day(), level=Level.INTERNATIONAL, ends_on=DAY + timedelta(days=3))
    assert programme_credits(two).credits == 12
    assert programme_credits(four).credits == 18


def test_course_abroad_without_international_credits() -> None:
    """art. 8 lit. h: 6 per day, at most 60: 5 days -> 30; 12 days -> 72 -> 60."""
    five = programme(
        *full_day(), kind=COURSE, level=Level.INTERNATIONAL, ends_on=DAY + timedelta(days=4)
    )
    twelve = programme(
        *full_day(), kind=COURSE, level=Level.INTERNATIONAL, ends_on=DAY + timedelta(days=11)
    )
    assert programme_credits(five).credits == 30
    assert programme_credits(twelve).credits == 60


def test_online_programme() -> None:
    """art. 10 lit. d, art. 11 lit. b: one hour of learning = one credit, at most 18:
    12.5 h -> 12.5 -> 13; 20 h -> 18."""
    assert programme_credits(programme(kind=ONLINE, learning_hours=Fraction(25, 2))).credits == 13
    assert programme_credits(programme(kind=ONLINE, learning_hours=Fraction(20))).credits == 18
    assert creditable_hours(programme(kind=ONLINE, learning_hours=Fraction(20))) == 18


def test_journal_article_by_post() -> None:
    """art. 10 lit. b, art. 11 lit. a: an article is two hours; at most 2 credits an issue."""
    assert programme_credits(programme(kind=BY_POST, learning_hours=Fraction(2))).credits == 2
    assert programme_credits(programme(kind=BY_POST, learning_hours=Fraction(4))).credits == 2

"""Bad input: data that cannot describe a programme is refused with a message naming it."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import pytest

from library.cme import (
    AttendeeRecord,
    Contributor,
    ContributorRole,
    DistanceMaterial,
    FinalTest,
    ItemKind,
    Lesson,
    ProgrammeError,
    ProgrammeKind,
    TestAttempt,
    attendee_credits,
    presence_gaps,
)
from tests.library.cme.helpers import DAY, full_day, item, lecture, programme


def test_item_ending_before_it_starts() -> None:
    with pytest.raises(
        ProgrammeError, match=r"'l1' on 2025-03-10: ends at 09:00, not after its start at 10:00"
    ):
        lecture("l1", "10:00", "09:00")


def test_item_of_zero_duration() -> None:
    with pytest.raises(ProgrammeError, match="'l1'.*not after its start"):
        lecture("l1", "10:00", "10:00")


def test_overlapping_items_on_one_track() -> None:
    with pytest.raises(ProgrammeError, match=r"track 'main', lecture 'a'.*overlaps lecture 'b'"):
        programme(lecture("a", "09:00", "10:00"), lecture("b", "09:59", "11:00"))


def test_items_touching_do_not_overlap() -> None:
    programme(lecture("a", "09:00", "10:00"), lecture("b", "10:00", "11:00"))


def test_overlap_on_separate_tracks_is_parallel_not_an_error() -> None:
    programme(lecture("a", "09:00", "10:00"), lecture("b", "09:30", "10:30", track="B"))


def test_satellite_symposium_may_overlap() -> None:
    programme(
        lecture("a", "09:00", "10:00"),
        item("sat", ItemKind.SATELLITE_SYMPOSIUM, "09:00", "10:00", title="Satellite"),
    )


def test_programme_ending_before_it_starts() -> None:
    with pytest.raises(ProgrammeError, match="ends on 2025-03-09, before it starts on 2025-03-10"):
        programme(starts_on=DAY, ends_on=DAY - timedelta(days=1))


def test_item_outside_the_programme_dates() -> None:
    with pytest.raises(ProgrammeError, match="'l1'.*outside the programme's dates"):
        programme(
            lecture("l1", "09:00", "10:00", day=DAY + timedelta(days=3)),
            ends_on=DAY + timedelta(days=1),
            starts_on=DAY,
        )


def test_duplicate_item_refs() -> None:
    with pytest.raises(ProgrammeError, match="agenda item ref 'x' is used twice"):
        programme(lecture("x", "09:00", "10:00"), lecture("x", "10:00", "11:00"))


def test_distance_programme_needs_positive_learning_time() -> None:
    with pytest.raises(ProgrammeError, match=r"learning_hours.*art\. 10 lit\. a"):
        programme(kind=ProgrammeKind.DISTANCE_ONLINE)
    with pytest.raises(ProgrammeError, match="learning_hours"):
        programme(kind=ProgrammeKind.DISTANCE_ONLINE, learning_hours=Fraction(-2))


def test_negative_values() -> None:
    with pytest.raises(ProgrammeError, match="duration -5 s must be positive"):
        Lesson("les", "Anatomy", -5)
    with pytest.raises(ProgrammeError, match="learning hours -1 are negative"):
        Contributor("ana", ContributorRole.AUTHOR, Fraction(-1))
    with pytest.raises(ProgrammeError, match="foreign credits -3 are negative"):
        programme(*full_day(), foreign_credits=-3)
    with pytest.raises(ProgrammeError, match="pages"):
        DistanceMaterial(pages=0, characters_per_page=2500)
    with pytest.raises(ProgrammeError, match="-10 s present in 'l1'"):
        AttendeeRecord("x", {"l1": -10})


def test_bad_tests_and_attempts() -> None:
    with pytest.raises(ProgrammeError, match="0 questions"):
        FinalTest(question_count=0)
    with pytest.raises(ProgrammeError, match="pass ratio 3/2"):
        FinalTest(question_count=10, pass_ratio=Fraction(3, 2))
    with pytest.raises(ProgrammeError, match="11 correct of 10"):
        TestAttempt(correct=11, total=10)


def test_negative_tolerance_and_duplicate_attendee() -> None:
    prog = programme(*full_day())
    with pytest.raises(ProgrammeError, match="tolerance -1 s cannot be negative"):
        presence_gaps(prog, AttendeeRecord("x"), tolerance_seconds=-1)
    with pytest.raises(ProgrammeError, match="'x' appears twice"):
        attendee_credits(prog, [AttendeeRecord("x"), AttendeeRecord("x")])

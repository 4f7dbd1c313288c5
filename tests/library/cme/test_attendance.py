"""Participant credits: full presence (art. 5 lit. a), tests, and the roles of art. 8, 11, 14."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from fractions import Fraction

from library.cme import (
    AgendaItem,
    AttendeeRecord,
    Contributor,
    ContributorRole,
    FinalTest,
    ItemKind,
    Lesson,
    Paper,
    Programme,
    ProgrammeKind,
    Speaker,
    TestAttempt,
    attendee_credits,
    presence_gaps,
)
from tests.library.cme.helpers import DAY, full_day, lecture, programme

COURSE = ProgrammeKind.CONTINUING_EDUCATION_COURSE
ONLINE = ProgrammeKind.DISTANCE_ONLINE
HOUR = 3600


def live_day() -> tuple[AgendaItem, ...]:
    """The compliant 6 h day, morning on live session 'am', afternoon on 'pm'.
    'am' carries 09:00-11:00 and 11:15-13:15 (4 h = 14,400 s); 'pm' 14:00-16:00 (7,200 s)."""
    return tuple(
        i
        if i.kind is ItemKind.BREAK
        else replace(i, live_session_id="pm" if i.ref == "l3" else "am")
        for i in full_day()
    )


def test_full_presence_earns_the_programme_credits() -> None:
    """art. 5 lit. a: present 14,400 s in 'am' and 7,200 s in 'pm' -> 6 credits."""
    prog = programme(*live_day())
    [result] = attendee_credits(
        prog, [AttendeeRecord("x", {"am": 4 * HOUR, "pm": 2 * HOUR})]
    ).values()
    assert (result.credits, result.qualified, result.gaps) == (6, True, ())


def test_one_second_missing_earns_nothing() -> None:
    """art. 5 lit. a: 7,199 of 7,200 s in 'pm' -> no credits, and the gap is shown."""
    prog = programme(*live_day())
    [result] = attendee_credits(
        prog, [AttendeeRecord("x", {"am": 4 * HOUR, "pm": 2 * HOUR - 1})]
    ).values()
    assert (result.credits, result.qualified) == (0, False)
    [gap] = result.gaps
    assert (gap.unit, gap.required_seconds, gap.present_seconds, gap.missing_seconds) == (
        "pm",
        7200,
        7199,
        1,
    )
    assert "art. 5 lit. a: absent for 1 s of the programme (pm)" in result.explain()


def test_network_drop_tolerance_is_a_setting() -> None:
    """Default strict; with a 60 s tolerance per live session, 59 s missing still qualifies."""
    prog = programme(*live_day())
    record = AttendeeRecord("x", {"am": 4 * HOUR - 59, "pm": 2 * HOUR})
    assert attendee_credits(prog, [record])["x"].credits == 0
    assert attendee_credits(prog, [record], tolerance_seconds=60)["x"].credits == 6


def test_items_without_live_session_are_keyed_by_ref() -> None:
    """On-site items: presence per item ref; breaks are not required."""
    prog = programme(*full_day())
    full = {"l1": 7200, "l2": 5400, "d2": 1800, "l3": 7200}
    assert attendee_credits(prog, [AttendeeRecord("x", full)])["x"].credits == 6
    assert [g.unit for g in presence_gaps(prog, AttendeeRecord("x", {**full, "d2": 0}))] == ["d2"]


def test_parallel_sessions_need_only_one_track() -> None:
    """art. 5 lit. g: nobody is in two places; tracks A (2 h) and B (1.5 h) in parallel.
    Present in full in B and the plenary -> qualifies for 2 + 2 = 4 credits."""
    prog = programme(
        lecture("plenary", "09:00", "11:00"),
        lecture("a", "11:15", "13:15", track="A", live_session_id="live-a"),
        lecture("b", "11:15", "12:45", track="B", live_session_id="live-b"),
    )
    in_b = AttendeeRecord("x", {"plenary": 7200, "live-b": 5400})
    result = attendee_credits(prog, [in_b])["x"]
    assert (result.credits, result.gaps) == (4, ())
    half = AttendeeRecord("y", {"plenary": 7200, "live-a": 3600, "live-b": 2700})
    assert attendee_credits(prog, [half])["y"].credits == 0


def test_lecturer_at_event() -> None:
    """art. 14 lit. c: twice the event's credits: 2 * 6 = 12, whatever the attendance."""
    prog = programme(*full_day())
    result = attendee_credits(prog, [AttendeeRecord("ana")])["ana"]
    assert result.credits == 12
    assert "art. 14 lit. c" in result.explain()


def test_lecturer_cap_at_sixty() -> None:
    """art. 14 lit. c with art. 5 lit. c: 8 days of 6 h (Mon-Sat, Mon-Tue) national = 48;
    a lecturer: 2 * 48 = 96 -> 60."""
    days = [DAY + timedelta(days=n) for n in (0, 1, 2, 3, 4, 5, 7, 8)]
    agenda = [i for n, d in enumerate(days) for i in full_day(f"d{n}", day=d)]
    assert attendee_credits(programme(*agenda), [AttendeeRecord("ana")])["ana"].credits == 60


def test_authors_of_papers() -> None:
    """art. 14 lit. d, event of 6 credits. Participant 'x', first author of one work and
    co-author of three: the best 3 count: 6 + 6/2 + 6/4 + 6/4 = 12.
    Lecturer 'ana', first author of one: 2 * 6 + 6/2 = 15.
    Absent 'z', first author: no participation, nothing."""
    papers = (
        Paper("p1", "Case A", "x"),
        Paper("p2", "Case B", "y", ("x",)),
        Paper("p3", "Case C", "y", ("x",)),
        Paper("p4", "Case D", "y", ("x",)),
        Paper("p5", "Case E", "ana"),
        Paper("p6", "Case F", "z"),
    )
    prog = programme(*full_day(), papers=papers)
    present = {"l1": 7200, "l2": 5400, "d2": 1800, "l3": 7200}
    results = attendee_credits(
        prog, [AttendeeRecord("x", present), AttendeeRecord("ana"), AttendeeRecord("z")]
    )
    assert results["x"].credits == 12
    assert "1 work(s) beyond 3 not counted" in results["x"].explain()
    assert results["ana"].credits == 15
    assert results["z"].credits == 0


def test_course_trainer() -> None:
    """art. 8 lit. e: the hours a trainer delivered, times 2 (no presence rule for them).
    'bob' gave the 2 h afternoon lecture -> 2 * 2 = 4; 'ana' gave l1 (2 h) and l2 (1.5 h)
    -> 2 * 3.5 = 7."""
    bob = Speaker("Bob Markovic", "Doc. dr.", person_id="bob")
    day = full_day()
    agenda = (*day[:-1], lecture("l3", "14:00", "16:00", speaker=bob))
    prog = programme(*agenda, kind=COURSE)
    results = attendee_credits(prog, [AttendeeRecord("bob"), AttendeeRecord("ana")])
    assert results["bob"].credits == 4
    assert results["ana"].exact == 7
    assert "art. 8 lit. e" in results["ana"].explain()


def test_course_final_test() -> None:
    """art. 26 alin. (2): a course with a test credits only those who pass it."""
    prog = programme(*full_day(), kind=COURSE, final_test=FinalTest(20, pass_ratio=Fraction(3, 5)))
    present = {"l1": 7200, "l2": 5400, "d2": 1800, "l3": 7200}
    passed = AttendeeRecord("p", present, (TestAttempt(12, 20),))
    failed = AttendeeRecord("f", present, (TestAttempt(11, 20),))
    results = attendee_credits(prog, [passed, failed])
    assert results["p"].credits == 6
    assert results["f"].credits == 0
    assert "final test not passed (best 55%, pass at 60%)" in results["f"].explain()


def online_programme() -> Programme:
    return programme(
        kind=ONLINE,
        learning_hours=Fraction(12),
        final_test=FinalTest(20),
        lessons=(Lesson("les-1", "Endoscopic anatomy", 1800), Lesson("les-2", "Approaches", 2400)),
        contributors=(
            Contributor("auth", ContributorRole.AUTHOR, Fraction(4)),
            Contributor("coord", ContributorRole.COORDINATOR, Fraction(12)),
        ),
    )


def test_online_participant() -> None:
    """art. 10 lit. d-e: 12 h -> 12 credits, lessons watched in full, test passed at 75%
    (15 of 20) on the second attempt. 14 of 20 (70%) twice -> nothing; a third attempt,
    even passed, is ignored (at most two)."""
    prog = online_programme()
    watched = {"les-1": 1800, "les-2": 2400}
    ok = AttendeeRecord("ok", watched, (TestAttempt(10, 20), TestAttempt(15, 20)))
    third = AttendeeRecord(
        "third", watched, (TestAttempt(14, 20), TestAttempt(14, 20), TestAttempt(20, 20))
    )
    short = AttendeeRecord("short", {"les-1": 1800, "les-2": 2399}, (TestAttempt(20, 20),))
    results = attendee_credits(prog, [ok, third, short])
    assert results["ok"].credits == 12
    assert results["third"].credits == 0
    assert "1 attempt(s) beyond the allowed 2 ignored" in results["third"].explain()
    assert results["short"].credits == 0 and results["short"].gaps[0].unit == "les-2"


def test_online_contributors() -> None:
    """art. 11 lit. e: three times their part: author of 4 h -> 12; coordinator of the
    whole 12 h -> 36."""
    results = attendee_credits(
        online_programme(), [AttendeeRecord("auth"), AttendeeRecord("coord")]
    )
    assert results["auth"].credits == 12
    assert results["coord"].credits == 36

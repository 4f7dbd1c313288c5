"""Classroom participation in the CME engine: counting questions, poll answers, presence checks
and talkback from a live session's timeline, and the programme's presence-check share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from library.cme import Programme, ProgrammeError, attendee_credits, programme_credits
from library.cme.attendance import AttendeeRecord, Participation, presence_checks_missed
from library.cme.codec import programme_from_json, programme_to_json
from library.cme.participation import Event, count, describe
from tests.library.cme.helpers import lecture, programme

T0 = datetime(2026, 10, 15, 6, 0, tzinfo=UTC)


def _live_programme(percent: int) -> Programme:
    return programme(lecture("l1", "09:00", "11:00", live_session_id="7"),
                     lecture("l2", "11:00", "12:00", live_session_id="8"),
                     presence_check_percent=percent)


def _record(person: str, **by_live: Participation) -> AttendeeRecord:
    # Present throughout both live sessions, so only the presence checks can cost the credits.
    return AttendeeRecord(person, {"7": 7200, "8": 3600}, participation=by_live)


def test_share_met_and_not_met() -> None:
    """50 %: 2 of 4 meets it (exactly), 1 of 4 does not, and the reason names the session."""
    prog = _live_programme(50)
    met = _record("mara", **{"7": Participation(checks_asked=4, checks_answered=2)})
    short = _record("dan", **{"7": Participation(checks_asked=4, checks_answered=1)})
    results = attendee_credits(prog, [met, short])
    full = programme_credits(prog).credits
    assert full > 0
    assert results["mara"].qualified and results["mara"].credits == full
    assert not results["dan"].qualified and results["dan"].credits == 0
    assert [(m.unit, m.answered, m.asked) for m in results["dan"].checks_missed] == [("7", 1, 4)]
    assert ("art. 5 lit. a: answered 1 of 4 presence checks in live session 7; the programme"
            " asks for 50 % -> 0") in results["dan"].explain()
    assert "presence checks" not in results["mara"].explain()


def test_share_is_exact() -> None:
    """34 % of 3 checks: 1 of 3 is 33.3 % (short), 2 of 3 is enough; 100 % needs all."""
    one_of_three = _record("x", **{"8": Participation(checks_asked=3, checks_answered=1)})
    two_of_three = _record("x", **{"8": Participation(checks_asked=3, checks_answered=2)})
    assert presence_checks_missed(_live_programme(34), one_of_three)
    assert not presence_checks_missed(_live_programme(34), two_of_three)
    assert presence_checks_missed(_live_programme(100), two_of_three)


def test_no_checks_asked_asks_nothing() -> None:
    """A session without a presence check (or a person with no record of it) is not held to
    the share; a programme with 0 % holds no one to it."""
    prog = _live_programme(80)
    none_asked = _record("mara", **{"7": Participation(questions=2, checks_asked=0)})
    no_record = _record("dan")
    results = attendee_credits(prog, [none_asked, no_record])
    assert results["mara"].qualified and results["dan"].qualified
    off = _record("eva", **{"7": Participation(checks_asked=4, checks_answered=0)})
    assert attendee_credits(_live_programme(0), [off])["eva"].qualified
    assert not attendee_credits(prog, [off])["eva"].qualified


@pytest.mark.parametrize("bad", [-1, 101, 50.5, "50", True, None])
def test_bad_percent_is_refused(bad: object) -> None:
    with pytest.raises(ProgrammeError, match="presence checks to answer"):
        _live_programme(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "stored"), [(None, 0), (0, 0), (50, 50), ("75", 75), (100, 100)])
def test_percent_round_trips_through_the_json_form(value: object, stored: int) -> None:
    data = programme_to_json(_live_programme(0))
    data["presence_check_percent"] = value
    assert programme_from_json(data).presence_check_percent == stored
    assert programme_to_json(programme_from_json(data))["presence_check_percent"] == stored


@pytest.mark.parametrize(("value", "message"), [
    (150, "from 0 \\(not required\\) to 100"), (-5, "from 0"), ("half", "not a whole number"),
    (12.5, "whole percentage"), ([50], "not a whole number"),
])
def test_bad_percent_in_json_says_why(value: object, message: str) -> None:
    data = programme_to_json(_live_programme(0))
    data["presence_check_percent"] = value
    with pytest.raises(ProgrammeError, match=message):
        programme_from_json(data)


def test_participation_refuses_impossible_counts() -> None:
    with pytest.raises(ProgrammeError, match="no more presence checks"):
        Participation(checks_asked=1, checks_answered=2)
    with pytest.raises(ProgrammeError, match="negative"):
        Participation(questions=-1)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_counting_a_timeline() -> None:
    """Questions, poll answers (a presence check answered or not), and talkback from the
    acceptance to the end of the speech, a speech cut by a new acceptance, and one still open
    when the session ended."""
    events = [
        Event(7, "question", _at(10), "ana", "q1"),
        Event(7, "question", _at(20), "ana", "q2"),
        Event(7, "poll", _at(30), "prof", "p1", presence_check=True),
        Event(7, "poll", _at(31), "prof", "p2"),
        Event(7, "poll.answer", _at(35), "ana", "p1", presence_check=True),
        Event(7, "poll.answer", _at(36), "ana", "p2"),
        Event(7, "poll.answer", _at(37), "dan", "p2"),
        Event(7, "poll", _at(40), "prof", "p3", presence_check=True),
        Event(7, "hand.accept", _at(100), "prof", "dan"),
        Event(7, "hand.end", _at(165), "prof", "dan"),
        Event(7, "hand.accept", _at(200), "prof", "ana"),
        Event(7, "hand.end", _at(230), "prof", "ana"),   # ended by the next acceptance
        Event(7, "hand.accept", _at(230), "prof", "dan"),
        Event(8, "poll", _at(4000), "prof", "p1", presence_check=True),
    ]
    counts = count(events, {7: _at(300), 8: None}, now=_at(5000), people=["eva"])
    ana, dan, eva = counts["ana"], counts["dan"], counts["eva"]
    assert (ana[7].questions, ana[7].poll_answers, ana[7].checks_answered, ana[7].checks_asked,
            ana[7].talkback_seconds) == (2, 2, 1, 2, 30)
    assert (dan[7].poll_answers, dan[7].checks_answered, dan[7].talkback_seconds) == (1, 0, 65 + 70)
    assert eva[7].checks_asked == 2 and eva[7].checks_answered == 0 and eva[8].checks_asked == 1
    assert "prof" not in counts or not any(c.poll_answers for c in counts["prof"].values())
    assert describe(ana[7].to_participation(True)) == (
        "2 questions · 2 poll answers · presence checks 1 of 2 · talkback 30 sec")
    assert describe(dan[7].to_participation(False)) == "1 poll answer · talkback 2 min 15 sec"

"""Presence proven by classroom check-ins, counted by the same engine as own devices (issue 18).

Art. 5 lit. a: presence for the whole programme. A person in a classroom is present for the
time between the presence checks they answered; a missed check leaves a gap up to the next
check, which the programme's drop tolerance forgives or not, exactly as a dropped connection.
The day is the helpers' compliant 6-hour programme, morning and afternoon each carried by a
live session of room "or-1"; check-ins are made through ``library.checkins`` with real codes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from library import attendance
from library.checkin_codes import CodeBook, classroom_place
from library.checkins import CheckInRefused, check_in, current_code, open_check
from library.classrooms import create_classroom
from library.cme import attendee_credits
from library.cme.audit_report import MismatchKind, audit_report
from library.cme.classroom_presence import Answer, CheckMoment, proven_intervals
from library.cme.rights import SYSTEM
from library.cme.store import create_programme, link_live_session, presence_for
from library.db import Database
from library.random_checks import (
    Limits,
    RandomChecksError,
    limits_of,
    next_due,
    open_due_checks,
    set_limits,
)
from library.users import Role, create_user
from tests.library.cme.helpers import DAY, full_day, programme

BUCHAREST = ZoneInfo("Europe/Bucharest")
MORNING = ("l1", "l2", "d2")
AFTERNOON = ("l3",)
BOOK = CodeBook("test-secret")


def local(hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(DAY.year, DAY.month, DAY.day, hours, minutes, tzinfo=BUCHAREST).astimezone(UTC)


def test_time_between_answered_checks_is_presence() -> None:
    checks = [CheckMoment(1, local("09:00")), CheckMoment(2, local("10:00")),
              CheckMoment(3, local("11:00"))]
    end = local("12:00")
    every = proven_intervals(checks, [Answer(1, local("09:01")), Answer(2, local("10:02")),
                                      Answer(3, local("11:00"))], end)
    assert [(p.start, p.end) for p in every] == [
        (local("09:00"), local("10:00")), (local("10:00"), local("11:00")),
        (local("11:00"), local("12:00"))]
    missed = proven_intervals(checks, [Answer(1, local("09:01")), Answer(3, local("11:01"))], end)
    assert [(p.start, p.end) for p in missed] == [
        (local("09:00"), local("10:00")), (local("11:00"), local("12:00"))]  # 10-11 unproven
    late = proven_intervals(checks, [Answer(1, local("09:40"))], end)
    assert [(p.start, p.end) for p in late] == [(local("09:40"), local("10:00"))]


class Clock:
    def __init__(self) -> None:
        self.now = local("08:00")

    def __call__(self) -> datetime:
        return self.now

    def at(self, hhmm: str) -> datetime:
        self.now = local(hhmm)
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(attendance, "utcnow", clock)
    return clock


def answer(db: Database, clock: Clock, user: int, phone: str, room: str, classroom: int,
           hhmm: str) -> None:
    now = clock.at(hhmm)
    shown = current_code(db, BOOK, room, classroom_place(classroom), now=now)
    assert shown is not None
    # Scanned 20 s after the code appeared: within its window or the next one.
    check_in(db, BOOK, shown.code, user_id=user, device=phone, now=now + timedelta(seconds=20))


def test_credits_for_own_devices_and_classrooms_alike(db: Database, clock: Clock) -> None:
    users = {name: create_user(db, name, "password-1", Role.STUDENT).id
             for name in ("elena", "mara", "petar", "ion")}
    hall = create_classroom(db, name="Hall A", institution="MU Pleven", city="Pleven",
                            timezone="Europe/Sofia", room_id="or-1", room_ids={"or-1", "or-2"},
                            created_by=None).id
    other = create_classroom(db, name="Hall B", institution="Health centre", city="Smederevo",
                             timezone="Europe/Belgrade", room_id="or-2",
                             room_ids={"or-1", "or-2"}, created_by=None).id
    clock.at("08:50")
    am = attendance.start_live_session(db, "or-1", "Morning", None)
    elena = str(uuid.uuid4())
    clock.at("08:55")
    attendance.viewer_joined(db, am, "or-1", elena, users["elena"], "elena", "student")
    answer(db, clock, users["mara"], "phone-m", "or-1", hall, "08:56")
    answer(db, clock, users["petar"], "phone-p", "or-1", hall, "08:57")
    open_check(db, "or-1", "instructor", None, now=clock.at("10:00"))
    answer(db, clock, users["mara"], "phone-m", "or-1", hall, "10:01")  # petar misses it
    open_check(db, "or-1", "random", None, now=clock.at("12:00"))
    answer(db, clock, users["mara"], "phone-m", "or-1", hall, "12:01")
    answer(db, clock, users["petar"], "phone-p", "or-1", hall, "12:02")
    # Ion, watching at home on his own device, types the code a friend in Hall A sent...
    ion = str(uuid.uuid4())
    clock.at("12:03")
    attendance.viewer_joined(db, am, "or-1", ion, users["ion"], "ion", "student")
    answer(db, clock, users["ion"], "phone-i", "or-1", hall, "12:04")
    # ...and, with or-2 live at the same time, Hall B's code too: refused in the same session
    # is not possible across rooms, so the audit report flags it.
    clock.at("11:50")
    b_live = attendance.start_live_session(db, "or-2", "Other room", None)
    answer(db, clock, users["ion"], "phone-i", "or-2", other, "12:05")
    with pytest.raises(CheckInRefused, match="already checked in"):
        answer(db, clock, users["mara"], "phone-m", "or-1", hall, "12:06")
    clock.at("13:20")
    attendance.end_live_session(db, am)
    attendance.end_live_session(db, b_live)
    clock.at("13:55")
    pm = attendance.start_live_session(db, "or-1", "Afternoon", None)
    elena_pm = str(uuid.uuid4())
    attendance.viewer_joined(db, pm, "or-1", elena_pm, users["elena"], "elena", "student")
    answer(db, clock, users["mara"], "phone-m", "or-1", hall, "13:57")
    answer(db, clock, users["petar"], "phone-p", "or-1", hall, "13:58")
    clock.at("16:02")
    attendance.end_live_session(db, pm)

    info = create_programme(db, programme(*full_day()), by=SYSTEM)
    link_live_session(db, info.id, am, MORNING, by=SYSTEM)
    info = link_live_session(db, info.id, pm, AFTERNOON, by=SYSTEM)
    presence = {p.person_id: p for p in presence_for(db, info, now=local("17:00"))}
    assert presence["elena"].proof == ("own device",)
    assert presence["mara"].proof == ("in Hall A, Pleven with 4 of 4 checks",)
    assert presence["petar"].proof == ("in Hall A, Pleven with 3 of 4 checks",)
    assert presence["mara"].record.seconds_present == {str(am): 14400, str(pm): 7200}
    # Petar missed check 2 (10:00): unproven until check 3 (12:00), less the 11:00-11:15 break.
    assert presence["petar"].record.seconds_present == {str(am): 14400 - 6300, str(pm): 7200}
    credits = attendee_credits(info.programme, [p.record for p in presence.values()])
    assert {p: c.credits for p, c in credits.items() if p != "ion"} == {
        "elena": 6, "mara": 6, "petar": 0}
    assert "art. 5 lit. a: absent for 6300 s" in credits["petar"].explain()
    # The tolerance is the programme's, for both kinds: 5 minutes does not forgive 105.
    lenient = attendee_credits(info.programme, [p.record for p in presence.values()],
                               tolerance_seconds=300)
    assert lenient["petar"].credits == 0 and lenient["mara"].credits == 6

    report = audit_report(db, info, session_seconds=3600)
    flagged = {(m.kind, m.person_id) for m in report.mismatches}
    assert (MismatchKind.CHECK_IN_DURING_OWN_SESSION, "ion") in flagged
    assert (MismatchKind.TWO_PLACES_AT_ONCE, "ion") in flagged
    assert not {k for k, p in flagged if p in ("mara", "petar")} & {
        MismatchKind.CHECK_IN_DURING_OWN_SESSION, MismatchKind.TWO_PLACES_AT_ONCE}


def test_random_checks_come_within_the_organisers_limits(db: Database, clock: Clock) -> None:
    secret = b"random-test"
    clock.at("09:00")
    live = attendance.start_live_session(db, "or-1", "Morning", None)
    info = create_programme(db, programme(*full_day()), by=SYSTEM)
    info = link_live_session(db, info.id, live, MORNING, by=SYSTEM)
    with pytest.raises(RandomChecksError, match="least minutes <= most minutes"):
        set_limits(db, info.id, Limits(30, 10))
    assert open_due_checks(db, secret, now=local("12:00")) == []  # no limits: no random checks
    set_limits(db, info.id, Limits(20, 40))
    assert limits_of(db, info.id) == Limits(20, 40)
    due = next_due(secret, live, 1, local("09:00"), Limits(20, 40))
    assert local("09:20") <= due <= local("09:40")
    assert open_due_checks(db, secret, now=due - timedelta(seconds=1)) == []
    [opened] = open_due_checks(db, secret, now=due)
    assert (opened.seq, opened.kind, opened.opened_at) == (2, "random", due)
    assert open_due_checks(db, secret, now=due + timedelta(minutes=19)) == []  # not yet again
    then = next_due(secret, live, 2, due, Limits(20, 40))
    assert due + timedelta(minutes=20) <= then <= due + timedelta(minutes=40)
    set_limits(db, info.id, None)
    assert open_due_checks(db, secret, now=then) == []

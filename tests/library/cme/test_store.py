"""CME programmes in the database, and attendance from real viewer sessions (art. 5 lit. a).

Viewer sessions are recorded with ``library.attendance`` itself; only its clock is replaced, so
a 7-hour programme day runs in milliseconds. The programme is the compliant 6-hour day of the
helpers (09:00-16:00 Bucharest time, 6 credits as a national event), morning and afternoon each
carried by a live session of room "or-1".
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from library import attendance
from library.cme import (
    Contributor,
    ContributorRole,
    DistanceMaterial,
    FinalTest,
    Paper,
    ProgrammeKind,
    Sponsor,
    attendee_credits,
    programme_credits,
)
from library.cme.codec import programme_from_json, programme_to_json
from library.cme.errors import ProgrammeError
from library.cme.rights import SYSTEM
from library.cme.store import (
    CmeStoreError,
    Connection,
    ProgrammeConflict,
    ProgrammeNotFound,
    ProgrammeStatus,
    attendance_for,
    create_programme,
    get_programme,
    link_live_session,
    list_programmes,
    presence_for,
    presence_from_connections,
    programmes_attended_by,
    submit_programme,
    update_programme,
)
from library.db import Database
from tests.library.cme.helpers import DAY, full_day, programme

BUCHAREST = ZoneInfo("Europe/Bucharest")
MORNING = ("l1", "l2", "d2")  # 09:00-11:00, 11:15-13:15 (break 11:00-11:15 not required)
AFTERNOON = ("l3",)  # 14:00-16:00


def local(hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(DAY.year, DAY.month, DAY.day, hours, minutes, tzinfo=BUCHAREST).astimezone(UTC)


class Clock:
    def __init__(self) -> None:
        self.now = local("08:00")

    def __call__(self) -> datetime:
        return self.now

    def at(self, hhmm: str) -> Clock:
        self.now = local(hhmm)
        return self


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(attendance, "utcnow", clock)
    return clock


def join(db: Database, clock: Clock, live: int, who: str, at: str) -> str:
    clock.at(at)
    vid = str(uuid.uuid4())
    attendance.viewer_joined(db, live, "or-1", vid, None, who, "student")
    return vid


def leave(db: Database, clock: Clock, vid: str, at: str, reason: str = "closed") -> None:
    clock.at(at)
    attendance.viewer_left(db, vid, reason)


def test_codec_round_trip_keeps_every_field() -> None:
    prog = programme(
        *full_day(), kind=ProgrammeKind.CONTINUING_EDUCATION_COURSE,
        sponsors=(Sponsor("Karl Storz"),), final_test=FinalTest(12, Fraction(4, 5), 1),
        papers=(Paper("w1", "Case series", "ana", ("dan",)),),
    )
    assert programme_from_json(programme_to_json(prog)) == prog
    online = programme(
        kind=ProgrammeKind.DISTANCE_ONLINE, learning_hours=Fraction(3, 2),
        material=DistanceMaterial(10, 2500, 1),
        contributors=(Contributor("ana", ContributorRole.AUTHOR, Fraction(1, 2)),),
    )
    assert programme_from_json(programme_to_json(online)) == online


def test_codec_refuses_bad_input_with_the_engine_message() -> None:
    data = programme_to_json(programme(*full_day()))
    data["agenda"][0]["end"] = "08:00"
    with pytest.raises(ProgrammeError, match="ends at 08:00, not after its start at 09:00"):
        programme_from_json(data)
    data = programme_to_json(programme(*full_day()))
    data["kind"] = "webinar"
    with pytest.raises(ProgrammeError, match="kind: 'webinar' is not one of"):
        programme_from_json(data)


def test_create_get_list_update_submit(db: Database) -> None:
    prog = programme(*full_day())
    info = create_programme(db, prog, by=SYSTEM, drop_tolerance_seconds=30)
    assert (info.ref, info.status, info.organiser, info.starts_on) == (
        "p1", ProgrammeStatus.DRAFT, "UMF Iasi", DAY,
    )
    assert info.programme == prog and info.drop_tolerance_seconds == 30
    assert get_programme(db, info.id) == info
    assert [p.id for p in list_programmes(db)] == [info.id]
    with pytest.raises(ProgrammeConflict, match="ref 'p1' is already used"):
        create_programme(db, prog, by=SYSTEM)
    renamed = update_programme(db, info.id, replace(prog, title="Neurochirurgie, ediția a II-a"),
                               by=SYSTEM)
    assert renamed.title == "Neurochirurgie, ediția a II-a" == renamed.programme.title
    submitted = submit_programme(db, info.id)
    assert submitted.status is ProgrammeStatus.SUBMITTED and submitted.submitted_at
    assert list_programmes(db, ProgrammeStatus.DRAFT) == []
    with pytest.raises(ProgrammeConflict, match="cannot be edited"):
        update_programme(db, info.id, prog, by=SYSTEM)
    with pytest.raises(ProgrammeNotFound):
        update_programme(db, 999, prog, by=SYSTEM)
    assert get_programme(db, 999) is None


def test_submit_refused_while_the_checker_finds_errors(db: Database) -> None:
    late = programme(*full_day(), request_filed_on=DAY - timedelta(days=10))
    info = create_programme(db, late, by=SYSTEM)
    with pytest.raises(ProgrammeConflict, match=r"art\. 6 alin\. \(2\): crediting request"):
        submit_programme(db, info.id)


def test_live_sessions_are_linked_from_the_agenda(db: Database, clock: Clock) -> None:
    am = attendance.start_live_session(db, "or-1", "Morning", None)
    info = create_programme(db, programme(*full_day()), by=SYSTEM)
    assert info.live_session_ids == ()
    info = link_live_session(db, info.id, am, MORNING, by=SYSTEM)
    assert info.live_session_ids == (am,)
    assert {i.ref for i in info.programme.agenda if i.live_session_id == str(am)} == set(MORNING)
    with pytest.raises(CmeStoreError, match="live session\\(s\\) 4242, which do not exist"):
        link_live_session(db, info.id, 4242, ["l3"], by=SYSTEM)
    with pytest.raises(CmeStoreError, match="no agenda item 'nope'"):
        link_live_session(db, info.id, am, ["nope"], by=SYSTEM)
    with pytest.raises(CmeStoreError, match="time zone 'Mars/Olympus'"):
        create_programme(db, replace(info.programme, ref="p2"), by=SYSTEM, timezone="Mars/Olympus")


def run_day(db: Database, clock: Clock) -> tuple[int, int]:
    """Two live sessions carry the day; five people watch it in their own way."""
    clock.at("08:50")
    am = attendance.start_live_session(db, "or-1", "Morning", None)
    full = join(db, clock, am, "elena", "08:55")
    early = join(db, clock, am, "bogdan", "08:58")
    drop = join(db, clock, am, "cristi", "08:59")
    leave(db, clock, drop, "10:30", "ice failed")
    join(db, clock, am, "cristi", "10:33")  # 3 minutes of the lecture missed
    tabs_a = join(db, clock, am, "dana", "08:40")
    join(db, clock, am, "dana", "10:00")  # a second tab, overlapping the first
    leave(db, clock, tabs_a, "11:05")  # during the break: not programme time
    leave(db, clock, full, "11:07")  # elena goes for coffee during the break...
    full = join(db, clock, am, "elena", "11:14")  # ...and is back before 11:15
    clock.at("13:20")
    attendance.end_live_session(db, am)  # closes everyone's connection
    clock.at("13:55")
    pm = attendance.start_live_session(db, "or-1", "Afternoon", None)
    for who in ("elena", "cristi", "dana"):
        join(db, clock, pm, who, "13:58")
    early = join(db, clock, pm, "bogdan", "13:59")
    leave(db, clock, early, "15:50")  # left 10 minutes early
    clock.at("16:02")
    attendance.end_live_session(db, pm)
    return am, pm


def test_attendance_from_viewer_sessions(db: Database, clock: Clock) -> None:
    am, pm = run_day(db, clock)
    info = create_programme(db, programme(*full_day()), by=SYSTEM)
    link_live_session(db, info.id, am, MORNING, by=SYSTEM)
    info = link_live_session(db, info.id, pm, AFTERNOON, by=SYSTEM)
    records = {r.person_id: r for r in attendance_for(db, info)}
    # Programme time: 4 h in the morning session, 2 h in the afternoon one (breaks excluded).
    assert dict(records["elena"].seconds_present) == {str(am): 14400, str(pm): 7200}
    assert dict(records["dana"].seconds_present) == {str(am): 14400, str(pm): 7200}
    assert dict(records["bogdan"].seconds_present) == {str(am): 14400, str(pm): 7200 - 600}
    assert dict(records["cristi"].seconds_present) == {str(am): 14400 - 180, str(pm): 7200}

    assert programme_credits(info.programme).credits == 6
    credits = attendee_credits(info.programme, list(records.values()))
    assert {p: c.credits for p, c in credits.items()} == {
        "elena": 6,  # present throughout; leaving during the break costs nothing
        "dana": 6,  # two overlapping tabs are counted once, not twice
        "bogdan": 0,  # left 10 minutes early (art. 5 lit. a)
        "cristi": 0,  # dropped and rejoined 3 minutes later: the gap is absence
    }
    [gap] = credits["bogdan"].gaps
    assert (gap.unit, gap.missing_seconds) == (str(pm), 600)
    assert "art. 5 lit. a: absent for 600 s" in credits["bogdan"].explain()

    presence = {p.person_id: p for p in presence_for(db, info)}
    [absence] = presence["cristi"].absences
    assert (absence.live_session_id, absence.start, absence.end) == (am, local("10:30"), local("10:33"))
    assert presence["dana"].connections == 3 and presence["elena"].absences == ()
    # The drop tolerance is a setting: 5 minutes forgives cristi's drop, not bogdan's exit.
    lenient = attendee_credits(info.programme, list(records.values()), tolerance_seconds=300)
    assert (lenient["cristi"].credits, lenient["bogdan"].credits) == (6, 0)
    assert [p.ref for p in programmes_attended_by(db, "cristi")] == ["p1"]
    assert programmes_attended_by(db, "nobody") == []


def test_open_connections_count_until_now() -> None:
    prog = programme(*(replace(i, live_session_id="7") for i in full_day()))
    still_watching = Connection(7, "eva", local("08:55"), None)
    [presence] = presence_from_connections(prog, BUCHAREST, [still_watching], now=local("12:00"))
    # 09:00-12:00 watched of 09:00-11:00, 11:15-13:15 and 14:00-16:00 (break not required).
    assert presence.record.seconds_present == {"7": 2 * 3600 + 45 * 60}
    assert [(a.start, a.end) for a in presence.absences] == [
        (local("12:00"), local("13:15")), (local("14:00"), local("16:00"))
    ]

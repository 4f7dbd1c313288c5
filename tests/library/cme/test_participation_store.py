"""Classroom participation read from a real database (SQLite, and PostgreSQL where configured):
the live session's timeline as ``library.interactions`` writes it, the viewer sessions as
``library.attendance`` records them, the programme's presence-check share stored with it, and
what the attendance, the participant list and the audit report make of them."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from library import attendance, interactions
from library.classroom_models import CheckIn, PresenceCheck
from library.cme import attendee_credits
from library.cme.audit_report import MismatchKind, audit_report
from library.cme.participant_list import participant_list, to_csv
from library.cme.rights import SYSTEM
from library.cme.store import (
    create_programme,
    get_programme,
    link_live_session,
    presence_for,
    update_programme,
)
from library.cme.vault import CnpVault
from library.db import Database
from library.i18n import use
from library.users import Role, create_user
from tests.library.cme.helpers import full_day, programme
from tests.library.cme.test_store import MORNING, Clock, local


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(attendance, "utcnow", clock)
    return clock


def _said(live: int, seq: int, kind: str, at: datetime, actor: str, target: str,
          **data: object) -> interactions.Interaction:
    return interactions.Interaction(live_session_id=live, seq=seq, kind=kind, at=at, actor=actor,
                                    actor_name=actor.title(), actor_user_id=None, target=target,
                                    data=dict(data))


def _morning(db: Database, clock: Clock) -> int:
    """The morning session: elena and cristi watch it all on their own devices; two presence
    checks and a plain poll are asked; elena answers every one, cristi only the plain poll, asks
    a question and speaks for 2 minutes; fane, not connected, answers the second check."""
    clock.at("08:50")
    am = attendance.start_live_session(db, "or-1", "Morning", None)
    for who in ("elena", "cristi"):
        clock.at("08:55")
        attendance.viewer_joined(db, am, "or-1", str(uuid.uuid4()), None, who, "student")
    timeline: list[tuple[str, str, str, str, dict[str, object]]] = [
        ("poll", "09:30", "prof", "p1", {"presence_check": True}),
        ("poll.answer", "09:31", "elena", "p1", {"presence_check": True, "option": 0}),
        ("question", "09:40", "cristi", "q1", {"anonymous": False}),
        ("poll", "10:00", "prof", "p2", {"presence_check": False}),
        ("poll.answer", "10:01", "elena", "p2", {"presence_check": False, "option": 1}),
        ("poll.answer", "10:01", "cristi", "p2", {"presence_check": False, "option": 0}),
        ("hand.accept", "10:10", "prof", "cristi", {}),
        ("hand.end", "10:12", "prof", "cristi", {}),
        ("poll", "11:30", "prof", "p3", {"presence_check": True}),
        ("poll.answer", "11:30", "elena", "p3", {"presence_check": True, "option": 2}),
        ("poll.answer", "11:31", "fane", "p3", {"presence_check": True, "option": 2}),
    ]
    interactions.append(db, [_said(am, n, kind, local(at), actor, target, **data)
                             for n, (kind, at, actor, target, data) in enumerate(timeline, 1)])
    clock.at("13:20")
    attendance.end_live_session(db, am)
    return am


def test_presence_check_share_from_the_stored_timeline(db: Database, clock: Clock,
                                                       vault: CnpVault) -> None:
    am = _morning(db, clock)
    morning_only = programme(*[i for i in full_day() if i.ref in (*MORNING, "b1")])
    info = create_programme(db, morning_only, by=SYSTEM)
    info = link_live_session(db, info.id, am, MORNING, by=SYSTEM)
    # The organiser asks for half of the presence checks; stored with the programme, reopened.
    info = update_programme(db, info.id, replace(info.programme, presence_check_percent=50),
                            by=SYSTEM)
    reopened = get_programme(db, info.id)
    assert reopened is not None and reopened.programme.presence_check_percent == 50

    people = {p.person_id: p for p in presence_for(db, reopened)}
    assert set(people) == {"elena", "cristi"}  # fane never watched: not an attendee
    elena, cristi = people["elena"].record.participation[str(am)], people[
        "cristi"].record.participation[str(am)]
    assert (elena.questions, elena.poll_answers, elena.checks_answered, elena.checks_asked,
            elena.talkback_seconds) == (0, 3, 2, 2, 0)
    assert (cristi.questions, cristi.poll_answers, cristi.checks_answered, cristi.checks_asked,
            cristi.talkback_seconds) == (1, 1, 0, 2, 120)

    results = attendee_credits(reopened.programme, [p.record for p in people.values()])
    assert results["elena"].qualified and results["elena"].credits > 0
    assert not results["cristi"].qualified and results["cristi"].credits == 0
    assert (f"answered 0 of 2 presence checks in live session {am}; the programme asks for"
            " 50 %") in results["cristi"].explain()

    rows = {r.person_id: r for r in participant_list(db, vault, reopened).rows}
    assert "presence checks in live session" in rows["cristi"].note
    assert rows["cristi"].participation == (
        f"live {am}: 1 question · 1 poll answer · presence checks 0 of 2 · talkback 2 min"
        " (50% asked: not met)")
    assert rows["elena"].participation.endswith("presence checks 2 of 2 (50% asked: met)")
    with use("ro"):  # the College's copy
        lines = list(csv.reader(io.StringIO(
            to_csv(participant_list(db, vault, reopened)).decode("utf-8-sig"))))
    assert lines[0][-1] == "Participare în sesiunile în direct"
    by_name = {line[1]: line for line in lines[1:]}
    assert by_name["cristi"][-1] == (  # no profile: the list names the account
        f"în direct {am}: 1 întrebare · 1 răspuns la sondaje · verificări ale prezenței: 0 din 2"
        " · a vorbit 2 min. (cerut 50\u00a0%: neîndeplinit)")
    assert "a răspuns la 0 din 2 verificări ale prezenței" in by_name["cristi"][7]

    report = audit_report(db, reopened, session_seconds=3600)
    assert report.presence_check_percent == 50
    entries = {e.person_id: e for e in report.participation}
    assert (entries["cristi"].checks_answered, entries["cristi"].checks_met) == (0, False)
    assert (entries["elena"].checks_answered, entries["elena"].checks_met) == (2, True)
    unwatched = [m for m in report.mismatches
                 if m.kind is MismatchKind.CHECK_ANSWERED_WITHOUT_WATCHING]
    assert [(m.person_id, m.at) for m in unwatched] == [("fane", local("11:31"))]

    # Off again: cristi's presence is all that counts, and he was there throughout.
    off = update_programme(db, info.id, replace(reopened.programme, presence_check_percent=0),
                           by=SYSTEM)
    records = [p.record for p in presence_for(db, off)]
    assert attendee_credits(off.programme, records)["cristi"].qualified


def test_presence_in_a_classroom_is_not_held_to_the_polls(db: Database, clock: Clock) -> None:
    """gabi was in the hall, checked in with the classroom's code (no own device): the
    presence-check polls were not theirs to answer, so the share asks nothing of them."""
    am = _morning(db, clock)
    gabi = create_user(db, "gabi", "a password for gabi", Role.STUDENT).id
    with db.session() as session:
        check = PresenceCheck(live_session_id=am, seq=1, kind="start", opened_at=local("08:50"))
        session.add(check)
        session.flush()
        session.add(CheckIn(check_id=check.id, live_session_id=am, classroom_id=None,
                            user_id=gabi, subject="gabi", at=local("08:52"), window=0,
                            device_hash="0" * 64))
    prog = programme(*[i for i in full_day() if i.ref in (*MORNING, "b1")],
                     presence_check_percent=100)
    info = create_programme(db, prog, by=SYSTEM)
    info = link_live_session(db, info.id, am, MORNING, by=SYSTEM)
    people = {p.person_id: p for p in presence_for(db, info)}
    assert people["gabi"].proof == ("in the operating room with 1 of 1 checks",)
    done = people["gabi"].record.participation[str(am)]
    assert (done.checks_asked, done.checks_answered) == (0, 0)
    results = attendee_credits(info.programme, [p.record for p in people.values()])
    assert results["gabi"].qualified and not results["gabi"].checks_missed
    assert results["elena"].qualified and not results["cristi"].qualified  # 2 of 2, 0 of 2


def test_a_speech_still_open_counts_until_the_session_ends(db: Database, clock: Clock) -> None:
    clock.at("08:50")
    am = attendance.start_live_session(db, "or-1", "Morning", None)
    attendance.viewer_joined(db, am, "or-1", str(uuid.uuid4()), None, "dana", "student")
    interactions.append(db, [_said(am, 1, "hand.accept", local("09:00"), "prof", "dana")])
    info = create_programme(db, programme(*full_day()), by=SYSTEM)
    info = link_live_session(db, info.id, am, MORNING, by=SYSTEM)
    live = presence_for(db, info, now=local("09:00") + timedelta(seconds=45))
    assert live[0].record.participation[str(am)].talkback_seconds == 45
    clock.at("09:05")
    attendance.end_live_session(db, am)
    ended = presence_for(db, info, now=local("12:00"))
    assert ended[0].record.participation[str(am)].talkback_seconds == 300

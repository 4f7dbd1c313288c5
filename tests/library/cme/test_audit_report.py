"""The audit report (art. 12 alin. (2) lit. a): the access log compared with the attendance and
test records of a course held today through a live session, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from library import attendance
from library.cme import FinalTest, ItemKind, ProgrammeKind, audit
from library.cme.audit_report import MismatchKind, audit_report
from library.cme.quiz_store import save_bank, start_attempt, submit_attempt
from library.cme.rights import SYSTEM
from library.cme.store import create_programme, get_programme, submit_programme
from library.cme_models import CmeTestAttempt
from library.db import Database
from library.models import utcnow
from library.users import Role, create_user
from tests.library.cme.helpers import full_day, programme
from tests.library.cme.test_quiz import BANK

ZONE = ZoneInfo("Europe/Bucharest")
SESSION_SECONDS = 12 * 3600


def test_art_12_2a_report_lists_every_mismatch(db: Database) -> None:
    today = datetime.now(ZONE).date()
    live = attendance.start_live_session(db, "or-1", "Day 1", None)
    agenda = tuple(
        item.__class__(**{**item.__dict__, "live_session_id": str(live)})
        for item in full_day(day=today)
    )
    course = programme(*agenda, kind=ProgrammeKind.CONTINUING_EDUCATION_COURSE,
                       final_test=FinalTest(10))
    info = create_programme(db, course, by=SYSTEM)
    organiser = audit.Actor("dr-ana", "instructor", None, "127.0.0.1")
    save_bank(db, info.id, BANK, organiser)
    submit_programme(db, info.id)
    ana = create_user(db, "ana", "correct-horse-battery", Role.STUDENT)
    bob = create_user(db, "bob", "correct-horse-battery", Role.STUDENT)
    carl = create_user(db, "carl", "correct-horse-battery", Role.STUDENT)
    # Ana logs in and watches; Bob watches without a login in the log; a guest token watches.
    audit.record(db, audit.Actor("ana", "student", ana.id), audit.Action.LOGIN,
                 target=audit.Target.ACCOUNT, target_id=ana.id)
    for user_id, subject in ((ana.id, "ana"), (bob.id, "bob"), (None, "guest-7")):
        attendance.viewer_joined(db, live, "or-1", str(uuid.uuid4()), user_id, subject, "student")
    # Ana and Carl take the test; Carl never joined the live session.
    for who, user_id in (("ana", ana.id), ("carl", carl.id)):
        actor = audit.Actor(who, "student", user_id)
        attempt = start_attempt(db, info.id, actor, rng=random.Random(1))
        sheet = {str(q.question_id): sorted(q.correct) for q in attempt.questions}
        submit_attempt(db, attempt.id, actor, sheet)
    # Behind the application's back: Ana's score raised in the database, an attempt written
    # with a log line but two days after the programme, and a logged start with no attempt.
    with db.session() as session:
        row = session.query(CmeTestAttempt).filter_by(person_id="carl").one()
        row.correct = 9  # the log says 10
        later = datetime.combine(today + timedelta(days=2), time(10), ZONE)
        session.add(CmeTestAttempt(
            id="e" * 32, programme_id=info.id, person_id="ana", number=2, started_at=later,
            deadline_at=later + timedelta(minutes=30), drawn=[], total=10,
        ))
        audit.add(session, audit.Actor("ana", "student", ana.id), audit.Action.TEST_START,
                  target=audit.Target.ATTEMPT, target_id="e" * 32, programme_id=info.id)
    audit.record(db, audit.Actor("dan", "student", 99), audit.Action.TEST_START,
                 target=audit.Target.ATTEMPT, target_id="d" * 32, programme_id=info.id)

    fresh = get_programme(db, info.id)
    assert fresh is not None
    report = audit_report(db, fresh, session_seconds=SESSION_SECONDS)
    found = {(m.kind, m.person_id) for m in report.mismatches}
    assert found == {
        (MismatchKind.ATTENDANCE_WITHOUT_LOGIN, "bob"),
        (MismatchKind.ATTENDANCE_WITHOUT_LOGIN, "guest-7"),
        (MismatchKind.TEST_WITHOUT_ATTENDANCE, "carl"),
        (MismatchKind.SCORE_DIFFERS, "carl"),
        (MismatchKind.ATTEMPT_OUTSIDE_WINDOW, "ana"),
        (MismatchKind.LOGGED_WITHOUT_RECORD, "dan"),
    }
    messages = {m.kind: m.message for m in report.mismatches}
    assert "the log recorded 10 correct, the database holds 9" in messages[MismatchKind.SCORE_DIFFERS]
    guest = next(m for m in report.mismatches if m.person_id == "guest-7")
    assert "token not issued to a logged-in account" in guest.message
    assert (report.viewer_sessions_checked, report.attempts_checked) == (3, 3)


def test_art_12_2a_a_login_older_than_the_session_or_followed_by_a_logout_does_not_cover(
    db: Database,
) -> None:
    today = datetime.now(ZONE).date()
    live = attendance.start_live_session(db, "or-1", "Day 1", None)
    lecture = full_day(day=today)[0]
    course = programme(lecture.__class__(**{**lecture.__dict__, "live_session_id": str(live)}),
                       kind=ProgrammeKind.SCIENTIFIC_EVENT)
    info = create_programme(db, course, by=SYSTEM)
    ana = create_user(db, "ana", "correct-horse-battery", Role.STUDENT)
    actor = audit.Actor("ana", "student", ana.id)
    with db.session() as session:  # a login 13 hours ago, longer than a 12-hour session
        audit.add(session, actor, audit.Action.LOGIN, target=audit.Target.ACCOUNT,
                  target_id=ana.id, at=utcnow() - timedelta(hours=13))
    attendance.viewer_joined(db, live, "or-1", str(uuid.uuid4()), ana.id, "ana", "student")
    report = audit_report(db, info, session_seconds=SESSION_SECONDS)
    assert [m.kind for m in report.mismatches] == [MismatchKind.ATTENDANCE_WITHOUT_LOGIN]
    audit.record(db, actor, audit.Action.LOGIN, target=audit.Target.ACCOUNT, target_id=ana.id)
    audit.record(db, actor, audit.Action.LOGOUT, target=audit.Target.ACCOUNT, target_id=ana.id)
    attendance.viewer_joined(db, live, "or-1", str(uuid.uuid4()), ana.id, "ana", "student")
    report = audit_report(db, info, session_seconds=SESSION_SECONDS)
    assert len(report.mismatches) == 2  # logged out before joining again
    audit.record(db, actor, audit.Action.LOGIN, target=audit.Target.ACCOUNT, target_id=ana.id)
    attendance.viewer_joined(db, live, "or-1", str(uuid.uuid4()), ana.id, "ana", "student")
    assert len(audit_report(db, info, session_seconds=SESSION_SECONDS).mismatches) == 2
    assert ItemKind.LECTURE is lecture.kind

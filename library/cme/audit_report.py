"""The audit report: the access log compared with the attendance and test records.

Art. 12 alin. (2) lit. a asks that the whole process can be audited "with access logs kept and
compared with the entries of the database". This module does that comparison for one
programme and lists every mismatch, each saying what does not fit and where to look:

- a test attempt with no attendance at any of the programme's live sessions;
- attendance by an account with no login in the access log within a session lifetime before
  joining (or by a token not issued to an account);
- a test attempt started or submitted outside the programme's test window, or after its deadline;
- an attempt the log does not know (written to the database past the application), a logged
  start or submit with no attempt behind it, or a logged score that differs from the stored one;
- classroom check-ins that contradict each other: one person checked in at two places within
  ``TWO_PLACES_MINUTES`` (two classrooms at once), or checked in at a classroom while their own
  device was connected to a live session (a personal session elsewhere);
- a presence check (a poll flagged as one) answered by someone whose own device was not
  connected to that live session at the moment of the answer.

Beside the mismatches the report lists each attendee's participation per live session
(questions, poll answers, presence checks answered of those asked, talkback time) and whether
it met the programme's presence-check share, as the credits were computed.

Records older than the log's first entry are not compared (the log cannot speak for them), and
the report says how many were left out.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from sqlalchemy import select

from library.checkins import CheckInRecord, check_ins_of
from library.classroom_models import CheckIn
from library.classrooms import SCREEN_ROLE
from library.cme import audit
from library.cme.participation import POLL_ANSWER
from library.cme.quiz import NETWORK_GRACE_SECONDS
from library.cme.quiz_store import Attempt, all_attempts, test_window
from library.cme.store import ProgrammeInfo, presence_for
from library.cme_models import CmeAuditEntry
from library.db import Database
from library.i18n import formats, gettext
from library.models import LiveInteraction, ViewerSession


class MismatchKind(str, Enum):
    TEST_WITHOUT_ATTENDANCE = "test_without_attendance"
    ATTENDANCE_WITHOUT_LOGIN = "attendance_without_login"
    ATTEMPT_OUTSIDE_WINDOW = "attempt_outside_window"
    SUBMITTED_AFTER_DEADLINE = "submitted_after_deadline"
    ATTEMPT_NOT_LOGGED = "attempt_not_logged"
    LOGGED_WITHOUT_RECORD = "logged_without_record"
    SCORE_DIFFERS = "score_differs"
    TWO_PLACES_AT_ONCE = "two_places_at_once"
    CHECK_IN_DURING_OWN_SESSION = "check_in_during_own_session"
    CHECK_ANSWERED_WITHOUT_WATCHING = "check_answered_without_watching"


# No one goes from one hall to another (usually another city) in less than this.
TWO_PLACES_MINUTES = 15


@dataclass(frozen=True)
class Mismatch:
    kind: MismatchKind
    person_id: str
    at: datetime
    message: str
    record: str
    """The database record concerned: 'attempt <id>', 'viewer session <id>' or 'log <id>'."""


@dataclass(frozen=True)
class ParticipationEntry:
    """One attendee's classroom participation in one live session of the programme."""

    person_id: str
    live_session_id: int
    questions: int
    poll_answers: int
    checks_asked: int
    """The session's presence checks that were this person's to answer (0 when they were
    there only on a classroom's shared screen)."""
    checks_answered: int
    talkback_seconds: int
    checks_met: bool | None
    """Against the programme's share; None when nothing was required."""


@dataclass(frozen=True)
class AuditReport:
    programme_id: int
    log_started_at: datetime | None
    viewer_sessions_checked: int
    attempts_checked: int
    log_entries_checked: int
    left_out_before_log: int
    mismatches: tuple[Mismatch, ...]
    presence_check_percent: int = 0
    """The programme's presence-check share (0: none asked)."""
    participation: tuple[ParticipationEntry, ...] = ()


@dataclass(frozen=True)
class _Viewing:
    id: str
    person_id: str
    user_id: int | None
    joined_at: datetime


def _viewings(db: Database, live_ids: tuple[int, ...]) -> list[_Viewing]:
    if not live_ids:
        return []
    with db.session() as session:
        rows = session.scalars(
            select(ViewerSession).where(ViewerSession.live_session_id.in_(live_ids),
                                        ViewerSession.role != SCREEN_ROLE)
            .order_by(ViewerSession.joined_at)
        )
        return [_Viewing(v.id, v.subject, v.user_id, v.joined_at) for v in rows]


def _log(db: Database, programme_id: int) -> list[CmeAuditEntry]:
    with db.session() as session:
        return list(session.scalars(
            select(CmeAuditEntry).where(CmeAuditEntry.programme_id == programme_id)
            .order_by(CmeAuditEntry.at, CmeAuditEntry.id)
        ))


def _logins(db: Database, user_ids: set[int]) -> dict[int, list[tuple[datetime, str]]]:
    """Per account, its logins and logouts in time order."""
    if not user_ids:
        return {}
    with db.session() as session:
        rows = session.execute(
            select(CmeAuditEntry.actor_user_id, CmeAuditEntry.at, CmeAuditEntry.action)
            .where(CmeAuditEntry.actor_user_id.in_(user_ids),
                   CmeAuditEntry.action.in_([audit.Action.LOGIN.value, audit.Action.LOGOUT.value]))
            .order_by(CmeAuditEntry.at)
        )
        result: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
        for user_id, at, action in rows:
            if user_id is not None:
                result[user_id].append((at, action))
        return result


def _logged_in(events: list[tuple[datetime, str]], moment: datetime, lifetime: timedelta) -> bool:
    """The account's last login or logout before ``moment`` is a login less than a session
    lifetime old."""
    index = bisect_right([at for at, _ in events], moment)
    if index == 0:
        return False
    at, action = events[index - 1]
    return action == audit.Action.LOGIN.value and moment - at <= lifetime


def audit_report(
    db: Database, info: ProgrammeInfo, *, session_seconds: int
) -> AuditReport:
    """Every mismatch between the log and the records of programme ``info``.

    ``session_seconds`` is how long a page login lasts (``MEDROOM_TOKEN_TTL_SECONDS``).
    """
    started = audit.first_entry_at(db)
    viewings = _viewings(db, info.live_session_ids)
    attempts = all_attempts(db, info.id)
    log = _log(db, info.id)
    found: list[Mismatch] = []
    left_out = 0

    def comparable(moment: datetime) -> bool:
        nonlocal left_out
        if started is None or moment < started:
            left_out += 1
            return False
        return True

    check_ins = _check_ins(db, info.live_session_ids)
    watchers = {v.person_id for v in viewings} | {c.subject for c in check_ins}
    uses_live = bool(info.live_session_ids) and not info.kind.is_distance
    opens, closes = test_window(info.programme, ZoneInfo(info.timezone))
    starts = {e.target_id: e for e in log if e.action == audit.Action.TEST_START.value}
    submits = {e.target_id: e for e in log if e.action == audit.Action.TEST_SUBMIT.value}
    grace = timedelta(seconds=NETWORK_GRACE_SECONDS)
    for attempt in attempts:
        if not comparable(attempt.started_at):
            continue
        found += _attempt_mismatches(attempt, starts, submits, (opens, closes), grace)
        if uses_live and attempt.person_id not in watchers:
            found.append(Mismatch(
                MismatchKind.TEST_WITHOUT_ATTENDANCE, attempt.person_id, attempt.started_at,
                gettext("attempt %(number)s by '%(person)s', who never joined a live session of"
                        " the programme", number=attempt.number, person=attempt.person_id),
                f"attempt {attempt.id}",
            ))
    known = {a.id for a in attempts}
    for entry in [*starts.values(), *submits.values()]:
        if entry.target_id not in known:
            found.append(Mismatch(
                MismatchKind.LOGGED_WITHOUT_RECORD, entry.actor, entry.at,
                gettext("the log has %(action)s of attempt '%(attempt)s', which the database"
                        " does not hold", action=entry.action, attempt=entry.target_id),
                f"log {entry.id}",
            ))
    lifetime = timedelta(seconds=session_seconds)
    logins = _logins(db, {v.user_id for v in viewings if v.user_id is not None})
    for viewing in viewings:
        if not comparable(viewing.joined_at):
            continue
        if viewing.user_id is None:
            why = gettext("'%(person)s' joined a live session with a token not issued to a"
                          " logged-in account", person=viewing.person_id)
        elif not _logged_in(logins.get(viewing.user_id, []), viewing.joined_at, lifetime):
            why = gettext("'%(person)s' joined a live session with no login of that account in"
                          " the access log before joining", person=viewing.person_id)
        else:
            continue
        found.append(Mismatch(
            MismatchKind.ATTENDANCE_WITHOUT_LOGIN, viewing.person_id, viewing.joined_at,
            why, f"viewer session {viewing.id}",
        ))
    found += _contradictions(db, check_ins)
    found += _answers_without_watching(db, info.live_session_ids)
    found.sort(key=lambda m: (m.at, m.kind.value))
    return AuditReport(
        programme_id=info.id, log_started_at=started, viewer_sessions_checked=len(viewings),
        attempts_checked=len(attempts), log_entries_checked=len(log),
        left_out_before_log=left_out, mismatches=tuple(found),
        presence_check_percent=info.programme.presence_check_percent,
        participation=_participation(db, info),
    )


def _participation(db: Database, info: ProgrammeInfo) -> tuple[ParticipationEntry, ...]:
    percent = info.programme.presence_check_percent
    out = []
    for p in presence_for(db, info):
        for live, done in sorted(p.record.participation.items(), key=lambda kv: int(kv[0])):
            met = None
            if percent and done.checks_asked:
                met = done.checks_answered * 100 >= percent * done.checks_asked
            out.append(ParticipationEntry(
                p.person_id, int(live), done.questions, done.poll_answers, done.checks_asked,
                done.checks_answered, done.talkback_seconds, met))
    return tuple(out)


def _answers_without_watching(db: Database, live_ids: tuple[int, ...]) -> list[Mismatch]:
    """Presence checks answered while the person's own device was not connected to the live
    session: the answer says "I am watching", the viewer sessions say otherwise."""
    if not live_ids:
        return []
    with db.session() as session:
        answers = session.execute(
            select(LiveInteraction.id, LiveInteraction.live_session_id, LiveInteraction.actor,
                   LiveInteraction.at, LiveInteraction.target, LiveInteraction.data)
            .where(LiveInteraction.live_session_id.in_(live_ids),
                   LiveInteraction.kind == POLL_ANSWER, LiveInteraction.actor.is_not(None))
        ).all()
        checks = [a for a in answers if (a.data or {}).get("presence_check")]
        if not checks:
            return []
        views = session.execute(
            select(ViewerSession.live_session_id, ViewerSession.subject, ViewerSession.joined_at,
                   ViewerSession.left_at)
            .where(ViewerSession.live_session_id.in_(live_ids),
                   ViewerSession.subject.in_({a.actor for a in checks}),
                   ViewerSession.role != SCREEN_ROLE)
        ).all()
    found = []
    for a in checks:
        watching = any(v.live_session_id == a.live_session_id and v.subject == a.actor
                       and v.joined_at <= a.at and (v.left_at is None or a.at <= v.left_at)
                       for v in views)
        if not watching:
            found.append(Mismatch(
                MismatchKind.CHECK_ANSWERED_WITHOUT_WATCHING, a.actor, a.at,
                gettext("'%(person)s' answered presence check %(check)s of live session"
                        " %(live)s at %(time)s with no own device connected to it",
                        person=a.actor, check=a.target, live=a.live_session_id,
                        time=_time(a.at)), f"live interaction {a.id}"))
    return found


def _time(moment: datetime) -> str:
    """A time in a mismatch, on the reader's clock with the zone named."""
    return formats.format_time(moment, "medium", with_zone=True)


def _moment(moment: datetime) -> str:
    return formats.format_datetime(moment, "medium", with_zone=True)


def _attempt_mismatches(
    attempt: Attempt,
    starts: dict[str, CmeAuditEntry],
    submits: dict[str, CmeAuditEntry],
    window: tuple[datetime, datetime],
    grace: timedelta,
) -> list[Mismatch]:
    found = []
    record = f"attempt {attempt.id}"
    person = attempt.person_id

    def add(kind: MismatchKind, at: datetime, message: str) -> None:
        found.append(Mismatch(kind, person, at, message, record))

    opens, closes = window
    if not opens <= attempt.started_at < closes:
        add(MismatchKind.ATTEMPT_OUTSIDE_WINDOW, attempt.started_at,
            gettext("attempt %(number)s started outside the test window (%(opens)s to"
                    " %(closes)s)", number=attempt.number, opens=_moment(opens),
                    closes=_moment(closes)))
    if attempt.id not in starts:
        add(MismatchKind.ATTEMPT_NOT_LOGGED, attempt.started_at,
            gettext("attempt %(number)s is in the database but its start is not in the log",
                    number=attempt.number))
    submitted = attempt.submitted_at
    if submitted is None:
        return found
    if submitted > attempt.deadline_at + grace:
        add(MismatchKind.SUBMITTED_AFTER_DEADLINE, submitted,
            gettext("attempt %(number)s was submitted at %(time)s, after its deadline"
                    " %(deadline)s", number=attempt.number, time=_time(submitted),
                    deadline=_time(attempt.deadline_at)))
    if submitted >= closes + grace:
        add(MismatchKind.ATTEMPT_OUTSIDE_WINDOW, submitted,
            gettext("attempt %(number)s was submitted after the test window closed",
                    number=attempt.number))
    logged = submits.get(attempt.id)
    if logged is None:
        add(MismatchKind.ATTEMPT_NOT_LOGGED, submitted,
            gettext("attempt %(number)s is scored in the database but its submission is not in"
                    " the log", number=attempt.number))
    elif logged.detail.get("correct") != attempt.correct:
        add(MismatchKind.SCORE_DIFFERS, submitted,
            gettext("attempt %(number)s: the log recorded %(logged)s correct, the database"
                    " holds %(stored)s", number=attempt.number,
                    logged=logged.detail.get("correct"), stored=attempt.correct))
    return found


def _check_ins(db: Database, live_ids: tuple[int, ...]) -> list[CheckInRecord]:
    with db.session() as session:
        return check_ins_of(session, list(live_ids))


def _contradictions(db: Database, check_ins: list[CheckInRecord]) -> list[Mismatch]:
    """Check-ins of the programme that another record of the same person contradicts."""
    if not check_ins:
        return []
    near = timedelta(minutes=TWO_PLACES_MINUTES)
    users = {c.user_id for c in check_ins}
    first, last = min(c.at for c in check_ins) - near, max(c.at for c in check_ins) + near
    with db.session() as session:
        others = session.scalars(select(CheckIn.live_session_id).where(
            CheckIn.user_id.in_(users), CheckIn.at >= first, CheckIn.at <= last).distinct()).all()
        everywhere = check_ins_of(session, list(others))
        own = session.scalars(select(ViewerSession).where(
            ViewerSession.user_id.in_(users), ViewerSession.role != SCREEN_ROLE,
            ViewerSession.joined_at <= last)).all()
    found = []
    by_user: dict[int, list[CheckInRecord]] = defaultdict(list)
    for c in everywhere:
        by_user[c.user_id].append(c)
    flagged: set[tuple[int, int]] = set()
    for c in check_ins:
        for other in by_user[c.user_id]:
            pair = (min(c.check_id, other.check_id), max(c.check_id, other.check_id))
            if (other.place_label != c.place_label and abs(other.at - c.at) < near
                    and pair not in flagged):
                flagged.add(pair)
                found.append(Mismatch(
                    MismatchKind.TWO_PLACES_AT_ONCE, c.subject, max(c.at, other.at),
                    gettext("'%(person)s' checked in at %(place)s at %(time)s and at %(other)s"
                            " at %(other_time)s: two places at once", person=c.subject,
                            place=c.place_label, time=_time(c.at), other=other.place_label,
                            other_time=_time(other.at)),
                    f"check-ins of checks {pair[0]} and {pair[1]}"))
        for v in own:
            if v.user_id == c.user_id and v.joined_at <= c.at and (v.left_at is None
                                                                   or c.at < v.left_at):
                found.append(Mismatch(
                    MismatchKind.CHECK_IN_DURING_OWN_SESSION, c.subject, c.at,
                    gettext("'%(person)s' checked in at %(place)s at %(time)s while their own"
                            " device was connected to live session %(live)s (%(room)s)",
                            person=c.subject, place=c.place_label, time=_time(c.at),
                            live=v.live_session_id, room=v.room_id),
                    f"viewer session {v.id}"))
    return found

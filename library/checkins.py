"""Presence checks and check-ins: who was in which classroom, proven from their own phone.

While a room is live, its session has presence checks: number 1 opens with the session (made
on first use, dated at the session's start), and the instructor (a console button) or the
random timer opens the next. Every place watching the room (each classroom following it, and
the operating room itself) shows codes for the latest check only (``library.checkin_codes``).

A person checks in from their phone, logged in to their own account. Refused, each with a
message the phone shows: a code that is not one, expired (older than the previous 30 s window),
from an earlier check, from another classroom than the one whose QR code was scanned, an
answer already given (a replay), a second place in the same session (one person, one place),
and a phone that already checked in another account in this session (one phone, one account).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from library.checkin_codes import (
    ACCEPTED_WINDOWS,
    CODE_LENGTH,
    CodeBook,
    classroom_place,
    normalize,
    recognise,
    room_place,
    window_of,
)
from library.classroom_models import CheckIn, Classroom, PresenceCheck
from library.cme import audit
from library.db import Database
from library.i18n import formats, lazy
from library.models import LiveSession, User, utcnow

MAX_CHECKS_PER_SESSION = 200  # one every minute of a long day: more is a stuck button
MIN_SECONDS_BETWEEN_CHECKS = 60


class CheckInRefused(Exception):
    """A check-in that does not count; ``reason`` is a short word for the log, the message is
    for the person holding the phone."""

    def __init__(self, message: str, reason: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message  # a LazyText: shown in the language of the phone that sent it
        self.reason = reason
        self.status = status


class PresenceCheckError(Exception):
    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class CheckInfo:
    id: int
    live_session_id: int
    seq: int
    kind: str
    opened_at: datetime


@dataclass(frozen=True)
class Accepted:
    check_in_id: int
    live_session_id: int
    room_id: str
    place: str
    place_label: str
    check_seq: int
    at: datetime


@dataclass(frozen=True)
class ShownCode:
    """What a screen shows now: the code, its check, and when the next code comes."""

    code: str
    check: CheckInfo
    window: int


def device_hash(device_key: str) -> str:
    return hashlib.sha256(device_key.encode("utf-8")).hexdigest()


def _check_info(row: PresenceCheck) -> CheckInfo:
    return CheckInfo(row.id, row.live_session_id, row.seq, row.kind, row.opened_at)


def _open_live(session: Session, room_id: str) -> LiveSession | None:
    return session.scalar(select(LiveSession).where(
        LiveSession.room_id == room_id, LiveSession.ended_at.is_(None)))


def _latest_check(session: Session, live: LiveSession) -> PresenceCheck | None:
    return session.scalar(select(PresenceCheck).where(PresenceCheck.live_session_id == live.id)
                          .order_by(PresenceCheck.seq.desc()).limit(1))


def _start_checks(db: Database, room_id: str | None = None) -> None:
    """Give every open live session (of ``room_id``) its first check, dated at its start.

    In a transaction of its own, before the caller's: two requests making it at once meet the
    unique (session, number) and the loser reads the winner's."""
    with db.session() as session:
        query = select(LiveSession).where(LiveSession.ended_at.is_(None))
        if room_id is not None:
            query = query.where(LiveSession.room_id == room_id)
        missing = [live for live in session.scalars(query).all()
                   if _latest_check(session, live) is None]
    for live in missing:
        try:
            with db.session() as session:
                session.add(PresenceCheck(live_session_id=live.id, seq=1, kind="start",
                                          opened_at=live.started_at))
        except IntegrityError:
            pass  # another request made it first


class _NoStartCheck(Exception):
    """A live session has no check yet: the caller makes the first one and tries again."""


def _checked_latest(session: Session, live: LiveSession) -> PresenceCheck:
    row = _latest_check(session, live)
    if row is None:  # the session went live between _start_checks and now
        raise PresenceCheckError(lazy("the session has just started: try again in a second",
                                      "session_just_started"), 503)
    return row


def current_code(db: Database, book: CodeBook, room_id: str, place: str,
                 now: datetime | None = None) -> ShownCode | None:
    """The code ``place`` shows now for ``room_id``'s live session; None while it is not live."""
    now = now or utcnow()
    _start_checks(db, room_id)
    with db.session() as session:
        live = _open_live(session, room_id)
        if live is None:
            return None
        check = _checked_latest(session, live)
        window = window_of(now)
        return ShownCode(book.code(place, check.id, window), _check_info(check), window)


def open_check(db: Database, room_id: str, kind: str, by: int | None,
               now: datetime | None = None) -> CheckInfo:
    """Start a new presence check in the room's live session: every place shows new codes."""
    now = now or utcnow()
    _start_checks(db, room_id)
    with db.session() as session:
        live = _open_live(session, room_id)
        if live is None:
            raise PresenceCheckError(lazy("room '%(room)s' is not live: there is no one to check",
                                          "room_not_live", room=room_id))
        latest = _checked_latest(session, live)
        if latest.seq >= MAX_CHECKS_PER_SESSION:
            raise PresenceCheckError(lazy(
                "this session has had %(count)s presence checks, the most it may have",
                "too_many_presence_checks", count=latest.seq))
        since = (now - latest.opened_at).total_seconds()
        if since < MIN_SECONDS_BETWEEN_CHECKS:
            raise PresenceCheckError(lazy(
                "the last presence check opened %(since)s s ago; people need at least "
                "%(least)s s to answer one before the next", "presence_check_too_soon",
                since=int(since), least=MIN_SECONDS_BETWEEN_CHECKS))
        row = PresenceCheck(live_session_id=live.id, seq=latest.seq + 1, kind=kind,
                            opened_at=now, opened_by=by)
        session.add(row)
        session.flush()
        return _check_info(row)


def checks_of(db: Database, live_session_id: int) -> list[CheckInfo]:
    with db.session() as session:
        rows = session.scalars(select(PresenceCheck).where(
            PresenceCheck.live_session_id == live_session_id).order_by(PresenceCheck.seq))
        return [_check_info(r) for r in rows]


def _place_label(session: Session, place: str) -> str:
    kind, _, ident = place.partition(":")
    if kind == "classroom":
        row = session.get(Classroom, int(ident))
        return f"{row.name}, {row.city}" if row is not None else place
    return lazy("the operating room")


def check_in(db: Database, book: CodeBook, code: str, *, user_id: int, device: str,
             client: str = "", expected_place: str | None = None,
             now: datetime | None = None, actor: audit.Actor | None = None) -> Accepted:
    """Record ``user_id`` present where ``code`` was shown, or raise ``CheckInRefused``.

    With ``actor``, the access log's line is written in the same transaction as the check-in:
    both are kept or neither (and one commit, not two, per check-in)."""
    now = now or utcnow()
    typed = normalize(code)
    if len(typed) != CODE_LENGTH:
        raise CheckInRefused(lazy(
            "A check-in code has %(length)s letters and digits, as on the classroom screen "
            "(e.g. %(example)s).", "checkin_malformed", length=CODE_LENGTH, example="K7QM-4PX2"),
            "malformed")
    window = window_of(now)
    try:
        try:
            return _check_in(db, book, typed, window, user_id=user_id, device=device,
                             client=client, expected_place=expected_place, now=now, actor=actor)
        except _NoStartCheck:  # once per live session: make its first check, then again
            _start_checks(db)
            return _check_in(db, book, typed, window, user_id=user_id, device=device,
                             client=client, expected_place=expected_place, now=now, actor=actor)
    except IntegrityError:  # the same person's answer sent twice at once: the unique key
        raise CheckInRefused(lazy(
            "You are already checked in for this presence check.", "checkin_replay"),
            "replay", 409) from None


def _check_in(db: Database, book: CodeBook, typed: str, window: int, *, user_id: int,
              device: str, client: str, expected_place: str | None, now: datetime,
              actor: audit.Actor | None) -> Accepted:
    with db.session() as session:
        lives = session.scalars(select(LiveSession).where(LiveSession.ended_at.is_(None))).all()
        match = None
        for live in lives:
            places = [room_place(live.room_id)] + [
                classroom_place(cid) for cid in session.scalars(
                    select(Classroom.id).where(Classroom.room_id == live.room_id))]
            latest = _latest_check(session, live)
            if latest is None:
                raise _NoStartCheck()
            checks = [latest.id] + list(session.scalars(
                select(PresenceCheck.id).where(PresenceCheck.live_session_id == live.id,
                                               PresenceCheck.id != latest.id)
                .order_by(PresenceCheck.seq.desc()).limit(5)))
            found = recognise(book, typed, places, checks, window)
            if found is not None:
                match = (live, latest, found)
                break
        if match is None:
            raise CheckInRefused(lazy(
                "This is not a check-in code of a session that is live now. Check the letters "
                "and digits on the classroom screen, or scan its QR code.", "checkin_unknown"),
                "unknown", 404)
        live, latest, found = match
        if found.check_id != latest.id:
            raise CheckInRefused(lazy(
                "This code belongs to an earlier presence check. The screen shows a new code "
                "now: scan that one.", "checkin_earlier_check"), "earlier check", 410)
        if window - found.window >= ACCEPTED_WINDOWS:
            raise CheckInRefused(lazy(
                "This code has expired: codes change every 30 seconds and this one is "
                "%(late)s s past its time. Scan the code on the screen now.", "checkin_expired",
                late=(window - found.window) * 30 - 30), "expired", 410)
        label = _place_label(session, found.place)
        if expected_place is not None and expected_place != found.place:
            raise CheckInRefused(lazy(
                "This code is from %(place)s, not from %(expected)s whose check-in page you "
                "opened. Scan the code on the screen in front of you.", "checkin_other_place",
                place=label, expected=_place_label(session, expected_place)),
                "other classroom", 409)
        mine = session.execute(
            select(CheckIn.check_id, CheckIn.classroom_id, CheckIn.at)
            .where(CheckIn.live_session_id == live.id, CheckIn.user_id == user_id)
        ).all()
        place_id = int(found.place.split(":")[1]) if found.place.startswith("classroom:") else None
        for _, classroom_id, _ in mine:
            if classroom_id != place_id:
                other = _place_label(session, classroom_place(classroom_id)
                                     if classroom_id is not None else room_place(live.room_id))
                raise CheckInRefused(lazy(
                    "You checked in at %(other)s for this session; this code is from %(place)s. "
                    "One person is in one place: check in at the screen of the hall you are "
                    "in.", "checkin_other_place", other=other, place=label),
                    "other classroom", 409)
        for check_id, _, at in mine:
            if check_id == latest.id:
                raise CheckInRefused(lazy(
                    "You are already checked in for this presence check (at %(time)s). "
                    "Nothing more to do until the next one.", "checkin_replay",
                    time=formats.format_time(at, "medium", with_zone=True)), "replay", 409)
        hashed = device_hash(device)
        # Not named: whoever holds the phone now need not learn who used it before.
        other_user = session.scalar(
            select(CheckIn.id).where(CheckIn.live_session_id == live.id,
                                     CheckIn.device_hash == hashed,
                                     CheckIn.user_id != user_id).limit(1))
        if other_user is not None:
            raise CheckInRefused(lazy(
                "This phone already checked in another account for this session: one phone "
                "checks in one account. Check in with your own phone.", "checkin_shared_phone"),
                "shared phone", 409)
        subject = session.scalar(select(User.username).where(User.id == user_id)) or ""
        row = CheckIn(check_id=latest.id, live_session_id=live.id, classroom_id=place_id,
                      user_id=user_id, subject=subject, at=now, window=found.window,
                      device_hash=hashed, client=client[:64])
        session.add(row)
        session.flush()
        if actor is not None:
            audit.add(session, actor, audit.Action.CHECK_IN, target=audit.Target.LIVE_SESSION,
                      target_id=live.id, at=now,
                      detail={"place": found.place, "check": latest.seq, "check_in": row.id})
        return Accepted(row.id, live.id, live.room_id, found.place, label, latest.seq, now)


@dataclass(frozen=True)
class CheckInRecord:
    """One check-in as the attendance and audit read it."""

    check_id: int
    live_session_id: int
    classroom_id: int | None
    place_label: str
    user_id: int
    subject: str
    display_name: str
    role: str
    at: datetime


def check_ins_of(session: Session, live_ids: list[int]) -> list[CheckInRecord]:
    if not live_ids:
        return []
    rows = session.execute(
        select(CheckIn, User.display_name, User.role, Classroom.name, Classroom.city)
        .join(User, User.id == CheckIn.user_id)
        .outerjoin(Classroom, Classroom.id == CheckIn.classroom_id)
        .where(CheckIn.live_session_id.in_(live_ids))
        .order_by(CheckIn.at, CheckIn.id))
    return [CheckInRecord(c.check_id, c.live_session_id, c.classroom_id,
                          f"{name}, {city}" if name else "the operating room", c.user_id,
                          c.subject, display or c.subject, role, c.at)
            for c, display, role, name, city in rows]


def checks_in(session: Session, live_ids: list[int]) -> dict[int, list[CheckInfo]]:
    out: dict[int, list[CheckInfo]] = {i: [] for i in live_ids}
    if not live_ids:
        return out
    for row in session.scalars(select(PresenceCheck).where(
            PresenceCheck.live_session_id.in_(live_ids)).order_by(PresenceCheck.seq)):
        out[row.live_session_id].append(_check_info(row))
    return out


def present_count(db: Database, room_id: str, place: str) -> tuple[int, int]:
    """(people checked in for the latest check, people checked in this session) at ``place``."""
    with db.session() as session:
        live = _open_live(session, room_id)
        if live is None:
            return 0, 0
        latest = _latest_check(session, live)
        if latest is None:
            return 0, 0
        classroom_id = int(place.split(":")[1]) if place.startswith("classroom:") else None
        cond = (CheckIn.classroom_id == classroom_id if classroom_id is not None
                else CheckIn.classroom_id.is_(None))
        now_count = session.scalar(select(func.count()).select_from(CheckIn).where(
            CheckIn.check_id == latest.id, cond)) or 0
        total = session.scalar(select(func.count(func.distinct(CheckIn.user_id))).where(
            CheckIn.live_session_id == live.id, cond)) or 0
        return int(now_count), int(total)



"""Attendance raw material: live sessions of a room and the viewer sessions inside them.

CME credits are computed later from these rows, so the rules here keep them trustworthy:
times are server-side UTC, a closed row is never reopened or re-closed (the first reason
wins), and rows left open by a crash are closed on the next start with a reason that says so.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Result, select, update
from sqlalchemy.exc import IntegrityError

from library.db import Database
from library.models import LiveSession, ViewerSession, utcnow

REASON_SESSION_ENDED = "session ended"
REASON_SERVER_RESTART = "server restart"
MAX_REASON_LENGTH = 200


class AttendanceError(Exception):
    """An attendance event does not fit the recorded state; the message says what and why."""


@dataclass(frozen=True)
class LiveSessionInfo:
    id: int
    room_id: str
    title: str
    started_at: datetime
    ended_at: datetime | None
    started_by: int | None


@dataclass(frozen=True)
class ViewerRecord:
    id: str
    live_session_id: int
    room_id: str
    user_id: int | None
    subject: str
    role: str
    joined_at: datetime
    left_at: datetime | None
    left_reason: str | None


def _live_info(row: LiveSession) -> LiveSessionInfo:
    return LiveSessionInfo(
        id=row.id,
        room_id=row.room_id,
        title=row.title,
        started_at=row.started_at,
        ended_at=row.ended_at,
        started_by=row.started_by,
    )


def _viewer_record(row: ViewerSession) -> ViewerRecord:
    return ViewerRecord(
        id=row.id,
        live_session_id=row.live_session_id,
        room_id=row.room_id,
        user_id=row.user_id,
        subject=row.subject,
        role=row.role,
        joined_at=row.joined_at,
        left_at=row.left_at,
        left_reason=row.left_reason,
    )


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise AttendanceError("a leave reason is required (e.g. 'closed', 'timeout')")
    return text[:MAX_REASON_LENGTH]


def start_live_session(db: Database, room_id: str, title: str, started_by: int | None) -> int:
    """Record that a room went live; returns the new live session id.

    Raises ``AttendanceError`` if the room already has an open live session: two open ones
    would make every viewer's attendance ambiguous. End it (or run ``close_dangling``) first.
    """
    if not room_id.strip():
        raise AttendanceError("room_id is empty")
    with db.session() as session:
        open_id = session.scalar(
            select(LiveSession.id).where(
                LiveSession.room_id == room_id, LiveSession.ended_at.is_(None)
            )
        )
        if open_id is not None:
            raise AttendanceError(
                f"room {room_id!r} already has live session {open_id} open; "
                "end it before starting another"
            )
        row = LiveSession(
            room_id=room_id,
            title=title.strip() or room_id,
            started_at=utcnow(),
            started_by=started_by,
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError as exc:
            raise AttendanceError(
                f"cannot start a live session in room {room_id!r}: no user with id {started_by}"
            ) from exc
        return row.id


def end_live_session(db: Database, live_session_id: int) -> None:
    """Record the end of a live session and close its viewers with reason "session ended".

    Ending an already ended session changes nothing (shutdown paths may call it twice).
    """
    now = utcnow()
    with db.session() as session:
        row = session.get(LiveSession, live_session_id)
        if row is None:
            raise AttendanceError(f"no live session with id {live_session_id}")
        if row.ended_at is not None:
            return
        row.ended_at = now
        session.execute(
            update(ViewerSession)
            .where(
                ViewerSession.live_session_id == live_session_id,
                ViewerSession.left_at.is_(None),
            )
            .values(left_at=now, left_reason=REASON_SESSION_ENDED)
        )


def get_live_session(db: Database, live_session_id: int) -> LiveSessionInfo | None:
    with db.session() as session:
        row = session.get(LiveSession, live_session_id)
        return None if row is None else _live_info(row)


def list_live_sessions(db: Database, room_id: str | None = None) -> list[LiveSessionInfo]:
    """Live sessions, newest first, optionally of one room."""
    query = select(LiveSession).order_by(LiveSession.started_at.desc(), LiveSession.id.desc())
    if room_id is not None:
        query = query.where(LiveSession.room_id == room_id)
    with db.session() as session:
        return [_live_info(row) for row in session.scalars(query)]


def viewer_joined(
    db: Database,
    live_session_id: int,
    room_id: str,
    viewer_id: str,
    user_id: int | None,
    subject: str,
    role: str,
) -> None:
    """Record a viewer joining an open live session of ``room_id``.

    ``viewer_id`` is the streaming layer's UUID for the connection. Raises ``AttendanceError``
    for an unknown, ended or other-room live session, a malformed or reused viewer id.
    """
    try:
        vid = str(uuid.UUID(viewer_id))
    except ValueError:
        raise AttendanceError(f"viewer id {viewer_id!r} is not a UUID") from None
    if not subject.strip():
        raise AttendanceError(f"viewer {vid} has an empty subject")
    with db.session() as session:
        live = session.get(LiveSession, live_session_id)
        if live is None:
            raise AttendanceError(f"no live session with id {live_session_id}")
        if live.room_id != room_id:
            raise AttendanceError(
                f"live session {live_session_id} belongs to room {live.room_id!r}, not {room_id!r}"
            )
        if live.ended_at is not None:
            raise AttendanceError(
                f"live session {live_session_id} of room {room_id!r} has already ended"
            )
        if session.get(ViewerSession, vid) is not None:
            raise AttendanceError(f"viewer {vid} has already joined; viewer ids are single-use")
        session.add(
            ViewerSession(
                id=vid,
                live_session_id=live_session_id,
                room_id=room_id,
                user_id=user_id,
                subject=subject.strip(),
                role=role,
                joined_at=utcnow(),
            )
        )
        try:
            session.flush()
        except IntegrityError as exc:
            raise AttendanceError(
                f"cannot record viewer {vid}: no user with id {user_id}, "
                "or the viewer id was used concurrently"
            ) from exc


def viewer_left(db: Database, viewer_id: str, reason: str) -> None:
    """Record a viewer leaving. Leaving twice keeps the first time and reason."""
    why = _reason(reason)
    try:
        vid = str(uuid.UUID(viewer_id))
    except ValueError:
        raise AttendanceError(f"viewer id {viewer_id!r} is not a UUID") from None
    with db.session() as session:
        row = session.get(ViewerSession, vid)
        if row is None:
            raise AttendanceError(f"no viewer session with id {vid}")
        if row.left_at is None:
            row.left_at = utcnow()
            row.left_reason = why


def close_dangling(db: Database) -> int:
    """Close live and viewer sessions a crash left open, with reason "server restart".

    Call once on start-up, before the rooms go live. Returns how many rows were closed (live
    sessions plus viewer sessions). The closing time is now, the best the database knows; a
    long outage therefore lengthens those sessions, and the reason lets CME review spot them.
    """
    now = utcnow()
    with db.session() as session:
        viewers = _rowcount(
            session.execute(
                update(ViewerSession)
                .where(ViewerSession.left_at.is_(None))
                .values(left_at=now, left_reason=REASON_SERVER_RESTART)
            )
        )
        lives = _rowcount(
            session.execute(
                update(LiveSession).where(LiveSession.ended_at.is_(None)).values(ended_at=now)
            )
        )
    return viewers + lives


def _rowcount(result: Result[Any]) -> int:
    # An UPDATE statement always yields a CursorResult; Session.execute is typed more loosely.
    return cast(CursorResult[Any], result).rowcount


def list_viewer_sessions(db: Database, live_session_id: int) -> list[ViewerRecord]:
    """The viewer sessions of one live session, in the order they joined."""
    with db.session() as session:
        rows = session.scalars(
            select(ViewerSession)
            .where(ViewerSession.live_session_id == live_session_id)
            .order_by(ViewerSession.joined_at, ViewerSession.id)
        )
        return [_viewer_record(row) for row in rows]

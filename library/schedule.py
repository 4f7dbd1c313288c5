"""Sessions planned ahead: what the room must record, and when.

The schedule lives in the database, so a restart (or a crash) picks it up again; the loop that
acts on it lives in the server. ``due_actions`` is the decision, kept pure so it can be tested
without a clock or a room.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from sqlalchemy import select

from library.db import Database
from library.models import ScheduledSession, utcnow


class ScheduleError(ValueError):
    """A session that cannot be planned; the message says why."""


class ScheduleState(str, Enum):
    PLANNED = "planned"
    RECORDING = "recording"
    DONE = "done"
    CANCELLED = "cancelled"
    MISSED = "missed"  # the whole window passed while the server was down
    FAILED = "failed"


OPEN_STATES = (ScheduleState.PLANNED, ScheduleState.RECORDING)


@dataclass(frozen=True)
class ScheduledInfo:
    id: int
    room_id: str
    title: str
    course: str | None
    starts_at: datetime
    ends_at: datetime
    state: ScheduleState
    recording_ids: tuple[str, ...]
    message: str | None


def _info(row: ScheduledSession) -> ScheduledInfo:
    return ScheduledInfo(
        id=row.id, room_id=row.room_id, title=row.title, course=row.course,
        starts_at=row.starts_at, ends_at=row.ends_at, state=ScheduleState(row.state),
        recording_ids=tuple(i for i in row.recording_ids.split(",") if i),
        message=row.message,
    )


def plan_session(
    db: Database,
    *,
    room_id: str,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    course: str | None = None,
    created_by: int | None = None,
    max_seconds: float | None = None,
    now: datetime | None = None,
) -> ScheduledInfo:
    """Plan a session; refuse a past, empty, too long or overlapping one."""
    now = now or utcnow()
    title = title.strip()
    if not title:
        raise ScheduleError("a scheduled session needs a title")
    if len(title) > 200:
        raise ScheduleError("the title is longer than 200 characters")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ScheduleError("give start and end with a time zone (e.g. 2026-11-24T09:00+02:00)")
    if ends_at <= starts_at:
        raise ScheduleError("the session must end after it starts")
    if ends_at <= now:
        raise ScheduleError("the session is already over: its end is in the past")
    if max_seconds is not None and (ends_at - starts_at).total_seconds() > max_seconds:
        raise ScheduleError(
            f"the session is longer than the recording limit of {max_seconds / 3600:g} h"
        )
    with db.session() as session:
        clash = session.scalars(
            select(ScheduledSession).where(
                ScheduledSession.room_id == room_id,
                ScheduledSession.state.in_([s.value for s in OPEN_STATES]),
                ScheduledSession.starts_at < ends_at,
                ScheduledSession.ends_at > starts_at,
            )
        ).first()
        if clash is not None:
            raise ScheduleError(
                f"room '{room_id}' already has '{clash.title}' planned from "
                f"{clash.starts_at:%Y-%m-%d %H:%M} to {clash.ends_at:%H:%M} UTC"
            )
        row = ScheduledSession(
            room_id=room_id, title=title, course=(course or "").strip() or None,
            starts_at=starts_at, ends_at=ends_at, state=ScheduleState.PLANNED.value,
            recording_ids="", created_by=created_by,
        )
        session.add(row)
        session.flush()
        return _info(row)


def list_sessions(
    db: Database, room_id: str | None = None, since: datetime | None = None
) -> list[ScheduledInfo]:
    """Scheduled sessions by start time, optionally of one room and ending after ``since``."""
    query = select(ScheduledSession).order_by(ScheduledSession.starts_at)
    if room_id is not None:
        query = query.where(ScheduledSession.room_id == room_id)
    if since is not None:
        query = query.where(ScheduledSession.ends_at > since)
    with db.session() as session:
        return [_info(row) for row in session.scalars(query)]


def open_sessions(db: Database) -> list[ScheduledInfo]:
    query = select(ScheduledSession).where(
        ScheduledSession.state.in_([s.value for s in OPEN_STATES])
    ).order_by(ScheduledSession.starts_at)
    with db.session() as session:
        return [_info(row) for row in session.scalars(query)]


def get_session(db: Database, session_id: int) -> ScheduledInfo | None:
    with db.session() as session:
        row = session.get(ScheduledSession, session_id)
        return _info(row) if row is not None else None


def update_session(
    db: Database,
    session_id: int,
    state: ScheduleState,
    *,
    add_recording: str | None = None,
    message: str | None = None,
) -> ScheduledInfo:
    with db.session() as session:
        row = session.get(ScheduledSession, session_id)
        if row is None:
            raise ScheduleError(f"no scheduled session {session_id}")
        row.state = state.value
        if add_recording:
            row.recording_ids = ",".join([*filter(None, row.recording_ids.split(",")),
                                          add_recording])
        if message is not None:
            row.message = message[:500]
        session.flush()
        return _info(row)


def cancel_session(db: Database, session_id: int) -> ScheduledInfo:
    info = get_session(db, session_id)
    if info is None:
        raise ScheduleError(f"no scheduled session {session_id}")
    if info.state is not ScheduleState.PLANNED:
        raise ScheduleError(
            f"session {session_id} is {info.state.value}: only a planned session can be cancelled"
            " (stop a recording one from the console)"
        )
    return update_session(db, session_id, ScheduleState.CANCELLED)


class Action(str, Enum):
    START = "start"  # begin (or, after a restart, resume) recording
    STOP = "stop"  # the window is over
    MISS = "miss"  # the window passed entirely while nothing ran


def due_actions(
    sessions: list[ScheduledInfo], now: datetime, recording: set[int]
) -> list[tuple[Action, ScheduledInfo]]:
    """What to do now. ``recording``: ids of sessions with a recording running right now."""
    actions: list[tuple[Action, ScheduledInfo]] = []
    for s in sessions:
        inside = s.starts_at <= now < s.ends_at
        if s.state is ScheduleState.PLANNED:
            if inside:
                actions.append((Action.START, s))
            elif now >= s.ends_at:
                actions.append((Action.MISS, s))
        elif s.state is ScheduleState.RECORDING:
            if now >= s.ends_at:
                actions.append((Action.STOP, s))
            elif s.id not in recording:
                # Recording, but nothing runs: the server restarted mid-session. Carry on.
                actions.append((Action.START, s))
    return actions


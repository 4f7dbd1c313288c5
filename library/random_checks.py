"""Presence checks at random moments, within the limits a programme's organiser sets.

An organiser sets, per programme, the least and the most minutes between two presence checks.
While a live session that carries the programme runs, the next check comes at a moment drawn
between those limits after the last one. The moment is drawn from an HMAC of the session and
the last check's number under the server's secret: nobody in a hall can predict it, and it is
the same moment after a server restart (no state to keep). When several programmes share a
live session, the tightest limits apply.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from library.checkins import CheckInfo, PresenceCheckError, open_check
from library.classroom_models import PresenceCheck, ProgrammeRandomChecks
from library.cme_models import CmeProgrammeLiveSession
from library.db import Database
from library.i18n import lazy
from library.models import LiveSession, utcnow

MIN_MINUTES = 5
MAX_MINUTES = 240


class RandomChecksError(ValueError):
    pass


@dataclass(frozen=True)
class Limits:
    min_minutes: int
    max_minutes: int


def set_limits(db: Database, programme_id: int, limits: Limits | None) -> None:
    """Set (or with None, turn off) the programme's random presence checks."""
    if limits is not None and not (
            MIN_MINUTES <= limits.min_minutes <= limits.max_minutes <= MAX_MINUTES):
        raise RandomChecksError(lazy(
            "random presence checks: need %(low)s <= least minutes <= most minutes <= "
            "%(high)s (got %(least)s and %(most)s)", "random_checks_out_of_range",
            low=MIN_MINUTES, high=MAX_MINUTES, least=limits.min_minutes, most=limits.max_minutes))
    with db.session() as session:
        row = session.get(ProgrammeRandomChecks, programme_id)
        if limits is None:
            if row is not None:
                session.delete(row)
            return
        if row is None:
            session.add(ProgrammeRandomChecks(programme_id=programme_id,
                                              min_minutes=limits.min_minutes,
                                              max_minutes=limits.max_minutes))
        else:
            row.min_minutes, row.max_minutes = limits.min_minutes, limits.max_minutes


def limits_of(db: Database, programme_id: int) -> Limits | None:
    with db.session() as session:
        row = session.get(ProgrammeRandomChecks, programme_id)
        return None if row is None else Limits(row.min_minutes, row.max_minutes)


def next_due(secret: bytes, live_session_id: int, seq: int, opened_at: datetime,
             limits: Limits) -> datetime:
    """When the check after number ``seq`` (opened at ``opened_at``) is due."""
    mac = hmac.new(secret, f"random-check|{live_session_id}|{seq}".encode(), hashlib.sha256)
    fraction = int.from_bytes(mac.digest()[:8], "big") / 2**64
    span = (limits.max_minutes - limits.min_minutes) * 60
    return opened_at + timedelta(seconds=limits.min_minutes * 60 + fraction * span)


def open_due_checks(db: Database, secret: bytes, now: datetime | None = None) -> list[CheckInfo]:
    """Open the random checks that are due in the live sessions running now."""
    now = now or utcnow()
    with db.session() as session:
        rows = session.execute(
            select(LiveSession.id, LiveSession.room_id, LiveSession.started_at,
                   func.min(ProgrammeRandomChecks.min_minutes),
                   func.min(ProgrammeRandomChecks.max_minutes))
            .join(CmeProgrammeLiveSession, CmeProgrammeLiveSession.live_session_id == LiveSession.id)
            .join(ProgrammeRandomChecks,
                  ProgrammeRandomChecks.programme_id == CmeProgrammeLiveSession.programme_id)
            .where(LiveSession.ended_at.is_(None))
            .group_by(LiveSession.id, LiveSession.room_id, LiveSession.started_at)).all()
        due = []
        for live_id, room_id, started_at, least, most in rows:
            latest = session.execute(
                select(PresenceCheck.seq, PresenceCheck.opened_at)
                .where(PresenceCheck.live_session_id == live_id)
                .order_by(PresenceCheck.seq.desc()).limit(1)).one_or_none()
            seq, opened_at = latest if latest is not None else (1, started_at)
            limits = Limits(int(least), max(int(least), int(most)))
            if now >= next_due(secret, live_id, seq, opened_at, limits):
                due.append(room_id)
    opened = []
    for room_id in due:
        try:
            opened.append(open_check(db, room_id, "random", None, now=now))
        except PresenceCheckError:
            pass  # ended meanwhile, or the instructor opened one a moment ago
    return opened

"""Server-side log-in sessions: the browser holds a random key, the database holds the rest.

The key is 256 random bits; only its SHA-256 is stored, so a copy of the database (a backup,
a log of queries) lets nobody act as a logged-in user. A session ends when its owner logs out,
when the account's password changes, when the account is disabled, or when its owner signs out
everywhere; an ended session stays in the table with the reason, for the record.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from library.db import Database
from library.models import User, WebSession, utcnow

# Writing last_seen_at on every request would turn each page load into a database write;
# once a minute is enough to tell an active session from a forgotten one.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


class EndReason(str, Enum):
    LOGOUT = "logout"
    PASSWORD_CHANGED = "password changed"
    ACCOUNT_DISABLED = "account disabled"
    SIGNED_OUT_EVERYWHERE = "signed out everywhere"


@dataclass(frozen=True)
class SessionRecord:
    """A live session and the account behind it, as one request needs them."""

    id: int
    user_id: int
    username: str
    display_name: str
    role: str
    token_generation: int  # the account's, for tokens this session asks for
    expires_at: datetime
    locale: str | None = None  # the account's language and time zone (None: the browser's)
    time_zone: str | None = None


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return secrets.token_urlsafe(32)


def start_session(db: Database, user_id: int, lifetime_seconds: int) -> str:
    """A new session for ``user_id``; returns the key for the cookie (stored nowhere else)."""
    key = new_key()
    now = utcnow()
    with db.session() as session:
        session.add(WebSession(
            key_hash=key_hash(key), user_id=user_id, created_at=now, last_seen_at=now,
            expires_at=now + timedelta(seconds=lifetime_seconds),
        ))
    return key


def find_session(db: Database, key: str) -> SessionRecord | None:
    """The live session of ``key``: None when unknown, ended, expired or its account disabled."""
    now = utcnow()
    with db.session() as session:
        # Columns, not ORM objects: this runs on every request of a logged-in page.
        row = session.execute(
            select(WebSession.id, WebSession.expires_at, WebSession.last_seen_at, User.id,
                   User.username, User.display_name, User.role, User.token_generation, User.locale, User.time_zone)
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.key_hash == key_hash(key), WebSession.ended_at.is_(None),
                   WebSession.expires_at > now, User.is_active.is_(True))
        ).one_or_none()
        if row is None:
            return None
        (session_id, expires_at, last_seen_at, user_id, username, display_name, role, gen,
         locale, time_zone) = row
        if now - last_seen_at >= LAST_SEEN_RESOLUTION:
            session.execute(update(WebSession).where(WebSession.id == session_id)
                            .values(last_seen_at=now))
        return SessionRecord(
            id=session_id, user_id=user_id, username=username, display_name=display_name,
            role=role, token_generation=gen, expires_at=expires_at, locale=locale,
            time_zone=time_zone,
        )


def end_session(db: Database, session_id: int, reason: EndReason) -> None:
    with db.session() as session:
        session.execute(
            update(WebSession)
            .where(WebSession.id == session_id, WebSession.ended_at.is_(None))
            .values(ended_at=utcnow(), end_reason=reason.value)
        )


def end_user_sessions(session: Session, user_id: int, reason: EndReason) -> int:
    """End every live session of ``user_id`` inside the caller's transaction; how many ended."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason.value)
    )
    return int(getattr(result, "rowcount", 0) or 0)

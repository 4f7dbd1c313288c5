"""ORM models. Private to ``library/``: everything outside gets plain dataclasses instead.

Every timestamp is UTC and timezone-aware in Python. Viewer sessions are the raw material for
CME attendance, so a naive datetime that could be read as local time is never let through.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names, so later migrations can drop or alter them by name on
# PostgreSQL and in SQLite batch mode alike. 0001_initial.py spells out the same names.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLE_VALUES = ("admin", "instructor", "curator", "student")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zone type and hands back naive values,
    which we stamp as UTC because we only ever write UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: MedRoom stores only aware UTC times")
        value = value.astimezone(UTC)
        # SQLite would store the offset text and compare strings; storing naive UTC keeps
        # ordering and comparisons right.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'instructor', 'curator', 'student')", name="role_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LiveSession(Base):
    """One stretch of a room being live (from 'go live' to 'end'), the unit CME counts against."""

    __tablename__ = "live_sessions"
    __table_args__ = (Index("ix_live_sessions_room_id_started_at", "room_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # SET NULL: deleting an account must not erase the record that the session happened.
    started_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )


class ViewerSession(Base):
    """One viewer's presence in one live session (one WebRTC connection, join to leave)."""

    __tablename__ = "viewer_sessions"
    __table_args__ = (
        Index("ix_viewer_sessions_live_session_id", "live_session_id"),
        Index("ix_viewer_sessions_user_id", "user_id"),
    )

    # The streaming layer's viewer id, a UUID stored in canonical hyphenated form so that
    # 'abcd...' (uuid4().hex) and 'abcd-...' name the same row.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # RESTRICT (the default): attendance evidence outlives nothing by accident.
    live_session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id"))
    room_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    # Who it was even without an account: the username, or a guest token's subject.
    subject: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    left_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)


SCHEDULE_STATES = ("planned", "recording", "done", "cancelled", "missed", "failed")


class ScheduledSession(Base):
    """A session planned ahead: the room records it on time, console open or not."""

    __tablename__ = "scheduled_sessions"
    __table_args__ = (
        Index("ix_scheduled_sessions_room_id_starts_at", "room_id", "starts_at"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    course: Mapped[str | None] = mapped_column(String(200), nullable=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(20), default="planned")
    recording_ids: Mapped[str] = mapped_column(String(400), default="")  # comma separated
    message: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


CME_STATUSES = ("draft", "submitted")


class CmeProgramme(Base):
    """A CME programme: the engine's model as JSON, with the columns lists and filters need."""

    __tablename__ = "cme_programmes"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'submitted')", name="status_valid"),
        CheckConstraint("ends_on >= starts_on", name="ends_after_start"),
        Index("ix_cme_programmes_starts_on", "starts_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(20))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    organiser: Mapped[str] = mapped_column(String(300))  # the main provider, first organiser
    status: Mapped[str] = mapped_column(String(20), default="draft")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Bucharest")
    drop_tolerance_seconds: Mapped[int] = mapped_column(Integer, default=0)
    programme: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CmeProgrammeLiveSession(Base):
    """A live session that carries part of a programme's agenda (derived from the agenda)."""

    __tablename__ = "cme_programme_live_sessions"
    __table_args__ = (
        Index("ix_cme_programme_live_sessions_live_session_id", "live_session_id"),
    )

    programme_id: Mapped[int] = mapped_column(
        ForeignKey("cme_programmes.id", ondelete="CASCADE"), primary_key=True
    )
    # RESTRICT: a live session that earned credits cannot disappear from under them.
    live_session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id"), primary_key=True)

"""ORM models of remote classrooms: the classroom, its paired screens, the presence checks of a
live session and each person's check-in. Private to ``library/`` like ``library.models``.

Only hashes of the screens' device keys are stored (as for log-in sessions): a copy of the
database lets nobody act as a classroom screen.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from library.models import Base, UTCDateTime, utcnow

CHECK_KINDS = ("start", "instructor", "random")


class Classroom(Base):
    """A hall that watches one training room on a shared screen (a lecture hall, an auditorium)."""

    __tablename__ = "classrooms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    institution: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64))
    room_id: Mapped[str] = mapped_column(String(64))  # the training room its screen shows
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ClassroomScreen(Base):
    """A browser on a shared PC: pending (it shows a pairing code), paired with a classroom, or
    revoked. The cookie holds a random key; only its SHA-256 is here."""

    __tablename__ = "classroom_screens"
    __table_args__ = (Index("ix_classroom_screens_classroom_id", "classroom_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The pairing code's SHA-256 while the screen waits to be paired; cleared when used.
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    code_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    classroom_id: Mapped[int | None] = mapped_column(
        ForeignKey("classrooms.id", ondelete="CASCADE"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_from: Mapped[str] = mapped_column(String(64), default="")
    paired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    paired_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PresenceCheck(Base):
    """One presence check of a live session: every classroom following the room (and the
    operating room itself) shows new codes for it. Number 1 is the session's start."""

    __tablename__ = "presence_checks"
    __table_args__ = (
        UniqueConstraint("live_session_id", "seq", name="uq_presence_checks_live_session_id_seq"),
        CheckConstraint("kind IN ('start', 'instructor', 'random')", name="kind_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    live_session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )


class CheckIn(Base):
    """One person's answer to one presence check, in one classroom (NULL: the operating room)."""

    __tablename__ = "check_ins"
    __table_args__ = (
        UniqueConstraint("check_id", "user_id", name="uq_check_ins_check_id_user_id"),
        Index("ix_check_ins_user_id", "user_id"),
        Index("ix_check_ins_live_session_id", "live_session_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("presence_checks.id"))
    live_session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id"))
    # RESTRICT: attendance evidence keeps its classroom.
    classroom_id: Mapped[int | None] = mapped_column(ForeignKey("classrooms.id"), nullable=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    subject: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    window: Mapped[int] = mapped_column(Integer)  # the 30 s window of the code answered
    device_hash: Mapped[str] = mapped_column(String(64))  # the phone's cookie, hashed
    client: Mapped[str] = mapped_column(String(64), default="")


class ProgrammeRandomChecks(Base):
    """The limits within which presence checks come at random during the programme's live
    sessions: the next one between ``min_minutes`` and ``max_minutes`` after the last."""

    __tablename__ = "programme_random_checks"
    __table_args__ = (
        CheckConstraint("min_minutes >= 1 AND max_minutes >= min_minutes", name="limits_valid"),
    )

    programme_id: Mapped[int] = mapped_column(
        ForeignKey("cme_programmes.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    min_minutes: Mapped[int] = mapped_column(Integer)
    max_minutes: Mapped[int] = mapped_column(Integer)

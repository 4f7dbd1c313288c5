"""ORM models of CME: programmes, their live sessions, tests, participants, certificates and
the access log. Private to ``library/`` like ``library.models``, whose base and types they use.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from library.models import Base, UTCDateTime, utcnow

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


class CmeProgrammeOrganiser(Base):
    """An account a programme names as one of its organisers (its creator is one already):
    it acts on the programme as the creator does (``library.cme.rights``)."""

    __tablename__ = "cme_programme_organisers"
    __table_args__ = (Index("ix_cme_programme_organisers_user_id", "user_id"),)

    programme_id: Mapped[int] = mapped_column(
        ForeignKey("cme_programmes.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class CmeAuditEntry(Base):
    """One line of the CME access log (art. 12 alin. (2) lit. a): append-only.

    No foreign keys on purpose: a cascade or SET NULL would be an UPDATE or DELETE, which the
    triggers of migration 0005 refuse, and the log must outlive the rows it names.
    """

    __tablename__ = "cme_audit_log"
    __table_args__ = (
        Index("ix_cme_audit_log_programme_id_at", "programme_id", "at"),
        Index("ix_cme_audit_log_actor_at", "actor", "at"),
        Index("ix_cme_audit_log_action", "action"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    actor_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    programme_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    target_kind: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[str] = mapped_column(String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    client: Mapped[str] = mapped_column(String(64))


class CmeQuestion(Base):
    """One question of a programme's final-test bank; options and the correct ones as JSON."""

    __tablename__ = "cme_questions"
    __table_args__ = (
        Index("ix_cme_questions_programme_id", "programme_id"),
        CheckConstraint("kind IN ('single', 'multiple')", name="kind_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(
        ForeignKey("cme_programmes.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(String(2000))
    options: Mapped[list[str]] = mapped_column(JSON)
    correct: Mapped[list[int]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CmeTestAttempt(Base):
    """One attempt at a final test: the questions as drawn (a snapshot, so editing the bank
    never changes a result), the server's deadline and, once submitted, the score."""

    __tablename__ = "cme_test_attempts"
    __table_args__ = (
        UniqueConstraint("programme_id", "person_id", "number", name="uq_cme_test_attempts_number"),
        Index("ix_cme_test_attempts_programme_id_person_id", "programme_id", "person_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("cme_programmes.id"))
    person_id: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime())
    drawn: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    correct: Mapped[int | None] = mapped_column(Integer, nullable=True)
    total: Mapped[int] = mapped_column(Integer)


GRADE_VALUES = ("rezident", "specialist", "primar", "medic")


class CmeParticipant(Base):
    """A doctor's participant profile: what the participant list (art. 6 alin. (5)) needs.

    The CNP is never stored in plain text: ``cnp_sealed`` is AES-GCM (nonce, ciphertext, tag)
    under ``cnp_key_id``, and ``cnp_lookup`` a keyed hash (HMAC) that makes a CNP unique.
    """

    __tablename__ = "cme_participants"
    __table_args__ = (
        CheckConstraint(
            "grade IN ('rezident', 'specialist', 'primar', 'medic')", name="grade_valid"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    full_name: Mapped[str] = mapped_column(String(200))
    cnp_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    cnp_lookup: Mapped[str] = mapped_column(String(64), unique=True)
    cnp_key_id: Mapped[str] = mapped_column(String(16))
    specialty: Mapped[str] = mapped_column(String(200))
    grade: Mapped[str] = mapped_column(String(20))
    workplace: Mapped[str] = mapped_column(String(300))
    titles: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CmeCertificate(Base):
    """A certificate issued to one participant of one programme (art. 26), as issued.

    The programme's and the holder's details are a snapshot taken at issue time, so the PDF
    and the public verification page say what was certified even if the programme or the
    profile changes later. Rows are never deleted (a certificate is revoked), and the id is
    AUTOINCREMENT on SQLite too, so a registration number is never given out twice.
    """

    __tablename__ = "cme_certificates"
    __table_args__ = (
        UniqueConstraint("programme_id", "person_id", name="uq_cme_certificates_holder"),
        CheckConstraint("kind IN ('completion', 'participation')", name="kind_valid"),
        Index("ix_cme_certificates_user_id", "user_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    programme_id: Mapped[int] = mapped_column(ForeignKey("cme_programmes.id"))
    person_id: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    holder_name: Mapped[str] = mapped_column(String(200))
    holder_initials: Mapped[str] = mapped_column(String(20))
    programme_ref: Mapped[str] = mapped_column(String(64))
    programme_title: Mapped[str] = mapped_column(String(300))
    programme_kind: Mapped[str] = mapped_column(String(40))
    organiser: Mapped[str] = mapped_column(String(300))
    venue: Mapped[str] = mapped_column(String(300))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    credits: Mapped[int] = mapped_column(Integer)
    test_passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issued_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(300), nullable=True)

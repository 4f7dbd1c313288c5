"""The CME access log (art. 12 alin. (2) lit. a): who did what to which programme, live
session, test or list, kept so the whole process can be audited.

Append-only: this module only ever inserts, and the database refuses UPDATE and DELETE on the
table with a trigger (migration 0005), on SQLite and PostgreSQL alike. ``record`` writes one
entry in its own transaction; ``add`` writes it inside the caller's transaction, so an action
and its log line are committed together or not at all (the mismatch report relies on that).

Other modules call it like this::

    audit.record(db, actor, audit.Action.CNP_REVEAL, programme_id=7,
                 target=audit.Target.PARTICIPANT, target_id="42", detail={"field": "cnp"})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from library.cme_models import CmeAuditEntry
from library.db import Database
from library.models import utcnow

MAX_ENTRIES = 1000


class Action(str, Enum):
    """What was done. The values are what the log stores and the API filters on."""

    LOGIN = "auth.login"
    LOGOUT = "auth.logout"
    PROGRAMME_CREATE = "programme.create"
    PROGRAMME_EDIT = "programme.edit"
    PROGRAMME_SUBMIT = "programme.submit"
    PROGRAMME_VIEW = "programme.view"
    ATTENDANCE_VIEW = "attendance.view"
    BANK_EDIT = "test.bank_edit"
    BANK_VIEW = "test.bank_view"
    TEST_START = "test.start"
    TEST_SUBMIT = "test.submit"
    TEST_REFUSED = "test.refused"
    LIST_VIEW = "list.view"
    LIST_EXPORT = "list.export"
    CNP_REVEAL = "cnp.reveal"
    PARTICIPANT_EDIT = "participant.edit"
    CERTIFICATE_ISSUE = "certificate.issue"
    CERTIFICATE_REVOKE = "certificate.revoke"
    AUDIT_VIEW = "audit.view"
    CHAT_DELETE = "chat.delete"  # a live classroom's chat message, its words kept only here
    SCREEN_PAIR = "classroom.screen_pair"
    SCREEN_UNPAIR = "classroom.screen_unpair"
    CHECK_IN = "classroom.check_in"
    CHECK_IN_REFUSED = "classroom.check_in_refused"
    PRESENCE_CHECK = "classroom.presence_check"
    # The hospital's PACS (issue 15): who looked for or fetched which patient's images, and why.
    PACS_SEARCH = "pacs.search"
    PACS_RETRIEVE = "pacs.retrieve"
    PACS_DELETE = "pacs.delete"
    PACS_WORKLIST = "pacs.worklist"
    PACS_CONTEXT = "pacs.context"
    PACS_EXPORT = "pacs.export"


class Target(str, Enum):
    """What kind of thing the action was done to."""

    ACCOUNT = "account"
    PROGRAMME = "programme"
    LIVE_SESSION = "live_session"
    TEST = "test"
    ATTEMPT = "attempt"
    LIST = "list"
    PARTICIPANT = "participant"
    CERTIFICATE = "certificate"
    LOG = "log"
    CLASSROOM = "classroom"
    ROOM = "room"


@dataclass(frozen=True)
class Actor:
    """Who acted: the account (or a token's subject), its role, and where the request came from."""

    subject: str
    role: str
    user_id: int | None = None
    client: str = ""


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    actor: str
    actor_user_id: int | None
    actor_role: str
    action: str
    programme_id: int | None
    target: str
    target_id: str
    detail: Mapping[str, Any]
    client: str


@dataclass(frozen=True)
class Filter:
    """Which entries to list; every field narrows, ``None`` does not."""

    programme_id: int | None = None
    programme_ids: frozenset[int] | None = None
    """Only entries of these programmes (an organiser's own; empty: none)."""
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200


def add(
    session: Session,
    actor: Actor,
    action: Action,
    *,
    target: Target,
    target_id: str | int,
    programme_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Append one entry inside ``session``'s transaction."""
    session.add(
        CmeAuditEntry(
            at=at or utcnow(), actor=actor.subject[:200], actor_user_id=actor.user_id,
            actor_role=actor.role[:20], action=Action(action).value, programme_id=programme_id,
            target_kind=Target(target).value, target_id=str(target_id)[:100],
            detail=dict(detail or {}), client=actor.client[:64],
        )
    )


def record(
    db: Database,
    actor: Actor,
    action: Action,
    *,
    target: Target,
    target_id: str | int,
    programme_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Append one entry in a transaction of its own."""
    with db.session() as session:
        add(session, actor, action, target=target, target_id=target_id,
            programme_id=programme_id, detail=detail)


def _entry(row: CmeAuditEntry) -> Entry:
    return Entry(
        id=row.id, at=row.at, actor=row.actor, actor_user_id=row.actor_user_id,
        actor_role=row.actor_role, action=row.action, programme_id=row.programme_id,
        target=row.target_kind, target_id=row.target_id, detail=row.detail, client=row.client,
    )


def entries(db: Database, where: Filter = Filter()) -> list[Entry]:
    """Entries matching ``where``, the newest first, at most ``where.limit`` (and 1000)."""
    query = select(CmeAuditEntry).order_by(CmeAuditEntry.at.desc(), CmeAuditEntry.id.desc())
    if where.programme_id is not None:
        query = query.where(CmeAuditEntry.programme_id == where.programme_id)
    if where.programme_ids is not None:
        query = query.where(CmeAuditEntry.programme_id.in_(sorted(where.programme_ids)))
    if where.actor:
        query = query.where(CmeAuditEntry.actor == where.actor)
    if where.action:
        query = query.where(CmeAuditEntry.action == where.action)
    if where.target:
        query = query.where(CmeAuditEntry.target_kind == where.target)
    if where.since is not None:
        query = query.where(CmeAuditEntry.at >= where.since)
    if where.until is not None:
        query = query.where(CmeAuditEntry.at < where.until)
    query = query.limit(max(1, min(where.limit, MAX_ENTRIES)))
    with db.session() as session:
        return [_entry(row) for row in session.scalars(query)]


def first_entry_at(db: Database) -> datetime | None:
    """When the log began: what happened before cannot be compared with it."""
    with db.session() as session:
        return session.scalar(select(CmeAuditEntry.at).order_by(CmeAuditEntry.at).limit(1))

"""The durable timeline of a live session's classroom: every chat line, question, vote, hand
and poll answer, with its author and time (the ``live_interactions`` table).

Plain values in and out (``Interaction``); the web layer converts the classroom's records.
Deleting a chat message clears its words here (``scrub_chat``) and hands them back, so the
caller can put them in the access log, the only place they are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from library.cme import audit
from library.db import Database
from library.models import LiveInteraction, utcnow

MAX_TEXT = 5000  # the classroom bounds its texts far below this; a last guard


@dataclass(frozen=True)
class Interaction:
    live_session_id: int
    seq: int
    kind: str
    at: datetime
    actor: str | None
    actor_name: str | None
    actor_user_id: int | None
    target: str
    text: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False


def append(db: Database, items: Sequence[Interaction]) -> None:
    """Write a batch of interactions in one transaction (in the order given)."""
    if not items:
        return
    with db.session() as session:
        for item in items:
            session.add(LiveInteraction(
                live_session_id=item.live_session_id, seq=item.seq, kind=item.kind[:32],
                at=item.at, actor_user_id=item.actor_user_id,
                actor=None if item.actor is None else item.actor[:200],
                actor_name=None if item.actor_name is None else item.actor_name[:200],
                target=item.target[:64],
                text=None if item.text is None else item.text[:MAX_TEXT], data=dict(item.data),
            ))


@dataclass(frozen=True)
class Scrubbed:
    """A deleted chat message as it was: for the access log."""

    author: str | None
    author_name: str | None
    text: str
    at: datetime


def scrub_chat(db: Database, live_session_id: int, message_id: str, actor: audit.Actor
               ) -> Scrubbed | None:
    """Clear a chat message's words and log them in the access log, in one transaction: the
    message is either deleted and logged, or neither. ``None`` when there was no such message
    (or it was scrubbed already)."""
    with db.session() as session:
        row = session.scalars(select(LiveInteraction).where(
            LiveInteraction.live_session_id == live_session_id,
            LiveInteraction.kind == "chat", LiveInteraction.target == message_id,
            LiveInteraction.deleted_at.is_(None))).first()
        if row is None or row.text is None:
            return None
        scrubbed = Scrubbed(row.actor, row.actor_name, row.text, row.at)
        row.text = None
        row.deleted_at = utcnow()
        audit.add(session, actor, audit.Action.CHAT_DELETE, target=audit.Target.LIVE_SESSION,
                  target_id=live_session_id, detail={
                      "message": message_id, "author": scrubbed.author,
                      "author_name": scrubbed.author_name, "text": scrubbed.text,
                      "posted_at": scrubbed.at.isoformat(timespec="seconds")})
        return scrubbed


def timeline(db: Database, live_session_id: int, kinds: Iterable[str] | None = None
             ) -> list[Interaction]:
    """A live session's interactions in the order they happened (deleted chat without words)."""
    query = select(LiveInteraction).where(
        LiveInteraction.live_session_id == live_session_id).order_by(
        LiveInteraction.seq, LiveInteraction.id)
    if kinds is not None:
        query = query.where(LiveInteraction.kind.in_(sorted(set(kinds))))
    with db.session() as session:
        return [Interaction(
            live_session_id=row.live_session_id, seq=row.seq, kind=row.kind, at=row.at,
            actor=row.actor, actor_name=row.actor_name, actor_user_id=row.actor_user_id,
            target=row.target, text=row.text, data=dict(row.data or {}),
            deleted=row.deleted_at is not None) for row in session.scalars(query)]

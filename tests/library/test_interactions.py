"""The durable classroom timeline: written, read back, and deleted chat kept only in the log."""

from __future__ import annotations

from datetime import UTC, datetime

from library import attendance, interactions
from library.cme import audit
from library.db import Database
from library.interactions import Interaction

AT = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _item(session: int, seq: int, kind: str, target: str, text: str | None = None,
          **data: object) -> Interaction:
    return Interaction(session, seq, kind, AT, "alice", "Alice A.", None, target, text, dict(data))


def test_interactions_are_kept_in_order_with_author_and_time(db: Database) -> None:
    live = attendance.start_live_session(db, "or-1", "Lesson", None)
    other = attendance.start_live_session(db, "or-2", "Other", None)
    interactions.append(db, [
        _item(live, 1, "chat", "m1", "hello"),
        _item(live, 2, "question", "q1", "why?", anonymous=True),
        _item(other, 1, "chat", "m1", "elsewhere"),
        _item(live, 3, "poll.answer", "p1", option=2, presence_check=True),
    ])
    rows = interactions.timeline(db, live)
    assert [(r.seq, r.kind, r.text) for r in rows] == [
        (1, "chat", "hello"), (2, "question", "why?"), (3, "poll.answer", None)]
    assert rows[0].actor == "alice" and rows[0].actor_name == "Alice A." and rows[0].at == AT
    assert rows[1].data == {"anonymous": True} and rows[2].data["option"] == 2
    assert [r.kind for r in interactions.timeline(db, live, kinds=["poll.answer"])] == [
        "poll.answer"]


def test_a_deleted_message_keeps_its_words_only_in_the_access_log(db: Database) -> None:
    live = attendance.start_live_session(db, "or-1", "Lesson", None)
    interactions.append(db, [_item(live, 1, "chat", "m1", "<b>rude</b> words")])
    teacher = audit.Actor("teach", "instructor", None, "127.0.0.1")
    scrubbed = interactions.scrub_chat(db, live, "m1", teacher)
    assert scrubbed is not None and scrubbed.text == "<b>rude</b> words"
    row = interactions.timeline(db, live)[0]
    assert row.deleted and row.text is None
    entry = audit.entries(db, audit.Filter(action="chat.delete"))[0]
    assert entry.actor == "teach" and entry.target == "live_session"
    assert entry.target_id == str(live)
    assert entry.detail["text"] == "<b>rude</b> words" and entry.detail["author"] == "alice"
    assert interactions.scrub_chat(db, live, "m1", teacher) is None  # only once
    assert interactions.scrub_chat(db, live, "m404", teacher) is None

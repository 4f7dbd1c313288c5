"""What the classroom keeps: one ``Record`` per thing said, asked, voted, answered or polled,
with its author and time, for the session's timeline in the database and the recording.

The hub hands every record to its sinks as it happens; it never writes anything itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from room_controller.interaction.participants import Participant


class Kind(str, Enum):
    CHAT = "chat"
    CHAT_DELETE = "chat.delete"
    QUESTION = "question"
    QUESTION_VOTE = "question.vote"
    QUESTION_STATUS = "question.status"
    HAND_RAISE = "hand.raise"
    HAND_LOWER = "hand.lower"
    HAND_ACCEPT = "hand.accept"
    HAND_END = "hand.end"
    POLL = "poll"
    POLL_ANSWER = "poll.answer"
    POLL_CLOSE = "poll.close"
    POLL_RESULTS = "poll.results"


@dataclass(frozen=True)
class Record:
    """One thing that happened. ``actor`` did it (``None``: the hub itself, e.g. a poll's time
    ran out); ``target`` is the message, question or poll it concerns; ``text`` the words said
    (a ``chat.delete`` record carries no words: the persistence
    layer moves the deleted message's words to the access log and nowhere else)."""

    kind: Kind
    seq: int
    at: datetime
    actor: Participant | None
    target: str
    text: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

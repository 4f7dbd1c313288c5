"""Questions: asked by anyone, voted up once per person, moderated by the instructors.

A question starts ``pending``: only moderators and its asker see it. Moderation moves it
through the table below; students see approved, answering and answered questions, and their
own whatever their status. An anonymous question hides its asker from other students, never
from moderators. Only one question is being answered at a time: answering another marks the
previous one answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from library.i18n import lazy
from room_controller.interaction.errors import Conflict, Invalid, NotAllowed
from room_controller.interaction.limits import MAX_QUESTION, MAX_QUESTIONS, check_text
from room_controller.interaction.participants import Participant


class Status(str, Enum):
    PENDING = "pending"
    APPROVED = "approved"
    ANSWERING = "answering"
    ANSWERED = "answered"
    DISMISSED = "dismissed"


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.APPROVED, Status.ANSWERING, Status.ANSWERED,
                               Status.DISMISSED}),
    Status.APPROVED: frozenset({Status.ANSWERING, Status.ANSWERED, Status.DISMISSED}),
    Status.ANSWERING: frozenset({Status.APPROVED, Status.ANSWERED, Status.DISMISSED}),
    Status.ANSWERED: frozenset({Status.ANSWERING}),
    Status.DISMISSED: frozenset({Status.APPROVED}),
}
VISIBLE = frozenset({Status.APPROVED, Status.ANSWERING, Status.ANSWERED})
VOTABLE = frozenset({Status.PENDING, Status.APPROVED, Status.ANSWERING})
VOTES_CLOSED = {
    Status.ANSWERED: lazy("this question has been answered: votes are closed"),
    Status.DISMISSED: lazy("this question was not taken: votes are closed"),
}


@dataclass
class Question:
    id: str
    author: Participant
    text: str
    anonymous: bool
    at: datetime
    status: Status = Status.PENDING
    voters: set[str] = field(default_factory=set)

    def visible_to_students(self) -> bool:
        return self.status in VISIBLE

    def body(self, *, reveal: bool, mine: bool = False) -> dict[str, Any]:
        """The question as one viewer sees it: ``reveal`` shows an anonymous asker (moderators,
        the asker)."""
        author = None if self.anonymous and not reveal else self.author.public()
        return {"id": self.id, "text": self.text, "author": author,
                "anonymous": self.anonymous, "status": self.status.value,
                "votes": len(self.voters), "at": self.at.isoformat(timespec="seconds"),
                "mine": mine}


class Questions:
    def __init__(self) -> None:
        self._items: dict[str, Question] = {}

    def ask(self, author: Participant, text: object, anonymous: object, at: datetime) -> Question:
        words = check_text("question", text, MAX_QUESTION)
        if not isinstance(anonymous, bool):
            raise Invalid(lazy("anonymous must be true or false"))
        if len(self._items) >= MAX_QUESTIONS:
            raise Conflict(lazy("this session has %(max)s questions already: use the chat",
                                max=MAX_QUESTIONS))
        question = Question(f"q{len(self._items) + 1}", author, words, anonymous, at)
        self._items[question.id] = question
        return question

    def get(self, question_id: str) -> Question:
        question = self._items.get(question_id)
        if question is None:
            raise Invalid(lazy("no question %(id)s", id=repr(question_id)))
        return question

    def vote(self, voter: Participant, question_id: str) -> Question:
        question = self.get(question_id)
        if not voter.moderator and question.author.key != voter.key and (
                not question.visible_to_students()):
            raise Invalid(lazy("no question %(id)s", id=repr(question_id)))  # not shown to them: not there
        if question.author.key == voter.key:
            raise NotAllowed(lazy("you cannot vote for your own question"))
        if question.status not in VOTABLE:
            raise Conflict(VOTES_CLOSED[question.status])
        if voter.key in question.voters:
            raise Conflict(lazy("you have already voted for this question"))
        question.voters.add(voter.key)
        return question

    def moderate(self, question_id: str, status: object) -> tuple[Question, list[Question]]:
        """Move a question to ``status``; also returns the questions that changed with it (the
        one that was being answered, when another is taken)."""
        try:
            target = Status(status)
        except ValueError:
            raise Invalid(lazy("status must be one of: %(statuses)s",
                               statuses=", ".join(s.value for s in Status))) from None
        question = self.get(question_id)
        if target not in TRANSITIONS[question.status]:
            allowed = ", ".join(sorted(s.value for s in TRANSITIONS[question.status])) or "none"
            raise Conflict(lazy("question %(id)s is %(status)s: it cannot become %(target)s "
                                "(from here: %(allowed)s)", id=repr(question_id),
                                status=question.status.value, target=target.value,
                                allowed=allowed))
        also: list[Question] = []
        if target is Status.ANSWERING:
            for other in self._items.values():
                if other.status is Status.ANSWERING and other is not question:
                    other.status = Status.ANSWERED
                    also.append(other)
        question.status = target
        return question, also

    def all(self) -> list[Question]:
        return list(self._items.values())

    def on_screen(self, limit: int = 4) -> list[dict[str, Any]]:
        """What a classroom's shared screen shows: the question being answered, then the
        approved ones by votes; text and votes only (a screen shows no one's name)."""
        shown = [q for q in self._items.values()
                 if q.status in (Status.ANSWERING, Status.APPROVED)]
        shown.sort(key=lambda q: (q.status is not Status.ANSWERING, -len(q.voters), q.at))
        return [{"id": q.id, "text": q.text, "votes": len(q.voters), "status": q.status.value}
                for q in shown[:limit]]

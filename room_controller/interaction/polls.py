"""Polls: a moderator asks a multiple-choice question with a time limit; participants answer
once while it is open; moderators see the counts live; everyone sees the results when a
moderator shows them. A poll flagged ``presence_check`` is how a live session proves its
viewers were there (who answered is recorded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from library.i18n import lazy
from room_controller.interaction.errors import Conflict, Invalid, NotAllowed
from room_controller.interaction.limits import (
    MAX_OPEN_POLLS,
    MAX_POLL_OPTION,
    MAX_POLL_OPTIONS,
    MAX_POLL_QUESTION,
    MAX_POLL_SECONDS,
    MAX_POLLS,
    MIN_POLL_OPTIONS,
    MIN_POLL_SECONDS,
    check_int,
    check_text,
)
from room_controller.interaction.participants import Participant


@dataclass
class Poll:
    id: str
    question: str
    options: tuple[str, ...]
    seconds: int
    presence_check: bool
    opened_at: datetime
    closes_at: float  # on the hub's monotonic clock
    open: bool = True
    shown: bool = False
    answers: dict[str, int] = field(default_factory=dict)  # participant key -> option

    def counts(self) -> list[int]:
        counts = [0] * len(self.options)
        for option in self.answers.values():
            counts[option] += 1
        return counts

    def body(self, *, counts: bool, now: float) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id, "question": self.question, "options": list(self.options),
            "seconds": self.seconds, "presence_check": self.presence_check, "open": self.open,
            "remaining": round(max(0.0, self.closes_at - now), 1) if self.open else 0,
            "shown": self.shown, "opened_at": self.opened_at.isoformat(timespec="seconds"),
        }
        if counts:
            data["counts"] = self.counts()
            data["answered"] = len(self.answers)
        return data


class Polls:
    def __init__(self) -> None:
        self._items: dict[str, Poll] = {}

    def create(self, question: object, options: object, seconds: object, presence_check: object,
               opened_at: datetime, now: float) -> Poll:
        words = check_text("poll", question, MAX_POLL_QUESTION, single_line=True)
        if not isinstance(options, list) or not MIN_POLL_OPTIONS <= len(options) <= MAX_POLL_OPTIONS:
            raise Invalid(lazy("a poll has %(low)s to %(high)s options", low=MIN_POLL_OPTIONS,
                               high=MAX_POLL_OPTIONS))
        choices = tuple(check_text("option", o, MAX_POLL_OPTION, single_line=True, number=i + 1)
                        for i, o in enumerate(options))
        if len(set(choices)) != len(choices):
            raise Invalid(lazy("two options say the same"))
        limit = check_int("seconds", seconds, MIN_POLL_SECONDS, MAX_POLL_SECONDS)
        if not isinstance(presence_check, bool):
            raise Invalid(lazy("presence_check must be true or false"))
        if sum(p.open for p in self._items.values()) >= MAX_OPEN_POLLS:
            raise Conflict(lazy("%(max)s polls are open already: close one first",
                                max=MAX_OPEN_POLLS))
        if len(self._items) >= MAX_POLLS:
            raise Conflict(lazy("this session has had %(max)s polls: no more can be asked",
                                max=MAX_POLLS))
        poll = Poll(f"p{len(self._items) + 1}", words, choices, limit, presence_check,
                    opened_at, now + limit)
        self._items[poll.id] = poll
        return poll

    def get(self, poll_id: str) -> Poll:
        poll = self._items.get(poll_id)
        if poll is None:
            raise Invalid(lazy("no poll %(id)s", id=repr(poll_id)))
        return poll

    def answer(self, who: Participant, poll_id: str, option: object, now: float) -> Poll:
        poll = self.get(poll_id)
        if who.moderator:
            raise NotAllowed(lazy("moderators run polls; they do not answer them"))
        if not poll.open or now >= poll.closes_at:
            raise Conflict(lazy("this poll has closed"))
        if who.key in poll.answers:
            raise Conflict(lazy("you have already answered this poll"))
        poll.answers[who.key] = check_int("option", option, 0, len(poll.options) - 1)
        return poll

    def close(self, poll_id: str) -> Poll:
        poll = self.get(poll_id)
        if not poll.open:
            raise Conflict(lazy("this poll is closed already"))
        poll.open = False
        return poll

    def expired(self, now: float) -> list[Poll]:
        return [p for p in self._items.values() if p.open and now >= p.closes_at]

    def show(self, poll_id: str) -> Poll:
        poll = self.get(poll_id)
        if poll.shown:
            raise Conflict(lazy("the results are shown already"))
        poll.shown = True
        return poll

    def all(self) -> list[Poll]:
        return list(self._items.values())

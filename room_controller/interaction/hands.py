"""The raised-hand queue: students raise and lower their own hand and see their place; a
moderator accepts one (who then speaks) and ends it. One speaker at a time: accepting another
ends the current one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from library.i18n import lazy
from room_controller.interaction.errors import Conflict, Invalid
from room_controller.interaction.limits import MAX_HANDS
from room_controller.interaction.participants import Participant


@dataclass(frozen=True)
class Hand:
    who: Participant
    since: datetime


class Hands:
    def __init__(self) -> None:
        self._queue: dict[str, Hand] = {}  # insertion order is the queue's order
        self.speaker: Participant | None = None

    def raise_(self, who: Participant, at: datetime) -> int:
        """Join the queue; returns the place (1 is next)."""
        if who.key in self._queue:
            raise Conflict(lazy("your hand is already raised"))
        if self.speaker is not None and self.speaker.key == who.key:
            raise Conflict(lazy("you are speaking already"))
        if len(self._queue) >= MAX_HANDS:
            raise Conflict(lazy("the hand queue is full: ask in the chat"))
        self._queue[who.key] = Hand(who, at)
        return len(self._queue)

    def lower(self, key: str) -> Hand:
        hand = self._queue.pop(key, None)
        if hand is None:
            raise Conflict(lazy("that hand is not raised"))
        return hand

    def accept(self, key: str) -> tuple[Participant, Participant | None]:
        """The accepted participant, and the speaker this ends (or ``None``)."""
        hand = self._queue.pop(key, None)
        if hand is None:
            raise Invalid(lazy("no raised hand of %(key)s", key=repr(key)))
        previous, self.speaker = self.speaker, hand.who
        return hand.who, previous

    def end(self) -> Participant:
        if self.speaker is None:
            raise Conflict(lazy("no one is speaking"))
        ended, self.speaker = self.speaker, None
        return ended

    def queue(self) -> list[Hand]:
        return list(self._queue.values())

    def position(self, key: str) -> int | None:
        for place, queued in enumerate(self._queue, 1):
            if queued == key:
                return place
        return None

    # -- renderings ----------------------------------------------------------------------------
    def _speaker(self) -> dict[str, str] | None:
        return None if self.speaker is None else self.speaker.public()

    def moderator_body(self) -> dict[str, Any]:
        return {"type": "hands", "count": len(self._queue), "speaker": self._speaker(),
                "queue": [{**h.who.public(), "since": h.since.isoformat(timespec="seconds")}
                          for h in self._queue.values()]}

    def public_body(self) -> dict[str, Any]:
        return {"type": "hands", "count": len(self._queue), "speaker": self._speaker(),
                "position": None}

    def personal_bodies(self) -> dict[str, dict[str, Any] | None]:
        """What each queued person sees: the public view with their own place."""
        base = self.public_body()
        return {key: {**base, "position": place} for place, key in enumerate(self._queue, 1)}

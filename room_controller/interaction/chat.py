"""Chat: anyone in the room posts; a moderator deletes (gone for everyone)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from library.i18n import lazy
from room_controller.interaction.errors import Invalid
from room_controller.interaction.limits import CHAT_KEPT, MAX_CHAT, check_text
from room_controller.interaction.participants import Participant


@dataclass(frozen=True)
class ChatLine:
    id: str
    author: Participant
    text: str
    at: datetime

    def body(self) -> dict[str, Any]:
        return {"id": self.id, "author": self.author.public(), "text": self.text,
                "at": self.at.isoformat(timespec="seconds"),
                "moderator": self.author.moderator}


class Chat:
    """The last ``CHAT_KEPT`` messages (what a newcomer is shown); older ones are only in the
    record."""

    def __init__(self) -> None:
        self._lines: OrderedDict[str, ChatLine] = OrderedDict()
        self._count = 0

    def post(self, author: Participant, text: object, at: datetime) -> ChatLine:
        words = check_text("chat", text, MAX_CHAT)
        self._count += 1
        line = ChatLine(f"m{self._count}", author, words, at)
        self._lines[line.id] = line
        while len(self._lines) > CHAT_KEPT:
            self._lines.popitem(last=False)
        return line

    def delete(self, message_id: str) -> ChatLine | None:
        """Remove a message; the line if it was still kept, ``None`` if it had scrolled out of
        memory (it is still deleted everywhere else). An id never issued is ``Invalid``."""
        if not message_id.startswith("m") or not message_id[1:].isdigit() or not (
                1 <= int(message_id[1:]) <= self._count):
            raise Invalid(lazy("no chat message %(id)s", id=repr(message_id)))
        return self._lines.pop(message_id, None)

    def lines(self) -> list[ChatLine]:
        return list(self._lines.values())

"""The classroom's event feed: every change is one numbered event, rendered per audience, and
the last ones are kept so a client that lost its link can ask for what it missed.

An event has up to three renderings: what everyone sees (``public``), what moderators see
(``moderators``, e.g. the author of an anonymous question) and what one participant sees
(``personal``, e.g. their place in the hand queue or the grant of their accepted hand). A
rendering of ``None`` means "not for you". Sequence numbers count every event of the session,
so a client's gap in the numbers is normal: those were events it was not meant to see.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from room_controller.interaction.participants import Participant

Body = dict[str, Any]
_SAME = object()


@dataclass
class Event:
    """One change; ``seq`` is its number in the live session."""

    seq: int
    public: Body | None
    moderators: Body | None
    personal: Mapping[str, Body | None] = field(default_factory=dict)
    _texts: dict[int, str] = field(default_factory=dict, repr=False)

    def body_for(self, who: Participant) -> Body | None:
        if who.key in self.personal:
            return self.personal[who.key]
        return self.moderators if who.moderator else self.public

    def text_for(self, who: Participant) -> str | None:
        """The JSON a participant is sent, or ``None``; each rendering is encoded once however
        many people receive it (200 students share one string)."""
        body = self.body_for(who)
        if body is None:
            return None
        text = self._texts.get(id(body))
        if text is None:
            text = self._texts[id(body)] = json.dumps(
                {**body, "seq": self.seq}, ensure_ascii=False, separators=(",", ":"))
        return text


def event(seq: int, public: Body | None, moderators: Body | None | object = _SAME,
          personal: Mapping[str, Body | None] | None = None) -> Event:
    """An event whose moderators see the public rendering unless told otherwise."""
    mods: Body | None = public if moderators is _SAME else moderators  # type: ignore[assignment]
    return Event(seq, public, mods, dict(personal or {}))


class Backlog:
    """The last ``size`` events, for clients that rejoin with the last number they saw."""

    def __init__(self, size: int) -> None:
        self._events: deque[Event] = deque(maxlen=size)

    def add(self, item: Event) -> None:
        self._events.append(item)

    def covers(self, since: int, current: int) -> bool:
        """Whether every event after ``since`` is still kept (or there is none)."""
        if since >= current:
            return True
        return bool(self._events) and self._events[0].seq <= since + 1

    def after(self, since: int) -> Iterator[Event]:
        for item in self._events:
            if item.seq > since:
                yield item

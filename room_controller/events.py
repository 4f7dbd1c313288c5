"""A room's change notifications: who wants to know that something about the room changed.

The room (program, layout, masks, title, live/idle), its sources (a WHIP publisher arriving or
leaving) and whoever runs the room's outputs (viewers joining, recordings) call `notify`; the
server's websocket feed listens and pushes the new state to consoles, so a console learns of a
change when it happens instead of asking every second.

Notifications carry only what kind of thing changed: listeners read the state themselves, so a
burst of changes can be answered with one message. `notify` may be called from any thread
(source threads, the encoder's executor); listeners must be quick, thread-safe and must not
raise (a listener that raises is logged and kept).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Listener = Callable[[str], None]


class RoomEvents:
    """Change notifications of one room."""

    def __init__(self, room_id: str) -> None:
        self.room_id = room_id
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(what)` on every change; returns the function that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def notify(self, what: str) -> None:
        """Something about the room changed: "program", "layout", "source", "viewers"..."""
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(what)
            except Exception:  # a broken listener must not break the room
                log.exception("room %s: change listener failed for %r", self.room_id, what)

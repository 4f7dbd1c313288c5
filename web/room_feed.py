"""Room state pushed to consoles: one feed per server, one state per room, shared by sockets.

A console used to ask for the room's state every second. Now each room's `RoomEvents` says when
something changed (program, layout, masks, title, live/idle, viewers, a WHIP publisher) and the
feed builds the room's state once and hands it to every socket watching that room. What can
only be measured by looking (source health, recording state, camera heads, disk space) is
looked at by one ticker per server, once a second, for rooms that someone watches; the state is
compared with the last one sent, so only changes go out.

Measurements that move all the time (frame age, encoder counters, exact fps, free bytes, a
camera head's answer age) do not count as a change by themselves; they ride along with the next
change, or at least every `refresh_seconds` so the console's figures stay fresh.

The feed holds no HTTP: it is given a function that builds a room's state as a JSON-able dict.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from room_controller.events import RoomEvents

logger = logging.getLogger(__name__)

State = dict[str, Any]
StateBuilder = Callable[[str], State]


def change_key(state: State) -> State:
    """The state without the measurements that change all the time."""
    key = copy.deepcopy(state)
    room = key.get("room") or {}
    room.pop("encoder", None)
    storage = room.get("storage")
    if isinstance(storage, dict):
        storage.pop("free_bytes", None)
    for source in room.get("sources") or []:
        health = source.get("health") or {}
        health.pop("last_frame_age", None)
        if isinstance(health.get("fps"), (int, float)):
            health["fps"] = int(health["fps"] / 2)  # steps of 2 fps
    for head in key.get("ptz") or []:
        head.pop("last_answer_age", None)  # grows every second; "reachable" is the change
    return key


class Subscription:
    """One socket's view of a room: always the newest state, never a queue of old ones."""

    def __init__(self, room_id: str) -> None:
        self.room_id = room_id
        self._state: State | None = None
        self._ready = asyncio.Event()

    def offer(self, state: State) -> None:
        self._state = state
        self._ready.set()

    async def next(self) -> State:
        await self._ready.wait()
        self._ready.clear()
        assert self._state is not None
        return self._state


class RoomFeed:
    """Owner of the room change listeners and of the shared 1 s ticker (start/stop)."""

    def __init__(
        self,
        rooms: Mapping[str, RoomEvents],
        build: StateBuilder,
        tick_seconds: float = 1.0,
        refresh_seconds: float = 5.0,
    ) -> None:
        self._rooms = dict(rooms)
        self._build = build
        self.tick_seconds = tick_seconds
        self.refresh_seconds = refresh_seconds
        self._subscribers: dict[str, set[Subscription]] = {room: set() for room in rooms}
        self._last: dict[str, tuple[State, State, float]] = {}  # room -> (key, state, sent at)
        self._scheduled: set[str] = set()
        self._unsubscribe: list[Callable[[], None]] = []
        self._ticker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for room_id, events in self._rooms.items():
            self._unsubscribe.append(events.subscribe(self._listener(room_id)))
        self._ticker = self._loop.create_task(self._tick())

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker

    # -- sockets -----------------------------------------------------------------------------
    def subscribe(self, room_id: str) -> Subscription:
        """Watch a room; the current state is ready at once."""
        subscription = Subscription(room_id)
        self._subscribers[room_id].add(subscription)
        state = self._build(room_id)
        if room_id not in self._last:
            self._last[room_id] = (change_key(state), state, time.monotonic())
        subscription.offer(state)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers[subscription.room_id].discard(subscription)

    def watched(self, room_id: str) -> int:
        return len(self._subscribers.get(room_id, ()))

    # -- changes -----------------------------------------------------------------------------
    def _listener(self, room_id: str) -> Callable[[str], None]:
        def changed(what: str) -> None:  # any thread
            loop = self._loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._schedule, room_id)

        return changed

    def _schedule(self, room_id: str) -> None:
        # A burst of changes (a layout and its masks) is answered with one state.
        if room_id in self._scheduled or not self._subscribers[room_id]:
            return
        self._scheduled.add(room_id)
        assert self._loop is not None
        self._loop.call_soon(self._publish, room_id)

    def _publish(self, room_id: str, force_after: float | None = None) -> None:
        self._scheduled.discard(room_id)
        subscribers = self._subscribers[room_id]
        if not subscribers:
            return
        try:
            state = self._build(room_id)
        except Exception:  # a broken state must not stop the feed
            logger.exception("room %s: state could not be built", room_id)
            return
        key = change_key(state)
        now = time.monotonic()
        last = self._last.get(room_id)
        if last is not None and last[0] == key:
            stale = force_after is not None and now - last[2] >= force_after
            if not stale or last[1] == state:
                return
        self._last[room_id] = (key, state, now)
        for subscription in subscribers:
            subscription.offer(state)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.tick_seconds)
            for room_id in self._rooms:
                self._publish(room_id, force_after=self.refresh_seconds)

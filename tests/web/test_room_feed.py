"""The room state feed without a server: pushed on change from any thread, diffed, coalesced."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from room_controller.events import RoomEvents
from web.room_feed import RoomFeed


def state(program: str, age: float = 0.0, fps: float = 30.0) -> dict[str, Any]:
    return {"type": "state", "room": {"program_source": program, "sources": [
        {"id": "cam", "health": {"state": "live", "fps": fps, "last_frame_age": age}}]}}


async def test_changes_are_pushed_once_and_measurements_alone_are_not() -> None:
    events = RoomEvents("or")
    current = state("cam")
    builds = 0

    def build(room_id: str) -> dict[str, Any]:
        nonlocal builds
        builds += 1
        return current

    feed = RoomFeed({"or": events}, build, tick_seconds=0.05, refresh_seconds=60)
    feed.start()
    try:
        subscription = feed.subscribe("or")
        assert (await asyncio.wait_for(subscription.next(), 1))["room"]["program_source"] == "cam"

        # A change notified from another thread (a source's own thread) arrives.
        current = state("ct")
        thread = threading.Thread(target=lambda: [events.notify("program") for _ in range(5)])
        thread.start()
        thread.join()
        pushed = await asyncio.wait_for(subscription.next(), 1)
        assert pushed["room"]["program_source"] == "ct"

        # Frame age and a small fps wobble are not changes: nothing is sent for them.
        current = state("ct", age=0.03, fps=30.4)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(subscription.next(), 0.4)
        # A source going lost is, and the ticker finds it without any notification.
        current = {**state("ct"), "room": {"program_source": "ct", "sources": [
            {"id": "cam", "health": {"state": "lost", "fps": 0, "last_frame_age": 2.5}}]}}
        pushed = await asyncio.wait_for(subscription.next(), 1)
        assert pushed["room"]["sources"][0]["health"]["state"] == "lost"

        feed.unsubscribe(subscription)
        assert feed.watched("or") == 0
        before = builds
        events.notify("layout")
        await asyncio.sleep(0.2)
        assert builds == before  # nobody watches: the state is not even built
    finally:
        await feed.stop()

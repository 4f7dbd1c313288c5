"""The WHIP source as a plain frame sink, and the room's change notifications."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from config.rooms import RoomSpec
from room_controller.room import Room
from room_controller.sources import PublisherBusyError, SourceState, WhipSource
from room_controller.sources.whip import fit_image


def picture(bgr: tuple[int, int, int], width: int = 320, height: int = 180) -> np.ndarray:
    image = np.empty((height, width, 3), np.uint8)
    image[:] = bgr
    return image


def test_states_from_waiting_to_live_to_lost_and_the_next_publisher() -> None:
    source = WhipSource("obs", "Laptop", 320, 180)
    changes: list[str] = []
    source.on_change = lambda: changes.append(source.health().state.value)
    assert source.health().state is SourceState.STOPPED
    source.start()
    health = source.health()
    assert health.state is SourceState.WAITING and health.error is None
    assert health.note == "waiting for a WHIP publisher"

    source.attach("p1")
    assert source.health().state is SourceState.STARTING
    with pytest.raises(PublisherBusyError, match="already has a publisher"):
        source.attach("p2")
    for _ in range(5):
        assert source.push("p1", picture((10, 20, 30)))
        time.sleep(0.02)
    health = source.health()
    assert health.state is SourceState.LIVE and health.fps > 10
    frame = source.latest_frame()
    assert frame is not None and tuple(frame.image[0, 0]) == (10, 20, 30)
    assert not source.push("p2", picture((0, 0, 0)))  # not the publisher: refused
    with pytest.raises(ValueError, match="expected uint8"):
        source.push("p1", picture((0, 0, 0), width=100))

    assert source.detach("p1", "connection failed")
    health = source.health()
    assert health.state is SourceState.LOST and health.error == "publisher left: connection failed"
    assert source.latest_frame() is None  # the room shows its no-signal slate, not a frozen frame
    source.attach("p2")  # the next publisher is taken at once
    assert changes == ["starting", "live", "lost", "starting"]
    source.stop()
    with pytest.raises(PublisherBusyError, match="stopped"):
        WhipSource("x", "X", 16, 16).attach("p")


def test_a_silent_publisher_is_lost_after_two_seconds() -> None:
    source = WhipSource("obs", "Laptop", 320, 180)
    source.lost_after = 0.2
    source.start()
    source.attach("p1")
    source.push("p1", picture((1, 2, 3)))
    time.sleep(0.3)
    health = source.health()
    assert health.state is SourceState.LOST and "no picture" in (health.error or "")


def test_fit_image_keeps_the_shape_and_letterboxes() -> None:
    tall = picture((200, 100, 50), width=400, height=300)  # 4:3 into 16:9
    fitted = fit_image(tall, 320, 180)
    assert fitted.shape == (180, 320, 3)
    assert tuple(fitted[90, 160]) == (200, 100, 50) and fitted[90, 5].max() == 0
    same = picture((1, 1, 1), 320, 180)
    assert fit_image(same, 320, 180) is same


def test_room_notifies_changes(tmp_path: Path) -> None:
    spec = RoomSpec.model_validate({
        "id": "or", "name": "OR", "program_source": "cam",
        "sources": [{"kind": "test-pattern", "id": "cam", "label": "Cam", "width": 64,
                     "height": 36},
                    {"kind": "whip", "id": "obs", "label": "Laptop", "width": 64, "height": 36}],
    })
    room = Room(spec, tmp_path)
    seen: list[str] = []
    unsubscribe = room.events.subscribe(seen.append)
    room.events.subscribe(lambda what: 1 / 0)  # a broken listener is logged, not raised
    room.select_program("obs")
    room.go_live()
    whip = room.sources["obs"]
    assert isinstance(whip, WhipSource)
    whip.start()
    whip.attach("p1")
    unsubscribe()
    room.end()
    assert seen == ["program", "state", "source"]

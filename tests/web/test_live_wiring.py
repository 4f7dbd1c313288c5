"""Going live is all or nothing, and a server part that fails at start stops the rest.

In-process, with real rooms (synthetic sources), real encoders and a real SQLite database; each
failure is a real one (a part that raises when started, a room already open in the database, a
UDP port already taken), not a mock of MedRoom's own code.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from config.rooms import RoomSpec
from config.settings import Settings
from library import attendance
from library.db import Database
from library.models import LiveSession
from room_controller.room import InvalidTransitionError, RoomState
from streaming.audio import SharedAudioEncoder
from streaming.outputs import OutputKey
from web.app import create_app
from web.live import GoLiveFailed, LiveRooms
from web.startup import StartupError


def room(room_id: str, head_port: int | None = None) -> RoomSpec:
    small = {"width": 320, "height": 180, "fps": 10}
    return RoomSpec.model_validate({
        "id": room_id, "name": f"Room {room_id}", "program_source": "cam",
        "program": {**small, "bitrate_kbps": 300},
        "audio": {"kind": "synthetic"},
        "sources": [{"kind": "test-pattern", "id": "cam", "label": "Camera", **small}],
        "devices": [] if head_port is None else [{
            "kind": "visca-ip", "id": "head", "label": "Head", "host": "127.0.0.1",
            "port": head_port, "camera_source": "cam", "simulate": True,
        }],
    })


def open_sessions(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(
            select(func.count()).select_from(LiveSession).where(LiveSession.ended_at.is_(None))
        ) or 0)


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[LiveRooms]:
    db = Database(f"sqlite:///{tmp_path / 'medroom.db'}")
    db.migrate()
    rooms = LiveRooms([room("or1")], Settings(data_dir=tmp_path, demo=False), db)
    await rooms.start()
    try:
        yield rooms
    finally:
        await rooms.stop()
        db.dispose()


async def test_a_sound_that_cannot_start_leaves_the_room_idle_with_nothing_running(
    live: LiveRooms, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_sound(self: SharedAudioEncoder) -> None:
        raise RuntimeError("the audio interface does not answer")

    monkeypatch.setattr(SharedAudioEncoder, "start", no_sound)
    with pytest.raises(GoLiveFailed, match="audio interface does not answer.*stays idle"):
        await live.go_live("or1", "Septoplasty", None)
    assert live.room("or1").state is RoomState.IDLE
    assert live.streaming.running_outputs() == []  # the program encoder was given back
    assert live.sessions == {} and open_sessions(live.db) == 0
    with pytest.raises(InvalidTransitionError, match="not live"):
        await live.end("or1")  # ending a room that never went live is a clear refusal

    monkeypatch.undo()  # the cause is gone: the same room goes live
    await live.go_live("or1", "Septoplasty", None)
    assert live.room("or1").state is RoomState.LIVE
    assert set(live.streaming.running_outputs()) == {
        OutputKey("or1", "program"), OutputKey("or1", "audio")}
    await live.end("or1")
    assert live.streaming.running_outputs() == [] and open_sessions(live.db) == 0


async def test_a_live_session_that_cannot_be_written_leaves_the_room_idle(
    live: LiveRooms,
) -> None:
    # Another server on the same database left this room's session open: the record refuses
    # a second one, so going live must fail whole.
    stale = await asyncio.to_thread(attendance.start_live_session, live.db, "or1", "old", None)
    with pytest.raises(GoLiveFailed, match="could not be written to the database"):
        await live.go_live("or1", "Septoplasty", None)
    assert live.room("or1").state is RoomState.IDLE
    assert live.streaming.running_outputs() == [] and live.sessions == {}
    await asyncio.to_thread(attendance.end_live_session, live.db, stale)
    await live.go_live("or1", "Septoplasty", None)
    assert live.room("or1").state is RoomState.LIVE


async def test_a_part_that_fails_at_start_is_named_and_the_parts_before_it_are_stopped(
    tmp_path: Path,
) -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    settings = Settings(data_dir=tmp_path, demo=False, ice_addresses=["127.0.0.1"])
    # The first room starts its camera; the second room's PTZ head cannot bind its port.
    app = create_app(settings, [room("or1"), room("or2", head_port=port)])
    try:
        with pytest.raises(StartupError) as failed:
            async with app.router.lifespan_context(app):
                pytest.fail("the server started with a part that could not")
        assert failed.value.part == "the rooms"
        assert "the rooms failed to start" in str(failed.value)
        assert isinstance(failed.value.__cause__, OSError)
        # The first room's camera thread was stopped with the rest.
        deadline = time.monotonic() + 5
        while any(t.name == "source-cam" for t in threading.enumerate()):
            assert time.monotonic() < deadline, "a source of the failed start still runs"
            await asyncio.sleep(0.05)
    finally:
        taken.close()

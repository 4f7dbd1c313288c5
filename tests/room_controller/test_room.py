from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from config.rooms import RoomSpec
from room_controller.composition import Layout, LayoutKind, PrivacyMask
from room_controller.room import InvalidTransitionError, Room, RoomState, UnknownSourceError


def spec(tmp_path: Path) -> RoomSpec:
    return RoomSpec.model_validate({
        "id": "or1", "name": "OR 1", "program_source": "cam",
        "sources": [
            {"kind": "test-pattern", "id": "cam", "label": "Cam", "width": 320, "height": 180},
            # A DICOM folder that does not exist: the source fails, the room does not.
            {"kind": "dicom-series", "id": "ct", "label": "CT", "path": str(tmp_path / "none")},
        ],
    })


def test_state_machine_refuses_invalid_transitions(tmp_path: Path) -> None:
    room = Room(spec(tmp_path), tmp_path)
    assert room.state is RoomState.IDLE
    with pytest.raises(InvalidTransitionError, match="not live"):
        room.end()
    room.go_live()
    assert room.state is RoomState.LIVE and room.live_since is not None
    with pytest.raises(InvalidTransitionError, match="already live"):
        room.go_live()
    room.end()
    assert room.state is RoomState.IDLE and room.live_since is None


def test_program_frame_follows_selection_and_a_dead_source_gives_a_slate(tmp_path: Path) -> None:
    room = Room(spec(tmp_path), tmp_path)
    room.start()
    try:
        deadline = time.monotonic() + 5
        while room.sources["cam"].latest_frame() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        program = room.program_frame()
        assert program.shape == (720, 1280, 3)  # composed at the program size
        cam = room.sources["cam"].latest_frame()
        assert cam is not None
        # The 16:9 camera fills the 16:9 program: same picture, upscaled.
        expected = cv2.resize(cam.image, (1280, 720), interpolation=cv2.INTER_LINEAR)
        assert np.abs(program.astype(int) - expected.astype(int)).mean() < 12
        with pytest.raises(UnknownSourceError, match="no source 'nope'"):
            room.select_program("nope")
        room.select_program("ct")
        slate = room.program_frame()
        assert slate.shape == (720, 1280, 3)  # the program size: a slate, not a crash
        assert slate.mean() < 40
        time.sleep(0.5)
        health = {v.id: v.health for v in room.source_views()}
        assert health["ct"].state.value == "failed" and "none" in (health["ct"].error or "")
        assert health["cam"].state.value == "live"
        jpeg = room.thumbnail_jpeg("ct")
        assert jpeg[:2] == b"\xff\xd8"
    finally:
        room.stop()


def test_masks_cover_the_source_everywhere_it_leaves_the_room(tmp_path: Path) -> None:
    room = Room(spec(tmp_path), tmp_path)
    room.start()
    try:
        deadline = time.monotonic() + 5
        while room.sources["cam"].latest_frame() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        # Top-left quarter of the camera hidden (the colour bars there are bright).
        room.set_masks((PrivacyMask(0.0, 0.0, 0.5, 0.5, source="cam"),))
        program = room.program_frame()
        assert program[:360, :640].max() == 0  # exactly the mask colour, nothing shows through
        assert program[400:, 700:].max() > 0
        iso = room.source_frame("cam")  # the ISO recording and the thumbnails are masked too
        assert iso.shape == (180, 320, 3) and iso[:90, :160].max() == 0
        thumb = cv2.imdecode(np.frombuffer(room.thumbnail_jpeg("cam", 320), np.uint8), 1)
        assert thumb[:80, :150].max() < 25  # JPEG ringing at most
        # The mask follows its source into another layout: picture-in-picture inset.
        room.set_layout(Layout(LayoutKind.PIP, ("ct", "cam")))
        assert room.program_source == "ct"
        with pytest.raises(UnknownSourceError):
            room.set_layout(Layout(LayoutKind.SIDE_BY_SIDE, ("cam", "nope")))
        with pytest.raises(UnknownSourceError):
            room.set_masks((PrivacyMask(0.1, 0.1, 0.2, 0.2, source="nope"),))
    finally:
        room.stop()


def test_a_source_that_stops_delivering_shows_its_slate_not_a_frozen_picture(
    tmp_path: Path,
) -> None:
    slide = tmp_path / "slide.png"
    cv2.imwrite(str(slide), np.full((90, 160, 3), (0, 200, 255), np.uint8))  # orange
    room = Room(RoomSpec.model_validate({
        "id": "or1", "name": "OR 1", "program_source": "slide",
        "sources": [{"kind": "still", "id": "slide", "label": "Slide", "path": str(slide),
                     "width": 320, "height": 180, "fps": 5}],
    }), tmp_path)
    room.start()
    try:
        deadline = time.monotonic() + 10
        while room.sources["slide"].latest_frame() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        centre = room.program_frame()[360, 640]
        assert abs(int(centre[2]) - 255) < 30 and abs(int(centre[1]) - 200) < 30, centre
        slide.unlink()  # the slide goes away: the source is lost or failed within seconds
        deadline = time.monotonic() + 15
        while (room.sources["slide"].health().state.value not in ("lost", "failed")
               and time.monotonic() < deadline):
            time.sleep(0.1)
        assert room.sources["slide"].health().state.value in ("lost", "failed")
        assert room.sources["slide"].latest_frame() is not None  # the source still holds it...
        for picture in (room.program_frame(), room.source_frame("slide")):
            assert picture.mean() < 60, "...but the room shows the no-signal slate, not the slide"
    finally:
        room.stop()

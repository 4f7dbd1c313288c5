"""A real recording for the publishing tests: Recorder + two real SharedEncoders, ~4 s.

Recorded once per test session (it takes real time) into a folder no test writes to; tests
that change files work on a copy (``recording`` fixture).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from recorder.recording import TrackSpec
from recorder.registry import Recorder
from streaming.encoder import SharedEncoder
from tests.recorder.conftest import moving_bar, settings


@dataclass(frozen=True)
class Recorded:
    folder: Path
    markers: tuple[tuple[str, float], ...]  # (title, session seconds)


async def record(root: Path, seconds: float = 4.0) -> Recorded:
    program = SharedEncoder(moving_bar(), settings(gop=1.0), name="program")
    cam = SharedEncoder(moving_bar(), settings(gop=1.0), name="cam1")
    program.start()
    cam.start()
    try:
        recording = await Recorder(root).start("demo", "Septoplasty", {
            "program": TrackSpec(program, "program"),
            "iso-cam1": TrackSpec(cam, "iso", "cam1"),
        })
        await asyncio.sleep(seconds * 0.3)
        first = await recording.add_marker("Exposure", author="dr-ana")
        await recording.add_note("septum deviated to the left")
        await recording.add_stroke([(0.2, 0.2), (0.5, 0.5)], "#00ff00", 3, first.at, first.at + 0.2)
        await recording.add_chat("marko", "can you zoom in?")
        await asyncio.sleep(seconds * 0.4)
        second = await recording.add_marker("Resection")
        await asyncio.sleep(seconds * 0.3)
        await recording.stop()
    finally:
        await program.stop()
        await cam.stop()
    return Recorded(recording.folder, ((first.title, first.at), (second.title, second.at)))


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    # A plain fixture running its own loop: a session-wide async fixture would need a
    # session-wide event loop for every test.
    return asyncio.run(record(tmp_path_factory.mktemp("recordings")))


@pytest.fixture
def recording(recorded: Recorded, tmp_path: Path) -> Recorded:
    """A private copy of the session's recording."""
    folder = tmp_path / "rec" / recorded.folder.name
    shutil.copytree(recorded.folder, folder)
    return Recorded(folder, recorded.markers)


ProgressLog = list[tuple[str, float]]


def progress_log() -> tuple[ProgressLog, Callable[[str, float], None]]:
    log: ProgressLog = []
    return log, lambda step, fraction: log.append((step, fraction))

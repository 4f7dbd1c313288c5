"""Sources run on real threads: frames arrive, health is measured, failures are contained."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from room_controller.dicom import Window, write_head_phantom
from room_controller.sources import (
    DicomSeriesSource,
    EndoscopeSimSource,
    Frame,
    SourceState,
    TestPatternSource,
    ThreadedSource,
)
from room_controller.sources.base import Image
from room_controller.sources.dicom_source import overlay_lines, ping_pong_index
from tests.room_controller.dicom_files import PATIENT_ID, PATIENT_NAME, write_ct_slices

from .polling import wait_for


@pytest.fixture(scope="module")
def ct_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ct")
    write_head_phantom(folder, slices=12, size=128)
    return folder


def first_frame(source: ThreadedSource, timeout: float = 1.5) -> Frame:
    assert wait_for(lambda: source.latest_frame() is not None, timeout), source.health()
    frame = source.latest_frame()
    assert frame is not None
    return frame


def take_frames(source: ThreadedSource, seconds: float, fps: float = 30) -> None:
    """Take the latest frame at ``fps``, as an encoder does."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        source.latest_frame()
        time.sleep(1 / fps)


SOURCES: dict[str, Callable[[Path], ThreadedSource]] = {
    "pattern": lambda _: TestPatternSource("pattern", "Room camera", "OR 3", 640, 360, fps=30),
    "endoscope": lambda _: EndoscopeSimSource("endo", "Endoscope", 640, 360, fps=30),
    "dicom": lambda folder: DicomSeriesSource(
        "ct", "Head CT", folder, seconds_per_slice=0.05, width=640, height=360, fps=20
    ),
}


@pytest.mark.parametrize("kind", SOURCES)
def test_source_runs_live_at_its_rate_and_stops(
    kind: str, ct_folder: Path, started: list[ThreadedSource]
) -> None:
    source = SOURCES[kind](ct_folder)
    started.append(source)
    assert source.health().state is SourceState.STOPPED
    source.start()
    frame = first_frame(source)
    assert frame.image.shape == (360, 640, 3) and frame.image.dtype == np.uint8
    assert not frame.image.flags.writeable  # shared with every consumer
    assert frame.image.any(), "frame is not blank"
    take_frames(source, 1.2)
    health = source.health()
    assert health.state is SourceState.LIVE and health.error is None and health.note is None
    assert (health.width, health.height) == (640, 360)
    assert health.fps == pytest.approx(source.fps, rel=0.2)
    assert health.last_frame_age is not None and health.last_frame_age < 0.5
    later = source.latest_frame()
    assert later is not None and later.index > frame.index
    thread = source._thread
    source.stop()
    assert thread is not None and not thread.is_alive()
    assert source.health().state is SourceState.STOPPED
    source.stop()  # idempotent


def test_endoscope_frames_move(started: list[ThreadedSource]) -> None:
    source = EndoscopeSimSource("endo", "Endoscope", 320, 180, fps=30)
    source.setup()
    a, b = source.render(0.0), source.render(2.0)
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 2
    # Round field: corners black, centre lit and reddish (BGR: red channel dominates).
    assert a[5, 75].max() == 0 and a[90, 60].max() == 0 and a[175, 245].max() == 0
    centre = a[70:110, 140:180].reshape(-1, 3).mean(axis=0)
    assert centre[2] > 90 and centre[2] > centre[1] and centre[2] > centre[0]


class CountedPattern(TestPatternSource):
    """A test pattern that counts its renders."""

    def __init__(self) -> None:
        super().__init__("pattern", "Room camera", "OR 3", 320, 180, fps=30)
        self.renders = 0

    def render(self, t: float) -> Image:
        self.renders += 1
        return super().render(t)


def test_source_rests_while_nobody_takes_frames(started: list[ThreadedSource]) -> None:
    source = CountedPattern()
    started.append(source)
    source.start()
    first_frame(source)
    time.sleep(1.2)  # the first takes are forgotten

    # Nobody takes frames: a couple of pictures a second, fresh enough for the first look.
    before = source.renders
    time.sleep(2.0)
    assert 2 <= source.renders - before <= 6, source.renders - before
    health = source.health()
    assert health.state is SourceState.LIVE and health.note is not None
    assert "resting" in health.note
    assert health.fps == 30  # what a consumer gets when it takes frames
    assert health.last_frame_age is not None and health.last_frame_age < 0.8

    # One look (a console's thumbnail) draws a fresh picture at once, not at the next rest.
    before = source.renders
    source.latest_frame()
    assert wait_for(lambda: source.renders > before, 0.25)

    # An encoder taking frames gets the full rate within a fraction of a second.
    take_frames(source, 0.6)
    before = source.renders
    take_frames(source, 1.0)
    assert source.renders - before >= 24, source.renders - before
    health = source.health()
    assert health.note is None and health.fps == pytest.approx(30, rel=0.2)

    # A resting source stops at once.
    time.sleep(1.2)
    began = time.monotonic()
    source.stop()
    assert time.monotonic() - began < 0.2


class Clock:
    """The cine's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_dicom_source_cine_scroll_and_window(ct_folder: Path) -> None:
    clock = Clock()
    source = DicomSeriesSource("ct", "Head CT", ct_folder, width=640, height=360,
                               seconds_per_slice=0.25, clock=clock)
    source.setup()
    assert [ping_pong_index(i, 4) for i in range(8)] == [0, 1, 2, 3, 2, 1, 0, 1]
    first = source.render(0.0)
    assert source.view().index == 0 and source.view().playing
    assert source.render(0.0) is first  # nothing changed: the cached frame
    clock.now += 1.0  # 4 slices per second
    assert source.view().index == 4 and source.render(0.0) is not first
    clock.now += 0.25 * 18  # ping-pong: 22 steps of 12 slices is back at slice 0
    assert source.view().index == 0
    # Scrolling pauses the cine on that slice; time passing does not move it.
    source.set_slice(7)
    clock.now += 5
    view = source.view()
    assert (view.index, view.playing) == (7, False)
    assert view.position_mm == pytest.approx(source.series.slices[7].position_mm)
    assert source.step_slice(+10) == 11 and source.step_slice(-3) == 8
    with pytest.raises(ValueError, match="between 0 and 11"):
        source.set_slice(12)
    # Play resumes from the slice shown, at the new speed, without a jump.
    source.set_cine(True, speed=2.0)
    clock.now += 1.0
    assert source.view().index == 10 and source.view().speed == 2.0
    source.set_cine(False)
    clock.now += 3
    assert source.view().index == 10
    with pytest.raises(ValueError, match="between 0.5 and 30"):
        source.set_cine(True, speed=100)
    # The image is centred and fits the height: a 360x360 picture on a 640x360 canvas.
    frame = source.render(0.0)
    bright_cols = np.flatnonzero(frame[150:, :, 0].max(axis=0) > 60)  # below the text
    assert bright_cols.min() >= 140 and bright_cols.max() < 500
    source.set_window("bone")
    bone = source.render(0.0)
    assert bone is not frame and source.window.label == "bone W:2800 L:600"
    source.set_window(Window(40, 80))
    assert source.window.preset is None
    with pytest.raises(ValueError, match="unknown window"):
        source.set_window("lung-ish")


def test_dicom_picture_text_shows_slice_position_window_and_no_patient_data(
    tmp_path: Path,
) -> None:
    write_ct_slices(tmp_path, [40, 40, 40], z_mm=[-2.5, 0.0, 2.5])
    source = DicomSeriesSource("ct", "Head CT", tmp_path, width=640, height=360,
                               clock=Clock(), playing=False)
    source.setup()
    source.set_slice(2)
    lines = overlay_lines(2, 3, 2.5, Window.named("brain"), False, 4.0)
    assert lines == ["Slice 3/3", "Pos +2.5 mm", "brain W:80 L:40", "PAUSED"]
    assert overlay_lines(0, 3, None, Window(35, 100), True, 4)[1:] == [
        "Pos -", "W:100 L:35", "CINE 4/s"]
    text = " ".join(lines)
    for secret in (PATIENT_NAME, PATIENT_ID, "DOE", "JANE", "HEAD"):
        assert secret not in text
    # The text sits top left on the black margin; the rest of the margin stays black.
    frame = source.render(0.0)
    assert frame[:140, :130].max() == 255
    assert frame[140:, :130].max() == 0 and frame[:, 510:].max() == 0


def test_dicom_source_with_bad_folder_fails_without_raising(
    tmp_path: Path, started: list[ThreadedSource]
) -> None:
    source = DicomSeriesSource("ct", "Head CT", tmp_path)
    started.append(source)
    source.start()  # must not raise in the caller
    assert wait_for(lambda: source.health().state is SourceState.FAILED, 1.5)
    error = source.health().error
    assert error is not None and str(tmp_path) in error


class Flaky(ThreadedSource):
    """Raises while `broken` is set; blocks while `frozen` is set."""

    retry_backoff = 0.2

    def __init__(self) -> None:
        super().__init__("flaky", "Flaky", "test", 64, 48, fps=50)
        self.broken = threading.Event()
        self.frozen = threading.Event()
        self.thaw = threading.Event()

    def render(self, t: float) -> Image:
        if self.broken.is_set():
            raise RuntimeError("capture card unplugged")
        if self.frozen.is_set():
            self.thaw.wait(10)
        return np.zeros((48, 64, 3), np.uint8)


def test_failing_render_goes_failed_then_recovers(started: list[ThreadedSource]) -> None:
    source = Flaky()
    started.append(source)
    source.broken.set()
    source.start()
    assert wait_for(lambda: source.health().state is SourceState.FAILED, 1.0)
    assert source.health().error == "RuntimeError: capture card unplugged"
    assert source._thread is not None and source._thread.is_alive()
    source.broken.clear()
    assert wait_for(lambda: source.health().state is SourceState.LIVE, 1.5)
    assert source.health().error is None
    assert source.latest_frame() is not None


def test_default_backoff_is_one_second() -> None:
    assert ThreadedSource.retry_backoff == 1.0 and ThreadedSource.lost_after == 2.0


def test_source_that_stops_producing_is_lost(started: list[ThreadedSource]) -> None:
    source = Flaky()
    started.append(source)
    source.start()
    first_frame(source)
    source.frozen.set()
    time.sleep(1.0)
    assert source.health().state is SourceState.LIVE
    assert wait_for(lambda: source.health().state is SourceState.LOST, 1.6)
    age = source.health().last_frame_age
    assert age is not None and age > 2.0
    source.thaw.set()
    source.stop()
    assert source.health().state is SourceState.STOPPED

"""A DICOM series shown as a live source: cine or a chosen slice, through a display window.

The instructor scrolls to a slice (which pauses the cine), plays and pauses the cine at a speed
in slices per second (back and forth through the series, as a radiologist scrolls), and picks a
window preset or a free centre/width. The picture carries only the slice number, its position
along the slice normal and the window: never the patient's name, ID or any other header text,
because the room may be streaming to a classroom.

The series is loaded in the worker thread (headers only; pixels are decoded on demand); a load
failure shows up as FAILED with the message (naming the file) in `health()` and is retried after
the back-off, and `use_series` swaps in a series checked elsewhere (an upload) at once.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..dicom.series import DicomSeries, load_series
from ..dicom.window import Window
from .base import Image, ThreadedSource

_FONT = cv2.FONT_HERSHEY_SIMPLEX
#: Cine speed limits, slices per second.
MIN_SPEED, MAX_SPEED = 0.5, 30.0
#: Rendered frames kept: a paused slice or a short back-and-forth costs a lookup.
RENDERED_FRAMES = 8


class CineError(ValueError):
    """A control the DICOM source cannot take (slice out of range, speed out of limits)."""


def ping_pong_index(step: int, count: int) -> int:
    """0, 1, ..., n-1, n-2, ..., 1, 0, 1, ...: scrolls back and forth with no jump."""
    if count <= 1:
        return 0
    period = 2 * (count - 1)
    p = step % period
    return p if p < count else period - p


@dataclass(frozen=True)
class DicomView:
    """What the source shows now, for the API and the console."""

    loaded: bool
    count: int
    rows: int
    cols: int
    files: int
    modality: str
    index: int
    position_mm: float | None
    playing: bool
    speed: float
    window: Window
    folder: Path


def overlay_lines(
    index: int, count: int, position_mm: float | None, window: Window, playing: bool, speed: float
) -> list[str]:
    """The only text burnt into the picture: slice, position, window and cine state."""
    position = "Pos -" if position_mm is None else f"Pos {position_mm:+.1f} mm"
    cine = f"CINE {speed:g}/s" if playing else "PAUSED"
    return [f"Slice {index + 1}/{count}", position, window.label, cine]


class DicomSeriesSource(ThreadedSource):
    """A CT/MR series with cine, scroll and windowing controls (thread-safe)."""

    retry_backoff = 3.0  # a bad folder is re-read every few seconds, not in a tight loop

    def __init__(
        self,
        id: str,
        label: str,
        folder: Path,
        window: str = "brain",
        seconds_per_slice: float = 0.25,
        width: int = 1280,
        height: int = 720,
        fps: float = 10,
        playing: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(id, label, "dicom", width, height, fps)
        if seconds_per_slice <= 0:
            raise ValueError(f"seconds_per_slice must be positive, got {seconds_per_slice}")
        self.folder = Path(folder)
        self._clock = clock
        self._window = Window.named(window)
        self._series: DicomSeries | None = None
        self._control = threading.Lock()
        self._speed = self._check_speed(1.0 / seconds_per_slice)
        self._playing = playing
        # Cine position: `_step` steps of the ping-pong walk at clock time `_anchor`.
        self._step = 0.0
        self._anchor = clock()
        self._rendered: collections.OrderedDict[tuple[object, ...], Image] = (
            collections.OrderedDict())
        #: Held by whoever stores a new series and swaps it in (an upload), so two uploads at
        #: once never delete each other's files.
        self.replace_lock = threading.Lock()

    # -- controls (any thread) ----------------------------------------------------------------

    @staticmethod
    def _check_speed(speed: float) -> float:
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise CineError(
                f"cine speed must be between {MIN_SPEED:g} and {MAX_SPEED:g} slices per second, "
                f"got {speed:g}"
            )
        return float(speed)

    def _current_step(self, now: float) -> float:
        if self._playing:
            return self._step + (now - self._anchor) * self._speed
        return self._step

    def _index(self, now: float) -> int:
        series = self._series
        count = series.count if series is not None else 1
        return ping_pong_index(int(self._current_step(now)), count)

    @property
    def window(self) -> Window:
        return self._window

    def set_window(self, window: str | Window) -> None:
        """A preset by name ("bone") or a free Window; takes effect on the next frame."""
        self._window = Window.named(window) if isinstance(window, str) else window

    def set_slice(self, index: int) -> None:
        """Show slice `index` (0 = lowest along the slice normal) and pause the cine."""
        series = self._series
        if series is None:
            raise CineError("the series is not loaded yet: wait for it, or upload one")
        if not 0 <= index < series.count:
            raise CineError(f"slice index must be between 0 and {series.count - 1}, got {index}")
        with self._control:
            self._playing = False
            self._step = float(index)

    def step_slice(self, delta: int) -> int:
        """Move by `delta` slices from the one shown (clamped at the ends), pausing the cine."""
        series = self._series
        if series is None:
            raise CineError("the series is not loaded yet: wait for it, or upload one")
        with self._control:
            index = min(series.count - 1, max(0, self._index(self._clock()) + delta))
            self._playing = False
            self._step = float(index)
        return index

    def set_cine(self, playing: bool, speed: float | None = None) -> None:
        """Play or pause the cine from the slice shown, optionally at a new speed."""
        if speed is not None:
            speed = self._check_speed(speed)
        with self._control:
            now = self._clock()
            # Re-anchor on the slice shown now, so play/pause/speed never jump.
            self._step = float(self._index(now))
            self._anchor = now
            self._playing = playing
            if speed is not None:
                self._speed = speed

    def use_series(self, series: DicomSeries) -> None:
        """Show `series` (already loaded and checked) from its first slice, now."""
        with self._control:
            self._series = series
            self.folder = series.folder
            self._step = 0.0
            self._anchor = self._clock()
            self._rendered.clear()

    @property
    def series(self) -> DicomSeries | None:
        return self._series

    def view(self) -> DicomView:
        with self._control:
            series, now = self._series, self._clock()
            index = self._index(now)
            playing, speed = self._playing, self._speed
        return DicomView(
            loaded=series is not None,
            count=series.count if series else 0,
            rows=series.rows if series else 0,
            cols=series.cols if series else 0,
            files=series.files if series else 0,
            modality=series.modality if series else "",
            index=index if series else 0,
            position_mm=series.slices[index].position_mm if series else None,
            playing=playing, speed=speed, window=self._window, folder=self.folder,
        )

    # -- worker -------------------------------------------------------------------------------

    def setup(self) -> None:
        series = self._series
        if series is None or series.folder != self.folder:
            self.use_series(load_series(self.folder))

    def render(self, t: float) -> Image:
        with self._control:
            series = self._series
            assert series is not None, "setup() runs before render()"
            index = self._index(self._clock())
            playing, speed = self._playing, self._speed
        window = self._window
        key = (id(series), index, window, playing, speed)
        cached = self._rendered.get(key)
        if cached is not None:
            self._rendered.move_to_end(key)
            return cached
        image = self.draw(series, index, window, playing, speed)
        image.flags.writeable = False
        self._rendered[key] = image
        while len(self._rendered) > RENDERED_FRAMES:
            self._rendered.popitem(last=False)
        return image

    def draw(
        self, series: DicomSeries, index: int, window: Window, playing: bool, speed: float
    ) -> Image:
        """Slice `index` windowed, fitted into the frame (aspect kept), with its text."""
        grey = series.windowed(index, window)
        # Fit inside the frame, keep the aspect ratio (square pixels, as in axial CT).
        scale = min(self.height / series.rows, self.width / series.cols)
        w, h = max(1, round(series.cols * scale)), max(1, round(series.rows * scale))
        canvas = np.zeros((self.height, self.width, 3), np.uint8)
        x0, y0 = (self.width - w) // 2, (self.height - h) // 2
        resized = cv2.resize(grey, (w, h), interpolation=cv2.INTER_LINEAR)
        cv2.cvtColor(resized, cv2.COLOR_GRAY2BGR, dst=canvas[y0 : y0 + h, x0 : x0 + w])
        s = self.height / 720
        lines = overlay_lines(index, series.count, series.slices[index].position_mm, window,
                              playing, speed)
        y = int(36 * s)
        for text in lines:
            for colour, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):  # outlined
                cv2.putText(canvas, text, (int(16 * s), y), _FONT, 0.7 * s, colour,
                            max(1, round(thickness * s)), cv2.LINE_AA)
            y += int(30 * s)
        return canvas

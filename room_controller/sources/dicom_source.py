"""A DICOM series shown as a live source: a cine loop through the slices, windowed."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from ..dicom.series import WINDOW_PRESETS, DicomSeries, apply_window, load_series
from .base import Image, ThreadedSource

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def ping_pong_index(step: int, count: int) -> int:
    """0, 1, ..., n-1, n-2, ..., 1, 0, 1, ...: scrolls back and forth with no jump."""
    if count <= 1:
        return 0
    period = 2 * (count - 1)
    p = step % period
    return p if p < count else period - p


class DicomSeriesSource(ThreadedSource):
    """Scrolls through a CT/MR series like a radiologist's cine, one slice per interval.

    The series is loaded in the worker thread (a large series takes seconds); a load failure
    shows up as FAILED with the message in `health()` and is retried after the back-off.
    Rendered slices are cached, so after the first pass a frame costs a dictionary lookup.
    Patient identity is never drawn: the room may be streaming to a classroom.
    """

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
    ) -> None:
        super().__init__(id, label, "dicom", width, height, fps)
        if seconds_per_slice <= 0:
            raise ValueError(f"seconds_per_slice must be positive, got {seconds_per_slice}")
        self._check_window(window)
        self.folder = Path(folder)
        self.seconds_per_slice = seconds_per_slice
        self._window = window
        self._series: DicomSeries | None = None
        self._cache: dict[tuple[str, int], Image] = {}
        self._cache_lock = threading.Lock()

    @staticmethod
    def _check_window(window: str) -> None:
        if window not in WINDOW_PRESETS:
            raise ValueError(
                f"unknown window {window!r}; choose one of {', '.join(WINDOW_PRESETS)}"
            )

    @property
    def window(self) -> str:
        return self._window

    def set_window(self, window: str) -> None:
        """Switch the window preset (e.g. to "bone") while live; takes effect on the next frame."""
        self._check_window(window)
        with self._cache_lock:
            self._window = window
            self._cache.clear()

    @property
    def series(self) -> DicomSeries | None:
        return self._series

    def setup(self) -> None:
        self._series = load_series(self.folder)
        with self._cache_lock:
            self._cache.clear()

    def render(self, t: float) -> Image:
        series = self._series
        assert series is not None, "setup() runs before render()"
        index = ping_pong_index(int(t / self.seconds_per_slice), series.count)
        with self._cache_lock:
            window = self._window
            cached = self._cache.get((window, index))
        if cached is not None:
            return cached
        image = self._draw(series, index, window)
        image.flags.writeable = False
        with self._cache_lock:
            if self._window == window:
                self._cache[(window, index)] = image
        return image

    def _draw(self, series: DicomSeries, index: int, window: str) -> Image:
        center, width = WINDOW_PRESETS[window]
        grey = apply_window(series.hu[index], center, width)
        # Fit the height, keep the aspect ratio (assumes square pixels, as in axial CT).
        scale = min(self.height / series.rows, self.width / series.cols)
        w, h = max(1, round(series.cols * scale)), max(1, round(series.rows * scale))
        grey = np.asarray(cv2.resize(grey, (w, h), interpolation=cv2.INTER_LINEAR), np.uint8)
        canvas = np.zeros((self.height, self.width, 3), np.uint8)
        x0, y0 = (self.width - w) // 2, (self.height - h) // 2
        canvas[y0 : y0 + h, x0 : x0 + w] = grey[..., None]
        s = self.height / 720
        lines = [
            (self.label, 0.8),
            (series.series_description, 0.6),
            (f"Slice {index + 1}/{series.count}", 0.8),
            (window, 0.7),
            (f"W {width:g} / L {center:g}", 0.7),
        ]
        y = int(40 * s)
        for text, size in lines:
            if text:
                cv2.putText(canvas, text, (int(16 * s), y), _FONT, size * s, (255, 255, 255),
                            1, cv2.LINE_AA)
            y += int(36 * s)
        return canvas

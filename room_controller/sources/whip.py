"""A source fed from outside the room controller: the picture of a WHIP publisher.

An encoder such as OBS Studio publishes into the room over WebRTC; the peer connection and the
decoding belong to ``streaming.whip``, which pushes each decoded picture here as a BGR frame of
the source's size. This module knows nothing of WebRTC (the room controller never imports
streaming): it is a frame sink with one publisher at a time and the same health as every other
source.

States: WAITING until a publisher connects (not an error: the laptop may simply not be there
yet), STARTING while a publisher is connected but has sent no picture, LIVE while pictures
arrive, LOST when the publisher left or went silent for `lost_after` seconds. A LOST source
accepts the next publisher at once.
"""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np

from .base import Frame, FrameRate, Image, Source, SourceHealth, SourceState

WAITING_NOTE = "waiting for a WHIP publisher"


class PublisherBusyError(Exception):
    """The source already has a publisher (HTTP 409)."""


def fit_image(image: Image, width: int, height: int) -> Image:
    """Scale a picture into width x height keeping its shape; the rest is black (letterbox)."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    scale = min(width / w, height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    if (new_w, new_h) == (width, height):
        return small  # type: ignore[return-value]
    out = np.zeros((height, width, 3), np.uint8)
    x, y = (width - new_w) // 2, (height - new_h) // 2
    out[y:y + new_h, x:x + new_w] = small
    return out


class WhipSource(Source):
    """The latest picture of the room's WHIP publisher; thread-safe."""

    lost_after: float = 2.0
    fps_window: float = 2.0

    def __init__(self, id: str, label: str, width: int, height: int) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"source {id!r}: size must be positive, got {width}x{height}")
        self.id = id
        self.label = label
        self.kind = "whip"
        self.width = width
        self.height = height
        self._lock = threading.Lock()
        self._state = SourceState.STOPPED
        self._error: str | None = None
        self._publisher: str | None = None
        self._frame: Frame | None = None
        self._rate = FrameRate(self.fps_window)
        self._next_index = 0

    # -- Source -------------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._state is SourceState.STOPPED:
                self._state = SourceState.WAITING
                self._error = None

    def stop(self) -> None:
        with self._lock:
            self._state = SourceState.STOPPED
            self._publisher = None
            self._frame = None

    def latest_frame(self) -> Frame | None:
        with self._lock:
            return self._frame

    def health(self) -> SourceHealth:
        now = time.monotonic()
        with self._lock:
            state, error, frame = self._state, self._error, self._frame
            fps = self._rate.fps(now)
        age = None if frame is None else now - frame.captured_at
        if state is SourceState.LIVE and (age is None or age > self.lost_after):
            state, error = SourceState.LOST, f"the publisher sent no picture for {age or 0:.0f} s"
        note = {
            SourceState.WAITING: WAITING_NOTE,
            SourceState.STARTING: "publisher connected, waiting for its first picture",
            SourceState.LOST: "accepting a new WHIP publisher",
        }.get(state)
        return SourceHealth(state=state, fps=fps, width=self.width, height=self.height,
                            last_frame_age=age, error=error, note=note)

    # -- the publisher's side (called by streaming.whip) ---------------------------------------

    @property
    def publisher(self) -> str | None:
        with self._lock:
            return self._publisher

    def attach(self, publisher_id: str) -> None:
        """Claim the source for a publisher; PublisherBusyError while another one has it."""
        with self._lock:
            if self._state is SourceState.STOPPED:
                raise PublisherBusyError(f"source '{self.id}' is stopped (the room is shutting down)")
            if self._publisher is not None:
                raise PublisherBusyError(
                    f"source '{self.id}' already has a publisher: end that one first (DELETE its "
                    "session) or wait until it is gone"
                )
            self._publisher = publisher_id
            self._state = SourceState.STARTING
            self._error = None
            self._frame = None
            self._rate.clear()
        self._changed()

    def push(self, publisher_id: str, image: Image) -> bool:
        """A decoded picture of the source's size; False when this publisher no longer owns
        the source (it should stop)."""
        expected = (self.height, self.width, 3)
        if image.shape != expected or image.dtype != np.uint8:
            raise ValueError(f"pushed {image.dtype} {image.shape}, expected uint8 {expected}")
        image.flags.writeable = False
        now = time.monotonic()
        with self._lock:
            if self._publisher != publisher_id:
                return False
            first = self._state is not SourceState.LIVE
            self._frame = Frame(image=image, captured_at=now, index=self._next_index)
            self._next_index += 1
            self._rate.add(now)
            self._state = SourceState.LIVE
        if first:
            self._changed()
        return True

    def detach(self, publisher_id: str, reason: str) -> bool:
        """The publisher is gone (left, failed, silent): LOST, ready for the next one."""
        with self._lock:
            if self._publisher != publisher_id:
                return False
            self._publisher = None
            self._frame = None
            self._rate.clear()
            if self._state is not SourceState.STOPPED:
                self._state = SourceState.LOST
                self._error = f"publisher left: {reason}"
        self._changed()
        return True

    # -- helpers ------------------------------------------------------------------------------

    def _changed(self) -> None:
        listener = self.on_change
        if listener is not None:
            listener()

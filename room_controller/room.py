"""A training room: its sources, what is on program, and whether it is live.

The room owns its sources (started with the room, stopped with it) and answers one question for
the encoder, many times a second: what is the program frame now. A source that has no picture
yields a "no signal" slate rather than an error, so the program never stops because one device
did.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

import cv2
import numpy as np

from config.rooms import DicomSeriesSpec, EndoscopeSimSpec, RoomSpec, SourceSpec, TestPatternSpec
from room_controller.sources import (
    DicomSeriesSource,
    EndoscopeSimSource,
    Source,
    SourceHealth,
    TestPatternSource,
)

logger = logging.getLogger(__name__)


class RoomState(str, Enum):
    IDLE = "idle"
    LIVE = "live"


class RoomError(Exception):
    """An action the room cannot take now; the message says why and what to do instead."""


class UnknownSourceError(RoomError):
    pass


class InvalidTransitionError(RoomError):
    pass


_TRANSITIONS: dict[tuple[RoomState, str], RoomState] = {
    (RoomState.IDLE, "go_live"): RoomState.LIVE,
    (RoomState.LIVE, "end"): RoomState.IDLE,
}


@dataclass(frozen=True)
class SourceView:
    id: str
    label: str
    kind: str
    health: SourceHealth


def build_source(spec: SourceSpec, room_name: str, data_dir: Path) -> Source:
    """Make the source a room file describes."""
    if isinstance(spec, TestPatternSpec):
        return TestPatternSource(
            spec.id, spec.label, room_name=room_name, width=spec.width, height=spec.height,
            fps=spec.fps,
        )
    if isinstance(spec, EndoscopeSimSpec):
        return EndoscopeSimSource(
            spec.id, spec.label, width=spec.width, height=spec.height, fps=spec.fps,
            seed=spec.seed,
        )
    if isinstance(spec, DicomSeriesSpec):
        folder = spec.path if spec.path.is_absolute() else data_dir / spec.path
        return DicomSeriesSource(
            spec.id, spec.label, folder=folder, window=spec.window.value,
            seconds_per_slice=spec.seconds_per_slice, width=spec.width, height=spec.height,
            fps=spec.fps,
        )
    raise TypeError(f"no source for {spec!r}")  # unreachable: the room file is validated


def no_signal_slate(width: int, height: int, label: str) -> np.ndarray:
    """A dark frame naming the source that has no picture."""
    image = np.full((height, width, 3), 24, np.uint8)
    scale = height / 720
    for text, y, size in (("NO SIGNAL", 0.45, 2.0), (label, 0.58, 1.0)):
        (w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size * scale, 2)
        cv2.putText(
            image, text, ((width - w) // 2, int(height * y)), cv2.FONT_HERSHEY_SIMPLEX,
            size * scale, (200, 200, 200), max(1, int(2 * scale)), cv2.LINE_AA,
        )
    return image


class Room:
    """One training room; thread-safe for the encoder thread reading the program frame."""

    def __init__(self, spec: RoomSpec, data_dir: Path) -> None:
        self.spec = spec
        self.id = spec.id
        self.name = spec.name
        self.sources: dict[str, Source] = {
            s.id: build_source(s, spec.name, data_dir) for s in spec.sources
        }
        self._lock = threading.Lock()
        self._program_source = spec.program_source
        self._state = RoomState.IDLE
        self.live_since: datetime | None = None
        self._slates: dict[str, np.ndarray] = {}
        self._thumbnails: dict[str, tuple[float, bytes]] = {}  # "source@width" -> (time, jpeg)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        for source in self.sources.values():
            try:
                source.start()
            except Exception:
                # pyCA's rule: a device that dies never takes the daemon down.
                logger.exception("source %s of room %s did not start", source.id, self.id)

    def stop(self) -> None:
        for source in self.sources.values():
            try:
                source.stop()
            except Exception:
                logger.exception("source %s of room %s did not stop cleanly", source.id, self.id)

    # -- state machine -----------------------------------------------------------------------
    @property
    def state(self) -> RoomState:
        return self._state

    def _transition(self, action: str) -> None:
        with self._lock:
            target = _TRANSITIONS.get((self._state, action))
            if target is None:
                hint = {"go_live": "it is already live", "end": "it is not live"}[action]
                raise InvalidTransitionError(
                    f"room '{self.id}' cannot {action.replace('_', ' ')}: {hint}"
                )
            self._state = target

    def go_live(self) -> None:
        self._transition("go_live")
        self.live_since = datetime.now(UTC)

    def end(self) -> None:
        self._transition("end")
        self.live_since = None

    # -- program -----------------------------------------------------------------------------
    @property
    def program_source(self) -> str:
        return self._program_source

    def select_program(self, source_id: str) -> None:
        if source_id not in self.sources:
            raise UnknownSourceError(
                f"room '{self.id}' has no source '{source_id}' "
                f"(sources: {', '.join(self.sources)})"
            )
        with self._lock:
            self._program_source = source_id

    def program_frame(self) -> np.ndarray:
        """The picture on program now (a slate when the source has none)."""
        return self.source_frame(self._program_source)

    def source_frame(self, source_id: str) -> np.ndarray:
        """A source's latest picture, or a slate naming it when it has none."""
        source = self.sources[source_id]
        frame = source.latest_frame()
        if frame is not None:
            return frame.image
        slate = self._slates.get(source.id)
        if slate is None:
            program = self.spec.program
            slate = no_signal_slate(program.width, program.height, source.label)
            self._slates[source.id] = slate
        return slate

    def source_size(self, source_id: str) -> tuple[int, int]:
        """The (width, height) a source is described with in the room file."""
        spec = next(s for s in self.spec.sources if s.id == source_id)
        return spec.width, spec.height

    def source_views(self) -> list[SourceView]:
        return [SourceView(s.id, s.label, s.kind, s.health()) for s in self.sources.values()]

    def thumbnail_jpeg(self, source_id: str, width: int = 320, max_age: float = 0.2) -> bytes:
        """A small JPEG of a source's latest frame; cached briefly so many consoles cost one."""
        if source_id not in self.sources:
            raise UnknownSourceError(f"room '{self.id}' has no source '{source_id}'")
        now = time.monotonic()
        key = f"{source_id}@{width}"
        cached = self._thumbnails.get(key)
        if cached is not None and now - cached[0] < max_age:
            return cached[1]
        source = self.sources[source_id]
        frame = source.latest_frame()
        image = frame.image if frame is not None else no_signal_slate(640, 360, source.label)
        height = max(1, round(image.shape[0] * width / image.shape[1]))
        small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        ok, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 75])
        data = jpeg.tobytes() if ok else b""
        self._thumbnails[key] = (now, data)
        return data

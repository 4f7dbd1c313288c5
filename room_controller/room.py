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
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from config.rooms import (
    ClipSpec,
    DeviceSpec,
    DicomSeriesSpec,
    EndoscopeSimSpec,
    NetworkStreamSpec,
    RoomSpec,
    SourceSpec,
    StillSpec,
    TestPatternSpec,
    WhipSourceSpec,
)
from room_controller.composition import (
    Composer,
    Corner,
    InvalidMaskError,
    Layout,
    LayoutKind,
    Overlays,
    PrivacyMask,
    TitleLine,
)
from room_controller.events import RoomEvents
from room_controller.sources import (
    DicomSeriesSource,
    EndoscopeSimSource,
    Frame,
    Source,
    SourceHealth,
    SourceState,
    StillImageSource,
    StreamSource,
    TestPatternSource,
    VideoDeviceSource,
)
from room_controller.sources.audio import SyntheticAudioSource
from room_controller.sources.whip import WhipSource

logger = logging.getLogger(__name__)


PROGRAM_PREVIEW = "program"  # thumbnail name of the composed program (not a source id)


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
    if isinstance(spec, NetworkStreamSpec):
        return StreamSource(
            spec.id, spec.label, spec.url, width=spec.width, height=spec.height, fps=spec.fps,
            open_timeout=spec.open_timeout, read_timeout=spec.read_timeout, options=spec.options,
        )
    if isinstance(spec, ClipSpec):
        path = spec.path if spec.path.is_absolute() else data_dir / spec.path
        return StreamSource(
            spec.id, spec.label, str(path), kind="clip", loop=True, width=spec.width,
            height=spec.height, fps=spec.fps,
        )
    if isinstance(spec, StillSpec):
        path = spec.path if spec.path.is_absolute() else data_dir / spec.path
        return StillImageSource(
            spec.id, spec.label, path, width=spec.width, height=spec.height, fps=spec.fps
        )
    if isinstance(spec, DeviceSpec):
        return VideoDeviceSource(
            spec.id, spec.label, spec.device, width=spec.width, height=spec.height,
            fps=spec.fps, fourcc=spec.fourcc,
        )
    if isinstance(spec, WhipSourceSpec):
        return WhipSource(spec.id, spec.label, width=spec.width, height=spec.height)
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
        self.events = RoomEvents(spec.id)
        for source in self.sources.values():
            source.on_change = partial(self.events.notify, "source")
        self._lock = threading.Lock()
        self._state = RoomState.IDLE
        program = spec.program
        self._composer = Composer(program.width, program.height)
        self._layout = Layout(
            LayoutKind(spec.layout.mode),
            tuple(spec.layout.sources) or (spec.program_source,),
            pip_corner=Corner(spec.layout.pip_corner),
            pip_size=spec.layout.pip_size,
        )
        title = TitleLine(spec.overlays.procedure, spec.overlays.presenter,
                          spec.overlays.institution)
        self._overlays = Overlays(
            title=title if title.text() else None,
            clock=spec.overlays.clock,
            masks=tuple(PrivacyMask(m.x, m.y, m.w, m.h, source=m.source) for m in spec.masks),
        )
        self._labels = {s.id: s.label for s in spec.sources}
        # The program sound, when the room file has an [audio] table.
        self.audio: SyntheticAudioSource | None = None
        if spec.audio is not None:
            self.audio = SyntheticAudioSource(
                f"{spec.id}-audio", channels=spec.audio.channels, level_db=spec.audio.level_db,
                beep_interval=spec.audio.beep_interval,
            )
        # Last composition, keyed by what it was made of: several encoders share one.
        self._program_cache: tuple[object, np.ndarray] | None = None
        self._source_composers: dict[str, Composer] = {}
        self.live_since: datetime | None = None
        self._slates: dict[str, np.ndarray] = {}
        # "source@width" -> (time, the picture it was made of, jpeg)
        self._thumbnails: dict[str, tuple[float, np.ndarray, bytes]] = {}

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        for source in self.sources.values():
            try:
                source.start()
            except Exception:
                # pyCA's rule: a device that dies never takes the daemon down.
                logger.exception("source %s of room %s did not start", source.id, self.id)
        if self.audio is not None:
            try:
                self.audio.start()
            except Exception:
                logger.exception("audio of room %s did not start", self.id)

    def stop(self) -> None:
        for source in self.sources.values():
            try:
                source.stop()
            except Exception:
                logger.exception("source %s of room %s did not stop cleanly", source.id, self.id)
        if self.audio is not None:
            self.audio.stop()

    # -- state machine -----------------------------------------------------------------------
    @property
    def state(self) -> RoomState:
        return self._state

    def _target(self, action: str) -> RoomState:
        target = _TRANSITIONS.get((self._state, action))
        if target is None:
            hint = {"go_live": "it is already live", "end": "it is not live"}[action]
            raise InvalidTransitionError(
                f"room '{self.id}' cannot {action.replace('_', ' ')}: {hint}"
            )
        return target

    def check_transition(self, action: str) -> None:
        """Raise ``InvalidTransitionError`` unless ``action`` ("go_live", "end") may run now:
        a caller that must prepare before the transition asks first."""
        with self._lock:
            self._target(action)

    def _transition(self, action: str) -> None:
        with self._lock:
            self._state = self._target(action)

    def go_live(self) -> None:
        self._transition("go_live")
        self.live_since = datetime.now(UTC)
        self.events.notify("state")

    def end(self) -> None:
        self._transition("end")
        self.live_since = None
        self.events.notify("state")

    # -- program -----------------------------------------------------------------------------
    @property
    def program_source(self) -> str:
        """The main source: the one in the first slot of the layout."""
        return self._layout.sources[0] or ""

    @property
    def layout(self) -> Layout:
        return self._layout

    @property
    def overlays(self) -> Overlays:
        return self._overlays

    def _check_source(self, source_id: str | None) -> None:
        if source_id is not None and source_id not in self.sources:
            raise UnknownSourceError(
                f"room '{self.id}' has no source '{source_id}' "
                f"(sources: {', '.join(self.sources)})"
            )

    def select_program(self, source_id: str) -> None:
        """Put a source in the main slot of the current layout (swapping places if it is
        already in another slot), as the instructor's take button and number keys do."""
        self._check_source(source_id)
        sources = list(self._layout.sources)
        if source_id in sources:
            sources[sources.index(source_id)] = sources[0]
        sources[0] = source_id
        self._layout = replace(self._layout, sources=tuple(sources))
        self.events.notify("program")

    def set_layout(self, layout: Layout) -> None:
        """Change the layout; takes effect on the next frame (no black frame in between)."""
        for source_id in layout.sources:
            self._check_source(source_id)
        self._layout = layout
        self.events.notify("layout")

    def set_masks(self, masks: tuple[PrivacyMask, ...]) -> None:
        for mask in masks:
            if mask.source is None:
                raise InvalidMaskError("a privacy mask must belong to a source")
            self._check_source(mask.source)
        self._overlays = replace(self._overlays, masks=masks)
        self._source_composers.clear()
        self.events.notify("masks")

    def mask_from_program_rect(self, x: float, y: float, w: float, h: float) -> PrivacyMask:
        """A rectangle drawn on the program (fractions of it) as a mask of the source under
        its centre, in that source's own coordinates, so it follows the source to any layout."""
        pw, ph = self._composer.width, self._composer.height
        cx, cy = (x + w / 2) * pw, (y + h / 2) * ph
        sizes = {}
        for source_id in self._layout.sources:
            if source_id is not None:
                frame = self.sources[source_id].latest_frame()
                sizes[source_id] = (
                    (frame.image.shape[1], frame.image.shape[0]) if frame is not None
                    else self.source_size(source_id)
                )
        # Later slots are drawn on top (the pip inset): the topmost one under the centre wins.
        for slot in reversed(self._composer.geometry(self._layout, sizes)):
            sx, sy, sw, sh = slot.content
            if slot.source is not None and sx <= cx < sx + sw and sy <= cy < sy + sh:
                left = max(0.0, (x * pw - sx) / sw)
                top = max(0.0, (y * ph - sy) / sh)
                right = min(1.0, ((x + w) * pw - sx) / sw)
                bottom = min(1.0, ((y + h) * ph - sy) / sh)
                return PrivacyMask(left, top, right - left, bottom - top, source=slot.source)
        raise InvalidMaskError("draw the mask over a source's picture, not over an empty area")

    def set_title(self, title: TitleLine | None, clock: bool) -> None:
        self._overlays = replace(
            self._overlays, title=title if title is not None and title.text() else None,
            clock=clock,
        )
        self.events.notify("title")

    def program_frame(self) -> np.ndarray:
        """The composed program now: layout, masks and overlays burnt in, before encoding."""
        layout, overlays = self._layout, self._overlays
        frames: dict[str, np.ndarray | None] = {}
        key: list[object] = [layout, overlays]
        for source_id in layout.sources:
            if source_id is None or source_id in frames:
                continue
            frame = self._showable_frame(source_id)
            frames[source_id] = frame.image if frame is not None else None
            key.append(frame.index if frame is not None else None)
        if overlays.clock:
            key.append(int(time.time()))
        cache_key = tuple(key)
        cached = self._program_cache
        if cached is not None and cached[0] == cache_key:
            return cached[1]
        image = self._composer.compose(frames, layout, overlays, labels=self._labels)
        self._program_cache = (cache_key, image)
        return image

    def _showable_frame(self, source_id: str) -> Frame | None:
        """The source's latest frame, or None when the source is lost or failed: a camera that
        stopped delivering shows its "no signal" slate, never a frozen picture that an
        instructor (or a student) could take for live."""
        source = self.sources[source_id]
        frame = source.latest_frame()
        if frame is not None and source.health().state in (SourceState.LOST, SourceState.FAILED):
            return None
        return frame

    def source_frame(self, source_id: str) -> np.ndarray:
        """A source's latest picture with its privacy masks, or a slate naming it."""
        source = self.sources[source_id]
        frame = self._showable_frame(source_id)
        if frame is not None:
            masks = tuple(m for m in self._overlays.masks if m.source == source_id)
            if not masks:
                return frame.image
            h, w = frame.image.shape[:2]
            composer = self._source_composers.get(source_id)
            if composer is None or (composer.width, composer.height) != (w, h):
                composer = self._source_composers[source_id] = Composer(w, h)
            return composer.compose(
                {source_id: frame.image}, Layout(LayoutKind.SINGLE, (source_id,)),
                Overlays(masks=masks),
            )
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
        """A small JPEG of a source's latest frame (``PROGRAM_PREVIEW``: the composed program);
        cached briefly so many consoles cost one."""
        if source_id not in self.sources and source_id != PROGRAM_PREVIEW:
            raise UnknownSourceError(f"room '{self.id}' has no source '{source_id}'")
        now = time.monotonic()
        key = f"{source_id}@{width}"
        # Masked like everything else that leaves the room controller.
        image = (self.program_frame() if source_id == PROGRAM_PREVIEW
                 else self.source_frame(source_id))
        cached = self._thumbnails.get(key)
        # The JPEG is reused only for the very picture it was made of: a source that goes away
        # shows its slate at once, not a cached picture of what it last sent.
        if cached is not None and cached[1] is image and now - cached[0] < max_age:
            return cached[2]
        height = max(1, round(image.shape[0] * width / image.shape[1]))
        small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        ok, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 75])
        data = jpeg.tobytes() if ok else b""
        self._thumbnails[key] = (now, image, data)
        return data

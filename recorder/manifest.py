"""A recording's folder on disk: its file names, its states and its manifest.

``manifest.json`` records a session's state at every transition; after a crash it tells which
sessions were cut short. ``Manifest`` is the one reading of that file: the live recording
writes it, the archive recovers and lists it, the publishing pipeline and the API read it.
Older manifests stay readable: keys added later (``stop_reason``, a track's ``codec`` and
``recovered``) have defaults that say what an older recorder meant by leaving them out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal, TypeVar, cast, get_args

from recorder.durable import atomic_write_text
from recorder.timeline import Timeline

MANIFEST = "manifest.json"
CHAPTERS = "chapters.vtt"
TIMELINE_JSON = "timeline.json"


class RecordingState(str, Enum):
    RECORDING = "recording"
    PAUSED = "paused"
    STOPPED = "stopped"
    RECOVERED = "recovered"
    FAILED = "failed"


ACTIVE = (RecordingState.RECORDING, RecordingState.PAUSED)
# What the library may publish: the session was closed, by hand or by recovery.
FINISHED = (RecordingState.STOPPED, RecordingState.RECOVERED)

TrackKind = Literal["program", "iso", "audio"]
TRACK_KINDS: tuple[str, ...] = get_args(TrackKind)


class ManifestError(ValueError):
    """A manifest that is missing or cannot be read as one; ``str()`` names the file and why."""


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class TrackEntry:
    """One track file of the session and what was written to it."""

    name: str
    kind: TrackKind
    file: str
    source_id: str | None = None
    width: int = 0
    height: int = 0
    fps: int = 0
    codec: str = "h264"
    media_offset: float | None = None  # session media seconds of the file's first packet
    packets: int = 0
    dropped: int = 0
    size_bytes: int = 0
    error: str | None = None
    recovered: bool = False  # cut from its part file after a crash


@dataclass(frozen=True)
class Pause:
    media_at: float
    started_at: str
    ended_at: str | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class Manifest:
    """The state of one recording session, as kept in its folder's ``manifest.json``."""

    id: str
    room: str
    state: RecordingState
    title: str = ""
    started_at: str = ""
    stopped_at: str | None = None
    duration: float = 0.0
    max_duration: float | None = None
    recovered: bool = False
    error: str | None = None
    stop_reason: str | None = None
    tracks: tuple[TrackEntry, ...] = field(default=())
    pauses: tuple[Pause, ...] = field(default=())

    @property
    def size_bytes(self) -> int:
        return sum(t.size_bytes for t in self.tracks)

    # -- on disk -----------------------------------------------------------------------------
    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """The manifest of a recording folder; ``ManifestError`` if missing or garbled."""
        # Named from the room's folder down: enough to find it, without the server's layout.
        where = f"{folder.parent.name}/{folder.name}/{MANIFEST}"
        try:
            text = (folder / MANIFEST).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ManifestError(f"{folder.name} has no {MANIFEST}: not a recording folder"
                                ) from None
        except OSError as exc:
            raise ManifestError(f"{where} is unreadable: {exc.strerror or exc}") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ManifestError(f"{where} is unreadable: not JSON ({exc})") from exc
        return cls.from_dict(data, where=where)

    def write(self, folder: Path) -> None:
        """Replace the folder's manifest atomically (blocking: call it off the event loop)."""
        atomic_write_text(folder / MANIFEST, self.to_json())

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        return data

    @classmethod
    def from_dict(cls, data: object, *, where: str = MANIFEST) -> Manifest:
        """Read a manifest's JSON document; ``ManifestError`` names the first field that is wrong."""
        fields = _Fields(data, where)
        state = fields.text("state")
        try:
            recording_state = RecordingState(state)
        except ValueError:
            known = ", ".join(s.value for s in RecordingState)
            raise fields.error(f"state {state!r} is not one of {known}") from None
        return cls(
            id=fields.text("id"),
            room=fields.text("room"),
            state=recording_state,
            title=fields.text("title", ""),
            started_at=fields.text("started_at", ""),
            stopped_at=fields.optional_text("stopped_at"),
            duration=fields.number("duration", 0.0) or 0.0,
            max_duration=fields.number("max_duration"),
            recovered=fields.flag("recovered"),
            error=fields.optional_text("error"),
            stop_reason=fields.optional_text("stop_reason"),
            tracks=tuple(_track(entry, f"{where}: track {i}")
                         for i, entry in enumerate(fields.items("tracks"))),
            pauses=tuple(_pause(entry, f"{where}: pause {i}")
                         for i, entry in enumerate(fields.items("pauses"))),
        )


def write_sidecars(folder: Path, timeline: Timeline, *, recording: str, room: str, title: str,
                   duration: float) -> None:
    """Chapters (WebVTT) and the timeline's JSON sidecar of a closed session (blocking)."""
    atomic_write_text(folder / CHAPTERS, timeline.to_webvtt_chapters(duration))
    atomic_write_text(folder / TIMELINE_JSON, timeline.to_json(
        recording=recording, room=room, title=title, duration=round(duration, 3)))


def _track(data: object, where: str) -> TrackEntry:
    fields = _Fields(data, where)
    name = fields.text("name")
    kind = fields.text("kind")
    if kind not in TRACK_KINDS:
        raise fields.error(f"kind {kind!r} is not one of {', '.join(TRACK_KINDS)}")
    return TrackEntry(
        name=name,
        kind=cast(TrackKind, kind),
        file=fields.text("file", f"{name}.mp4"),
        source_id=fields.optional_text("source_id"),
        width=fields.count("width"),
        height=fields.count("height"),
        fps=fields.count("fps"),
        # Written since program audio came (Opus); every track before that was H.264 video.
        codec=fields.text("codec", "opus" if kind == "audio" else "h264"),
        media_offset=fields.number("media_offset"),
        packets=fields.count("packets"),
        dropped=fields.count("dropped"),
        size_bytes=fields.count("size_bytes"),
        error=fields.optional_text("error"),
        recovered=fields.flag("recovered"),
    )


def _pause(data: object, where: str) -> Pause:
    fields = _Fields(data, where)
    return Pause(
        media_at=fields.number("media_at", 0.0) or 0.0,
        started_at=fields.text("started_at", ""),
        ended_at=fields.optional_text("ended_at"),
        seconds=fields.number("seconds"),
    )


_T = TypeVar("_T")
_MISSING: Any = object()


class _Fields:
    """Typed reads of one JSON object; every refusal names the file, the place and the key."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise ManifestError(f"{where} is garbled: expected an object, "
                                f"got {type(data).__name__}")
        self.data: Mapping[str, Any] = data
        self.where = where

    def error(self, problem: str) -> ManifestError:
        return ManifestError(f"{self.where} is garbled: {problem}")

    def _get(self, key: str, kinds: type[Any] | tuple[type[Any], ...], what: str,
             default: _T) -> Any:
        value = self.data.get(key, _MISSING)
        if value is _MISSING or (value is None and default is not _MISSING):
            if default is _MISSING:
                raise self.error(f"{key!r} is missing")
            return default
        if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple)
                                                    else (kinds,)):
            raise self.error(f"{key!r} must be {what}, got {value!r}")
        if not isinstance(value, kinds):
            raise self.error(f"{key!r} must be {what}, got {value!r}")
        return value

    def text(self, key: str, default: str = _MISSING) -> str:
        return cast(str, self._get(key, str, "text", default))

    def optional_text(self, key: str) -> str | None:
        return cast(str | None, self._get(key, str, "text or null", None))

    def number(self, key: str, default: float | None = None) -> float | None:
        value = self._get(key, (int, float), "a number", default)
        return None if value is None else float(value)

    def count(self, key: str) -> int:
        value = self._get(key, (int, float), "a whole number", 0)
        if isinstance(value, float) and not value.is_integer() or value < 0:
            raise self.error(f"{key!r} must be a whole number, got {value!r}")
        return int(value)

    def flag(self, key: str) -> bool:
        return cast(bool, self._get(key, bool, "true or false", False))

    def items(self, key: str) -> list[Any]:
        return cast(list[Any], self._get(key, list, "a list", []))

"""Recording sessions: one folder per session, one fragmented MP4 per track, a timeline.

A ``Recording`` subscribes a ``TrackWriter`` to each encoder it is given (program and ISO
tracks, and the program audio: Opus, kind ``audio``, anchored to the program's video so the two
start together), so recording costs no encode. Its state lives in ``manifest.json`` in the session
folder, rewritten atomically at every transition, so that after a crash ``recover_recordings``
knows which sessions were cut short and finishes them (part files remuxed, chapters written,
state RECOVERED). ``recorder.registry.Recorder`` holds a server's recordings.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar

import av

from recorder.audio_track import AudioTrackWriter
from recorder.clock import MediaClock
from recorder.fmp4 import (
    DiskFullError,
    EmptyTrackError,
    TrackWriter,
    TrackWriterError,
)
from recorder.manifest import (
    ACTIVE,
    Manifest,
    Pause,
    RecordingState,
    TrackEntry,
    TrackKind,
    utc_now,
    write_sidecars,
)
from recorder.timeline import ChatMessage, Event, Marker, Note, Rename, Stroke, Timeline

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEFAULT_MAX_DURATION = 4 * 3600.0


class RecordingError(Exception):
    """A recording request that cannot be honoured; ``str()`` says why and what to do."""


class UnknownRecordingError(RecordingError, LookupError):
    pass


_E = TypeVar("_E", bound=Event)


class _EncoderSettings(Protocol):
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def fps(self) -> int: ...


class PacketSource(Protocol):
    """What a recording needs of an encoder (``streaming.encoder.SharedEncoder`` is one)."""

    @property
    def settings(self) -> _EncoderSettings: ...
    def subscribe(self, sink: Callable[[av.Packet[Any]], None]) -> None: ...
    def unsubscribe(self, sink: Callable[[av.Packet[Any]], None]) -> None: ...
    def request_keyframe(self) -> None: ...


class _AudioSettings(Protocol):
    @property
    def channels(self) -> int: ...


class AudioPacketSource(Protocol):
    """An Opus encoder (``streaming.audio.SharedAudioEncoder`` is one)."""

    @property
    def settings(self) -> _AudioSettings: ...
    def subscribe(self, sink: Callable[[av.Packet[Any]], None]) -> None: ...
    def unsubscribe(self, sink: Callable[[av.Packet[Any]], None]) -> None: ...
    def request_keyframe(self) -> None: ...


class TrackSpec(NamedTuple):
    source: PacketSource | AudioPacketSource
    kind: TrackKind
    source_id: str | None = None


@dataclass(frozen=True)
class TrackStatus:
    name: str
    kind: TrackKind
    source_id: str | None
    file: str
    width: int
    height: int
    fps: int
    size_bytes: int
    packets: int
    duration: float
    dropped: int
    error: str | None


@dataclass(frozen=True)
class RecordingStatus:
    id: str
    room: str
    title: str
    state: RecordingState
    duration: float
    tracks: list[TrackStatus]
    folder: Path
    started_at: str
    stopped_at: str | None
    error: str | None
    markers: int




def _check_name(what: str, value: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise RecordingError(
            f"{what} {value!r} cannot name a file: use letters, digits, '-', '_' or '.' "
            "(at most 64, starting with a letter or digit)"
        )
    return value


class Recording:
    """One recording session; all methods are called on the event loop."""

    def __init__(
        self,
        recordings_dir: Path,
        room: str,
        title: str = "",
        *,
        max_duration: float | None = DEFAULT_MAX_DURATION,
        on_finished: Callable[[Recording], None] | None = None,
    ) -> None:
        self.room = _check_name("room id", room)
        self.title = title.strip()
        if len(self.title) > 200:
            raise RecordingError("title is longer than 200 characters")
        self.id = uuid.uuid4().hex[:12]
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        self.folder = recordings_dir / room / f"{stamp}-{self.id}"
        self.max_duration = max_duration
        self.state: RecordingState | None = None  # None: not started yet
        self.error: str | None = None
        self.started_at = ""
        self.stopped_at: str | None = None
        self.timeline: Timeline | None = None
        self._on_finished = on_finished
        self._clock = MediaClock()
        self._tracks: dict[str, TrackSpec] = {}
        self._writers: dict[str, TrackWriter] = {}
        self._track_errors: dict[str, str] = {}
        self._pauses: list[Pause] = []
        self._paused_since = 0.0  # monotonic clock, while paused
        self._duration: float | None = None
        self._stopping = False
        self._failsafe: asyncio.Task[None] | None = None
        self._cleanup: asyncio.Task[None] | None = None
        self._manifest_lock = asyncio.Lock()
        self.stop_reason: str | None = None
        self._finished = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self, tracks: Mapping[str, TrackSpec | tuple[Any, ...]]) -> None:
        """Create the session folder, subscribe a writer to each track and start the clock."""
        if self.state is not None:
            raise RecordingError(f"recording {self.id} was already started")
        if not tracks:
            raise RecordingError("a recording needs at least one track")
        specs: dict[str, TrackSpec] = {}
        for name, spec in tracks.items():
            spec = TrackSpec(*spec)
            _check_name("track name", name)
            if spec.kind not in ("program", "iso", "audio"):
                raise RecordingError(f"track {name!r}: kind must be 'program', 'iso' or 'audio'")
            specs[name] = spec
        self._loop = asyncio.get_running_loop()
        self.folder.mkdir(parents=True, exist_ok=False)
        self.timeline = Timeline(self.folder)
        self._tracks = specs
        self.state = RecordingState.RECORDING
        self.started_at = utc_now()
        self._clock.start()
        try:
            # Video first: the audio track takes its time from the program's video track.
            leader: TrackWriter | None = None
            for name, spec in sorted(specs.items(), key=lambda item: item[1].kind == "audio"):
                s = spec.source.settings
                writer: TrackWriter
                if spec.kind == "audio":
                    writer = AudioTrackWriter(
                        self.folder / f"{name}.mp4", channels=getattr(s, "channels", 1),
                        anchor=leader.anchor if leader is not None else None,
                        clock=self._clock, on_error=self._writer_failed_in_thread,
                    )
                else:
                    writer = TrackWriter(
                        self.folder / f"{name}.mp4", getattr(s, "width", 0),
                        getattr(s, "height", 0), getattr(s, "fps", 0),
                        clock=self._clock,
                        request_keyframe=spec.source.request_keyframe,
                        on_error=self._writer_failed_in_thread,
                    )
                    if spec.kind == "program" and leader is None:
                        leader = writer
                self._writers[name] = writer
                spec.source.subscribe(writer.write)
                # Start on a keyframe now rather than at the next natural one.
                spec.source.request_keyframe()
        except BaseException:
            self._unsubscribe_all()
            for writer in self._writers.values():
                await asyncio.to_thread(_close_quietly, writer)
            self.state = RecordingState.FAILED
            raise
        await self._save_manifest()
        if self.max_duration is not None:
            self._failsafe = asyncio.create_task(
                self._run_failsafe(self.max_duration), name=f"recording-{self.id}-failsafe"
            )

    async def pause(self) -> None:
        self._require({RecordingState.RECORDING}, "pause")
        self.state = RecordingState.PAUSED
        self._clock.pause()
        for writer in self._writers.values():
            writer.pause()
        self._pauses.append(Pause(media_at=self.media_time(), started_at=utc_now()))
        self._paused_since = time.monotonic()
        await self._save_manifest()

    async def resume(self) -> None:
        self._require({RecordingState.PAUSED}, "resume")
        self.state = RecordingState.RECORDING
        self._clock.resume()
        for writer in self._writers.values():
            writer.resume()
        self._close_pause()
        await self._save_manifest()

    async def stop(self, reason: str | None = None) -> RecordingStatus:
        """Close every track, write chapters and the JSON sidecar; state STOPPED."""
        self._require(set(ACTIVE), "stop")
        self._stopping = True
        self.stop_reason = reason
        if reason:
            logger.info("recording %s stops: %s", self.id, reason)
        self._cancel_failsafe()
        self._unsubscribe_all()
        self._duration = self.media_time()
        self._clock.pause()
        if self.state is RecordingState.PAUSED:
            self._close_pause()
        await self._close_writers()
        if self.state is RecordingState.FAILED:
            # A writer failed while closing (disk filled up at the last moment).
            await self._finish_failed()
            return self.status()
        self.state = RecordingState.STOPPED
        self.stopped_at = utc_now()
        try:
            await asyncio.to_thread(self._write_sidecars, self._duration)
        except OSError as exc:
            self._fail(f"could not write chapters: {exc.strerror or exc}")
        await self._save_manifest()
        self._finish()
        return self.status()

    @property
    def stopping(self) -> bool:
        """A stop has begun (the tracks are being closed)."""
        return self._stopping

    async def wait_finished(self, timeout: float | None = None) -> RecordingStatus:
        """Wait until the recording is STOPPED or FAILED and its files are released."""
        await asyncio.wait_for(self._finished.wait(), timeout)
        return self.status()

    def media_time(self) -> float:
        """Seconds of media recorded so far, paused time excluded."""
        if self._duration is not None:
            return self._duration
        return self._clock()

    # -- timeline ------------------------------------------------------------------------------
    async def add_marker(self, title: str, author: str = "") -> Marker:
        return await self._add(Marker(title=title, at=self._stamp(), author=author))

    async def add_note(self, text: str, author: str = "") -> Note:
        return await self._add(Note(text=text, at=self._stamp(), author=author))

    async def add_stroke(
        self,
        points: list[tuple[float, float]] | tuple[tuple[float, float], ...],
        colour: str,
        width: float,
        started_at: float,
        ended_at: float,
        author: str = "",
    ) -> Stroke:
        return await self._add(Stroke(
            points=tuple(points), colour=colour, width=width, started_at=started_at,
            ended_at=ended_at, at=self._stamp(), author=author,
        ))

    async def add_chat(self, author: str, text: str) -> ChatMessage:
        return await self._add(ChatMessage(text=text, at=self._stamp(), author=author))

    async def add_event(self, event: _E) -> _E:
        """Append any timeline event (the live classroom's questions, polls...), stamped now on
        the media clock whatever ``at`` it was built with."""
        return await self._add(replace(event, at=self._stamp()))

    async def rename_marker(self, marker_id: str, title: str, author: str = "") -> Marker:
        """Rename a marker (also after stop: chapters and sidecar are rewritten)."""
        timeline = self._timeline()
        await self._add(Rename(target=marker_id, title=title, at=self.media_time(),
                               author=author), allow_finished=True)
        if self.state is RecordingState.STOPPED:
            await asyncio.to_thread(self._write_sidecars, self.media_time())
        return timeline.marker(marker_id)

    def _stamp(self) -> float:
        self._require(set(ACTIVE), "add an event to")
        return round(self.media_time(), 3)

    def _timeline(self) -> Timeline:
        if self.timeline is None:
            raise RecordingError(f"recording {self.id} has not started")
        return self.timeline

    async def _add(self, event: _E, allow_finished: bool = False) -> _E:
        timeline = self._timeline()
        if not allow_finished:
            self._require(set(ACTIVE), "add an event to")
        # fsync per event: off the loop.
        await asyncio.to_thread(timeline.append, event)
        return event

    # -- status --------------------------------------------------------------------------------
    def status(self) -> RecordingStatus:
        tracks = []
        for name, spec in self._tracks.items():
            s = spec.source.settings
            writer = self._writers.get(name)
            stats = writer.stats() if writer else None
            tracks.append(TrackStatus(
                name=name, kind=spec.kind, source_id=spec.source_id, file=f"{name}.mp4",
                width=getattr(s, "width", 0), height=getattr(s, "height", 0),
                fps=getattr(s, "fps", 0),
                size_bytes=stats.size_bytes if stats else 0,
                packets=stats.packets if stats else 0,
                duration=round(stats.duration, 3) if stats else 0.0,
                dropped=stats.dropped if stats else 0,
                error=self._track_errors.get(name) or (stats.error if stats else None),
            ))
        return RecordingStatus(
            id=self.id, room=self.room, title=self.title,
            state=self.state or RecordingState.RECORDING, duration=round(self.media_time(), 3),
            tracks=tracks, folder=self.folder, started_at=self.started_at,
            stopped_at=self.stopped_at, error=self.error,
            markers=len(self.timeline.markers()) if self.timeline else 0,
        )

    @property
    def writers(self) -> Mapping[str, TrackWriter]:
        return dict(self._writers)

    # -- internals -----------------------------------------------------------------------------
    def _require(self, allowed: set[RecordingState], action: str) -> None:
        if self.state is None:
            raise RecordingError(f"cannot {action} recording {self.id}: it has not started")
        if self._stopping and self.state in ACTIVE:
            raise RecordingError(f"cannot {action} recording {self.id}: it is stopping")
        if self.state not in allowed:
            hint = {
                RecordingState.PAUSED: "it is already paused (resume it first)",
                RecordingState.RECORDING: "it is recording, not paused",
                RecordingState.STOPPED: "it is already stopped",
                RecordingState.RECOVERED: "it was recovered after a crash and is closed",
                RecordingState.FAILED: f"it failed ({self.error})",
            }[self.state]
            raise RecordingError(f"cannot {action} recording {self.id}: {hint}")

    def _unsubscribe_all(self) -> None:
        for name, writer in self._writers.items():
            self._tracks[name].source.unsubscribe(writer.write)

    def _cancel_failsafe(self) -> None:
        task, self._failsafe = self._failsafe, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def _close_pause(self) -> None:
        pause = self._pauses[-1]
        if pause.ended_at is None:
            self._pauses[-1] = replace(pause, ended_at=utc_now(),
                                       seconds=round(time.monotonic() - self._paused_since, 3))

    async def _close_writers(self) -> None:
        names = list(self._writers)
        results = await asyncio.gather(
            *(asyncio.to_thread(self._writers[n].close) for n in names), return_exceptions=True
        )
        for name, result in zip(names, results, strict=True):
            if isinstance(result, EmptyTrackError):
                what = "sound" if self._tracks[name].kind == "audio" else "video"
                self._track_errors[name] = f"no {what} arrived; nothing recorded"
            elif isinstance(result, BaseException):
                self._track_errors[name] = str(result)
                if self.state in ACTIVE:
                    self._fail(str(result))

    async def _run_failsafe(self, limit: float) -> None:
        # Sleeps on the media clock: time spent paused does not count towards the limit.
        while self.state in ACTIVE and not self._stopping:
            remaining = limit - self.media_time()
            if remaining <= 0 and self.state is RecordingState.RECORDING:
                await self.stop(reason=f"maximum length of {limit:g} s reached")
                return
            await asyncio.sleep(max(remaining, 0.05))

    def _writer_failed_in_thread(self, writer: TrackWriter, error: TrackWriterError) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._writer_failed, writer, error)
            except RuntimeError:
                pass  # loop shutting down

    def _writer_failed(self, writer: TrackWriter, error: TrackWriterError) -> None:
        name = next((n for n, w in self._writers.items() if w is writer), "?")
        self._track_errors[name] = str(error)
        if self.state not in ACTIVE:
            return
        self._fail("disk full" if isinstance(error, DiskFullError) else str(error))
        if not self._stopping:
            self._stopping = True
            self._cleanup = asyncio.create_task(
                self._shut_down_after_failure(), name=f"recording-{self.id}-failure"
            )

    def _fail(self, message: str) -> None:
        logger.error("recording %s failed: %s", self.id, message)
        self.state = RecordingState.FAILED
        self.error = message

    async def _shut_down_after_failure(self) -> None:
        self._cancel_failsafe()
        self._unsubscribe_all()
        if self._duration is None:
            self._duration = self.media_time()
        self._clock.pause()
        await self._close_writers()
        await self._finish_failed()

    async def _finish_failed(self) -> None:
        self.stopped_at = utc_now()
        # Chapters and manifest are best effort: the folder may be gone or the disk full.
        try:
            await asyncio.to_thread(self._write_sidecars, self.media_time())
        except OSError as exc:
            logger.warning("recording %s: sidecars not written: %s", self.id, exc)
        await self._save_manifest()
        self._finish()

    def _finish(self) -> None:
        self._finished.set()
        if self._on_finished is not None:
            self._on_finished(self)

    def _write_sidecars(self, duration: float) -> None:
        write_sidecars(self.folder, self._timeline(), recording=self.id, room=self.room,
                       title=self.title, duration=duration)

    def manifest(self) -> Manifest:
        """The session's state as its folder keeps it (and as the API shows it)."""
        status = self.status()
        return Manifest(
            id=self.id, room=self.room, title=self.title, state=status.state,
            started_at=self.started_at, stopped_at=self.stopped_at, duration=status.duration,
            max_duration=self.max_duration, error=self.error, stop_reason=self.stop_reason,
            tracks=tuple(
                TrackEntry(
                    name=t.name, kind=t.kind, source_id=t.source_id, file=t.file,
                    width=t.width, height=t.height, fps=t.fps,
                    codec="opus" if t.kind == "audio" else "h264",
                    media_offset=self._writers[t.name].stats().media_offset
                    if t.name in self._writers else None,
                    packets=t.packets, dropped=t.dropped, size_bytes=t.size_bytes,
                    error=t.error,
                )
                for t in status.tracks
            ),
            pauses=tuple(self._pauses),
        )

    async def _save_manifest(self) -> None:
        async with self._manifest_lock:
            manifest = self.manifest()
            try:
                await asyncio.to_thread(manifest.write, self.folder)
            except OSError as exc:
                # Never take the loop down for this: the in-memory state stays authoritative
                # and recover() copes with an older manifest.
                logger.warning("recording %s: manifest not written: %s", self.id, exc)


def _close_quietly(writer: TrackWriter) -> None:
    try:
        writer.close()
    except TrackWriterError:
        pass

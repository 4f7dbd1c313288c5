"""Recording a room: the program, every source's own view and the sound, from the outputs the
room's broadcast already encodes (a recording never costs another encode).

The wiring between ``streaming`` (which owns the encoders) and the ``recorder`` (which never
imports streaming): a recording holds a lease on each output it records for as long as it runs,
and gives them back however it ends (the instructor, the failsafe, a full disk, a lost folder).
"""

from __future__ import annotations

import asyncio
import logging

from recorder.manifest import FINISHED, RecordingState
from recorder.recording import Recording, RecordingError, TrackSpec
from recorder.registry import Recorder
from recorder.storage import StorageGuard, StorageLevel, StorageStatus
from streaming.outputs import AUDIO, PROGRAM, Lease
from streaming.overlay import FinishedStroke
from web.editor_media import EditorMedia
from web.live import LiveRooms

logger = logging.getLogger(__name__)

_Leases = list[Lease]  # type: ignore[type-arg]  # video and audio leases alike


class RoomRecordings:
    """Recording the server's rooms, and the disk guard that stops them before it is full."""

    def __init__(self, live: LiveRooms, recorder: Recorder) -> None:
        self.live = live
        self.recorder = recorder
        self._held: dict[str, _Leases] = {}  # recording id -> the outputs it holds
        self._watchers: set[asyncio.Task[None]] = set()
        self.editor_media = EditorMedia()
        settings = live.settings
        self.storage = StorageGuard(
            recorder.recordings_dir,
            warn_bytes=max(settings.storage_warn_bytes, settings.storage_stop_bytes),
            stop_bytes=settings.storage_stop_bytes,
            on_critical=self._disk_almost_full,
        )
        # An accepted speaker's strokes go on the room's recording as they end (the console
        # posts its own: POST /api/recordings/{id}/strokes, also when not live).
        live.streaming.overlay.on_stroke = self._stroke_drawn
        self._writes: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self.storage.start()

    async def _disk_almost_full(self, status: StorageStatus) -> None:
        for recording in self.recorder.list():
            if recording.state in (RecordingState.RECORDING, RecordingState.PAUSED):
                logger.error("stopping recording %s: %s", recording.id, status.message)
                try:
                    await recording.stop(reason=status.message)
                except RecordingError as exc:
                    logger.warning("could not stop %s: %s", recording.id, exc)

    async def record(self, room_id: str, title: str) -> Recording:
        self.live.room(room_id)  # RoomNotFound for an unknown room
        storage = await asyncio.to_thread(self.storage.check)
        if storage.level is StorageLevel.CRITICAL:
            raise RecordingError(storage.message or "disk almost full")
        active = self.recorder.active_in_room(room_id)
        if active is not None:
            raise RecordingError(
                f"room '{room_id}' is already recording ({active.id}): stop it first"
            )
        broadcast = self.live.streaming.broadcasts[room_id]
        held: _Leases = []
        try:
            program = await broadcast.video(PROGRAM)
            held.append(program)
            tracks: dict[str, TrackSpec] = {PROGRAM: TrackSpec(program.encoder, "program", None)}
            for source_id in broadcast.views[1:]:
                view = await broadcast.video(source_id)
                held.append(view)
                tracks[f"iso-{source_id}"] = TrackSpec(view.encoder, "iso", source_id)
            sound = await broadcast.sound()
            if sound is not None:
                held.append(sound)
                tracks[AUDIO] = TrackSpec(sound.encoder, "audio", None)
            recording = await self.recorder.start(room_id, title, tracks)
        except BaseException:
            await _release(held)
            raise
        self._held[recording.id] = held
        watcher = asyncio.create_task(self._release_when_finished(recording))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        return recording

    def _stroke_drawn(self, stroke: FinishedStroke) -> None:
        recording = self.recorder.active_in_room(stroke.room_id)
        if stroke.leads or recording is None or recording.state is not RecordingState.RECORDING:
            return
        task = asyncio.create_task(self._keep_stroke(recording, stroke))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _keep_stroke(self, recording: Recording, stroke: FinishedStroke) -> None:
        ended = recording.media_time()
        try:
            await recording.add_stroke(
                stroke.points, stroke.colour, stroke.width,
                started_at=max(0.0, ended - stroke.duration_seconds), ended_at=ended,
                author=stroke.author)
        except (RecordingError, ValueError, OSError) as exc:  # it stopped meanwhile, a full disk
            logger.info("stroke by %s not kept on %s: %s", stroke.author, recording.id, exc)

    async def _release_when_finished(self, recording: Recording) -> None:
        # However it ends, the outputs that only the recording needed are stopped.
        await recording.wait_finished()
        await _release(self._held.pop(recording.id, []))
        if recording.state in FINISHED:
            # The curation editor's waveform, thumbnails and keyframes, ready before it opens.
            await self.editor_media.after_recording(recording.folder)

    async def stop_all(self) -> None:
        await asyncio.gather(*self._writes, return_exceptions=True)
        await self.storage.stop()
        await self.recorder.stop_all()
        for watcher in list(self._watchers):
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        for recording_id in list(self._held):
            await _release(self._held.pop(recording_id))


async def _release(leases: _Leases) -> None:
    for lease in leases:
        await lease.release()

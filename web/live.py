"""The live side of the server: rooms, their program encoders, their viewers, and the record.

This is where the packages meet: the room controller's rooms, streaming's encoders and viewer
sessions, and the library's record of who watched which live session (the raw material of CME
attendance). Routes call it; it holds no HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from functools import partial

from config.rooms import RoomSpec
from config.settings import Settings
from library import attendance
from library.db import Database
from recorder.manifest import RecordingState
from recorder.recording import Recording, RecordingError, TrackSpec
from recorder.registry import Recorder
from recorder.storage import StorageGuard, StorageLevel, StorageStatus
from room_controller.ptz.controller import PtzController, PtzDevice
from room_controller.ptz.simulated import SimulatedHead
from room_controller.room import Room, RoomError, UnknownSourceError
from room_controller.sources import TestPatternSource, WhipSource
from streaming.audio import AudioSettings, SharedAudioEncoder
from streaming.encoder import EncoderSettings, FrameSupplier, SharedEncoder
from streaming.limits import JoinLimiter
from streaming.pool import EncoderPool
from streaming.renditions import QualityController, Rendition, find, ladder
from streaming.turn import rtc_ice_servers
from streaming.whep import QualityPlan, Viewer, ViewerSessions, video_line_count
from streaming.whip import Publisher, WhipIngest

logger = logging.getLogger(__name__)
PROGRAM = "program"
AUDIO = "audio"


class RoomNotFound(LookupError):
    pass


class RoomNotLive(RoomError):
    pass


class NotAWhipSource(RoomError):
    pass


@dataclass
class LiveOutput:
    encoder: SharedEncoder
    live_session_id: int
    started_monotonic: float
    title: str
    audio: SharedAudioEncoder | None = None


class LiveRooms:
    """Owns every room of the server and what runs while a room is live."""

    def __init__(self, specs: list[RoomSpec], settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.rooms: dict[str, Room] = {spec.id: Room(spec, settings.data_dir) for spec in specs}
        self.outputs: dict[str, LiveOutput] = {}
        self.viewers = ViewerSessions(
            on_leave=self._record_leave, ice_servers=rtc_ice_servers(settings.ice_servers)
        )
        self.encoders = EncoderPool()
        self.whip = WhipIngest(ice_servers=rtc_ice_servers(settings.ice_servers))
        self.join_limits = JoinLimiter(
            settings.whep_joins_per_minute, settings.whep_sessions_per_user
        )
        self.ptz: dict[str, PtzController] = {}
        self._simulated: list[SimulatedHead] = []
        self._ptz_starts: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self.viewers.start()
        for room in self.rooms.values():
            devices = []
            for spec in room.spec.devices:
                port = spec.port
                if spec.simulate:
                    head = await SimulatedHead.start(spec.host, spec.port)
                    assert isinstance(head, SimulatedHead)
                    self._simulated.append(head)
                    port = head.port
                    source = room.sources.get(spec.camera_source or "")
                    if isinstance(source, TestPatternSource):
                        source.set_view(head.view)
                devices.append(PtzDevice(spec.id, spec.host, port))
            self.ptz[room.id] = PtzController(devices)
            await asyncio.to_thread(room.start)
            # Opened in the background: a camera that does not answer is reported in its
            # health and must not hold up the server's start.
            self._ptz_starts.append(asyncio.create_task(self.ptz[room.id].start()))

    async def stop(self) -> None:
        for room_id in list(self.outputs):
            await self.end(room_id, reason="server stopping")
        await self.viewers.stop()
        await self.whip.close_all("server stopping")
        await self.encoders.stop_all()
        for task in self._ptz_starts:
            task.cancel()
        await asyncio.gather(*self._ptz_starts, return_exceptions=True)
        for controller in self.ptz.values():
            await controller.stop()
        for head in self._simulated:
            head.close()
        for room in self.rooms.values():
            await asyncio.to_thread(room.stop)

    def renditions(self, room: Room, track: str) -> list[Rendition]:
        """The ladder of a room's output (``PROGRAM`` or a source id), best first."""
        program = room.spec.program
        if track == PROGRAM:
            width, height = program.width, program.height
        else:
            width, height = room.source_size(track)
        return ladder(width, height, program.bitrate_kbps)

    def _rendition_key(
        self, room: Room, track: str, rendition: str | None
    ) -> tuple[Rendition, str]:
        """The rendition (None: the top one) and its pool key: the top rendition is the output
        itself, "room/track", which recordings share; lower ones are "room/track@360p"."""
        rungs = self.renditions(room, track)
        rung = rungs[0] if rendition is None else find(rungs, rendition)
        key = f"{room.id}/{track}" if rung == rungs[0] else f"{room.id}/{track}@{rung.name}"
        return rung, key

    async def encoder(
        self, room: Room, track: str, user: str, rendition: str | None = None
    ) -> SharedEncoder:
        """The shared encoder of a room's program (``PROGRAM``) or of one source (ISO view),
        at its own size (what recordings take) or at a lower ``rendition`` of its ladder."""
        rung, key = self._rendition_key(room, track, rendition)

        def make() -> tuple[FrameSupplier, EncoderSettings]:
            program = room.spec.program
            supply: FrameSupplier = (
                room.program_frame if track == PROGRAM else partial(room.source_frame, track)
            )
            return supply, EncoderSettings(
                width=rung.width, height=rung.height, fps=program.fps,
                bitrate_kbps=rung.bitrate_kbps, gop_seconds=program.gop_seconds,
                keyframe_min_interval=self.settings.keyframe_min_interval,
            )

        return await self.encoders.acquire(key, user, make)

    async def audio_encoder(self, room: Room, user: str) -> SharedAudioEncoder | None:
        """The room's shared Opus encoder of the program sound; None for a silent room."""
        source, spec = room.audio, room.spec.audio
        if source is None or spec is None:
            return None

        def build() -> SharedAudioEncoder:
            settings = AudioSettings(channels=spec.channels, bitrate_kbps=spec.bitrate_kbps)
            return SharedAudioEncoder(source.read, settings, name=f"{room.id}/{AUDIO}")

        return await self.encoders.acquire_built(
            f"{room.id}/{AUDIO}", user, SharedAudioEncoder, build
        )

    def room(self, room_id: str) -> Room:
        room = self.rooms.get(room_id)
        if room is None:
            raise RoomNotFound(f"no room '{room_id}' (rooms: {', '.join(self.rooms)})")
        return room

    # -- going live --------------------------------------------------------------------------
    async def go_live(self, room_id: str, title: str, started_by: int | None) -> int:
        room = self.room(room_id)
        async with self._lock:
            room.go_live()  # raises if already live
            encoder = await self.encoder(room, PROGRAM, user="live")
            audio = await self.audio_encoder(room, user="live")
            live_id = await asyncio.to_thread(
                attendance.start_live_session, self.db, room_id, title, started_by
            )
            self.outputs[room_id] = LiveOutput(encoder, live_id, time.monotonic(), title, audio)
            logger.info("room %s is live (session %s)", room_id, live_id)
            return live_id

    async def end(self, room_id: str, reason: str = "ended by instructor") -> None:
        room = self.room(room_id)
        async with self._lock:
            room.end()  # raises if not live
            output = self.outputs.pop(room_id)
            await self.viewers.close_room(room_id, reason=reason)
            await self.encoders.release(f"{room_id}/{PROGRAM}", "live")
            await self.encoders.release(f"{room_id}/{AUDIO}", "live")
            await asyncio.to_thread(attendance.end_live_session, self.db, output.live_session_id)
            logger.info("room %s ended: %s", room_id, reason)

    def output(self, room_id: str) -> LiveOutput:
        self.room(room_id)  # an unknown room is RoomNotFound, not "not live"
        output = self.outputs.get(room_id)
        if output is None:
            raise RoomNotLive(
                f"room '{room_id}' is not live yet: wait for the instructor to go live"
            )
        return output

    # -- viewers -----------------------------------------------------------------------------
    async def join(
        self, room_id: str, offer_sdp: str, subject: str, role: str, user_id: int | None,
        views: list[str] | None = None, quality: str | None = None,
    ) -> tuple[Viewer, str]:
        """Join a viewer. ``views``: what the offer's video lines carry, in order (multi-view);
        default the program, then every source of the room in the room's order. ``quality``:
        pin the first line to this rendition (e.g. "360p"); default adaptive from the top."""
        output = self.output(room_id)
        room = self.room(room_id)
        wanted = views or [PROGRAM, *room.sources]
        for name in wanted:
            if name != PROGRAM and name not in room.sources:
                raise UnknownSourceError(
                    f"no view '{name}' in room '{room_id}' "
                    f"(views: {', '.join([PROGRAM, *room.sources])})"
                )
        if quality:
            find(self.renditions(room, wanted[0]), quality)  # LookupError names the choices
        # Counted before the offer is even read: garbage offers cost a join too.
        key = _limit_key(user_id, subject)
        self.join_limits.admit(
            key, sum(1 for v in self.viewers.all() if _limit_key(v.user_id, v.subject) == key)
        )
        # Each view is its output's one shared encoder, held for as long as this viewer stays;
        # the first line's rendition may change while it watches (adaptive, or pinned).
        lease = f"whep-{uuid.uuid4().hex}"
        wanted = wanted[: max(1, video_line_count(offer_sdp))]
        rungs = self.renditions(room, wanted[0])
        start = find(rungs, quality) if quality else rungs[0]
        held: list[tuple[str, str | None]] = []  # (view, rendition) pairs this lease holds

        async def hold(view: str, rendition: str | None) -> SharedEncoder:
            encoder = await self.encoder(room, view, lease, rendition)
            held.append((view, rendition))
            return encoder

        async def let_go(view: str, rendition: str | None) -> None:
            if (view, rendition) in held:
                held.remove((view, rendition))
            await self.encoders.release(self._rendition_key(room, view, rendition)[1], lease)

        async def release() -> None:
            while held:  # let_go removes what it releases
                await let_go(*held[-1])

        encoders = [await hold(wanted[0], start.name)]
        for name in wanted[1:]:
            encoders.append(await hold(name, None))
        plan = QualityPlan(
            QualityController(rungs, start.name, pinned=quality is not None),
            acquire=partial(hold, wanted[0]), release=partial(let_go, wanted[0]),
        )
        viewer, answer = await self.viewers.join(
            room_id=room_id, offer_sdp=offer_sdp, encoder=encoders[0], subject=subject,
            role=role, user_id=user_id, audio=output.audio,
            views=list(zip(wanted[1:], encoders[1:], strict=True)), release=release,
            first_view=wanted[0], quality=plan,
        )
        await asyncio.to_thread(
            attendance.viewer_joined, self.db, output.live_session_id, room_id, viewer.id,
            user_id, subject, role,
        )
        self.room(room_id).events.notify("viewers")
        return viewer, answer

    def _record_leave(self, viewer: Viewer, reason: str) -> None:
        room = self.rooms.get(viewer.room_id)
        if room is not None:
            room.events.notify("viewers")
        try:
            attendance.viewer_left(self.db, viewer.id, reason)
        except Exception:
            logger.exception("could not record that viewer %s left", viewer.id)

    # -- WHIP publishers ---------------------------------------------------------------------
    def whip_source(self, room_id: str, source_id: str) -> WhipSource:
        room = self.room(room_id)
        source = room.sources.get(source_id)
        if source is None:
            raise UnknownSourceError(
                f"room '{room_id}' has no source '{source_id}' (sources: {', '.join(room.sources)})"
            )
        if not isinstance(source, WhipSource):
            raise NotAWhipSource(
                f"source '{source_id}' of room '{room_id}' is a {source.kind} source, not a WHIP "
                "one: add a source with kind = \"whip\" to the room file to publish into it"
            )
        return source

    async def publish(
        self, room_id: str, source_id: str, offer_sdp: str, subject: str
    ) -> tuple[Publisher, str]:
        """An encoder publishes into a WHIP source of a room (see streaming.whip)."""
        source = self.whip_source(room_id, source_id)
        return await self.whip.publish(
            room_id=room_id, source=source, offer_sdp=offer_sdp, subject=subject
        )


def _limit_key(user_id: int | None, subject: str) -> str:
    """Whose joins count together: an account, or a script token's subject."""
    return f"user:{user_id}" if user_id is not None else f"subject:{subject}"


class RoomRecordings:
    """Recording a room: the program and every source's own view, from the shared encoders."""

    USER = "recording"

    def __init__(self, live: LiveRooms, recorder: Recorder) -> None:
        self.live = live
        self.recorder = recorder
        self._watchers: set[asyncio.Task[None]] = set()
        settings = live.settings
        self.storage = StorageGuard(
            recorder.recordings_dir,
            warn_bytes=max(settings.storage_warn_bytes, settings.storage_stop_bytes),
            stop_bytes=settings.storage_stop_bytes,
            on_critical=self._disk_almost_full,
        )

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
        room = self.live.room(room_id)
        storage = await asyncio.to_thread(self.storage.check)
        if storage.level is StorageLevel.CRITICAL:
            raise RecordingError(storage.message or "disk almost full")
        active = self.recorder.active_in_room(room_id)
        if active is not None:
            raise RecordingError(
                f"room '{room_id}' is already recording ({active.id}): stop it first"
            )
        tracks: dict[str, TrackSpec] = {
            PROGRAM: TrackSpec(await self.live.encoder(room, PROGRAM, self.USER), "program", None)
        }
        for source_id in room.sources:
            encoder = await self.live.encoder(room, source_id, self.USER)
            tracks[f"iso-{source_id}"] = TrackSpec(encoder, "iso", source_id)
        audio = await self.live.audio_encoder(room, self.USER)
        if audio is not None:
            tracks[AUDIO] = TrackSpec(audio, "audio", None)
        try:
            recording = await self.recorder.start(room_id, title, tracks)
        except BaseException:
            await self._release(room_id)
            raise
        watcher = asyncio.create_task(self._release_when_finished(recording))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        return recording

    async def _release_when_finished(self, recording: Recording) -> None:
        # Stopped by the instructor, the failsafe, a full disk or a lost folder: in every case
        # the encoders that only the recording needed are stopped.
        await recording.wait_finished()
        await self._release(recording.room)

    async def _release(self, room_id: str) -> None:
        room = self.live.room(room_id)
        for track in [PROGRAM, *room.sources, AUDIO]:
            await self.live.encoders.release(f"{room_id}/{track}", self.USER)

    async def stop_all(self) -> None:
        await self.storage.stop()
        await self.recorder.stop_all()
        for watcher in list(self._watchers):
            watcher.cancel()
        for room_id in self.live.rooms:
            await self._release(room_id)

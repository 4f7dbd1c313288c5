"""The live side of the server: the wiring between the rooms, streaming and the record.

The room controller's rooms make the pictures, ``streaming`` sends them (``Streaming``: each
room's broadcast, its viewers and its publishers), and the library keeps the record of which
live session ran and who watched it (the raw material of CME attendance). This module only
joins them: going live and ending, a viewer's join and leave written to the record, the PTZ
heads of each room. Routes call it; it holds no HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from config.rooms import RoomSpec
from config.settings import Settings
from library import attendance
from library.db import Database
from library.i18n import lazy
from room_controller.ptz.controller import PtzController, PtzDevice
from room_controller.ptz.simulated import SimulatedHead
from room_controller.room import Room, RoomError, UnknownSourceError
from room_controller.sources import TestPatternSource, WhipSource
from streaming.broadcast import OnAir
from streaming.service import Streaming
from streaming.talkback import EndCallback, TalkbackEnded
from streaming.whep import Viewer
from streaming.whip import Publisher

logger = logging.getLogger(__name__)


class RoomNotFound(LookupError):
    pass


class RoomNotLive(RoomError):
    pass


class NotAWhipSource(RoomError):
    pass


class GoLiveFailed(RoomError):
    """Going live failed half-way; everything taken was given back and the room is idle."""


@dataclass(frozen=True)
class LiveSession:
    """A room's current live session: its record in the library and what streams it."""

    live_session_id: int
    started_monotonic: float
    title: str
    on_air: OnAir


class LiveRooms:
    """Owns every room of the server and joins what happens while a room is live."""

    def __init__(self, specs: list[RoomSpec], settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.rooms: dict[str, Room] = {spec.id: Room(spec, settings.data_dir) for spec in specs}
        self.streaming = Streaming(self.rooms, settings, on_leave=self._record_leave,
                                   on_talkback_end=self._talkback_ended)
        #: Told whenever a talkback ends, whoever ended it (instructor, speaker, connection):
        #: the hand queue appends its own here.
        self.talkback_listeners: list[EndCallback] = []
        self.sessions: dict[str, LiveSession] = {}
        self.ptz: dict[str, PtzController] = {}
        self._simulated: list[SimulatedHead] = []
        self._ptz_starts: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()
        # Called with (room_id, reason) once a live session has ended (the classrooms close).
        self.on_ended: list[Callable[[str, str], Awaitable[None]]] = []

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Start sources, PTZ heads and viewer sampling; ``stop`` undoes a partial start."""
        self.streaming.start()
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
        for room_id in list(self.sessions):
            try:
                await self.end(room_id, reason="server stopping")
            except Exception:
                logger.exception("could not end the live session of room %s", room_id)
        await self.streaming.stop()
        for task in self._ptz_starts:
            task.cancel()
        await asyncio.gather(*self._ptz_starts, return_exceptions=True)
        for controller in self.ptz.values():
            await controller.stop()
        for head in self._simulated:
            head.close()
        for room in self.rooms.values():
            await asyncio.to_thread(room.stop)

    def room(self, room_id: str) -> Room:
        room = self.rooms.get(room_id)
        if room is None:
            raise RoomNotFound(lazy("no room '%(room)s' (rooms: %(rooms)s)", "room_not_found",
                                    room=room_id, rooms=", ".join(self.rooms)))
        return room

    # -- going live --------------------------------------------------------------------------
    async def go_live(self, room_id: str, title: str, started_by: int | None) -> int:
        """Put the room on air and open its live session: all of it, or nothing.

        Raises ``InvalidTransitionError`` when the room is live already, and ``GoLiveFailed``
        (the room stays idle, nothing left running) when a part could not start.
        """
        room = self.room(room_id)
        async with self._lock:
            room.check_transition("go_live")
            try:
                on_air = await self.streaming.go_on_air(room_id)
            except Exception as exc:
                raise _failed(room_id, "its program could not be encoded", exc) from exc
            try:
                live_id = await asyncio.to_thread(
                    attendance.start_live_session, self.db, room_id, title, started_by
                )
            except Exception as exc:
                await self.streaming.go_off_air(room_id, reason="going live failed")
                raise _failed(room_id, "the live session could not be written to the database",
                              exc) from exc
            self.sessions[room_id] = LiveSession(live_id, time.monotonic(), title, on_air)
            room.go_live()
            logger.info("room %s is live (session %s)", room_id, live_id)
            return live_id

    async def end(self, room_id: str, reason: str = "ended by instructor") -> None:
        room = self.room(room_id)
        async with self._lock:
            room.end()  # raises if not live
            session = self.sessions.pop(room_id)
            await self.streaming.go_off_air(room_id, reason)
            await asyncio.to_thread(attendance.end_live_session, self.db, session.live_session_id)
            logger.info("room %s ended: %s", room_id, reason)
        for listener in list(self.on_ended):
            try:
                await listener(room_id, reason)
            except Exception:
                logger.exception("a listener of room %s ending failed", room_id)

    def session(self, room_id: str) -> LiveSession:
        self.room(room_id)  # an unknown room is RoomNotFound, not "not live"
        session = self.sessions.get(room_id)
        if session is None:
            raise RoomNotLive(
                f"room '{room_id}' is not live yet: wait for the instructor to go live"
            )
        return session

    # -- viewers -----------------------------------------------------------------------------
    async def join(
        self, room_id: str, offer_sdp: str, subject: str, role: str, user_id: int | None,
        views: list[str] | None = None, quality: str | None = None, sound: str | None = None,
        leads: bool = False,
    ) -> tuple[Viewer, str]:
        """Join a viewer to a live room (see ``Streaming.join``) and write it to the record.
        ``leads``: the caller controls this room (its drawing over the program is everyone's)."""
        session = self.session(room_id)
        viewer, answer = await self.streaming.join(
            room_id, offer_sdp, subject=subject, role=role, user_id=user_id, views=views,
            quality=quality, sound=sound, leads=leads,
        )
        await asyncio.to_thread(
            attendance.viewer_joined, self.db, session.live_session_id, room_id, viewer.id,
            user_id, subject, role,
        )
        self.rooms[room_id].events.notify("viewers")
        return viewer, answer

    async def _record_leave(self, viewer: Viewer, reason: str) -> None:
        room = self.rooms.get(viewer.room_id)
        if room is not None:
            room.events.notify("viewers")
        try:
            await asyncio.to_thread(attendance.viewer_left, self.db, viewer.id, reason)
        except Exception:
            logger.exception("could not record that viewer %s left", viewer.id)

    async def _talkback_ended(self, ended: TalkbackEnded) -> None:
        room = self.rooms.get(ended.room_id)
        if room is not None:
            room.events.notify("talkback")
        for listener in self.talkback_listeners:
            try:
                await listener(ended)
            except Exception:
                logger.exception("talkback listener failed")

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
        return await self.streaming.publish(room_id, source, offer_sdp, subject)


def _failed(room_id: str, what: str, exc: Exception) -> GoLiveFailed:
    logger.error("room %s did not go live: %s: %s", room_id, what, exc)
    return GoLiveFailed(
        f"room '{room_id}' did not go live: {what} ({exc}). It stays idle and nothing was "
        "left running: try again, and if it fails again see the server log"
    )

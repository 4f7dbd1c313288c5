"""The live interactions of the server: one ``InteractionHub`` per live session, the sockets of
its participants, and where what happens in it is kept.

This module only wires: the hub (``room_controller.interaction``) holds the rules; each socket
gets a ``Connection`` with a bounded outgoing queue, so a slow or flooding client fills only its
own queue and is closed with a reason, never slowing the others; every record of the hub goes,
in order, to the database (``library.interactions``) and, while the room records, to the
recording's timeline on the media clock. A deleted chat message's words go to the access log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from library import interactions
from library.cme import audit
from library.db import Database
from recorder import timeline as tl
from recorder.recording import RecordingError
from recorder.registry import Recorder
from room_controller.interaction.feed import Event
from room_controller.interaction.hub import GrantFactory, InteractionHub, SpeakerHook
from room_controller.interaction.participants import Participant
from room_controller.interaction.records import Kind, Record
from web.live import LiveRooms

logger = logging.getLogger(__name__)

OUTBOX = 256  # messages waiting for one socket before it counts as too slow
TICK_SECONDS = 0.5  # how often poll deadlines are checked
CLOSE_TOO_SLOW = 4008
CLOSE_ENDED = 4410
CLOSE_FLOOD = 4429


class Connection:
    """One participant's socket: a bounded queue of texts to send; ``None`` ends it."""

    def __init__(self, participant: Participant, actor: audit.Actor, size: int = OUTBOX) -> None:
        self.participant = participant
        self.actor = actor
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(size)
        self.close_code = 1000
        self.close_reason = ""

    def offer(self, text: str) -> None:
        """Queue ``text``; a full queue closes this connection (the client rejoins with the
        last number it saw and is sent what it missed)."""
        if self.close_reason:
            return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.close(CLOSE_TOO_SLOW, "your connection could not keep up with the classroom: "
                                       "rejoin to catch up")

    def close(self, code: int, reason: str) -> None:
        if self.close_reason:
            return
        self.close_code, self.close_reason = code, reason
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


@dataclass
class _Pending:
    record: Record
    recording: str | None  # the recording running in the room when it happened


class LiveInteraction:
    """One live session's hub, its connections and its writer."""

    def __init__(self, hub: InteractionHub, db: Database, recorder: Recorder) -> None:
        self.hub = hub
        self.db = db
        self.recorder = recorder
        self.connections: set[Connection] = set()
        self._actors: dict[str, audit.Actor] = {}
        self._pending: deque[_Pending] = deque()
        self._wake = asyncio.Event()
        self._closing = False
        hub.listeners.append(self._fan_out)
        hub.sinks.append(self._keep)
        self._writer = asyncio.create_task(self._write_forever())
        self._ticker = asyncio.create_task(self._tick_forever())

    def attach(self, connection: Connection, since: int | None) -> None:
        self._actors[connection.participant.key] = connection.actor
        for text in self.hub.join(connection.participant, since):
            connection.offer(text)
        self.connections.add(connection)

    def detach(self, connection: Connection) -> None:
        self.connections.discard(connection)

    def _fan_out(self, item: Event) -> None:
        for connection in list(self.connections):
            text = item.text_for(connection.participant)
            if text is not None:
                connection.offer(text)

    def _keep(self, record: Record) -> None:
        active = self.recorder.active_in_room(self.hub.room_id)
        self._pending.append(_Pending(record, None if active is None else active.id))
        self._wake.set()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            self.hub.tick()

    async def _write_forever(self) -> None:
        # Never cancelled: ``close`` asks it to finish, so no record is dropped half-written.
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()
            if self._closing:
                return

    async def flush(self) -> None:
        """Write every pending record: the database in batches, in order; a delete after the
        message it deletes."""
        batch: list[interactions.Interaction] = []
        while self._pending:
            pending = self._pending.popleft()
            record = pending.record
            batch.append(_interaction(self.hub.live_session_id, record))
            try:
                if record.kind is Kind.CHAT_DELETE:
                    await asyncio.to_thread(interactions.append, self.db, batch)
                    batch = []
                    actor = self._actors.get(record.actor.key if record.actor else "",
                                             audit.Actor("server", "system"))
                    await asyncio.to_thread(interactions.scrub_chat, self.db,
                                            self.hub.live_session_id, record.target, actor)
            except Exception:
                logger.exception("could not keep classroom record %s", record.kind.value)
            await self._to_recording(pending)
        try:
            await asyncio.to_thread(interactions.append, self.db, batch)
        except Exception:
            logger.exception("could not keep %d classroom records", len(batch))

    async def _to_recording(self, pending: _Pending) -> None:
        if pending.recording is None:
            return
        event = timeline_event(self.hub.live_session_id, pending.record)
        if event is None:
            return
        try:
            recording = self.recorder.get(pending.recording)
            await recording.add_event(event)
        except (LookupError, RecordingError, tl.TimelineError) as exc:
            # The recording ended in between, or is pausing: the database has it anyway.
            logger.info("classroom %s not on recording %s: %s", pending.record.kind.value,
                        pending.recording, exc)

    async def close(self, reason: str) -> None:
        for connection in list(self.connections):
            connection.close(CLOSE_ENDED, reason)
        self.connections.clear()
        self._ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._ticker
        self._closing = True
        self._wake.set()
        await self._writer


def _interaction(live_session_id: int, record: Record) -> interactions.Interaction:
    actor = record.actor
    return interactions.Interaction(
        live_session_id=live_session_id, seq=record.seq, kind=record.kind.value, at=record.at,
        actor=None if actor is None else actor.key,
        actor_name=None if actor is None else actor.name,
        actor_user_id=None if actor is None else actor.user_id,
        target=record.target, text=record.text, data=dict(record.data))


def timeline_event(live_session_id: int, record: Record) -> tl.Event | None:
    """The recording's view of a classroom record (``None``: kept in the database only, such
    as votes and single poll answers). Ids carry the live session, as one recording may span
    two sessions."""
    ref = f"s{live_session_id}-{record.target}"
    author = "" if record.actor is None else record.actor.key
    data = record.data
    match record.kind:
        case Kind.CHAT:
            return tl.ChatMessage(text=record.text or "", author=author, id=ref)
        case Kind.CHAT_DELETE:
            return tl.Retraction(target=ref, author=author)
        case Kind.QUESTION:
            return tl.Question(question=ref, text=record.text or "",
                               anonymous=bool(data.get("anonymous")), author=author)
        case Kind.QUESTION_STATUS:
            return tl.QuestionStatus(question=ref, status=str(data["status"]),
                                     votes=int(data.get("votes", 0)), author=author)
        case Kind.POLL:
            return tl.Poll(poll=ref, question=record.text or "", options=tuple(data["options"]),
                           seconds=int(data["seconds"]),
                           presence_check=bool(data.get("presence_check")), author=author)
        case Kind.POLL_CLOSE | Kind.POLL_RESULTS:
            return tl.PollResult(poll=ref, counts=tuple(data["counts"]),
                                 answered=int(data["answered"]),
                                 shown=record.kind is Kind.POLL_RESULTS, author=author)
        case Kind.HAND_ACCEPT:
            return tl.Speaker(speaker=record.target, author=author)
        case Kind.HAND_END:
            return tl.Speaker(speaker="", author=author)
    return None


class Interactions:
    """The classroom of every live room. Hook points for talkback and drawing, shared by every
    hub: ``grant`` (``(room_id, participant) -> dict``, called once per accepted hand, the dict
    sent only to that participant) and ``on_speaker_changed`` (``(room_id, participant |
    None)`` callables)."""

    def __init__(self, live: LiveRooms, recorder: Recorder, db: Database) -> None:
        self.live = live
        self.recorder = recorder
        self.db = db
        self.grant: GrantFactory | None = None
        self.on_speaker_changed: list[SpeakerHook] = []
        self._rooms: dict[str, LiveInteraction] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._running = False

    def start(self) -> None:
        self._running = True
        self.live.on_ended.append(self._ended)

    async def stop(self) -> None:
        self._running = False
        if self._ended in self.live.on_ended:
            self.live.on_ended.remove(self._ended)
        for room_id in list(self._rooms):
            await self._ended(room_id, "the server is stopping")

    def of_room(self, room_id: str) -> LiveInteraction:
        """The classroom of the room's current live session (``RoomNotLive`` when idle)."""
        session = self.live.session(room_id)
        if not self._running:
            raise RuntimeError("the interactions are not running")
        current = self._rooms.get(room_id)
        if current is not None and current.hub.live_session_id == session.live_session_id:
            return current
        hub = InteractionHub(room_id, session.live_session_id, grant=self._grant)
        hub.on_speaker_changed = self.on_speaker_changed  # the same list: hooks added later count
        classroom = self._rooms[room_id] = LiveInteraction(hub, self.db, self.recorder)
        if current is not None:  # a session that ended without telling us
            closing = asyncio.create_task(current.close("the live session ended"))
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
        return classroom

    def _grant(self, room_id: str, who: Participant) -> dict[str, Any]:
        # Looked up at each acceptance, so a grant factory set after the hub was made counts.
        return {} if self.grant is None else self.grant(room_id, who)

    def get(self, room_id: str) -> LiveInteraction | None:
        return self._rooms.get(room_id)

    async def _ended(self, room_id: str, reason: str) -> None:
        classroom = self._rooms.pop(room_id, None)
        if classroom is not None:
            await classroom.close(f"the live session ended ({reason})")

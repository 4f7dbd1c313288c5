"""The live classroom's websocket: chat, questions, raised hands and polls of a live session.

``GET /api/rooms/{room}/interaction?since=N`` (websocket). Who: anyone who may watch the room
(the session cookie of a logged-in page, or ``?token=``), as for WHEP; the room's instructors
and admins moderate. Refused with 4401 (not authenticated), 4403 (not allowed), 4404 (no such
room) or 4409 (the room is not live); 4410 when the live session ends; 4008 when the client
could not keep up (it rejoins with ``since`` = the last ``seq`` it saw); 4429 when it sent more
than 100 refused messages in a row (a flood).

Every message either way is one JSON object with a ``type``; the protocol is written out in
``room_controller/interaction/__init__.py``. Names come from the
account, never from a message. A refused message is answered ``{"type": "error", "code",
"message", "retry_after"?, "reason"?, "ref"?}`` (``ref`` echoes the client's own ``ref``).

Languages: ``message`` is a sentence in the language of the socket (decided at the handshake from
the account, the language cookie or ``Accept-Language``, like any request), rendered from the
hub's ``LazyText`` when it is sent; ``code`` does not change with the language. A rate limit adds
``retry_after`` (seconds) and ``reason`` (the message without its "send again in N s"), so a page
counts the wait down itself. Close frames carry only a code that pages translate (a close
reason is at most 123 bytes: too short for a sentence in Cyrillic) and an English reason for logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect

from library.cme import audit
from library.i18n import lazy, shown
from room_controller.interaction.errors import InteractionError, RateLimited
from room_controller.interaction.participants import Participant
from web.auth import SocketRefused, controls_room, socket_viewer
from web.deps import StateDep
from web.interaction import CLOSE_FLOOD, Connection, LiveInteraction
from web.live import RoomNotLive

router = APIRouter(prefix="/api/rooms", tags=["classroom"])

MAX_MESSAGE = 4096  # characters of one incoming message (texts are bounded far lower)
MAX_REFUSED = 100  # refused messages in a row: past that the client is flooding, not typing
MAX_SEQ = 2**31


def _close_reason(reason: str) -> str:
    return reason.encode()[:120].decode(errors="ignore")  # a close frame's reason is short


def _error(exc: InteractionError, ref: object) -> str:
    body: dict[str, Any] = {"type": "error", "code": exc.code, "message": shown(exc.message)}
    if isinstance(exc, RateLimited):
        body["message"] = exc.shown()
        body["reason"] = shown(exc.reason)
        body["retry_after"] = exc.retry_after
    if isinstance(ref, str | int) and not isinstance(ref, bool) and len(str(ref)) <= 40:
        body["ref"] = ref
    return json.dumps(body, ensure_ascii=False)


async def _receive(websocket: WebSocket, classroom: LiveInteraction, connection: Connection) -> None:
    who = connection.participant
    refused = 0
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        ref: object = None
        try:
            if text is None:
                raise InteractionError(lazy("send text frames of JSON, not binary"))
            if len(text) > MAX_MESSAGE:
                raise InteractionError(lazy("a message is at most %(max)s characters",
                                            max=MAX_MESSAGE))
            try:
                decoded = json.loads(text)
            except ValueError:
                raise InteractionError(lazy("a message must be JSON")) from None
            if isinstance(decoded, dict):
                ref = decoded.get("ref")
            classroom.hub.handle(who, decoded)
            refused = 0
        except InteractionError as exc:
            refused += 1
            if refused > MAX_REFUSED:
                connection.close(CLOSE_FLOOD, "too many refused messages: slow down, then rejoin")
                return
            connection.offer(_error(exc, ref))


async def _send(websocket: WebSocket, connection: Connection) -> None:
    while True:
        text = await connection.queue.get()
        if text is None:
            await websocket.close(connection.close_code, _close_reason(connection.close_reason))
            return
        await websocket.send_text(text)


@router.websocket("/{room_id}/interaction")
async def classroom_socket(
    websocket: WebSocket, app_state: StateDep, room_id: str, token: str | None = None,
    since: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
) -> None:
    await websocket.accept()
    try:
        principal = await socket_viewer(websocket, room_id, token)
        interactions = app_state.interactions
        if interactions is None:  # the lifespan sets it before the server takes connections
            raise SocketRefused(1013, "the classroom is starting: try again in a moment")
        try:
            classroom = interactions.of_room(room_id)
        except RoomNotLive as exc:
            raise SocketRefused(4409, str(exc)) from None
    except SocketRefused as refused:
        await websocket.close(refused.code, _close_reason(refused.reason))
        return
    participant = Participant(
        principal.subject, principal.display_name or principal.subject, principal.user_id,
        moderator=controls_room(websocket, principal, room_id))
    client = websocket.client.host if websocket.client else ""
    connection = Connection(participant, audit.Actor(
        principal.subject, principal.role.value, principal.user_id, client))
    classroom.attach(connection, since)
    receiver = asyncio.create_task(_receive(websocket, classroom, connection))
    sender = asyncio.create_task(_send(websocket, connection))
    try:
        await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        classroom.detach(connection)
        for task in (receiver, sender):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                await task

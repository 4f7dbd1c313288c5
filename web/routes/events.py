"""The console's websocket: room state pushed as it changes, PTZ driven while the socket lives.

``GET /api/rooms/{room}/events`` (websocket). Who: an instructor or admin, by the session
cookie of a logged-in page or by ``?token=<bearer token>``; anyone else is closed with 4401
(not authenticated), 4403 (not allowed) or 4404 (no such room), with the reason.

Server → console: ``{"type": "state", "room": <RoomOut>, "composition": <CompositionOut>,
"recording": {"id", "state"} | null, "ptz": [<PtzHealthOut>]}`` on connect and whenever it
changes (see ``web.room_feed``). ``{"type": "error", "message": ...}`` answers a bad message.

Console → server, for the PTZ pad: ``{"type": "ptz", "camera": ID, "action": "move", "pan",
"tilt"}``, ``"zoom"`` with ``"speed"``, ``"stop"``, ``"keepalive"``. A move lasts one second
unless renewed; when the socket closes, every head this socket was driving is stopped at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from library.i18n import lazy, shown
from room_controller.ptz.controller import PtzController, UnknownCameraError
from web.auth import SocketRefused, socket_controller
from web.deps import StateDep
from web.room_views import composition_out, heads_out, room_out
from web.routes.rooms import passed_on
from web.state import AppState

router = APIRouter(prefix="/api/rooms", tags=["events"])
logger = logging.getLogger(__name__)


def room_state(app_state: AppState, room_id: str) -> dict[str, Any]:
    """Everything a console shows about a room, as JSON values."""
    live = app_state.live
    room = live.room(room_id)
    recording = app_state.recordings.recorder.active_in_room(room_id)
    return {
        "type": "state",
        "room": room_out(live, room, True, app_state.recordings.storage.status).model_dump(
            mode="json"),
        "composition": composition_out(room).model_dump(mode="json"),
        "recording": None if recording is None else {
            "id": recording.id,
            "state": recording.state.value if recording.state is not None else "starting",
        },
        "ptz": [h.model_dump(mode="json") for h in heads_out(live, room_id)],
    }


def drive_ptz(controller: PtzController, message: dict[str, Any], driven: set[str]) -> None:
    """Apply one PTZ message; raises ValueError / UnknownCameraError with the reason."""
    camera = str(message.get("camera", ""))
    action = message.get("action")
    if action == "move":
        controller.move(camera, float(message.get("pan", 0)), float(message.get("tilt", 0)))
    elif action == "zoom":
        controller.zoom(camera, float(message.get("speed", 0)))
    elif action == "stop":
        controller.halt(camera)
    elif action == "keepalive":
        controller.keepalive(camera)
    else:
        raise ValueError(lazy("unknown PTZ action %(action)s (move, zoom, stop, keepalive)",
                              "unknown_ptz_action", action=repr(action)))
    if controller.driving(camera):
        driven.add(camera)
    else:
        driven.discard(camera)


@router.websocket("/{room_id}/events")
async def room_events(
    websocket: WebSocket, app_state: StateDep, room_id: str, token: str | None = None
) -> None:
    await websocket.accept()
    try:
        principal = await socket_controller(websocket, room_id, token)
    except SocketRefused as refused:
        await websocket.close(refused.code, refused.reason)
        return
    feed = app_state.feed
    if feed is None:  # the lifespan sets it before the server takes connections
        raise RuntimeError("the room feed is not running yet")
    controller: PtzController | None = app_state.live.ptz.get(room_id)
    subscription = feed.subscribe(room_id)
    driven: set[str] = set()

    async def send_states() -> None:
        while True:
            await websocket.send_json(await subscription.next())

    sender = asyncio.create_task(send_states())
    try:
        while True:
            text = await websocket.receive_text()
            try:
                message = json.loads(text)
                if not isinstance(message, dict) or message.get("type") != "ptz":
                    raise ValueError(lazy('messages are {"type": "ptz", ...}', "bad_message"))
                if controller is None:
                    raise ValueError(lazy("room '%(room)s' has no camera heads", "no_camera_heads",
                                          room=room_id))
                drive_ptz(controller, message, driven)
            except (ValueError, TypeError, UnknownCameraError) as exc:
                # In the console's language (the socket's request decided it), with a code.
                reason = passed_on(exc)
                await websocket.send_json({"type": "error", "message": shown(reason),
                                           "code": getattr(reason, "code", None) or "bad_message"})
    except WebSocketDisconnect:
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        feed.unsubscribe(subscription)
        if controller is not None:
            for camera in driven:
                if controller.driving(camera):
                    logger.warning("console of %s left while driving %s: stopping it",
                                   principal.subject, camera)
                    controller.halt(camera)

"""PTZ API: move, zoom, focus and presets of a room's camera heads (VISCA over IP).

Continuous moves answer at once (204) and are coalesced per head, so a held key never floods
the camera; one-shot actions wait for the camera and say what it answered. A continuous move
lasts one second unless renewed (repeat it, or POST keepalive): a client that dies mid-move
leaves a stopped camera, not a turning one. Consoles send moves over the room's websocket
(web/routes/events.py), whose closing stops the heads it was driving.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, TypeVar, get_args

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.responses import Response

from library.i18n import lazy
from room_controller.ptz.controller import PtzController, UnknownCameraError
from room_controller.ptz.visca import (
    PRESET_MAX,
    FocusMode,
    ViscaBufferFull,
    ViscaError,
    ViscaNotExecutable,
    ViscaReplyError,
    ViscaTimeout,
)
from web.auth import Controller
from web.deps import LiveDep
from web.live import LiveRooms
from web.room_views import heads_out
from web.routes.rooms import passed_on
from web.schemas import PtzFocusIn, PtzHealthOut, PtzMoveIn, PtzPositionOut, PtzZoomIn

router = APIRouter(prefix="/api/rooms/{room_id}/ptz", tags=["ptz"])
T = TypeVar("T")
# A number past the camera's presets names no preset: 404 (web.deps.validation_status).
PresetNumber = Annotated[int, Path(ge=0, le=PRESET_MAX, description=f"0..{PRESET_MAX}")]


def _controller(live: LiveRooms, room_id: str, camera_id: str | None = None) -> PtzController:
    controller = live.ptz[room_id]
    if camera_id is not None and camera_id not in controller.ids:
        known = ", ".join(controller.ids) or "none"
        raise HTTPException(status.HTTP_404_NOT_FOUND, lazy(
            "no PTZ camera '%(camera)s' in room '%(room)s' (cameras: %(known)s)",
            "unknown_camera", camera=camera_id, room=room_id, known=known))
    return controller


def _camera_error(exc: Exception) -> HTTPException:
    # What happened, in the instructor's language; the camera's own words (address, VISCA
    # reply) follow for whoever fixes it.
    reason = passed_on(exc)
    if isinstance(exc, UnknownCameraError):
        return HTTPException(status.HTTP_404_NOT_FOUND, reason)
    if isinstance(exc, ViscaTimeout):
        return HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, lazy(
            "The camera head did not answer: %(reason)s", "camera_timeout", reason=reason))
    if isinstance(exc, (ViscaNotExecutable, ViscaBufferFull)):
        return HTTPException(status.HTTP_409_CONFLICT, lazy(
            "The camera head is busy and refused the command: %(reason)s", "camera_busy",
            reason=reason))
    if isinstance(exc, ViscaReplyError | ViscaError):
        return HTTPException(status.HTTP_502_BAD_GATEWAY, lazy(
            "The camera head refused the command: %(reason)s", "camera_refused", reason=reason))
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, reason)


async def _answer(action: Awaitable[T]) -> T:
    """Wait for the camera; its refusals and silences become HTTP errors that say what it did."""
    try:
        return await action
    except (ViscaError, ValueError) as exc:
        raise _camera_error(exc) from None


@router.get("", response_model=list[PtzHealthOut], summary="The room's camera heads and health")
async def heads(live: LiveDep, room_id: str, principal: Controller) -> list[PtzHealthOut]:
    return heads_out(live, room_id)


@router.post("/{camera_id}/move", status_code=204, summary="Drive pan/tilt (0, 0 stops)")
async def move(live: LiveDep, room_id: str, camera_id: str, body: PtzMoveIn,
               principal: Controller) -> Response:
    _controller(live, room_id, camera_id).move(camera_id, body.pan, body.tilt)
    return Response(status_code=204)


@router.post("/{camera_id}/zoom", status_code=204, summary="Drive zoom (0 stops)")
async def zoom(live: LiveDep, room_id: str, camera_id: str, body: PtzZoomIn,
               principal: Controller) -> Response:
    _controller(live, room_id, camera_id).zoom(camera_id, body.speed)
    return Response(status_code=204)


@router.post("/{camera_id}/keepalive", status_code=204,
             summary="Still holding the move: renew it (moves stop after 1 s without one)")
async def keepalive(live: LiveDep, room_id: str, camera_id: str,
                    principal: Controller) -> Response:
    _controller(live, room_id, camera_id).keepalive(camera_id)
    return Response(status_code=204)


@router.post("/{camera_id}/stop", status_code=204, summary="Stop every movement")
async def halt(live: LiveDep, room_id: str, camera_id: str, principal: Controller) -> Response:
    _controller(live, room_id, camera_id).halt(camera_id)
    return Response(status_code=204)


@router.post("/{camera_id}/focus", status_code=204, summary="Focus: auto, manual, near, far, stop")
async def focus(live: LiveDep, room_id: str, camera_id: str, body: PtzFocusIn,
                principal: Controller) -> Response:
    modes = get_args(FocusMode)
    if body.mode not in modes:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, lazy(
            "focus mode must be one of %(modes)s", "unknown_focus_mode", modes=", ".join(modes)))
    await _answer(_controller(live, room_id, camera_id).focus(camera_id, body.mode))  # type: ignore[arg-type]
    return Response(status_code=204)


@router.post("/{camera_id}/home", status_code=204, summary="Back to the home position")
async def home(live: LiveDep, room_id: str, camera_id: str, principal: Controller) -> Response:
    await _answer(_controller(live, room_id, camera_id).home(camera_id))
    return Response(status_code=204)


@router.put("/{camera_id}/presets/{number}", status_code=204, summary="Store a preset (0..127)")
async def store_preset(live: LiveDep, room_id: str, camera_id: str, number: PresetNumber,
                       principal: Controller) -> Response:
    await _answer(_controller(live, room_id, camera_id).preset_store(camera_id, number))
    return Response(status_code=204)


@router.post("/{camera_id}/presets/{number}/recall", status_code=204, summary="Recall a preset")
async def recall_preset(live: LiveDep, room_id: str, camera_id: str, number: PresetNumber,
                        principal: Controller) -> Response:
    await _answer(_controller(live, room_id, camera_id).preset_recall(camera_id, number))
    return Response(status_code=204)


@router.get("/{camera_id}/position", response_model=PtzPositionOut,
            summary="Where the head points (camera units)")
async def position(live: LiveDep, room_id: str, camera_id: str,
                   principal: Controller) -> PtzPositionOut:
    pan, tilt, zoom_ = await _answer(_controller(live, room_id, camera_id).position(camera_id))
    return PtzPositionOut(pan=pan, tilt=tilt, zoom=zoom_)

"""WHEP (WebRTC-HTTP Egress Protocol): viewers pull the room's program.

``POST /api/rooms/{room}/whep`` with an SDP offer (``application/sdp``) and a bearer token is
answered ``201 Created`` with the SDP answer and a ``Location``; ``DELETE`` on that Location
leaves. The offer must be complete (ICE candidates gathered): trickle ICE is not offered.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response

from streaming.whep import CodecError, OfferError
from web.auth import CONTROL_ROLES, Viewer
from web.live import LiveRooms, RoomNotFound, RoomNotLive

router = APIRouter(prefix="/api/rooms", tags=["whep"])
MAX_OFFER_BYTES = 64 * 1024

SDP_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/sdp": {"schema": {"type": "string"}}},
    }
}


def _live(request: Request) -> LiveRooms:
    return request.app.state.medroom.live  # type: ignore[no-any-return]


@router.post(
    "/{room_id}/whep",
    status_code=201,
    summary="Join the room's live program (WHEP)",
    openapi_extra=SDP_BODY,
    responses={
        201: {"content": {"application/sdp": {}}, "description": "SDP answer; Location to DELETE"},
        400: {"description": "Malformed SDP, or no H.264 in the offer"},
        409: {"description": "The room is not live"},
        415: {"description": "Body is not application/sdp"},
    },
)
async def whep_join(request: Request, room_id: str, principal: Viewer) -> Response:
    live = _live(request)
    try:
        live.room(room_id)
    except RoomNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/sdp":
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"send the offer as application/sdp (got '{content_type or 'nothing'}')",
        )
    body = await request.body()
    if len(body) > MAX_OFFER_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "SDP offer is too large")
    try:
        offer = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "SDP offer is not UTF-8 text") from None
    try:
        viewer, answer = await live.join(
            room_id, offer, subject=principal.subject, role=principal.role.value,
            user_id=principal.user_id,
        )
    except RoomNotLive as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except CodecError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    except OfferError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"bad SDP offer: {exc}") from None
    location = f"/api/rooms/{room_id}/whep/{viewer.id}"
    return Response(
        answer, status_code=201, media_type="application/sdp",
        headers={"Location": location},
    )


@router.patch("/{room_id}/whep/{viewer_id}", summary="Trickle ICE (not supported)")
async def whep_patch(room_id: str, viewer_id: str, principal: Viewer) -> Response:
    raise HTTPException(
        status.HTTP_405_METHOD_NOT_ALLOWED,
        "trickle ICE is not supported: send a complete offer (gather candidates first)",
        headers={"Allow": "DELETE"},
    )


@router.delete("/{room_id}/whep/{viewer_id}", summary="Leave (end a WHEP session)")
async def whep_leave(request: Request, room_id: str, viewer_id: str, principal: Viewer) -> Response:
    live = _live(request)
    viewer = live.viewers.get(viewer_id)
    if viewer is None or viewer.room_id != room_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no viewer session '{viewer_id}' here")
    if viewer.subject != principal.subject and principal.role not in CONTROL_ROLES:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this viewer session is not yours")
    await live.viewers.leave(viewer_id, reason="left (DELETE)")
    return Response(status_code=200)

"""WHIP (RFC 9725): an encoder such as OBS Studio publishes into a room's WHIP source.

``POST /api/rooms/{room}/sources/{source}/whip`` with an SDP offer (``application/sdp``) and
the bearer token of an instructor or admin of the room is answered ``201 Created`` with the SDP
answer and a ``Location``; ``DELETE`` on that Location ends the publish. In OBS Studio: Settings
→ Stream → Service "WHIP", Server = that URL, Bearer Token = ``medroom token --room ROOM
--role instructor``. The offer must be complete (ICE candidates gathered): no trickle ICE.

Why a controller's token and not a separate publish token: publishing puts a picture into the
room that can go on program in front of every viewer, which is exactly what an instructor may
do and a student may not; the token is already scoped to one room and expires (12 h by default).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response

from room_controller.room import UnknownSourceError
from room_controller.sources import PublisherBusyError
from streaming.whep import OfferError
from streaming.whip import PublishCodecError
from web.auth import Controller
from web.deps import SDP_BODY, LiveDep, read_sdp_offer
from web.live import LiveRooms, NotAWhipSource, RoomNotFound

router = APIRouter(prefix="/api/rooms", tags=["whip"])


def _whip_source_or_404(live: LiveRooms, room_id: str, source_id: str) -> None:
    try:
        live.whip_source(room_id, source_id)
    except (RoomNotFound, UnknownSourceError, NotAWhipSource) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


@router.post(
    "/{room_id}/sources/{source_id}/whip",
    status_code=201,
    summary="Publish into a WHIP source of the room (RFC 9725)",
    openapi_extra=SDP_BODY,
    responses={
        201: {"content": {"application/sdp": {}}, "description": "SDP answer; Location to DELETE"},
        400: {"description": "Malformed SDP, no video sent, or neither H.264 nor VP8"},
        404: {"description": "No such room or source, or the source is not of kind 'whip'"},
        409: {"description": "The source already has a publisher"},
        415: {"description": "Body is not application/sdp"},
    },
)
async def whip_publish(
    request: Request, live: LiveDep, room_id: str, source_id: str, principal: Controller
) -> Response:
    _whip_source_or_404(live, room_id, source_id)
    offer = await read_sdp_offer(request)
    try:
        publisher, answer = await live.publish(room_id, source_id, offer, principal.subject)
    except PublisherBusyError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except PublishCodecError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    except OfferError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"bad SDP offer: {exc}") from None
    location = f"/api/rooms/{room_id}/sources/{source_id}/whip/{publisher.id}"
    return Response(
        answer, status_code=201, media_type="application/sdp", headers={"Location": location}
    )


@router.patch("/{room_id}/sources/{source_id}/whip/{publisher_id}",
              summary="Trickle ICE (not supported)")
async def whip_patch(
    room_id: str, source_id: str, publisher_id: str, principal: Controller
) -> Response:
    raise HTTPException(
        status.HTTP_405_METHOD_NOT_ALLOWED,
        "trickle ICE is not supported: send a complete offer (gather candidates first)",
        headers={"Allow": "DELETE"},
    )


@router.delete("/{room_id}/sources/{source_id}/whip/{publisher_id}",
               summary="End a WHIP publish")
async def whip_end(
    live: LiveDep, room_id: str, source_id: str, publisher_id: str, principal: Controller
) -> Response:
    publisher = live.streaming.whip.get(publisher_id)
    if publisher is None or (publisher.room_id, publisher.source_id) != (room_id, source_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"no WHIP publish '{publisher_id}' on {room_id}/{source_id}")
    await live.streaming.whip.end(publisher_id, "ended by the publisher (DELETE)")
    return Response(status_code=200)

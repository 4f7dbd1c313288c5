"""WHIP (RFC 9725): an encoder such as OBS Studio publishes into a room's WHIP source.

``POST /api/rooms/{room}/sources/{source}/whip`` with an SDP offer (``application/sdp``) and
the bearer token of an instructor or admin of the room is answered ``201 Created`` with the SDP
answer, a ``Location`` (the session URL), an ``ETag`` and a ``Link`` per STUN/TURN server;
``PATCH`` on that Location trickles ICE candidates, ``DELETE`` ends the publish, each with the
session URL as the credential (``web/session_urls.py``). In OBS Studio: Settings → Stream →
Service "WHIP", Server = that URL, Bearer Token = ``medroom token --room ROOM --role
instructor``.

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
from streaming.whip import PublishCodecError, Publisher
from web.auth import Controller
from web.deps import SDP_BODY, LiveDep, read_sdp_offer
from web.live import LiveRooms, NotAWhipSource, RoomNotFound
from web.session_urls import SessionCaller, answer_response, trickle

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
        201: {"content": {"application/sdp": {}},
              "description": "SDP answer; Location to PATCH (trickle ICE) and DELETE; ETag"},
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
    return answer_response(
        answer, f"/api/rooms/{room_id}/sources/{source_id}/whip/{publisher.id}", publisher.pc,
        live.settings.ice_servers,
    )


def _publish_or_404(
    live: LiveRooms, room_id: str, source_id: str, publisher_id: str
) -> Publisher:
    publisher = live.streaming.whip.get(publisher_id)
    if publisher is None or (publisher.room_id, publisher.source_id) != (room_id, source_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"no WHIP publish '{publisher_id}' on {room_id}/{source_id}")
    return publisher


@router.patch(
    "/{room_id}/sources/{source_id}/whip/{publisher_id}", status_code=204,
    summary="Trickle ICE: add the encoder's candidates (application/trickle-ice-sdpfrag)",
    responses={412: {"description": "If-Match names another ICE session"},
               415: {"description": "Body is not application/trickle-ice-sdpfrag"},
               422: {"description": "ICE restart: not supported, DELETE and POST a new offer"}},
)
async def whip_patch(
    request: Request, live: LiveDep, room_id: str, source_id: str, publisher_id: str,
    caller: SessionCaller,
) -> Response:
    return await trickle(request, _publish_or_404(live, room_id, source_id, publisher_id).pc)


@router.delete("/{room_id}/sources/{source_id}/whip/{publisher_id}",
               summary="End a WHIP publish")
async def whip_end(
    live: LiveDep, room_id: str, source_id: str, publisher_id: str, caller: SessionCaller
) -> Response:
    publisher = _publish_or_404(live, room_id, source_id, publisher_id)
    await live.streaming.whip.end(publisher.id, "ended by the publisher (DELETE)")
    return Response(status_code=200)

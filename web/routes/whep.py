"""WHEP (WebRTC-HTTP Egress Protocol): viewers pull the room's program.

``POST /api/rooms/{room}/whep`` with an SDP offer (``application/sdp``) and a bearer token is
answered ``201 Created`` with the SDP answer, a ``Location`` (the session URL) and an ``ETag``;
``PATCH`` on that Location trickles the client's ICE candidates, ``DELETE`` leaves. The session
URL is the capability for both (``web/session_urls.py``); CORS for players on other sites is in
``web/cors.py``.

Multi-view: an offer with several video lines gets the program on the first and the room's
sources (each encoded once, shared by every viewer) on the next, in the room's order, or in the
order ``?views=program,endoscope,ct`` names.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import Response

from room_controller.room import UnknownSourceError
from streaming.broadcast import NotOnAir
from streaming.limits import JoinRefused
from streaming.turn import browser_ice_servers
from streaming.whep import CodecError, OfferError
from streaming.whep import Viewer as ViewerSession
from web.auth import CONTROL_ROLES, Viewer, controls_room
from web.deps import SDP_BODY, LiveDep, read_sdp_offer, room_or_404
from web.live import LiveRooms, RoomNotLive
from web.session_urls import SessionCaller, answer_response, trickle

router = APIRouter(prefix="/api/rooms", tags=["whep"])


@router.post(
    "/{room_id}/whep",
    status_code=201,
    summary="Join the room's live program (WHEP)",
    openapi_extra=SDP_BODY,
    responses={
        201: {"content": {"application/sdp": {}},
              "description": "SDP answer; Location to PATCH (trickle ICE) and DELETE; ETag"},
        400: {"description": "Malformed SDP, or no codec MedRoom sends: the offer's video has "
                             "neither H.264 (constrained baseline, packetization-mode=1) nor "
                             "VP8; the message names what was offered"},
        409: {"description": "The room is not live"},
        429: {"description": "Too many joins per minute, or too many live sessions; "
                             "Retry-After says when to try again"},
        415: {"description": "Body is not application/sdp"},
    },
)
async def whep_join(
    request: Request, live: LiveDep, room_id: str, principal: Viewer,
    views: Annotated[str | None, Query(
        description="Multi-view: what the offer's video lines carry, in order, comma "
        "separated: 'program' or a source id (e.g. program,endoscope,ct). Default: the "
        "program, then every source in the room's order. Extra names are ignored."
    )] = None,
    quality: Annotated[str | None, Query(
        description="Pin the first video line to one rendition (e.g. 360p); default: adaptive "
        "from the best, moved down on loss or low bandwidth and up again when it clears."
    )] = None,
    sound: Annotated[Literal["audio", "talkback"] | None, Query(
        description="What the audio line plays: 'audio', the program sound (default), or "
        "'talkback': the accepted speakers' voices alone, for the console (instructors)."
    )] = None,
) -> Response:
    room_or_404(live, room_id)
    if sound == "talkback" and not controls_room(request, principal, room_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "only the room's instructors hear the talkback on its own")
    offer = await read_sdp_offer(request)
    try:
        viewer, answer = await live.join(
            room_id, offer, subject=principal.subject, role=principal.role.value,
            user_id=principal.user_id,
            views=[v.strip() for v in views.split(",") if v.strip()] if views else None,
            quality=quality.strip() or None if quality else None, sound=sound,
            # One of this room's instructors (or an admin) leads: their drawing is everyone's.
            leads=controls_room(request, principal, room_id),
        )
    except (RoomNotLive, NotOnAir) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except (UnknownSourceError, LookupError) as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    except JoinRefused as exc:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, str(exc),
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    except CodecError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    except OfferError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"bad SDP offer: {exc}") from None
    return answer_response(answer, f"/api/rooms/{room_id}/whep/{viewer.id}", viewer.pc,
                           live.settings.ice_servers)


@router.get(
    "/{room_id}/ice-servers",
    summary="STUN/TURN servers for a player's peer connection (RTCIceServer list)",
)
async def ice_servers(live: LiveDep, room_id: str, principal: Viewer) -> list[dict[str, object]]:
    """The same servers as the WHEP answer's Link headers, before the offer is made: a browser
    behind a NAT must know the TURN server while it gathers candidates."""
    return browser_ice_servers(live.settings.ice_servers)


def _session_or_404(
    live: LiveRooms, room_id: str, viewer_id: str, caller: SessionCaller
) -> ViewerSession:
    viewer = live.streaming.viewers.get(viewer_id)
    if viewer is None or viewer.room_id != room_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no viewer session '{viewer_id}' here")
    # Without a token the session URL is the credential; a student's token names its owner.
    if (caller is not None and viewer.subject != caller.subject
            and caller.role not in CONTROL_ROLES):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this viewer session is not yours")
    return viewer


@router.patch(
    "/{room_id}/whep/{viewer_id}", status_code=204,
    summary="Trickle ICE: add the client's candidates (application/trickle-ice-sdpfrag)",
    responses={412: {"description": "If-Match names another ICE session"},
               415: {"description": "Body is not application/trickle-ice-sdpfrag"},
               422: {"description": "ICE restart: not supported, DELETE and POST a new offer"}},
)
async def whep_patch(
    request: Request, live: LiveDep, room_id: str, viewer_id: str, caller: SessionCaller
) -> Response:
    return await trickle(request, _session_or_404(live, room_id, viewer_id, caller).pc)


@router.delete("/{room_id}/whep/{viewer_id}", summary="Leave (end a WHEP session)")
async def whep_leave(
    live: LiveDep, room_id: str, viewer_id: str, caller: SessionCaller
) -> Response:
    viewer = _session_or_404(live, room_id, viewer_id, caller)
    await live.streaming.viewers.leave(viewer.id, reason="left (DELETE)")
    return Response(status_code=200)

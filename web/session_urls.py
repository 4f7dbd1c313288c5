"""WHEP/WHIP session URLs: the answer that creates one, trickle ICE on it, and the capability.

Session URLs are capabilities: who holds the URL may trickle (PATCH) and end (DELETE).

RFC 9725 lets the session URL itself authorise the requests on it, and widely used players do
so: MediaMTX's reader.js/publisher.js and ``whip-whep`` send ``PATCH``/``DELETE`` with the URL
alone, treat a 401 as fatal and retry forever, each try leaving a session behind. The URL's
last part is 128 random bits (``secrets.token_hex(16)``), given only to the client that made
the offer, so it is as hard to guess as a token. Everything else (the offer itself, any listing of sessions)
still needs a bearer token, and a token that IS sent on a session URL must be valid: a wrong
token is refused, not ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from aiortc import RTCPeerConnection
from fastapi import Depends, HTTPException, Request, status
from fastapi.responses import Response

from library.i18n import lazy
from streaming.trickle import (
    TRICKLE_MEDIA_TYPE,
    IceRestartRefused,
    StaleSession,
    TrickleError,
    add_trickled,
    session_etag,
)
from streaming.turn import IceServerLike, link_headers
from web.auth import Principal, get_principal
from web.deps import read_sdp_body


async def _bearer_if_sent(request: Request, room_id: str) -> Principal | None:
    if request.headers.get("authorization") is None:
        return None
    principal = await get_principal(request)  # 401 for a bad or expired token
    if not principal.may_use_room(room_id):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, lazy("this token is not valid for room '%(room)s'",
                                            "token_for_other_room", room=room_id)
        )
    return principal


#: The caller of a request on a session URL: the token's principal, or None (the URL alone).
SessionCaller = Annotated[Principal | None, Depends(_bearer_if_sent)]


async def trickle(request: Request, pc: RTCPeerConnection) -> Response:
    """``PATCH`` on a session URL: add the trickled candidates (204, with the ETag), or 415 for
    another body, 422 for an ICE restart, 412 for another ICE session's If-Match, 400 for an
    unreadable candidate."""
    fragment = await read_sdp_body(request, TRICKLE_MEDIA_TYPE, "fragment")
    try:
        await add_trickled(pc, fragment, request.headers.get("if-match"))
    except IceRestartRefused as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    except StaleSession as exc:
        raise HTTPException(status.HTTP_412_PRECONDITION_FAILED, str(exc)) from None
    except TrickleError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    return Response(status_code=204, headers={"ETag": session_etag(pc)})


def answer_response(answer: str, location: str, pc: RTCPeerConnection,
                    ice_servers: Iterable[IceServerLike]) -> Response:
    """The ``201 Created`` of a WHEP or WHIP offer: the SDP answer, the session URL, the ICE
    session's ETag, trickle support (Accept-Patch) and a Link per STUN/TURN server (RFC 9725
    section 4.6)."""
    response = Response(
        answer, status_code=201, media_type="application/sdp",
        headers={"Location": location, "ETag": session_etag(pc),
                 "Accept-Patch": TRICKLE_MEDIA_TYPE},
    )
    for value in link_headers(ice_servers):
        response.headers.append("Link", value)
    return response

"""Talkback: an accepted student speaks to the room (``streaming.talkback``).

The instructor side (instructors and admins of the room):

- ``POST /api/rooms/{room}/talkback/grants`` ``{"user_id", "allow_camera"}``: grant (201, the
  grant without its token); the hand queue's "accept" calls the same service method;
- ``DELETE /api/rooms/{room}/talkback/grants/{user_id}``: revoke; the publish ends at once;
- ``GET /api/rooms/{room}/talkback``: who is granted or speaking, with a level (console meter).

The student side:

- ``GET /api/rooms/{room}/talkback/grant``: the caller's own grant, with its token and WHIP
  URL (404 when none): only the accepted user's page ever receives the token;
- ``POST /api/rooms/{room}/talkback/whip``: WHIP (RFC 9725) with ``Authorization: Bearer
  <grant token>``: the token is the credential, single-purpose and short-lived. A caller who is
  also logged in (the page's cookie) must be the user it was granted to;
- ``PATCH``/``DELETE`` on the returned session URL: trickle ICE / end the talkback (the session
  URL is the capability, ``web/session_urls.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, status
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from library.users import get_user
from streaming.talkback import Speaker, TalkbackRefused
from streaming.whep import OfferError
from web.auth import Controller, Viewer, session_principal
from web.deps import SDP_BODY, DbDep, Id, IdPath, LiveDep, read_sdp_offer, room_or_404
from web.live import LiveRooms
from web.session_urls import SessionCaller, answer_response, trickle

router = APIRouter(prefix="/api/rooms", tags=["talkback"])


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Id
    allow_camera: bool = False


class GrantOut(BaseModel):
    id: str
    room_id: str
    user_id: int
    allow_camera: bool
    expires_at: float


class SpeakerGrantOut(GrantOut):
    """The speaker's own grant: what ``startTalkback(grant)`` takes."""

    token: str
    whip_url: str


class SpeakerOut(BaseModel):
    user_id: int
    name: str  # the account's display name (or username)
    grant_id: str
    publishing: bool
    seconds: float
    level_db: float
    audio: bool
    received_seconds: float
    mix_minus_sessions: int


def _refused(exc: TalkbackRefused) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return HTTPException(exc.status, str(exc), headers=headers)


@router.post("/{room_id}/talkback/grants", status_code=201,
             summary="Let a student speak to the room (after accepting their hand)",
             responses={404: {"description": "No such room or user"},
                        409: {"description": "The room is not live, has no sound, or has "
                                             "the most speakers it takes"}})
async def grant_talkback(
    live: LiveDep, db: DbDep, room_id: str, body: GrantIn, principal: Controller
) -> GrantOut:
    room_or_404(live, room_id)
    if await asyncio.to_thread(get_user, db, body.user_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {body.user_id}")
    try:
        grant = await live.streaming.talkback.grant(room_id, body.user_id, body.allow_camera)
    except TalkbackRefused as exc:
        raise _refused(exc) from None
    return GrantOut.model_validate(grant.public())


@router.delete("/{room_id}/talkback/grants/{user_id}",
               summary="End a student's talkback (their publish closes at once)",
               responses={404: {"description": "That user has no talkback in this room"}})
async def revoke_talkback(
    live: LiveDep, room_id: str, user_id: IdPath, principal: Controller
) -> Response:
    room_or_404(live, room_id)
    if not await live.streaming.talkback.revoke(room_id, user_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"user {user_id} has no talkback in room '{room_id}'")
    return Response(status_code=200)


@router.get("/{room_id}/talkback", summary="Who is granted or speaking, with their level")
async def talkback_speakers(
    live: LiveDep, db: DbDep, room_id: str, principal: Controller
) -> list[SpeakerOut]:
    room_or_404(live, room_id)
    speakers = live.streaming.talkback.speakers(room_id)

    def names() -> dict[int, str]:
        out = {}
        for s in speakers:
            user = get_user(db, s.user_id)
            out[s.user_id] = (user.display_name or user.username) if user else f"user {s.user_id}"
        return out

    named = await asyncio.to_thread(names) if speakers else {}
    return [SpeakerOut(name=named[s.user_id], **dataclasses.asdict(s)) for s in speakers]


@router.get("/{room_id}/talkback/grant", summary="Your own talkback grant (with its token)",
            responses={404: {"description": "You have no talkback grant in this room"}})
async def my_grant(live: LiveDep, room_id: str, principal: Viewer) -> SpeakerGrantOut:
    room_or_404(live, room_id)
    grant = None
    if principal.user_id is not None:
        grant = live.streaming.talkback.grant_for(room_id, principal.user_id)
    if grant is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            "you have no talkback grant here: raise your hand and wait for the "
                            "instructor to accept it")
    return SpeakerGrantOut.model_validate(grant.for_speaker())


def _grant_token(request: Request) -> str:
    header = request.headers.get("authorization")
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 200:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "send the talkback grant's token as 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


@router.post(
    "/{room_id}/talkback/whip", status_code=201,
    summary="Publish the accepted speaker's microphone (WHIP, the grant's token as bearer)",
    openapi_extra=SDP_BODY,
    responses={
        201: {"content": {"application/sdp": {}},
              "description": "SDP answer; Location to PATCH (trickle ICE) and DELETE; ETag"},
        400: {"description": "Malformed SDP, no Opus audio, or a camera the grant does not "
                             "allow"},
        401: {"description": "No grant has this token (never, revoked, ended or expired)"},
        403: {"description": "The grant is for another room or another user"},
        409: {"description": "The grant already publishes, or the room is not live"},
        415: {"description": "Body is not application/sdp"},
    },
)
async def talkback_publish(request: Request, live: LiveDep, room_id: str) -> Response:
    room_or_404(live, room_id)
    token = _grant_token(request)
    # A logged-in page says who it is: the grant must be that user's.
    caller = session_principal(request)
    user_id = caller.user_id if caller is not None else None
    talkback = live.streaming.talkback
    try:
        talkback.check_token(room_id, token, user_id)  # refused before the body is read
        offer = await read_sdp_offer(request)
        speaker, answer = await talkback.publish(room_id, token, offer, user_id)
    except TalkbackRefused as exc:
        raise _refused(exc) from None
    except OfferError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"bad SDP offer: {exc}") from None
    return answer_response(answer, speaker.session_url, speaker.pc, live.settings.ice_servers)


def _speaker_or_404(live: LiveRooms, room_id: str, session_id: str) -> Speaker:
    speaker = live.streaming.talkback.session(room_id, session_id)
    if speaker is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no talkback session '{session_id}' here")
    return speaker


#: The session URL's last part (32 hex digits): anything longer names no session.
SessionId = Annotated[str, PathParam(max_length=64)]


@router.patch(
    "/{room_id}/talkback/whip/{session_id}", status_code=204,
    summary="Trickle ICE: add the speaker's candidates (application/trickle-ice-sdpfrag)",
    responses={412: {"description": "If-Match names another ICE session"},
               415: {"description": "Body is not application/trickle-ice-sdpfrag"},
               422: {"description": "ICE restart: not supported, DELETE and POST a new offer"}},
)
async def talkback_patch(
    request: Request, live: LiveDep, room_id: str, session_id: SessionId, caller: SessionCaller
) -> Response:
    return await trickle(request, _speaker_or_404(live, room_id, session_id).pc)


@router.delete("/{room_id}/talkback/whip/{session_id}",
               summary="The speaker ends their talkback")
async def talkback_end(
    live: LiveDep, room_id: str, session_id: SessionId, caller: SessionCaller
) -> Response:
    speaker = _speaker_or_404(live, room_id, session_id)
    await live.streaming.talkback.end_session(speaker, "ended by the speaker")
    return Response(status_code=200)

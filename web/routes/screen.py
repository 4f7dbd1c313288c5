"""The classroom screen: a shared PC in a hall, paired once, showing the room's program.

``GET /screen`` is the page. Unpaired, it shows a pairing code (the PC gets a device key in a
cookie); once an admin has entered the code, the same page is the classroom screen: the room's
program full screen while it is live, and the check-in QR code and short code, new every 30 s.
It shows no personal data: the room, the session's title, the classroom, how many are present.

The screen's own requests carry its device cookie (its credential, revocable) and, for the
unsafe ones, the page's screen token (``X-Screen-Token``); it has no log-in session.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response

from library.checkin_codes import classroom_place, window_ends
from library.checkins import PresenceCheckError, current_code, present_count
from library.classrooms import (
    SCREEN_ROLE,
    ClassroomError,
    PairedScreen,
    format_code,
    pending_screen,
    screen_of_key,
)
from library.i18n import gettext, lazy
from room_controller.room import RoomState
from streaming.broadcast import NotOnAir
from streaming.limits import JoinRefused
from streaming.turn import browser_ice_servers
from streaming.whep import CodecError, OfferError
from web.classroom_kit import (
    SCREEN_COOKIE,
    checkin_url,
    qr_data_uri,
    screen_subject,
)
from web.deps import SDP_BODY, ClassroomKitDep, DbDep, LiveDep, read_sdp_offer
from web.live import RoomNotLive
from web.session_urls import answer_response
from web.state import app_state
from web.templates import templates

router = APIRouter(tags=["classroom screen"])


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


async def screen_caller(request: Request, kit: ClassroomKitDep,
                        db: DbDep) -> tuple[str, PairedScreen]:
    """The paired screen behind this request's device cookie (its key and classroom), or 401."""
    key = kit.read(request, SCREEN_COOKIE)
    screen = None if key is None else await asyncio.to_thread(screen_of_key, db, key)
    if key is None or screen is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, lazy(
            "this browser is not a paired classroom screen: open /screen"))
    return key, screen


ScreenCaller = Annotated[tuple[str, PairedScreen], Depends(screen_caller)]


@router.get("/screen", response_class=HTMLResponse, include_in_schema=False)
async def screen_page(request: Request, kit: ClassroomKitDep, db: DbDep,
                      live: LiveDep) -> Response:
    key = kit.read(request, SCREEN_COOKIE)
    paired = None if key is None else await asyncio.to_thread(screen_of_key, db, key)
    if key is not None and paired is not None:
        room = live.rooms.get(paired.classroom.room_id)
        return templates.TemplateResponse(request, "screen.html", {
            "classroom": paired.classroom, "room_name": room.name if room else "",
            "screen_token": kit.screen_csrf(key)})
    try:
        pending = await asyncio.to_thread(pending_screen, db, key, client=_client(request))
    except ClassroomError as exc:
        if exc.status != 409:
            raise HTTPException(exc.status, exc.args[0]) from None
        pending = None  # a revoked key: this PC starts again as a new screen
    if pending is None or key is None:
        if kit.new_screens.take(_client(request)) > 0:
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, lazy(
                "too many new screens from this address; wait a minute", "too_many_new_screens"))
        try:
            pending = await asyncio.to_thread(pending_screen, db, None, client=_client(request))
        except ClassroomError as exc:
            raise HTTPException(exc.status, exc.args[0]) from None
    response = templates.TemplateResponse(request, "screen_pair.html", {
        "code": format_code(pending.code), "expires_at": pending.expires_at.isoformat()})
    if pending.key is not None:
        kit.write(response, SCREEN_COOKIE, pending.key)
    return response


@router.get("/api/screen/state", summary="What the classroom screen shows now (device cookie)")
async def screen_state(request: Request, kit: ClassroomKitDep, db: DbDep,
                       live: LiveDep) -> Response:
    key = kit.read(request, SCREEN_COOKIE)
    paired = None if key is None else await asyncio.to_thread(screen_of_key, db, key)
    if paired is None:
        return JSONResponse({"paired": False, "code": "unauthorized",
                             "detail": gettext("not a paired classroom screen")},
                            status_code=401)
    classroom = paired.classroom
    room = live.rooms.get(classroom.room_id)
    is_live = room is not None and room.state is RoomState.LIVE
    session = live.sessions.get(classroom.room_id) if is_live else None
    checkin = None
    if is_live:
        place = classroom_place(classroom.id)
        try:
            shown = await asyncio.to_thread(current_code, db, kit.codes, classroom.room_id, place)
        except PresenceCheckError:
            shown = None
        if shown is not None:
            now_count, total = await asyncio.to_thread(present_count, db, classroom.room_id, place)
            checkin = {
                "code": format_code(shown.code), "check": shown.check.seq,
                "check_kind": shown.check.kind, "changes_at": window_ends(shown.window),
                # Drawing a QR code takes ~20 ms: off the event loop (then cached).
                "qr": await asyncio.to_thread(
                    qr_data_uri, checkin_url(request, f"at={classroom.id}", shown.code)),
                "present_now": now_count, "present_session": total,
            }
    interaction = app_state(request).interactions
    hub = interaction.get(classroom.room_id) if interaction is not None and is_live else None
    questions = hub.hub.questions.on_screen() if hub is not None else []
    return JSONResponse({
        "paired": True,
        "classroom": {"name": classroom.name, "institution": classroom.institution,
                      "city": classroom.city, "timezone": classroom.timezone},
        "room": {"id": classroom.room_id, "name": room.name if room else classroom.room_id,
                 "live": is_live, "title": session.title if session else None},
        "ice_servers": browser_ice_servers(live.settings.ice_servers),
        "checkin": checkin,
        "questions": questions,
    }, headers={"Cache-Control": "no-store"})


@router.post("/api/screen/whep", status_code=201, openapi_extra=SDP_BODY,
             summary="The classroom screen joins its room's program (WHEP, device cookie)")
async def screen_whep(request: Request, caller: ScreenCaller, kit: ClassroomKitDep,
                      live: LiveDep) -> Response:
    key, screen = caller
    if not kit.screen_csrf_ok(key, request.headers.get("x-screen-token")):
        raise HTTPException(status.HTTP_403_FORBIDDEN, lazy(
            "missing or wrong screen token: reload", "screen_token_wrong"))
    room_id = screen.classroom.room_id
    offer = await read_sdp_offer(request)
    try:
        viewer, answer = await live.join(room_id, offer, subject=screen_subject(screen.screen_id),
                                         role=SCREEN_ROLE, user_id=None)
    except (RoomNotLive, NotOnAir) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except JoinRefused as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc),
                            headers={"Retry-After": str(exc.retry_after)}) from None
    except (CodecError, OfferError, LookupError) as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST,
                            lazy("bad SDP offer: %(problem)s", "bad_sdp_offer", problem=str(exc))
                            ) from None
    return answer_response(answer, f"/api/rooms/{room_id}/whep/{viewer.id}", viewer.pc,
                           live.settings.ice_servers)

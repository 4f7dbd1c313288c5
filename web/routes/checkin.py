"""Checking in from a phone: the page the QR code opens, and the answer it sends.

The person is logged in to their own MedRoom account on their own phone. The phone carries a
device cookie of its own (``medroom_phone``): one phone checks in one account per session.
Every attempt, accepted or refused, goes to the access log; refused ones count towards the
check-in limits (``library.checkin_throttle``).
"""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from library.checkin_codes import classroom_place, room_place
from library.checkin_throttle import CheckInThrottled
from library.checkins import Accepted, CheckInRefused, check_in
from library.classrooms import get_classroom
from library.cme import audit
from library.i18n import gettext, lazy, shown
from web.auth import Viewer, audit_actor, csrf_token, session_principal
from web.classroom_kit import PHONE_COOKIE
from web.deps import MAX_ID, ClassroomKitDep, DbDep, Id, LiveDep
from web.templates import templates
from web.throttle_text import checkin_throttled

router = APIRouter(tags=["check-in"])


class CheckInIn(BaseModel):
    code: str = Field(min_length=1, max_length=40, description="As on the screen, e.g. K7QM-4PX2")
    at: Id | None = Field(None, description="The classroom whose QR code was scanned")
    room: str | None = Field(None, max_length=64, description="The operating room's own code")


class CheckInOut(BaseModel):
    place: str
    check: int
    at: str
    message: str


def _expected(body: CheckInIn) -> str | None:
    if body.at is not None:
        return classroom_place(body.at)
    if body.room:
        return room_place(body.room)
    return None


@router.post("/api/checkin", response_model=CheckInOut, summary="Check in where the code is shown",
             responses={404: {"description": "Not a code of a live session"},
                        409: {"description": "Already checked in, another classroom, or a "
                              "phone that checked in another account"},
                        410: {"description": "The code expired (older than the last 30 s)"},
                        429: {"description": "Too many refused check-ins; Retry-After"}})
async def checkin(body: CheckInIn, request: Request, db: DbDep, kit: ClassroomKitDep,
                  principal: Viewer) -> Response:
    if principal.user_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, lazy(
            "check in with your own account (log in on your phone)", "checkin_needs_account"))
    actor = audit_actor(request, principal)
    try:
        attempt = kit.throttle.begin(str(principal.user_id), actor.client)
    except CheckInThrottled as exc:
        return JSONResponse({"detail": checkin_throttled(exc), "code": "checkin_throttled",
                             "reason": "throttled"}, status_code=429,
                            headers={"Retry-After": str(exc.retry_after)})
    device, new_device = kit.phone_key(request)
    try:
        accepted: Accepted = await asyncio.to_thread(
            lambda: check_in(db, kit.codes, body.code, user_id=int(principal.user_id or 0),
                             device=device, client=actor.client, expected_place=_expected(body),
                             actor=actor))
    except CheckInRefused as exc:
        await asyncio.to_thread(
            audit.record, db, actor, audit.Action.CHECK_IN_REFUSED,
            target=audit.Target.CLASSROOM, target_id=body.at or body.room or "-",
            detail={"reason": exc.reason, "code": body.code[:12]})
        response: Response = JSONResponse(
            {"detail": shown(exc.message), "code": getattr(exc.message, "code", None)
             or "checkin_refused", "reason": exc.reason}, status_code=exc.status)
    else:
        kit.throttle.succeeded(attempt)  # its access log line went in with the check-in
        response = JSONResponse(CheckInOut(
            place=shown(accepted.place_label), check=accepted.check_seq, at=accepted.at.isoformat(),
            message=gettext("You are checked in at %(place)s.",
                            place=shown(accepted.place_label))).model_dump())
    if new_device:
        kit.write(response, PHONE_COOKIE, device)
    return response


@router.get("/checkin", response_class=HTMLResponse, include_in_schema=False)
async def checkin_page(
    request: Request, db: DbDep, kit: ClassroomKitDep, live: LiveDep,
    at: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    room: Annotated[str | None, Query(max_length=64)] = None,
    code: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    user = session_principal(request)
    if user is None:
        # The QR code's link carries the classroom and the code: keep them through the log-in
        # (the app's generic redirect keeps only the path).
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?next=" + quote(wanted, safe=""), status_code=303)
    place = ""
    if at is not None:
        classroom = await asyncio.to_thread(get_classroom, db, at)
        place = f"{classroom.name}, {classroom.city}" if classroom else ""
    elif room is not None and room in live.rooms:
        place = gettext("%(room)s (operating room)", room=live.rooms[room].name)
    response = templates.TemplateResponse(request, "checkin.html", {
        "user": user, "csrf": csrf_token(request), "place": place,
        "at": at if place and at is not None else "", "room": room if place and at is None else "",
        "code": "".join(ch for ch in (code or "") if ch.isalnum())[:12]})
    device, new_device = kit.phone_key(request)
    if new_device:
        kit.write(response, PHONE_COOKIE, device)
    return response

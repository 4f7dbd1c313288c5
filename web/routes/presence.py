"""Presence in the room's live session, for its console: the operating room's own check-in code,
the classrooms following the room with how many are checked in, and a button that opens a new
presence check everywhere at once."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from library.checkin_codes import classroom_place, room_place, window_ends
from library.checkins import PresenceCheckError, current_code, open_check, present_count
from library.classrooms import classrooms_of_room, format_code, screens_of
from library.cme import audit
from library.random_checks import (
    MAX_MINUTES,
    MIN_MINUTES,
    Limits,
    RandomChecksError,
    limits_of,
    set_limits,
)
from web.auth import Controller, audit_actor
from web.classroom_kit import checkin_url, qr_data_uri, screen_subject
from web.deps import (
    ClassroomKitDep,
    DbDep,
    LiveDep,
    OrganiserOf,
    log_programme_action,
    room_or_404,
)

router = APIRouter(tags=["presence"])


class ClassroomPresenceOut(BaseModel):
    id: int
    name: str
    institution: str
    city: str
    screens_connected: int
    present_now: int
    present_session: int


class PresenceOut(BaseModel):
    live: bool
    check: int | None = None
    check_kind: str | None = None
    check_opened_at: str | None = None
    code: str | None = None  # the operating room's own
    qr: str | None = None
    changes_at: float | None = None
    present_now: int = 0  # in the operating room
    present_session: int = 0
    classrooms: list[ClassroomPresenceOut] = []


@router.get("/api/rooms/{room_id}/presence", response_model=PresenceOut,
            summary="The room's check-in code and who is checked in where")
async def presence(room_id: str, request: Request, db: DbDep, live: LiveDep,
                   kit: ClassroomKitDep, principal: Controller) -> PresenceOut:
    room_or_404(live, room_id)
    place = room_place(room_id)
    try:
        shown = await asyncio.to_thread(current_code, db, kit.codes, room_id, place)
    except PresenceCheckError:
        shown = None
    connected: dict[str, int] = {}
    for viewer in live.streaming.viewers.in_room(room_id):
        connected[viewer.subject] = connected.get(viewer.subject, 0) + 1
    classrooms = []
    for c in await asyncio.to_thread(classrooms_of_room, db, room_id):
        now_count, total = await asyncio.to_thread(
            present_count, db, room_id, classroom_place(c.id))
        screens = await asyncio.to_thread(screens_of, db, c.id)
        classrooms.append(ClassroomPresenceOut(
            id=c.id, name=c.name, institution=c.institution, city=c.city,
            screens_connected=sum(connected.get(screen_subject(s.id), 0) for s in screens
                                  if s.revoked_at is None),
            present_now=now_count, present_session=total))
    if shown is None:
        return PresenceOut(live=False, classrooms=classrooms)
    now_count, total = await asyncio.to_thread(present_count, db, room_id, place)
    url = checkin_url(request, f"room={room_id}", shown.code)
    return PresenceOut(
        live=True, check=shown.check.seq, check_kind=shown.check.kind,
        check_opened_at=shown.check.opened_at.isoformat(), code=format_code(shown.code),
        qr=await asyncio.to_thread(qr_data_uri, url), changes_at=window_ends(shown.window), present_now=now_count,
        present_session=total, classrooms=classrooms)


@router.post("/api/rooms/{room_id}/presence-checks", status_code=201,
             summary="Open a new presence check: every screen shows new codes",
             responses={409: {"description": "Not live, or the last check is under a minute old"}})
async def new_check(room_id: str, request: Request, db: DbDep, live: LiveDep,
                    principal: Controller) -> dict[str, object]:
    room_or_404(live, room_id)
    try:
        check = await asyncio.to_thread(open_check, db, room_id, "instructor", principal.user_id)
    except PresenceCheckError as exc:
        raise HTTPException(exc.status, exc.args[0]) from None  # in the caller's language
    await asyncio.to_thread(
        audit.record, db, audit_actor(request, principal), audit.Action.PRESENCE_CHECK,
        target=audit.Target.LIVE_SESSION, target_id=check.live_session_id,
        detail={"check": check.seq, "room": room_id})
    return {"check": check.seq, "opened_at": check.opened_at.isoformat()}


class RandomChecksIn(BaseModel):
    min_minutes: int = Field(ge=MIN_MINUTES, le=MAX_MINUTES,
                             description="the least time between two presence checks")
    max_minutes: int = Field(ge=MIN_MINUTES, le=MAX_MINUTES,
                             description="the most time between two presence checks")


class RandomChecksOut(BaseModel):
    enabled: bool
    min_minutes: int | None = None
    max_minutes: int | None = None


@router.get("/api/cme/programmes/{programme_id}/random-checks", response_model=RandomChecksOut,
            summary="The limits of the programme's random presence checks")
async def random_checks(db: DbDep, organising: OrganiserOf) -> RandomChecksOut:
    limits = await asyncio.to_thread(limits_of, db, organising.info.id)
    if limits is None:
        return RandomChecksOut(enabled=False)
    return RandomChecksOut(enabled=True, min_minutes=limits.min_minutes,
                           max_minutes=limits.max_minutes)


@router.put("/api/cme/programmes/{programme_id}/random-checks", response_model=RandomChecksOut,
            summary="Presence checks at random moments during the programme's live sessions")
async def set_random_checks(body: RandomChecksIn, request: Request, db: DbDep,
                            organising: OrganiserOf) -> RandomChecksOut:
    try:
        await asyncio.to_thread(set_limits, db, organising.info.id,
                                Limits(body.min_minutes, body.max_minutes))
    except RandomChecksError as exc:
        raise HTTPException(422, exc.args[0]) from None
    await log_programme_action(db, audit_actor(request, organising.principal),
                               audit.Action.PROGRAMME_EDIT, organising.info,
                               random_checks=[body.min_minutes, body.max_minutes])
    return RandomChecksOut(enabled=True, min_minutes=body.min_minutes,
                           max_minutes=body.max_minutes)


@router.delete("/api/cme/programmes/{programme_id}/random-checks", response_model=RandomChecksOut,
               summary="No random presence checks (the instructor's button still works)")
async def no_random_checks(request: Request, db: DbDep,
                           organising: OrganiserOf) -> RandomChecksOut:
    await asyncio.to_thread(set_limits, db, organising.info.id, None)
    await log_programme_action(db, audit_actor(request, organising.principal),
                               audit.Action.PROGRAMME_EDIT, organising.info, random_checks=None)
    return RandomChecksOut(enabled=False)

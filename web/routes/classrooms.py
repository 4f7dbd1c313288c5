"""Classrooms, for admins: register one, pair a screen by the code it shows, unpair a screen.

Unpairing ends the screen at once: its key is refused from the next request on, and its video
(WHEP sessions) is closed here, so a stolen PC shows nothing more.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from library.classrooms import (
    ClassroomError,
    ClassroomInfo,
    create_classroom,
    get_classroom,
    list_classrooms,
    pair_screen,
    revoke_screen,
    screens_of,
    update_classroom,
)
from library.cme import audit
from library.i18n import lazy
from library.users import Role
from web.auth import Principal, audit_actor, csrf_token, page_user, require_roles
from web.classroom_kit import screen_subject
from web.deps import DbDep, IdPath, LiveDep
from web.templates import templates

router = APIRouter(tags=["classrooms"])
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


class ClassroomIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    institution: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    timezone: str = Field(min_length=1, max_length=64, examples=["Europe/Sofia"])
    room_id: str = Field(min_length=1, max_length=64, description="The training room it shows")


class ClassroomOut(BaseModel):
    id: int
    name: str
    institution: str
    city: str
    timezone: str
    room_id: str
    screens: int


class ClassroomPatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    institution: str | None = Field(None, min_length=1, max_length=200)
    city: str | None = Field(None, min_length=1, max_length=100)
    timezone: str | None = Field(None, min_length=1, max_length=64)
    room_id: str | None = Field(None, min_length=1, max_length=64)


class PairIn(BaseModel):
    code: str = Field(min_length=1, max_length=40, description="As the screen shows it")


class ScreenOut(BaseModel):
    id: int
    paired_at: datetime | None
    last_seen_at: datetime | None
    revoked_at: datetime | None
    connected: bool


def _out(info: ClassroomInfo) -> ClassroomOut:
    return ClassroomOut(id=info.id, name=info.name, institution=info.institution, city=info.city,
                        timezone=info.timezone, room_id=info.room_id, screens=info.screens)


def _refuse(exc: ClassroomError) -> HTTPException:
    return HTTPException(exc.status, exc.args[0])  # a LazyText: in the caller's language


@router.get("/api/classrooms", response_model=list[ClassroomOut], summary="Every classroom")
async def classrooms(db: DbDep, principal: Admin) -> list[ClassroomOut]:
    return [_out(c) for c in await asyncio.to_thread(list_classrooms, db)]


@router.post("/api/classrooms", status_code=201, response_model=ClassroomOut,
             summary="Register a classroom that watches a training room")
async def register(body: ClassroomIn, db: DbDep, live: LiveDep, principal: Admin) -> ClassroomOut:
    try:
        info = await asyncio.to_thread(
            lambda: create_classroom(db, name=body.name, institution=body.institution,
                                     city=body.city, timezone=body.timezone, room_id=body.room_id,
                                     room_ids=set(live.rooms), created_by=principal.user_id))
    except ClassroomError as exc:
        raise _refuse(exc) from None
    return _out(info)


@router.patch("/api/classrooms/{classroom_id}", response_model=ClassroomOut,
              summary="Rename a classroom, or let it follow another room")
async def edit(classroom_id: IdPath, body: ClassroomPatch, db: DbDep, live: LiveDep,
               principal: Admin) -> ClassroomOut:
    try:
        info = await asyncio.to_thread(
            lambda: update_classroom(db, classroom_id, room_ids=set(live.rooms),
                                     **body.model_dump(exclude_none=True)))
    except ClassroomError as exc:
        raise _refuse(exc) from None
    return _out(info)


async def _classroom_or_404(db: DbDep, classroom_id: int) -> ClassroomInfo:
    info = await asyncio.to_thread(get_classroom, db, classroom_id)
    if info is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            lazy("no classroom %(id)s", "classroom_not_found", id=classroom_id))
    return info


@router.get("/api/classrooms/{classroom_id}/screens", response_model=list[ScreenOut],
            summary="The classroom's screens, paired and unpaired")
async def screens(classroom_id: IdPath, db: DbDep, live: LiveDep,
                  principal: Admin) -> list[ScreenOut]:
    await _classroom_or_404(db, classroom_id)
    connected = {v.subject for v in live.streaming.viewers.all()}
    return [ScreenOut(id=s.id, paired_at=s.paired_at, last_seen_at=s.last_seen_at,
                      revoked_at=s.revoked_at, connected=screen_subject(s.id) in connected)
            for s in await asyncio.to_thread(screens_of, db, classroom_id)]


@router.post("/api/classrooms/{classroom_id}/screens", status_code=201, response_model=ScreenOut,
             summary="Pair the screen that shows this code with the classroom",
             responses={404: {"description": "No screen shows this code (used, or mistyped)"},
                        410: {"description": "The code expired: reload the screen"}})
async def pair(classroom_id: IdPath, body: PairIn, request: Request, db: DbDep,
               principal: Admin) -> ScreenOut:
    info = await _classroom_or_404(db, classroom_id)
    try:
        screen = await asyncio.to_thread(pair_screen, db, classroom_id, body.code,
                                         by=principal.user_id)
    except ClassroomError as exc:
        raise _refuse(exc) from None
    await asyncio.to_thread(
        audit.record, db, audit_actor(request, principal), audit.Action.SCREEN_PAIR,
        target=audit.Target.CLASSROOM, target_id=classroom_id,
        detail={"screen": screen.id, "classroom": info.name, "city": info.city})
    return ScreenOut(id=screen.id, paired_at=screen.paired_at, last_seen_at=screen.last_seen_at,
                     revoked_at=None, connected=False)


@router.delete("/api/classrooms/{classroom_id}/screens/{screen_id}",
               summary="Unpair a screen: it stops at once (its video is closed)")
async def unpair(classroom_id: IdPath, screen_id: IdPath, request: Request, db: DbDep,
                 live: LiveDep, principal: Admin) -> dict[str, int]:
    await _classroom_or_404(db, classroom_id)
    try:
        await asyncio.to_thread(revoke_screen, db, classroom_id, screen_id, by=principal.user_id)
    except ClassroomError as exc:
        raise _refuse(exc) from None
    closed = 0
    for viewer in list(live.streaming.viewers.all()):
        if viewer.subject == screen_subject(screen_id):
            closed += int(await live.streaming.viewers.leave(viewer.id, reason="screen unpaired"))
    await asyncio.to_thread(
        audit.record, db, audit_actor(request, principal), audit.Action.SCREEN_UNPAIR,
        target=audit.Target.CLASSROOM, target_id=classroom_id,
        detail={"screen": screen_id, "video_sessions_closed": closed})
    return {"closed_video_sessions": closed}


@router.get("/classrooms", response_class=HTMLResponse, include_in_schema=False)
async def classrooms_page(request: Request, db: DbDep, live: LiveDep) -> Response:
    user = page_user(request)
    if user.role is not Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            lazy("only admins manage classrooms", "admins_only"))
    rooms = [(room.id, room.name) for room in live.rooms.values()]
    return templates.TemplateResponse(request, "classrooms.html", {
        "user": user, "csrf": csrf_token(request), "can_control": True, "rooms": rooms})

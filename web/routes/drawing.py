"""Who may draw over a room's live program besides its instructors (``streaming.overlay``).

The hand queue calls ``Overlay.allow`` / ``revoke`` when the instructor accepts a raised hand
and when the word is taken back; these routes let the console (and tests) do the same by hand.
Instructors of the room only; the right ends with the live session.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from web.auth import Controller
from web.deps import IdPath, LiveDep, room_or_404

router = APIRouter(prefix="/api/rooms/{room_id}/drawers", tags=["drawing"])


class DrawerIn(BaseModel):
    colour: Annotated[str | None, Field(
        pattern=r"^#[0-9a-fA-F]{6}$",
        description="#rrggbb; default: the next speaker colour no one in the room has")] = None


class DrawerOut(BaseModel):
    user_id: int
    colour: str


@router.get("", summary="Students who may draw over the live program now")
async def list_drawers(live: LiveDep, room_id: str, principal: Controller) -> list[DrawerOut]:
    room_or_404(live, room_id)
    drawers = live.streaming.overlay.drawers(room_id)
    return [DrawerOut(user_id=u, colour=c) for u, c in sorted(drawers.items())]


@router.put("/{user_id}", summary="Let a student draw over the live program in a colour")
async def allow_drawer(
    live: LiveDep, room_id: str, user_id: IdPath, principal: Controller,
    body: DrawerIn | None = None,
) -> DrawerOut:
    room_or_404(live, room_id)
    if room_id not in live.sessions:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"room '{room_id}' is not live: the right to draw is for a live session")
    colour = live.streaming.overlay.allow(room_id, user_id, body.colour if body else None)
    return DrawerOut(user_id=user_id, colour=colour)


@router.delete("/{user_id}", status_code=204, summary="Take back a student's right to draw")
async def revoke_drawer(
    live: LiveDep, room_id: str, user_id: IdPath, principal: Controller
) -> Response:
    room_or_404(live, room_id)
    if not live.streaming.overlay.revoke(room_id, user_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"user {user_id} may not draw in room '{room_id}' now")
    return Response(status_code=204)

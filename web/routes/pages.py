"""The pages: room list, instructor console, student view."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from web.auth import CONTROL_ROLES, Principal, controls_room, csrf_token, page_user
from web.deps import LiveDep, room_or_404
from web.templates import templates

router = APIRouter(include_in_schema=False)


def _context(request: Request, user: Principal, room_id: str | None = None,
             **extra: object) -> dict[str, object]:
    # In a room: whether this user runs *this* room; on the room list: runs rooms at all.
    can_control = (user.role in CONTROL_ROLES if room_id is None
                   else controls_room(request, user, room_id))
    return {"user": user, "csrf": csrf_token(request), "can_control": can_control, **extra}


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, live: LiveDep) -> Response:
    user = page_user(request)
    return templates.TemplateResponse(
        request, "rooms.html", _context(request, user, rooms=list(live.rooms.values()))
    )



@router.get("/rooms/{room_id}/console", response_class=HTMLResponse)
async def console(request: Request, live: LiveDep, room_id: str) -> Response:
    user = page_user(request)
    room = room_or_404(live, room_id)
    if not controls_room(request, user, room_id):  # not one of this room's: it can be watched
        return RedirectResponse(f"/rooms/{room_id}/watch", status_code=303)
    return templates.TemplateResponse(request, "console.html",
                                      _context(request, user, room_id, room=room))


@router.get("/rooms/{room_id}/watch", response_class=HTMLResponse)
async def watch(request: Request, live: LiveDep, room_id: str) -> Response:
    user = page_user(request)
    room = room_or_404(live, room_id)
    return templates.TemplateResponse(request, "watch.html",
                                      _context(request, user, room_id, room=room))

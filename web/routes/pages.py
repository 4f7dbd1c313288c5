"""The pages: room list, instructor console, student view."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from web.auth import CONTROL_ROLES, Principal, csrf_token, page_user
from web.deps import LiveDep, room_or_404
from web.templates import templates

router = APIRouter(include_in_schema=False)


def _context(request: Request, user: Principal, **extra: object) -> dict[str, object]:
    return {"user": user, "csrf": csrf_token(request),
            "can_control": user.role in CONTROL_ROLES, **extra}


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
    if user.role not in CONTROL_ROLES:
        return RedirectResponse(f"/rooms/{room_id}/watch", status_code=303)
    return templates.TemplateResponse(request, "console.html", _context(request, user, room=room))


@router.get("/rooms/{room_id}/watch", response_class=HTMLResponse)
async def watch(request: Request, live: LiveDep, room_id: str) -> Response:
    user = page_user(request)
    room = room_or_404(live, room_id)
    return templates.TemplateResponse(request, "watch.html", _context(request, user, room=room))

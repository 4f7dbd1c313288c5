"""Curation pages: the recordings and lessons list (``/library/curate``) and the lesson editor
(``/library/lessons/{id}/edit``). The pages are shells; ``curate.js`` drives them through the
library API, so what a curator can do in the page is exactly what the API allows."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response

from library.i18n import lazy
from library.users import Role
from web.auth import Principal, csrf_token, page_user
from web.deps import IdPath
from web.templates import templates

router = APIRouter(include_in_schema=False)
STAFF_ROLES = (Role.ADMIN, Role.CURATOR, Role.INSTRUCTOR)


def _staff(request: Request) -> Principal:
    user = page_user(request)
    if user.role not in STAFF_ROLES:
        raise HTTPException(status.HTTP_403_FORBIDDEN, lazy(
            "curation is for curators, instructors and admins", "not_staff"))
    return user


def _context(request: Request, user: Principal, **extra: object) -> dict[str, object]:
    return {"user": user, "csrf": csrf_token(request),
            "is_curator": user.role in (Role.ADMIN, Role.CURATOR), **extra}


@router.get("/library/curate", response_class=HTMLResponse)
async def curate(request: Request) -> Response:
    user = _staff(request)
    return templates.TemplateResponse(request, "curate.html", _context(request, user))


@router.get("/library/lessons/{lesson_id}/edit", response_class=HTMLResponse)
async def lesson_editor(request: Request, lesson_id: IdPath) -> Response:
    user = _staff(request)
    return templates.TemplateResponse(request, "lesson_edit.html",
                                      _context(request, user, lesson_id=lesson_id))

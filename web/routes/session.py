"""Logging in and out of the pages (cookie session, CSRF-protected forms)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from library.users import authenticate
from web.auth import check_csrf, csrf_token
from web.templates import templates

router = APIRouter(tags=["session"])


def _safe_next(next_url: str | None) -> str:
    # Only local paths: a login link must never send someone to another site.
    if next_url and next_url.startswith("/") and not next_url.startswith("//"):
        return next_url
    return "/"


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page(request: Request, next: str | None = None) -> Response:
    return templates.TemplateResponse(
        request, "login.html", {"csrf": csrf_token(request), "next": _safe_next(next), "error": None}
    )


@router.post("/login", include_in_schema=False)
async def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    check_csrf(request, csrf)
    user = authenticate(request.app.state.medroom.db, username, password)
    if user is None:
        return templates.TemplateResponse(
            request,
            "login.html",
            {"csrf": csrf_token(request), "next": _safe_next(next),
             "error": "Wrong user name or password.", "username": username},
            status_code=401,
        )
    request.session.clear()  # a fresh session on login: no fixation
    request.session["uid"] = user.id
    csrf_token(request)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, csrf: Annotated[str, Form()]) -> Response:
    check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)

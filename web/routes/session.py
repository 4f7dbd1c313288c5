"""Logging in and out of the pages (server-side sessions, CSRF-protected forms).

Logging in starts a session (``library/web_sessions.py``) and sends its key in a fresh cookie;
logging out ends that session; "sign out everywhere" ends every session of the account and
revokes its bearer tokens.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from library.cme import audit
from library.i18n import gettext
from library.login_throttle import LoginThrottle, LoginThrottled
from library.users import authenticate, sign_out_everywhere
from library.web_sessions import EndReason, end_session, start_session
from web.auth import audit_actor, check_csrf, csrf_token, session_principal
from web.deps import DbDep, SettingsDep, local_path
from web.session_cookie import cookie_session
from web.state import app_state
from web.templates import templates
from web.throttle_text import login_throttled

router = APIRouter(tags=["session"])
logger = logging.getLogger(__name__)



@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page(request: Request, next: str | None = None) -> Response:
    return templates.TemplateResponse(
        request, "login.html", {"csrf": csrf_token(request), "next": local_path(next), "error": None}
    )


@router.post("/login", include_in_schema=False)
async def login(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    check_csrf(request, csrf)
    # The client address as uvicorn gives it: behind a reverse proxy, the one it forwarded.
    address = request.client.host if request.client else "unknown"
    try:
        attempt = _throttle(request).begin(username, address)
    except LoginThrottled as exc:
        logger.warning("log-in refused (%s throttled): account %r from %s, retry in %d s",
                       exc.scope, username[:100], address, exc.retry_after)
        return _login_error(request, username, next, login_throttled(exc), 429,
                            {"Retry-After": str(exc.retry_after)})
    # argon2 takes tens of milliseconds: off the event loop.
    user = await asyncio.to_thread(authenticate, db, username, password)
    if user is None:
        return _login_error(request, username, next, gettext("Wrong user name or password."),
                            401, {})
    _throttle(request).succeeded(attempt)
    key = await asyncio.to_thread(start_session, db, user.id, settings.token_ttl_seconds)
    cookie_session(request).begin(key)  # a fresh cookie on login: no fixation
    # The CME audit report compares attendance with logins (art. 12 alin. (2) lit. a).
    await asyncio.to_thread(
        audit.record, db, _actor(request, user.username, user.role.value, user.id),
        audit.Action.LOGIN, target=audit.Target.ACCOUNT, target_id=user.id,
    )
    return RedirectResponse(local_path(next), status_code=303)


def _throttle(request: Request) -> LoginThrottle:
    return app_state(request).login_throttle


def _login_error(request: Request, username: str, next_url: str, error: str, code: int,
                 headers: dict[str, str]) -> Response:
    return templates.TemplateResponse(
        request, "login.html", {"csrf": csrf_token(request), "next": local_path(next_url),
                                "error": error, "username": username},
        status_code=code, headers=headers,
    )


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, db: DbDep, csrf: Annotated[str, Form()],
                 everywhere: Annotated[bool, Form()] = False) -> Response:
    """End this session; with ``everywhere``, every session and token of the account."""
    check_csrf(request, csrf)
    principal = session_principal(request)
    record = cookie_session(request).record
    if principal is not None and record is not None:
        if everywhere:
            ended = await asyncio.to_thread(sign_out_everywhere, db, record.user_id)
            logger.info("%s signed out everywhere (%d sessions ended, tokens revoked)",
                        record.username, ended)
        else:
            await asyncio.to_thread(end_session, db, record.id, EndReason.LOGOUT)
        await asyncio.to_thread(
            audit.record, db, audit_actor(request, principal),
            audit.Action.LOGOUT, target=audit.Target.ACCOUNT, target_id=record.user_id,
        )
    cookie_session(request).clear()
    return RedirectResponse("/login", status_code=303)


def _actor(request: Request, subject: str, role: str, user_id: int) -> audit.Actor:
    return audit.Actor(subject, role, user_id, request.client.host if request.client else "")

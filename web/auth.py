"""Who is asking: bearer tokens for the API and WHEP, cookie sessions with CSRF for pages.

Tokens are signed (HMAC, itsdangerous) and carry subject, role, room scope and expiry, so a
script or a WHEP player needs no database lookup and no cookie. A page that is logged in with a
session cookie may call the API too, but every unsafe method must then carry the session's CSRF
token in ``X-CSRF-Token`` (a form field for the login and logout forms).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, WebSocket, status
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import HTTPConnection

from library.cme.audit import Actor
from library.users import Role, get_user
from web.state import app_state

TOKEN_SALT = "medroom.api-token.v1"
CONTROL_ROLES = (Role.ADMIN, Role.INSTRUCTOR)
VIEW_ROLES = (Role.ADMIN, Role.INSTRUCTOR, Role.CURATOR, Role.STUDENT)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class TokenError(Exception):
    pass


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    subject: str
    role: Role
    user_id: int | None
    room: str  # the room the credential is good for, "*" for every room
    via: str  # "token" or "session"
    display_name: str = ""

    def may_use_room(self, room_id: str) -> bool:
        return self.room in ("*", room_id)


class TokenSigner:
    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=TOKEN_SALT)

    def issue(
        self, *, subject: str, role: Role, room: str, ttl_seconds: int, user_id: int | None = None
    ) -> str:
        payload = {"sub": subject, "role": role.value, "room": room, "uid": user_id,
                   "ttl": ttl_seconds}
        return str(self._serializer.dumps(payload))

    def verify(self, token: str) -> Principal:
        try:
            payload, issued = self._serializer.loads(token, return_timestamp=True)
            age = (datetime.now(UTC) - issued).total_seconds()
            if age > int(payload["ttl"]):
                raise TokenError("token expired: ask for a new one")
            return Principal(
                subject=str(payload["sub"]),
                role=Role(payload["role"]),
                user_id=payload.get("uid"),
                room=str(payload["room"]),
                via="token",
                display_name=str(payload["sub"]),
            )
        except BadSignature:
            raise TokenError("token is not valid") from None
        except (KeyError, ValueError, TypeError):
            raise TokenError("token is not valid") from None


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def check_csrf(request: Request, supplied: str | None) -> None:
    expected = request.session.get("csrf")
    if not expected or not supplied or not hmac.compare_digest(str(expected), supplied):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token: reload the page")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


def session_principal(request: HTTPConnection) -> Principal | None:
    user_id = request.session.get("uid")
    if user_id is None:
        return None
    user = get_user(app_state(request).db, int(user_id))
    if user is None or not user.is_active:
        request.session.clear()
        return None
    return Principal(
        subject=user.username, role=user.role, user_id=user.id, room="*", via="session",
        display_name=user.display_name,
    )


def page_user(request: Request) -> Principal:
    """The logged-in person of a page request; 401 (the app redirects to the login page)."""
    principal = session_principal(request)
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "log in first")
    return principal


async def get_principal(request: Request) -> Principal:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("Authorization must be 'Bearer <token>'")
        try:
            return app_state(request).tokens.verify(token.strip())
        except TokenError as exc:
            raise _unauthorized(str(exc)) from None
    principal = session_principal(request)
    if principal is None:
        raise _unauthorized("log in, or send 'Authorization: Bearer <token>'")
    if request.method not in SAFE_METHODS:
        check_csrf(request, request.headers.get("x-csrf-token"))
    return principal


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    allowed = ", ".join(r.value for r in roles)

    async def dependency(
        principal: Annotated[Principal, Depends(get_principal)], request: Request
    ) -> Principal:
        if principal.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role '{principal.role.value}' may not do this (needs: {allowed})",
            )
        room_id = request.path_params.get("room_id")
        rooms = app_state(request).live.rooms
        if room_id is not None and room_id not in rooms:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"no room '{room_id}' (rooms: {', '.join(rooms)})"
            )
        if room_id is not None and not principal.may_use_room(str(room_id)):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this token is not valid for room '{room_id}'"
            )
        return principal

    return dependency


class SocketRefused(Exception):
    """A websocket that may not connect: closed with `code` (4401 who are you, 4403 not you,
    4404 no such room) and `reason`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def socket_controller(websocket: WebSocket, room_id: str, token: str | None) -> Principal:
    """The instructor or admin behind a room's websocket: a ``?token=`` bearer token, or the
    session cookie of a logged-in page (then only from this server's own pages: a websocket is
    not bound by CORS, so another site's page must not ride on the cookie)."""
    if token is not None:
        try:
            principal = app_state(websocket).tokens.verify(token)
        except TokenError as exc:
            raise SocketRefused(4401, str(exc)) from None
    else:
        session = session_principal(websocket)
        if session is None:
            raise SocketRefused(4401, "log in, or connect with ?token=<bearer token>")
        origin = websocket.headers.get("origin")
        if origin and urlsplit(origin).netloc != websocket.headers.get("host"):
            raise SocketRefused(4403, f"cross-site websocket from {origin} refused")
        principal = session
    if principal.role not in CONTROL_ROLES:
        raise SocketRefused(
            4403, f"role '{principal.role.value}' may not watch the console (needs: admin, instructor)"
        )
    if room_id not in app_state(websocket).live.rooms:
        raise SocketRefused(4404, f"no room '{room_id}'")
    if not principal.may_use_room(room_id):
        raise SocketRefused(4403, f"this token is not valid for room '{room_id}'")
    return principal


Viewer = Annotated[Principal, Depends(require_roles(*VIEW_ROLES))]
Controller = Annotated[Principal, Depends(require_roles(*CONTROL_ROLES))]


def audit_actor(request: Request, principal: Principal) -> Actor:
    """The access log's view of who is asking (art. 12 alin. (2) lit. a)."""
    client = request.client.host if request.client else ""
    return Actor(principal.subject, principal.role.value, principal.user_id, client)

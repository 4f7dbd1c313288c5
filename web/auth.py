"""Who is asking: bearer tokens for the API and WHEP, cookie sessions with CSRF for pages.

Tokens are signed (HMAC, itsdangerous) and carry subject, role, room scope and an absolute
expiry, so a script or a WHEP player needs no cookie. A token issued for an account also carries
the account's token generation; a password change, disabling the account or "sign out
everywhere" bumps it and every earlier token is refused (one indexed look-up, off the event
loop). A token asked for with a token keeps its parent's expiry, so no token renews itself. A
token for one room (not ``*``) reaches only that room's routes (``/api/rooms/{room}/...``).

A page that is logged in with a session cookie (``web/session_cookie.py``: a signed random
key, the session itself in the database) may call the API too, but every unsafe method must
then carry the session's CSRF token in ``X-CSRF-Token`` (a form field for the login and logout
forms).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, WebSocket, status
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import HTTPConnection

from library.cme.audit import Actor
from library.i18n import LazyText, lazy
from library.users import Role, token_generation
from web.session_cookie import cookie_session
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
    generation: int = 0  # the account's token generation the credential was issued under
    expires_at: float | None = None  # Unix time; a token asked for with this one ends by then

    def may_use_room(self, room_id: str) -> bool:
        return self.room in ("*", room_id)


def token_expiry(ttl_seconds: int, not_after: float | None = None) -> float:
    """When a token issued now for ``ttl_seconds`` ends: never after ``not_after``."""
    expires = time.time() + ttl_seconds
    return expires if not_after is None else min(expires, not_after)


class TokenSigner:
    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=TOKEN_SALT)

    def issue(
        self, *, subject: str, role: Role, room: str, ttl_seconds: int, user_id: int | None = None,
        generation: int = 0, not_after: float | None = None,
    ) -> str:
        payload = {"sub": subject, "role": role.value, "room": room, "uid": user_id,
                   "gen": generation, "exp": token_expiry(ttl_seconds, not_after)}
        return str(self._serializer.dumps(payload))

    def verify(self, token: str) -> Principal:
        """The token's principal if the signature holds and it has not expired (the account's
        generation is checked by ``verify_token``)."""
        try:
            payload, issued = self._serializer.loads(token, return_timestamp=True)
            # Tokens issued before absolute expiries carried a lifetime instead.
            expires = float(payload["exp"]) if "exp" in payload else (
                issued.timestamp() + int(payload["ttl"]))
            if time.time() > expires:
                raise TokenError(lazy("token expired: ask for a new one"))
            return Principal(
                subject=str(payload["sub"]),
                role=Role(payload["role"]),
                user_id=payload.get("uid"),
                room=str(payload["room"]),
                via="token",
                display_name=str(payload["sub"]),
                generation=int(payload.get("gen", 0)),
                expires_at=expires,
            )
        except BadSignature:
            raise TokenError(lazy("token is not valid")) from None
        except (KeyError, ValueError, TypeError):
            raise TokenError(lazy("token is not valid")) from None


async def verify_token(connection: HTTPConnection, token: str) -> Principal:
    """A bearer token's principal, refused when its account was disabled or revoked its tokens
    since it was issued (the look-up runs off the event loop)."""
    state = app_state(connection)
    principal = state.tokens.verify(token)
    if principal.user_id is None:
        return principal  # a script's token from `medroom token`: no account behind it
    current = await asyncio.to_thread(token_generation, state.db, int(principal.user_id))
    if current is None:
        raise TokenError(lazy("the account of this token is disabled or gone"))
    if current != principal.generation:
        raise TokenError(lazy("token revoked (password changed or signed out everywhere): "
                              "log in again"))
    return principal


def csrf_token(request: Request) -> str:
    """The session's CSRF token (a visitor without a cookie is given one)."""
    return cookie_session(request).csrf()


def check_csrf(request: Request, supplied: str | None) -> None:
    session = cookie_session(request)
    expected = session.csrf() if session.key is not None else None
    if not expected or not supplied or not hmac.compare_digest(expected, supplied):
        raise HTTPException(status.HTTP_403_FORBIDDEN, lazy(
            "missing or wrong CSRF token: reload the page", "csrf_token_wrong"))


def _unauthorized(detail: LazyText) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


def session_principal(connection: HTTPConnection) -> Principal | None:
    """The person logged in with this request's cookie, as the middleware looked it up."""
    record = cookie_session(connection).record
    if record is None:
        return None
    return Principal(
        subject=record.username, role=Role(record.role), user_id=record.user_id, room="*",
        via="session", display_name=record.display_name, generation=record.token_generation,
        expires_at=record.expires_at.timestamp(),
    )


def page_user(request: Request) -> Principal:
    """The logged-in person of a page request; 401 (the app redirects to the login page)."""
    principal = session_principal(request)
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, lazy("log in first"))
    return principal


async def get_principal(request: Request) -> Principal:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized(lazy("Authorization must be 'Bearer <token>'"))
        try:
            principal = await verify_token(request, token.strip())
        except TokenError as exc:
            raise _unauthorized(exc.args[0]) from None
        # A token for one room was handed to a player or a camera for that room: it reaches
        # the room's own routes and nothing else (CME, library, users, diagnostics...).
        if principal.room != "*" and request.path_params.get("room_id") != principal.room:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                lazy("this token is only for room '%(room)s' (/api/rooms/%(room)s/...)",
                     "token_for_other_room", room=principal.room),
            )
        return principal
    session = session_principal(request)
    if session is None:
        raise _unauthorized(lazy("log in, or send 'Authorization: Bearer <token>'"))
    if request.method not in SAFE_METHODS:
        check_csrf(request, request.headers.get("x-csrf-token"))
    return session


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    allowed = ", ".join(r.value for r in roles)

    async def dependency(
        principal: Annotated[Principal, Depends(get_principal)], request: Request
    ) -> Principal:
        if principal.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                lazy("role '%(role)s' may not do this (needs: %(allowed)s)", "role_not_allowed",
                     role=principal.role.value, allowed=allowed),
            )
        room_id = request.path_params.get("room_id")
        rooms = app_state(request).live.rooms
        if room_id is not None and room_id not in rooms:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, lazy("no room '%(room)s' (rooms: %(rooms)s)",
                                                "room_not_found", room=room_id,
                                                rooms=", ".join(rooms))
            )
        if room_id is not None and not principal.may_use_room(str(room_id)):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, lazy("this token is not valid for room '%(room)s'",
                                                "token_for_other_room", room=room_id)
            )
        # A route for the room's controllers: an instructor must be one of *this* room's.
        if (room_id is not None and principal.role is Role.INSTRUCTOR
                and Role.STUDENT not in roles
                and not controls_room(request, principal, str(room_id))):
            raise HTTPException(status.HTTP_403_FORBIDDEN, _not_this_rooms_instructor(room_id))
        return principal

    return dependency


def controls_room(connection: HTTPConnection, principal: Principal, room_id: str) -> bool:
    """Whether ``principal`` runs room ``room_id``: an admin, or an instructor the room's file
    names (``instructors``; a room that names none is run by every instructor). A token with
    no account behind it was minted on this machine (``medroom token``) for the scope it
    carries: that scope is its relation."""
    if principal.role is Role.ADMIN:
        return principal.may_use_room(room_id)
    if principal.role is not Role.INSTRUCTOR or not principal.may_use_room(room_id):
        return False
    room = app_state(connection).live.rooms.get(room_id)
    if room is None:
        return False
    named = room.spec.instructors
    if not named or (principal.via == "token" and principal.user_id is None):
        return True
    return principal.subject in named


def _not_this_rooms_instructor(room_id: str) -> LazyText:
    return lazy("you are not one of the instructors of room '%(room)s' (its room file names "
                "them: ask an admin)", "not_this_rooms_instructor", room=room_id)


class SocketRefused(Exception):
    """A websocket that may not connect: closed with `code` (4401 who are you, 4403 not you,
    4404 no such room) and `reason`.

    The reason stays English: no page shows it to a person (the page reacts to the code), and
    a close reason is limited to 123 bytes, which a Cyrillic sentence (two bytes a letter)
    would overrun."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def socket_principal(
    websocket: WebSocket, room_id: str, token: str | None, roles: tuple[Role, ...], what: str
) -> Principal:
    """Who is behind a room's websocket, if one of ``roles``: a ``?token=`` bearer token, or the
    session cookie of a logged-in page (then only from this server's own pages: a websocket is
    not bound by CORS, so another site's page must not ride on the cookie)."""
    if token is not None:
        try:
            principal = await verify_token(websocket, token)
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
    if principal.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise SocketRefused(
            4403, f"role '{principal.role.value}' may not {what} (needs: {allowed})"
        )
    if room_id not in app_state(websocket).live.rooms:
        raise SocketRefused(4404, f"no room '{room_id}'")
    if not principal.may_use_room(room_id):
        raise SocketRefused(4403, f"this token is not valid for room '{room_id}'")
    if (principal.role is Role.INSTRUCTOR and Role.STUDENT not in roles
            and not controls_room(websocket, principal, room_id)):
        raise SocketRefused(4403, str(_not_this_rooms_instructor(room_id)))
    return principal


async def socket_controller(websocket: WebSocket, room_id: str, token: str | None) -> Principal:
    """The instructor or admin behind a room's console websocket."""
    return await socket_principal(websocket, room_id, token, CONTROL_ROLES, "watch the console")


async def socket_viewer(websocket: WebSocket, room_id: str, token: str | None) -> Principal:
    """Anyone who may watch the room (as WHEP's join allows) behind its classroom websocket."""
    return await socket_principal(websocket, room_id, token, VIEW_ROLES, "join the classroom")


Viewer = Annotated[Principal, Depends(require_roles(*VIEW_ROLES))]
Controller = Annotated[Principal, Depends(require_roles(*CONTROL_ROLES))]


def audit_actor(request: Request, principal: Principal) -> Actor:
    """The access log's view of who is asking (art. 12 alin. (2) lit. a)."""
    client = request.client.host if request.client else ""
    return Actor(principal.subject, principal.role.value, principal.user_id, client)

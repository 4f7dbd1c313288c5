"""The session cookie: a signed random key and nothing else.

Starlette's ``SessionMiddleware`` keeps the session in the cookie as base64 JSON: anyone holding
the cookie could read the user id and the CSRF token, and nothing on the server could end it.
Here the cookie carries only a random key (signed, so a forged one is refused before the
database is asked); who it belongs to lives in ``web_sessions`` (``library/web_sessions.py``).
The CSRF token is an HMAC of the key, so it is stable for the life of the cookie, never stored,
and unknown to anyone who only sees the cookie's name.

The middleware looks the session up once per request, off the event loop, before any route
runs; ``page_user`` and ``get_principal`` then read the result without touching the database.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass, field

from itsdangerous import BadSignature, Signer
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from library.db import Database
from library.web_sessions import SessionRecord, find_session, new_key

COOKIE_NAME = "medroom_session"
COOKIE_SALT = "medroom.session-cookie.v1"
SCOPE_KEY = "medroom.session"
# Requests that never read the session (files anyone may fetch): no database look-up for them.
NO_LOOKUP_PREFIXES = ("/static/", "/static-docs/")


@dataclass
class CookieSession:
    """This request's cookie: its key (None: no cookie yet) and the live session it names."""

    key: str | None
    record: SessionRecord | None
    csrf_secret: bytes = field(repr=False)
    changed: bool = False

    def csrf(self) -> str:
        """The CSRF token of this cookie; gives a visitor without one a cookie (the login form
        needs a token before anyone is logged in)."""
        if self.key is None:
            self.key = new_key()
            self.changed = True
        return hmac.new(self.csrf_secret, self.key.encode("utf-8"), hashlib.sha256).hexdigest()

    def begin(self, key: str, record: SessionRecord | None = None) -> None:
        """Send a new key: the one of a session just started (never reuse the visitor's key
        after log-in, which would let a planted cookie become a logged-in one)."""
        self.key, self.record, self.changed = key, record, True

    def clear(self) -> None:
        self.key, self.record, self.changed = None, None, True


def cookie_session(connection: HTTPConnection) -> CookieSession:
    state = connection.scope.get(SCOPE_KEY)
    if isinstance(state, CookieSession):
        return state
    raise RuntimeError("no session cookie state: the app must install SessionCookies")


class SessionCookies:
    """ASGI middleware: reads and verifies the cookie, looks the session up, writes the cookie
    back when a route changed it."""

    def __init__(self, app: ASGIApp, *, db: Database, secret: str, max_age: int,
                 secure: bool) -> None:
        self.app = app
        self.db = db
        self.max_age = max_age
        self.secure = secure
        self.signer = Signer(secret, salt=COOKIE_SALT)
        self.csrf_secret = hashlib.sha256(b"medroom.csrf.v1\0" + secret.encode("utf-8")).digest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        key = self._key(HTTPConnection(scope).cookies.get(COOKIE_NAME))
        record = None
        if key is not None and not str(scope["path"]).startswith(NO_LOOKUP_PREFIXES):
            record = await asyncio.to_thread(find_session, self.db, key)
        state = CookieSession(key, record, self.csrf_secret)
        scope[SCOPE_KEY] = state
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and state.changed:
                MutableHeaders(scope=message).append("set-cookie", self._set_cookie(state.key))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _key(self, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return self.signer.unsign(value).decode("utf-8")
        except (BadSignature, UnicodeDecodeError):
            return None  # forged, or signed with an earlier secret: as if there were none

    def _set_cookie(self, key: str | None) -> str:
        flags = "; path=/; httponly; samesite=lax" + ("; secure" if self.secure else "")
        if key is None:
            return f"{COOKIE_NAME}=; max-age=0; expires=Thu, 01 Jan 1970 00:00:00 GMT{flags}"
        value = self.signer.sign(key).decode("utf-8")
        return f"{COOKIE_NAME}={value}; max-age={self.max_age}{flags}"

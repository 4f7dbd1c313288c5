"""CORS for the WHEP and WHIP endpoints and their session URLs, and nothing else of the API.

A WHEP player embedded in another site (a university's LMS page, a hospital intranet) runs on
another origin: its browser asks first (preflight ``OPTIONS``), and reads ``Location``, ``Link``
and ``ETag`` of the answer only when they are exposed. The origins allowed come from
``MEDROOM_CORS_ORIGINS`` (none by default; ``*`` for any page). Credentials (cookies) are never
allowed across origins: these endpoints take a bearer token, and the rest of the API, which a
logged-in person's cookie opens, gets no CORS headers at all.

``OPTIONS`` on these paths is answered here, 204 with ``Allow`` for any caller (RFC 9725: a
WHIP client may ask what the endpoint supports), plus the preflight answer for an allowed origin.
``@eyevinn/whip-web-client`` sends a real ``OPTIONS`` (with its token, so after a preflight) and
trickles only when that answer's ``Access-Control-Allow-Methods`` names ``PATCH``: every
``OPTIONS`` answer carries it, exposed to the page, and its ``PATCH`` sends the ICE session's
tag as an ``ETag`` request header (not ``If-Match``), which the preflight must allow.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The paths and what each one allows: the endpoints take offers, the session URLs trickle
#: candidates (PATCH) and end (DELETE). The endpoints name PATCH too: WHIP/WHEP clients read
#: the endpoint's Allow to decide whether to trickle.
ENDPOINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"/api/rooms/[^/]+/whep"), "OPTIONS, POST, PATCH"),
    (re.compile(r"/api/rooms/[^/]+/whep/[^/]+"), "OPTIONS, PATCH, DELETE"),
    (re.compile(r"/api/rooms/[^/]+/sources/[^/]+/whip"), "OPTIONS, POST, PATCH"),
    (re.compile(r"/api/rooms/[^/]+/sources/[^/]+/whip/[^/]+"), "OPTIONS, PATCH, DELETE"),
)
ALLOW_HEADERS = "Authorization, Content-Type, If-Match, ETag"
EXPOSE_HEADERS = ("Location, Link, ETag, Accept-Patch, Retry-After, Allow, "
                  "Access-Control-Allow-Methods")
#: How long a browser may keep a preflight answer (seconds).
MAX_AGE = "600"


def allowed_methods(path: str) -> str | None:
    """The methods a WHEP/WHIP path allows; None for every other path."""
    for pattern, methods in ENDPOINTS:
        if pattern.fullmatch(path):
            return methods
    return None


class WebRtcCors:
    """ASGI middleware: CORS and ``OPTIONS`` for the WHEP/WHIP paths only."""

    def __init__(self, app: ASGIApp, *, origins: Sequence[str]) -> None:
        self.app = app
        self.any_origin = "*" in origins
        self.origins = frozenset(origins)

    def _cors_headers(self, origin: str | None) -> dict[str, str]:
        if origin is None or not (self.any_origin or origin in self.origins):
            return {}
        # With a list the answer depends on the Origin: caches must keep one per origin.
        headers = {"Access-Control-Allow-Origin": "*" if self.any_origin else origin,
                   "Access-Control-Expose-Headers": EXPOSE_HEADERS}
        if not self.any_origin:
            headers["Vary"] = "Origin"
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        methods = allowed_methods(scope["path"]) if scope["type"] == "http" else None
        if methods is None:
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        cors = self._cors_headers(request_headers.get("origin"))
        if scope["method"] == "OPTIONS":
            headers = {"Allow": methods, "Accept-Patch": "application/trickle-ice-sdpfrag",
                       "Access-Control-Allow-Methods": methods}
            if cors and "access-control-request-method" in request_headers:
                headers.update(cors)
                headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
                headers["Access-Control-Max-Age"] = MAX_AGE
            elif cors:
                headers.update(cors)
            await send({"type": "http.response.start", "status": 204,
                        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]})
            await send({"type": "http.response.body", "body": b""})
            return
        if not cors:
            await self.app(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name, value in cors.items():
                    if name == "Vary":
                        response_headers.add_vary_header("Origin")
                    else:
                        response_headers[name] = value
            await send(message)

        await self.app(scope, receive, with_cors)

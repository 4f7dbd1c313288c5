"""Security headers on every HTTP answer: what a page may load, who may frame it, what leaks.

The pages load scripts only from this server (no inline script: data for a page travels in
``<script type="application/json">`` blocks, which are not run); styles may be inline (the
templates' ``<style>`` blocks and style attributes). The API docs page is the one exception:
Swagger UI starts from one inline script, allowed by its hash alone.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def inline_script_hashes(html: str) -> list[str]:
    """CSP hash sources for the inline scripts of a page (``'sha256-…'``)."""
    hashes = []
    for body in re.findall(r"<script(?:\s[^>]*)?>(.*?)</script>", html, flags=re.DOTALL):
        if body.strip():
            digest = hashlib.sha256(body.encode("utf-8")).digest()
            hashes.append(f"'sha256-{base64.b64encode(digest).decode()}'")
    return hashes


def policy_allowing(script_hashes: list[str]) -> str:
    """The page policy, with these inline scripts (and no other) allowed to run."""
    return PAGE_POLICY.replace("script-src 'self'", " ".join(["script-src 'self'", *script_hashes]))


class SecurityHeaders:
    """ASGI middleware; ``exceptions`` maps a path to its own Content-Security-Policy."""

    def __init__(
        self, app: ASGIApp, *, hsts: bool, exceptions: dict[str, str] | None = None
    ) -> None:
        self.app = app
        self.hsts = hsts
        self.exceptions = exceptions or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.exceptions.get(scope["path"], PAGE_POLICY)
        https = self.hsts or scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", policy)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                if https:
                    headers.setdefault(
                        "Strict-Transport-Security", "max-age=31536000; includeSubDomains")
            await send(message)

        await self.app(scope, receive, with_headers)

"""Every page runs under its Content-Security-Policy, and answers carry the security headers."""

from __future__ import annotations

import httpx

from tests.conftest import Server
from tests.e2e.test_browser import ARTIFACTS, browser, log_in  # noqa: F401 (fixture)


def test_answers_carry_the_security_headers(server: Server) -> None:
    login = httpx.get(server.url + "/login")
    csp = login.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert login.headers["x-content-type-options"] == "nosniff"
    assert login.headers["referrer-policy"] == "same-origin"
    assert login.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in login.headers  # plain HTTP on loopback
    api = httpx.get(server.url + "/api/rooms")  # refused, still with the headers
    assert api.status_code == 401 and api.headers["x-content-type-options"] == "nosniff"
    # The docs page's one inline script is allowed by its hash, nothing else inline.
    token = server.token("instructor")
    docs = httpx.get(server.url + "/docs", headers={"Authorization": f"Bearer {token}"})
    assert docs.status_code == 200 and "'sha256-" in docs.headers["content-security-policy"]


def test_pages_work_with_the_policy_enforced(browser, server: Server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The pages load no inline script and nothing from elsewhere: Chromium, enforcing the
    policy, reports no violation while each page does its work."""
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = log_in(browser, server, "dr-ana", enforce_csp=True)
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    try:
        visits = [
            ("/", "a[href*='/console']"),
            ("/rooms/demo/console", ".source-tile img[src^='blob:'], .source-tile img[src*='thumbnail']"),
            ("/rooms/demo/watch", "video"),
            ("/cme", "h1"),
            ("/cme/new", "form"),
            ("/library/curate", "h1"),
            ("/library/search", "input[type=search], input[name=q]"),
            ("/docs", ".swagger-ui .info"),
        ]
        for path, ready in visits:
            page.goto(server.url + path)
            page.wait_for_selector(ready, timeout=20_000)
            page.wait_for_timeout(300)  # let late scripts (websocket, fetches) start
        page.screenshot(path=str(ARTIFACTS / "docs_under_csp.png"))
        assert violations == []
    finally:
        context.close()

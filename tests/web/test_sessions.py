"""Sessions and tokens end when they should, against a real `medroom serve` (issue 16 item 4):
logging out, a password change, disabling an account and "sign out everywhere" refuse the old
cookies and tokens at once; a token asked for with a token ends with its parent; a room's token
reaches only that room; the cookie itself says nothing readable (item 8)."""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import zlib
from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest

from library.db import Database
from library.users import Role, create_user
from tests.conftest import PASSWORD, Server, start_server
from web.auth import TokenSigner

COOKIE = "medroom_session"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("medroom-sessions"),
                            extra_env={"MEDROOM_DEMO": "false"})


def log_in(server: Server, username: str, password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert csrf
    r = client.post("/login", data={"username": username, "password": password,
                                    "csrf": csrf.group(1), "next": "/"})
    assert r.status_code == 303, r.text
    return client


def page_csrf(client: httpx.Client) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text)
    assert found
    return found.group(1)


def with_cookie(server: Server, cookie: str) -> httpx.Client:
    """Another browser replaying a copied cookie."""
    return httpx.Client(base_url=server.url, timeout=30, cookies={COOKIE: cookie})


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def room_token(client: httpx.Client) -> str:
    r = client.post("/api/rooms/demo/token", headers={"X-CSRF-Token": page_csrf(client)})
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def test_logging_out_ends_the_session_for_every_copy_of_the_cookie(server: Server) -> None:
    with closing(log_in(server, "marko")) as browser:
        cookie = browser.cookies[COOKIE]
        assert browser.get("/api/rooms").status_code == 200
        r = browser.post("/logout", data={"csrf": page_csrf(browser)})
        assert r.status_code == 303
    with with_cookie(server, cookie) as copy:
        r = copy.get("/api/rooms")
        assert r.status_code == 401, r.text
        page = copy.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_a_password_change_ends_every_session_and_token_of_the_user(server: Server) -> None:
    laptop, phone = log_in(server, "dr-ana"), log_in(server, "dr-ana")
    token = room_token(laptop)
    assert httpx.get(f"{server.url}/api/rooms/demo", headers=auth(token)).status_code == 200
    with closing(log_in(server, "marko")) as bystander:
        server.cli("user", "passwd", "dr-ana", "--password", "a-new-password-1")
        for browser in (laptop, phone):
            assert browser.get("/api/rooms").status_code == 401
            browser.close()
        r = httpx.get(f"{server.url}/api/rooms/demo", headers=auth(token))
        assert r.status_code == 401 and "revoked" in r.json()["detail"]
        assert bystander.get("/api/rooms").status_code == 200  # only dr-ana's ended
    with closing(log_in(server, "dr-ana", "a-new-password-1")) as again:
        assert again.get("/api/rooms").status_code == 200


def test_a_disabled_user_is_refused_at_once(server: Server) -> None:
    browser = log_in(server, "cura")
    cookie = browser.cookies[COOKIE]
    assert browser.get("/api/library/courses").status_code == 200
    server.cli("user", "disable", "cura")
    with with_cookie(server, cookie) as copy:
        assert copy.get("/api/library/courses").status_code == 401
    with httpx.Client(base_url=server.url) as other:
        csrf = re.search(r'name="csrf" value="([^"]+)"', other.get("/login").text)
        assert csrf
        r = other.post("/login", data={"username": "cura", "password": PASSWORD,
                                       "csrf": csrf.group(1)})
        assert r.status_code == 401
    server.cli("user", "enable", "cura")
    # Enabling lets the person log in again; the ended session stays ended.
    assert browser.get("/api/library/courses").status_code == 401
    with closing(log_in(server, "cura")) as again:
        assert again.get("/api/library/courses").status_code == 200


def test_signing_out_everywhere_ends_the_other_sessions_and_tokens(server: Server) -> None:
    db = Database(f"sqlite:///{server.data_dir / 'medroom.db'}")
    try:
        create_user(db, "ioana", PASSWORD, Role.STUDENT)  # as `medroom user add` would
    finally:
        db.dispose()
    here, elsewhere = log_in(server, "ioana"), log_in(server, "ioana")
    token = room_token(elsewhere)
    r = here.post("/logout", data={"csrf": page_csrf(here), "everywhere": "true"})
    assert r.status_code == 303
    assert elsewhere.get("/api/rooms").status_code == 401
    assert httpx.get(f"{server.url}/api/rooms/demo", headers=auth(token)).status_code == 401
    here.close()
    elsewhere.close()


def test_a_token_cannot_outlive_the_token_that_asked_for_it(server: Server) -> None:
    signer = TokenSigner(server.env["MEDROOM_SECRET_KEY"])
    parent = signer.issue(subject="script-student", role=Role.STUDENT, room="demo",
                          ttl_seconds=4)
    r = httpx.post(f"{server.url}/api/rooms/demo/token", headers=auth(parent))
    assert r.status_code == 200 and r.json()["expires_in"] <= 4
    child = r.json()["token"]
    # Asked for again with the child: still the parent's end, not another hour.
    r = httpx.post(f"{server.url}/api/rooms/demo/token", headers=auth(child))
    assert r.status_code == 200 and r.json()["expires_in"] <= 4
    grandchild = r.json()["token"]
    time.sleep(5)
    for token in (parent, child, grandchild):
        r = httpx.get(f"{server.url}/api/rooms/demo", headers=auth(token))
        assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_a_page_session_gets_a_token_of_an_hour(server: Server) -> None:
    with closing(log_in(server, "marko")) as browser:
        r = browser.post("/api/rooms/demo/token", headers={"X-CSRF-Token": page_csrf(browser)})
        assert r.status_code == 200 and 3590 <= r.json()["expires_in"] <= 3600


def test_a_room_token_reaches_only_that_rooms_routes(server: Server) -> None:
    with closing(log_in(server, "marko")) as browser:
        token = room_token(browser)
    assert httpx.get(f"{server.url}/api/rooms/demo", headers=auth(token)).status_code == 200
    for method, path in (
        ("GET", "/api/cme/me"),
        ("GET", "/api/cme/programmes"),
        ("GET", "/api/library/courses"),
        ("GET", "/api/library/lessons"),
        ("GET", "/api/diagnostics"),
        ("GET", "/api/search?q=ct"),
        ("POST", "/api/cme/programmes/1/participants/someone/cnp"),
        ("GET", "/api/rooms"),
        ("GET", "/openapi.json"),
    ):
        r = httpx.request(method, server.url + path, headers=auth(token))
        assert r.status_code == 403, (method, path, r.text)
        assert "only for room 'demo'" in r.json()["detail"]
    # The same person's every-room token (a script's) still reaches them.
    admin = server.token("admin", room="*")
    assert httpx.get(f"{server.url}/api/diagnostics", headers=auth(admin)).status_code == 200


def decodings(value: str) -> list[bytes]:
    """Every reading of the cookie an onlooker might try: each dot-separated part as base64
    (URL-safe or not, padded), and each of those inflated if it is zlib."""
    found = [value.encode()]
    for part in value.split("."):
        for decode in (base64.urlsafe_b64decode, base64.b64decode):
            try:
                raw = decode(part + "=" * (-len(part) % 4))
            except (binascii.Error, ValueError):
                continue
            found.append(raw)
            try:
                found.append(zlib.decompress(raw))
            except zlib.error:
                pass
    return found


def test_the_cookie_holds_nothing_readable(server: Server) -> None:
    with closing(log_in(server, "marko")) as browser:
        cookie = browser.cookies[COOKIE]
        csrf = page_csrf(browser)
        assert browser.cookies[COOKIE] == cookie  # pages do not rewrite it
    for raw in decodings(cookie):
        assert csrf.encode() not in raw
        assert b"uid" not in raw and b"csrf" not in raw and b"marko" not in raw
        with pytest.raises(ValueError):  # json.JSONDecodeError, UnicodeDecodeError
            json.loads(raw)
    # Tampering with it is as good as having none.
    key, _, signature = cookie.rpartition(".")
    with with_cookie(server, f"{key}.{'A' * len(signature)}") as forged:
        assert forged.get("/api/rooms").status_code == 401

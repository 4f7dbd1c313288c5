"""Which language a page speaks, against a real `medroom serve`: the account's setting, else the
switcher's cookie, else the browser's Accept-Language, else the server's default; API errors in
the request's language with a code that does not change; the page scripts' catalog."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import PASSWORD, Server, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("medroom-language"),
                            extra_env={"MEDROOM_DEMO": "false"})


def page_lang(response: httpx.Response) -> str:
    found = re.search(r'<html lang="([^"]+)"', response.text)
    assert found, response.text[:300]
    return found.group(1)


def csrf_of(response: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', response.text)
    assert found
    return found.group(1)


def log_in(server: Server, username: str, headers: dict[str, str] | None = None) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=30, headers=headers or {})
    r = client.post("/login", data={"username": username, "password": PASSWORD,
                                    "csrf": csrf_of(client.get("/login")), "next": "/"})
    assert r.status_code == 303, r.text
    return client


@pytest.mark.parametrize(("accept", "expected"), [
    ("ro-RO,ro;q=0.9,en;q=0.5", "ro"),
    ("sr-Latn-RS,sr;q=0.8", "sr-Latn"),
    ("sr-RS,sr;q=0.9", "sr-Cyrl"),
    ("bg-BG", "bg"),
    ("de-DE,fr;q=0.9", "en"),  # nothing we speak: the server's default
    ("de;q=1.0,bg;q=0.3", "bg"),
    ("", "en"),
])
def test_the_login_page_follows_the_browser(server: Server, accept: str, expected: str) -> None:
    r = httpx.get(f"{server.url}/login", headers={"Accept-Language": accept})
    assert page_lang(r) == expected


def test_the_login_page_reads_romanian_to_a_romanian_browser(server: Server) -> None:
    r = httpx.get(f"{server.url}/login", headers={"Accept-Language": "ro"})
    assert "Limba" in r.text  # the switcher's label
    assert "Language" not in r.text


def test_the_switcher_is_remembered_over_the_browser(server: Server) -> None:
    client = httpx.Client(base_url=server.url, timeout=30, headers={"Accept-Language": "en"})
    r = client.post("/settings/language", data={
        "locale": "bg", "csrf": csrf_of(client.get("/login")), "next": "/login"})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert page_lang(client.get("/login")) == "bg"


def test_an_accounts_language_follows_it_to_every_browser(server: Server) -> None:
    serbian = log_in(server, "dr-ana", {"Accept-Language": "en"})
    page = serbian.get("/account")
    assert page_lang(page) == "en"
    r = serbian.post("/account", data={"csrf": csrf_of(page), "locale": "sr_Cyrl",
                                       "time_zone": "Europe/Belgrade"})
    assert r.status_code == 303
    mine = serbian.get("/account")
    assert page_lang(mine) == "sr-Cyrl"
    assert 'data-time-zone="Europe/Belgrade"' in mine.text
    assert "Ваш налог" in mine.text
    # Another device, a browser asking for Romanian: the account's choice wins.
    other = log_in(server, "dr-ana", {"Accept-Language": "ro"})
    assert page_lang(other.get("/")) == "sr-Cyrl"
    # Back to the browser's choice.
    r = other.post("/account", data={"csrf": csrf_of(other.get("/account")), "locale": "",
                                      "time_zone": ""})
    assert r.status_code == 303
    assert page_lang(other.get("/")) == "ro"


def test_a_bad_language_is_refused_in_the_requests_language(server: Server) -> None:
    client = log_in(server, "marko", {"Accept-Language": "ro"})
    r = client.post("/account", data={"csrf": csrf_of(client.get("/account")),
                                      "locale": "klingon"}, headers={"Accept": "application/json"})
    assert r.status_code == 422
    assert r.json() == {"detail": "limbă necunoscută: klingon", "code": "unknown_language"}
    r = client.post("/account", data={"csrf": csrf_of(client.get("/account")),
                                      "time_zone": "Mars/Olympus"})
    assert r.status_code == 422 and r.json()["code"] == "unknown_time_zone"


def test_an_api_error_keeps_its_code_in_every_language(server: Server) -> None:
    for accept in ("en", "bg"):
        r = httpx.get(f"{server.url}/api/rooms", headers={"Accept-Language": accept})
        assert r.status_code == 401
        assert r.json()["code"] == "unauthorized"


def test_the_scripts_catalog_is_the_languages_and_cached_by_version(server: Server) -> None:
    page = httpx.get(f"{server.url}/login", headers={"Accept-Language": "ro"}).text
    src = re.search(r'<script src="(/i18n/ro\.js\?v=[0-9a-f]+)"', page)
    assert src
    r = httpx.get(server.url + src.group(1))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert "immutable" in r.headers["cache-control"]
    assert '"plural": ["one", "few", "other"]' in r.text
    assert httpx.get(f"{server.url}/i18n/xx.js").status_code == 404


def test_times_follow_the_browsers_zone_until_the_account_sets_one(server: Server) -> None:
    client = log_in(server, "marko", {"Accept-Language": "en"})
    # What /static/i18n.js writes: the browser's own zone, URI-encoded.
    client.cookies.set("medroom_tz", "Europe%2FBelgrade")
    page = client.get("/account")
    assert 'data-time-zone="Europe/Belgrade" data-zone-chosen' in page.text
    client.cookies.set("medroom_tz", "Not%2FA_Zone")
    assert 'data-time-zone="Europe/Bucharest">' in client.get("/account").text

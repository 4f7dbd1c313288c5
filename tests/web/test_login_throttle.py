"""Login throttling against a real `medroom serve`: failed log-ins per account and per client
address, then 429 with Retry-After and a page that says when to try again.

The limits are lowered through the environment (3 failures per account in 15 minutes, 6 per
address in a minute). Every request comes from loopback, which uvicorn trusts as a reverse proxy
(its default FORWARDED_ALLOW_IPS), so each test names its client address in X-Forwarded-For,
exactly as nginx in front of MedRoom would."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import PASSWORD, Server, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("medroom-login"), extra_env={
        "MEDROOM_DEMO": "false",
        "MEDROOM_LOGIN_FAILURES_PER_ACCOUNT": "3",
        "MEDROOM_LOGIN_ACCOUNT_WINDOW_SECONDS": "900",
        "MEDROOM_LOGIN_FAILURES_PER_ADDRESS": "6",
        "MEDROOM_LOGIN_ADDRESS_WINDOW_SECONDS": "60",
    })


def browser(server: Server, address: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-Forwarded-For": address})


def log_in(server: Server, username: str, password: str, address: str,
           client: httpx.Client | None = None) -> httpx.Response:
    """The login form, filled in and sent as a browser at ``address`` would."""
    if client is None:
        with browser(server, address) as own:
            return log_in(server, username, password, address, own)
    csrf = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf": csrf, "next": "/"})


def alert(page: httpx.Response) -> str:
    found = re.search(r'role="alert">([^<]*)<', page.text)
    assert found, page.text[:500]
    return found.group(1)


def test_an_account_is_throttled_after_its_failures_whatever_the_address(server: Server) -> None:
    for n in range(3):
        r = log_in(server, "marko", "wrong-password", f"10.0.1.{n}")
        assert r.status_code == 401 and alert(r) == "Wrong user name or password."
    # The fourth guess, from yet another address, is not even checked.
    r = log_in(server, "marko", "wrong-password", "10.0.1.9")
    assert r.status_code == 429
    assert 890 <= int(r.headers["Retry-After"]) <= 900
    assert alert(r) == ("Too many failed log-ins for this account (at most 3 in 15 minutes). "
                        "Try again in 15 minutes.")
    assert 'value="marko"' in r.text  # the form is shown again, ready for later
    # Nor is the right password, however the name is typed, while the account waits.
    for name in ("marko", " MARKO "):
        client = browser(server, "10.0.1.10")
        r = log_in(server, name, PASSWORD, "10.0.1.10", client)
        assert r.status_code == 429 and "this account" in alert(r)
        assert client.get("/api/rooms").status_code == 401  # not logged in
    # Another account, from an address that just failed, is not held up.
    assert log_in(server, "cura", PASSWORD, "10.0.1.0").status_code == 303
    assert "log-in refused (account throttled): account 'marko' from 10.0.1.9, retry in" \
        in server.log.read_text()


def test_an_address_is_throttled_after_failures_on_many_accounts(server: Server) -> None:
    # One machine spraying a password over six names (each under its own account limit).
    for n in range(6):
        assert log_in(server, f"guess-{n}", PASSWORD + "x", "10.0.2.1").status_code == 401
    r = log_in(server, "dr-ana", PASSWORD, "10.0.2.1")
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
    assert re.fullmatch(r"Too many failed log-ins for this address \(at most 6 in 60 seconds\)\. "
                        r"Try again in \d+ seconds\.", alert(r))
    # The same person at another address logs in.
    assert log_in(server, "dr-ana", PASSWORD, "10.0.2.2").status_code == 303
    assert "log-in refused (address throttled): account 'dr-ana' from 10.0.2.1" \
        in server.log.read_text()


def test_successful_log_ins_do_not_count(server: Server) -> None:
    # A classroom behind one address logs in many times: never throttled.
    for _ in range(10):
        r = log_in(server, "dr-ana", PASSWORD, "10.0.3.1")
        assert r.status_code == 303 and r.headers["location"] == "/"
    # A success wipes the account's earlier failures: two slips, a success, two slips is fine.
    for _ in range(2):
        assert log_in(server, "dr-ana", "slip", "10.0.3.2").status_code == 401
    assert log_in(server, "dr-ana", PASSWORD, "10.0.3.2").status_code == 303
    for _ in range(2):
        assert log_in(server, "dr-ana", "slip", "10.0.3.2").status_code == 401
    assert log_in(server, "dr-ana", PASSWORD, "10.0.3.2").status_code == 303

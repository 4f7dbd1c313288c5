"""The live room through its HTTP API, against a real `medroom serve` on loopback."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from library.attendance import list_live_sessions, list_viewer_sessions
from library.db import Database
from tests.conftest import Server
from tests.web.whep_client import WhepClient

GOOD_SDP_NO_USABLE_CODEC = (
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
    "c=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\na=ice-ufrag:abcd\r\n"
    "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11\r\na=setup:actpass\r\n"
    "a=rtpmap:96 VP9/90000\r\n"
)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_requests_without_valid_credentials_are_refused(server: Server) -> None:
    r = httpx.get(f"{server.url}/api/rooms/demo")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = httpx.get(f"{server.url}/api/rooms/demo", headers=auth("not-a-token"))
    assert r.status_code == 401 and "not valid" in r.json()["detail"]
    r = httpx.get(f"{server.url}/api/rooms/demo", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401


def test_student_may_watch_but_not_control(server: Server) -> None:
    student = server.token("student")
    room = httpx.get(f"{server.url}/api/rooms/demo", headers=auth(student))
    assert room.status_code == 200
    assert room.json()["viewers"] is None  # students do not see who else is watching
    for method, path, body in (
        ("POST", "/api/rooms/demo/program", {"source": "ct"}),
        ("POST", "/api/rooms/demo/live", {}),
        ("DELETE", "/api/rooms/demo/live", None),
        ("GET", "/api/rooms/demo/sources/ct/thumbnail.jpg", None),
    ):
        r = httpx.request(method, server.url + path, json=body, headers=auth(student))
        assert r.status_code == 403, (method, path, r.text)
        assert "student" in r.json()["detail"]


def test_unknown_room_and_source(server: Server) -> None:
    instructor = server.token("instructor")
    assert httpx.get(f"{server.url}/api/rooms/nope", headers=auth(instructor)).status_code == 404
    r = httpx.post(f"{server.url}/api/rooms/nope/whep", content="v=0",
                   headers={**auth(instructor), "Content-Type": "application/sdp"})
    assert r.status_code == 404
    r = httpx.post(f"{server.url}/api/rooms/demo/program", json={"source": "microscope"},
                   headers=auth(instructor))
    assert r.status_code == 422 and "microscope" in r.json()["detail"]


def test_token_for_another_room_is_refused(server: Server) -> None:
    other = server.token("student", room="*")
    assert httpx.get(f"{server.url}/api/rooms/demo", headers=auth(other)).status_code == 200
    printed = server.cli("token", "--room", "demo", "--role", "student").stdout.strip()
    assert httpx.get(f"{server.url}/api/rooms/demo", headers=auth(printed)).status_code == 200
    r = server.cli("token", "--room", "elsewhere", "--role", "student", check=False)
    assert r.returncode != 0 and "no room 'elsewhere'" in r.stderr


def test_thumbnails_are_jpegs_of_each_source(server: Server) -> None:
    instructor = server.token("instructor")
    for source in ("endoscope", "room-cam", "ct"):
        r = httpx.get(f"{server.url}/api/rooms/demo/sources/{source}/thumbnail.jpg",
                      headers=auth(instructor))
        assert r.status_code == 200 and r.content[:2] == b"\xff\xd8", source


async def test_live_program_reaches_whep_viewers(server: Server) -> None:
    instructor, student = server.token("instructor"), server.token("student", subject="marko")
    async with httpx.AsyncClient(base_url=server.url) as http:
        # Not live yet: a viewer is told so.
        waiting = WhepClient(server.url, "demo", student)
        r = await waiting.join()
        assert r.status_code == 409 and "not live" in r.json()["detail"]
        await waiting.close()

        r = await http.post("/api/rooms/demo/program", json={"source": "endoscope"},
                            headers=auth(instructor))
        assert r.status_code == 200 and r.json()["program_source"] == "endoscope"
        r = await http.post("/api/rooms/demo/live", json={"title": "Polypectomy"},
                            headers=auth(instructor))
        assert r.status_code == 201 and r.json()["state"] == "live"
        r = await http.post("/api/rooms/demo/live", json={}, headers=auth(instructor))
        assert r.status_code == 409 and "already live" in r.json()["detail"]

        first = WhepClient(server.url, "demo", student)
        r = await first.join()
        assert r.status_code == 201, r.text
        assert r.headers["content-type"].startswith("application/sdp")
        assert r.headers["location"].startswith("/api/rooms/demo/whep/")
        assert "H264" in r.text
        frames, _ = await first.frames(want=60, timeout=20)
        assert len(frames) >= 60
        assert {(f.width, f.height) for f in frames} == {(1280, 720)}

        # Bad input while a viewer watches: refused clearly, the viewer is not disturbed.
        bad = await http.post("/api/rooms/demo/whep", content="hello",
                              headers={**auth(student), "Content-Type": "application/sdp"})
        assert bad.status_code == 400 and "v=0" in bad.json()["detail"]
        vp9 = await http.post("/api/rooms/demo/whep", content=GOOD_SDP_NO_USABLE_CODEC,
                              headers={**auth(student), "Content-Type": "application/sdp"})
        assert vp9.status_code == 400 and "neither H.264 nor VP8" in vp9.json()["detail"]
        wrong_type = await http.post("/api/rooms/demo/whep", content="v=0",
                                     headers={**auth(student), "Content-Type": "text/plain"})
        assert wrong_type.status_code == 415
        more, _ = await first.frames(want=30, timeout=5)
        assert len(more) == 30

        # A second viewer joins 5 s later, mid-GOP, and shows a picture within a second.
        await asyncio.sleep(5)
        second = WhepClient(server.url, "demo", server.token("student", subject="second"))
        assert (await second.join()).status_code == 201
        frames2, first_after = await second.frames(want=3, timeout=10)
        assert len(frames2) == 3
        assert first_after is not None and first_after < 1.0, f"{first_after:.2f} s"

        room = (await http.get("/api/rooms/demo", headers=auth(instructor))).json()
        assert room["viewer_count"] == 2
        assert {v["subject"] for v in room["viewers"]} == {"marko", "second"}
        assert room["encoder"]["frames_encoded"] > 0
        assert room["session_title"] == "Polypectomy"

        # Someone else's session cannot be ended by a student; the owner can leave.
        other = await http.delete(second.location or "", headers=auth(student))
        assert other.status_code == 403
        assert await second.leave() == 200
        assert await second.leave() == 404

        r = await http.delete("/api/rooms/demo/live", headers=auth(instructor))
        assert r.status_code == 200 and r.json()["state"] == "idle"
        assert r.json()["viewer_count"] == 0
        r = await http.delete("/api/rooms/demo/live", headers=auth(instructor))
        assert r.status_code == 409 and "not live" in r.json()["detail"]
        await first.close()

    # Attendance was recorded: who watched, from when to when, and why they left.
    db = Database(f"sqlite:///{server.data_dir / 'medroom.db'}")
    try:
        session = list_live_sessions(db, "demo")[0]
        assert session.title == "Polypectomy" and session.ended_at is not None
        viewers = {v.subject: v for v in list_viewer_sessions(db, session.id)}
        assert set(viewers) == {"marko", "second"}
        assert all(v.left_at is not None for v in viewers.values())
        assert "DELETE" in (viewers["second"].left_reason or "")
    finally:
        db.dispose()


def test_pages_use_sessions_with_csrf(server: Server) -> None:
    with httpx.Client(base_url=server.url) as http:
        page = http.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        login = http.get("/login")
        csrf = login.text.split('name="csrf" value="')[1].split('"')[0]
        wrong = http.post("/login", data={"username": "dr-ana", "password": "nope", "csrf": csrf})
        assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
        no_csrf = http.post("/login", data={"username": "dr-ana", "password": "x", "csrf": "bad"})
        assert no_csrf.status_code == 403

        from tests.conftest import PASSWORD

        ok = http.post("/login", data={"username": "dr-ana", "password": PASSWORD, "csrf": csrf})
        assert ok.status_code == 303
        console = http.get("/rooms/demo/console")
        assert console.status_code == 200 and "Go live" in console.text
        csrf = console.text.split('name="csrf-token" content="')[1].split('"')[0]
        # A cookie alone is not enough for a change: the CSRF header must come with it.
        r = http.post("/api/rooms/demo/program", json={"source": "ct"})
        assert r.status_code == 403 and "CSRF" in r.json()["detail"]
        r = http.post("/api/rooms/demo/program", json={"source": "ct"},
                      headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200 and r.json()["program_source"] == "ct"
        r = http.post("/api/rooms/demo/token", headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200 and r.json()["role"] == "instructor"


def test_api_is_described_and_documented_offline(server: Server) -> None:
    assert httpx.get(f"{server.url}/openapi.json").status_code == 401  # who is asking?
    headers = {"Authorization": f"Bearer {server.token('student')}"}
    schema = httpx.get(f"{server.url}/openapi.json", headers=headers).json()
    assert "/api/rooms/{room_id}/whep" in schema["paths"]
    assert "application/sdp" in str(schema["paths"]["/api/rooms/{room_id}/whep"]["post"])
    docs = httpx.get(f"{server.url}/docs", headers=headers)
    assert docs.status_code == 200 and "/static-docs/swagger-ui-bundle.js" in docs.text
    assert httpx.get(f"{server.url}/static-docs/swagger-ui-bundle.js").status_code == 200


def test_student_is_sent_from_console_to_watch_page(server: Server) -> None:
    from tests.conftest import PASSWORD

    with httpx.Client(base_url=server.url) as http:
        csrf = http.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
        http.post("/login", data={"username": "marko", "password": PASSWORD, "csrf": csrf})
        r = http.get("/rooms/demo/console")
        assert r.status_code == 303 and r.headers["location"] == "/rooms/demo/watch"
        assert http.get("/rooms/demo/watch").status_code == 200
        assert http.get("/rooms/nope/watch").status_code == 404


@pytest.mark.parametrize("kind", ["missing", "bad-key"])
def test_bad_room_file_stops_start_up_naming_file_and_key(server: Server, tmp_path, kind) -> None:
    path = tmp_path / "room.toml"
    if kind == "bad-key":
        path.write_text(
            '[room]\nid = "or1"\nname = "OR 1"\nprogram_source = "cam"\n'
            '[[sources]]\nkind = "test-pattern"\nid = "cam"\nlabel = "Cam"\nfps = "fast"\n'
        )
    env = {**server.env, "MEDROOM_ROOM_FILES": str(path), "MEDROOM_PORT": "1"}
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "web.cli", "serve"], check=False, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert str(path) in result.stderr
    if kind == "bad-key":
        assert "sources[0].fps" in result.stderr
    else:
        assert "file not found" in result.stderr

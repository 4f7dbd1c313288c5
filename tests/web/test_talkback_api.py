"""Talkback through the HTTP API of a real ``medroom serve``: grant, fetch, publish by WHIP with
the grant's token, refusals, revoke by the instructor and the end by the speaker."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from library.db import Database
from library.users import get_user_by_username
from tests.conftest import Server
from tests.peers import client_pc
from tests.web.lessons import login
from web.bench.talkback import ToneTrack


def user_id(server: Server, name: str) -> int:
    db = Database(f"sqlite:///{server.data_dir / 'medroom.db'}")
    try:
        user = get_user_by_username(db, name)
        assert user is not None
        return user.id
    finally:
        db.dispose()


async def publish(server: Server, token: str, cookies: httpx.Cookies | None = None,
                  kinds: tuple[str, ...] = ("audio",)) -> tuple[RTCPeerConnection, httpx.Response]:
    pc = client_pc()
    for kind in kinds:
        if kind == "audio":
            pc.addTransceiver(ToneTrack(period=None), direction="sendonly")
        else:
            pc.addTransceiver(kind, direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    async with httpx.AsyncClient(base_url=server.url, timeout=30, cookies=cookies) as http:
        response = await http.post(
            "/api/rooms/demo/talkback/whip", content=pc.localDescription.sdp,
            headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {token}"})
    if response.status_code == 201:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
    return pc, response


def wait_for(check, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    return check()


@pytest.fixture(scope="module")
def live(server: Server):  # type: ignore[no-untyped-def]
    instructor = login(server, "dr-ana")
    student = login(server, "marko")
    curator = login(server, "cura")
    r = instructor.post("/api/rooms/demo/live", json={"title": "Talkback"})
    assert r.status_code in (200, 201), r.text
    yield instructor, student, curator
    instructor.delete("/api/rooms/demo/live")
    for client in (instructor, student, curator):
        client.close()


def test_grant_fetch_publish_revoke(server: Server, live) -> None:  # type: ignore[no-untyped-def]
    instructor, student, curator = live
    marko = user_id(server, "marko")
    # Students may not grant; nobody has a grant yet.
    assert student.post("/api/rooms/demo/talkback/grants",
                        json={"user_id": marko}).status_code == 403
    assert student.get("/api/rooms/demo/talkback/grant").status_code == 404
    assert instructor.post("/api/rooms/demo/talkback/grants",
                           json={"user_id": 987654}).status_code == 404
    assert instructor.post("/api/rooms/demo/talkback/grants",
                           json={"user_id": marko, "extra": 1}).status_code == 422

    r = instructor.post("/api/rooms/demo/talkback/grants", json={"user_id": marko})
    assert r.status_code == 201, r.text
    assert "token" not in r.json() and r.json()["allow_camera"] is False
    # Only the accepted user's page receives the token.
    assert curator.get("/api/rooms/demo/talkback/grant").status_code == 404
    mine = student.get("/api/rooms/demo/talkback/grant")
    assert mine.status_code == 200
    grant = mine.json()
    assert grant["whip_url"] == "/api/rooms/demo/talkback/whip" and len(grant["token"]) > 40

    async def scenario() -> None:
        # Another logged-in user holding the token is refused; a wrong token too; no token.
        pc, r = await publish(server, grant["token"], curator.cookies)
        await pc.close()
        assert r.status_code == 403 and "another user" in r.json()["detail"]
        pc, r = await publish(server, grant["token"] + "x", student.cookies)
        await pc.close()
        assert r.status_code == 401
        async with httpx.AsyncClient(base_url=server.url) as http:
            r = await http.post("/api/rooms/demo/talkback/whip", content="v=0",
                                headers={"Content-Type": "application/sdp"})
            assert r.status_code == 401
        # A camera the grant does not allow.
        pc, r = await publish(server, grant["token"], student.cookies, ("audio", "video"))
        await pc.close()
        assert r.status_code == 400 and "camera" in r.json()["detail"]

        pc, r = await publish(server, grant["token"], student.cookies)
        try:
            assert r.status_code == 201, r.text
            location = r.headers["location"]
            assert location.startswith("/api/rooms/demo/talkback/whip/")
            # The console's meter: the speaker publishes, their voice arrives.
            speakers = await asyncio.to_thread(wait_for, lambda: [
                s for s in instructor.get("/api/rooms/demo/talkback").json()
                if s["audio"] and s["level_db"] > -30])
            assert speakers and speakers[0]["user_id"] == marko and speakers[0]["publishing"]
            assert student.get("/api/rooms/demo/talkback").status_code == 403
            # A second publish with the same token while the first runs: 409.
            pc2, r2 = await publish(server, grant["token"], student.cookies)
            await pc2.close()
            assert r2.status_code == 409

            # The instructor ends it: the publish is closed at once, the token refused.
            r = instructor.delete(f"/api/rooms/demo/talkback/grants/{marko}")
            assert r.status_code == 200
            assert instructor.get("/api/rooms/demo/talkback").json() == []
            deadline = time.monotonic() + 10
            while pc.connectionState not in ("closed", "failed") and \
                    time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert pc.connectionState in ("closed", "failed")
            assert instructor.delete(
                f"/api/rooms/demo/talkback/grants/{marko}").status_code == 404
            async with httpx.AsyncClient(base_url=server.url) as http:
                assert (await http.delete(location)).status_code == 404
        finally:
            await pc.close()
        pc, r = await publish(server, grant["token"], student.cookies)
        await pc.close()
        assert r.status_code == 401 and "raise your hand" in r.json()["detail"]

    asyncio.run(scenario())


def test_speaker_ends_talkback_by_delete(server: Server, live) -> None:  # type: ignore[no-untyped-def]
    instructor, student, _ = live
    marko = user_id(server, "marko")
    r = instructor.post("/api/rooms/demo/talkback/grants",
                        json={"user_id": marko, "allow_camera": True})
    assert r.status_code == 201
    token = student.get("/api/rooms/demo/talkback/grant").json()["token"]

    async def scenario() -> None:
        # The token alone (no cookie) publishes: it is the capability; with the camera allowed.
        pc, r = await publish(server, token, None, ("audio", "video"))
        try:
            assert r.status_code == 201, r.text
            location = r.headers["location"]
            async with httpx.AsyncClient(base_url=server.url) as http:
                assert (await http.delete(location)).status_code == 200
        finally:
            await pc.close()
        assert instructor.get("/api/rooms/demo/talkback").json() == []
        assert student.get("/api/rooms/demo/talkback/grant").status_code == 404

    asyncio.run(scenario())


def test_unknown_room_is_404(server: Server, live) -> None:  # type: ignore[no-untyped-def]
    instructor, _, _ = live
    assert instructor.post("/api/rooms/nope/talkback/grants",
                           json={"user_id": 1}).status_code == 404
    r = httpx.post(server.url + "/api/rooms/nope/talkback/whip", content="v=0",
                   headers={"Content-Type": "application/sdp", "Authorization": "Bearer x"})
    assert r.status_code == 404

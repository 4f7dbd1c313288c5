"""WHIP ingest against a real `medroom serve`: an aiortc client publishes a moving picture into
a room's WHIP source, which goes live, shows that picture, and goes back to waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from tests.conftest import Server, start_server
from tests.web.whip_client import PUBLISHED_BGR, MovingPattern, WhipPublisher

ROOM = """
[room]
id = "or2"
name = "OR 2"
program_source = "cam"

[program]
width = 640
height = 360

[[sources]]
kind = "test-pattern"
id = "cam"
label = "Room camera"
width = 640
height = 360

[[sources]]
kind = "whip"
id = "obs"
label = "Laptop (OBS)"
width = 640
height = 360
"""

SDP_VP9_ONLY = (
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 98\r\n"
    "c=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=ice-ufrag:abcd\r\n"
    "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11\r\na=setup:actpass\r\n"
    "a=rtpmap:98 VP9/90000\r\n"
)


@pytest.fixture(scope="module")
def whip_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("whip")
    room = folder / "or2.toml"
    room.write_text(ROOM)
    yield from start_server(folder / "data", extra_env={"MEDROOM_ROOM_FILES": str(room)})


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def health(http: httpx.AsyncClient, source: str = "obs") -> dict[str, Any]:
    room = (await http.get("/api/rooms/or2")).json()
    return next(s["health"] for s in room["sources"] if s["id"] == source)  # type: ignore[no-any-return]


async def wait_for_state(http: httpx.AsyncClient, state: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        current = await health(http)
        if current["state"] == state:
            return current
        if time.monotonic() > deadline:
            raise AssertionError(f"source never became {state}: {current}")
        await asyncio.sleep(0.2)


async def thumbnail(http: httpx.AsyncClient, source: str) -> np.ndarray:
    r = await http.get(f"/api/rooms/or2/sources/{source}/thumbnail.jpg?width=320")
    assert r.status_code == 200
    image = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def close_to(pixel: np.ndarray, bgr: tuple[int, int, int], tolerance: int = 40) -> bool:
    return bool(np.all(np.abs(pixel.astype(int) - np.array(bgr)) <= tolerance))


async def test_publish_goes_live_shows_the_picture_and_ends(whip_server: Server) -> None:
    token = whip_server.token("instructor", room="or2")
    async with httpx.AsyncClient(base_url=whip_server.url, headers=auth(token),
                                 timeout=30) as http:
        before = await health(http)
        assert before["state"] == "waiting" and before["error"] is None
        assert before["note"] == "waiting for a WHIP publisher"

        publisher = WhipPublisher(whip_server.url, "or2", "obs", token)
        response = await publisher.publish()  # 640x480 into a 640x360 source
        assert response.status_code == 201, response.text
        assert response.headers["content-type"].startswith("application/sdp")
        assert publisher.location and publisher.location.startswith(
            "/api/rooms/or2/sources/obs/whip/")
        try:
            live = await wait_for_state(http, "live", timeout=30)
            assert (live["width"], live["height"]) == (640, 360)
            await asyncio.sleep(2.5)  # fps is measured over 2 s
            live = await health(http)
            assert live["state"] == "live" and live["fps"] > 5, live

            # The source's thumbnail is the published picture, pillarboxed (4:3 in 16:9).
            image = await thumbnail(http, "obs")
            h, w = image.shape[:2]
            assert close_to(image[h // 3, w // 2], PUBLISHED_BGR), image[h // 3, w // 2]
            assert image[h // 3, 4].max() < 40  # black bar beside the 4:3 picture

            # Put it on program: the composed program shows it too.
            r = await http.post("/api/rooms/or2/program", json={"source": "obs"})
            assert r.status_code == 200
            program = await thumbnail(http, "program")
            ph, pw = program.shape[:2]
            assert close_to(program[ph // 3, pw // 2], PUBLISHED_BGR), program[ph // 3, pw // 2]

            # One publisher per source.
            second = WhipPublisher(whip_server.url, "or2", "obs", token)
            busy = await second.publish()
            await second.close()
            assert busy.status_code == 409 and "already has a publisher" in busy.json()["detail"]
        finally:
            assert await publisher.unpublish() == 200

        lost = await wait_for_state(http, "lost", timeout=5)
        assert "DELETE" in lost["error"] and lost["note"] == "accepting a new WHIP publisher"
        # The room goes on: its other source is live, and the program shows a slate.
        assert (await health(http, "cam"))["state"] == "live"
        program = await thumbnail(http, "program")
        assert not close_to(program[program.shape[0] // 3, program.shape[1] // 2], PUBLISHED_BGR)
        await http.post("/api/rooms/or2/program", json={"source": "cam"})


async def test_a_publisher_that_vanishes_is_lost_and_the_source_takes_the_next(
    whip_server: Server,
) -> None:
    token = whip_server.token("instructor", room="or2")
    async with httpx.AsyncClient(base_url=whip_server.url, headers=auth(token),
                                 timeout=30) as http:
        first = WhipPublisher(whip_server.url, "or2", "obs", token)
        assert (await first.publish()).status_code == 201
        await wait_for_state(http, "live", timeout=30)
        await first.close()  # no DELETE: the laptop's network went away
        started = time.monotonic()
        lost = await wait_for_state(http, "lost", timeout=15)
        assert time.monotonic() - started < 10, lost
        assert lost["error"]

        # The next one is taken at once; when its encoder hangs (connection up, no picture)
        # the source is lost after 2 s of silence and the publish is ended by the server.
        track = MovingPattern()
        second = WhipPublisher(whip_server.url, "or2", "obs", token)
        try:
            assert (await second.publish(track)).status_code == 201
            await wait_for_state(http, "live", timeout=30)
            track.stalled.set()
            deadline = time.monotonic() + 15
            while "publisher left" not in ((lost := await health(http))["error"] or ""):
                assert time.monotonic() < deadline, f"the silent publish was never ended: {lost}"
                await asyncio.sleep(0.2)
            assert lost["state"] == "lost" and "no picture for 2 s" in lost["error"], lost
            third = WhipPublisher(whip_server.url, "or2", "obs", token)
            assert (await third.publish()).status_code == 201  # the source is free again
            assert await third.unpublish() == 200
        finally:
            await second.close()


async def test_bad_requests_get_clear_answers(whip_server: Server) -> None:
    url = f"{whip_server.url}/api/rooms/or2/sources"
    instructor = whip_server.token("instructor", room="or2")
    sdp = {"Content-Type": "application/sdp"}
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(f"{url}/obs/whip", content=SDP_VP9_ONLY, headers=sdp)
        assert r.status_code == 401
        student = whip_server.token("student", room="or2")
        r = await http.post(f"{url}/obs/whip", content=SDP_VP9_ONLY,
                            headers={**sdp, **auth(student)})
        assert r.status_code == 403 and "student" in r.json()["detail"]
        other_room = whip_server.token("instructor", room="*")
        assert (await http.post(f"{url}/obs/whip", content=SDP_VP9_ONLY,
                                headers={**sdp, **auth(other_room)})).status_code == 400

        r = await http.post(f"{url}/obs/whip", content=SDP_VP9_ONLY,
                            headers={**sdp, **auth(instructor)})
        assert r.status_code == 400 and "H.264 or VP8" in r.json()["detail"]
        r = await http.post(f"{url}/obs/whip", content=SDP_VP9_ONLY.replace("sendonly", "recvonly"),
                            headers={**sdp, **auth(instructor)})
        assert r.status_code == 400 and "WHEP" in r.json()["detail"]
        r = await http.post(f"{url}/obs/whip", content="hello",
                            headers={**sdp, **auth(instructor)})
        assert r.status_code == 400 and "v=0" in r.json()["detail"]
        r = await http.post(f"{url}/obs/whip", content=SDP_VP9_ONLY,
                            headers={"Content-Type": "text/plain", **auth(instructor)})
        assert r.status_code == 415 and "application/sdp" in r.json()["detail"]
        r = await http.post(f"{url}/cam/whip", content=SDP_VP9_ONLY,
                            headers={**sdp, **auth(instructor)})
        assert r.status_code == 404 and "not a WHIP one" in r.json()["detail"]
        r = await http.post(f"{url}/nope/whip", content=SDP_VP9_ONLY,
                            headers={**sdp, **auth(instructor)})
        assert r.status_code == 404
        r = await http.delete(f"{url}/obs/whip/0123", headers=auth(instructor))
        assert r.status_code == 404
        # None of that disturbed the source.
        room = (await http.get(f"{whip_server.url}/api/rooms/or2",
                               headers=auth(instructor))).json()
        assert next(s for s in room["sources"] if s["id"] == "obs")["health"]["state"] in (
            "waiting", "lost")

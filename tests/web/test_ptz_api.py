"""PTZ through the API against VISCA heads on real UDP sockets: a simulated one and a dead one."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from room_controller.ptz.simulated import Mode, ViscaPeer
from room_controller.ptz.visca import PT_INQUIRY
from tests.conftest import Server, start_server
from tests.room_controller.polling import wait_for

ROOM = """
[room]
id = "or1"
name = "OR 1"
program_source = "cam"

[[sources]]
kind = "test-pattern"
id = "cam"
label = "Room camera"
width = 640
height = 360

[[devices]]
kind = "visca-ip"
id = "head"
label = "Room camera head"
host = "127.0.0.1"
port = 0
camera_source = "cam"
simulate = true

[[devices]]
kind = "visca-ip"
id = "dead"
label = "Unplugged head"
host = "127.0.0.1"
port = {dead_port}

[[devices]]
kind = "visca-ip"
id = "wall"
label = "Wall head, unplugged while idle"
host = "127.0.0.1"
port = {wall_port}
"""


class PeerInThread:
    """A VISCA peer on its own event loop in this (test) process, so the test can unplug it
    while the server, another process, talks to it over UDP."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.peer: ViscaPeer = asyncio.run_coroutine_threadsafe(
            ViscaPeer.start(), self.loop).result(5)

    def set_mode(self, mode: Mode) -> None:
        self.loop.call_soon_threadsafe(setattr, self.peer, "mode", mode)

    def received(self) -> tuple[int, int]:
        """(inquiries, commands) the head was sent so far."""
        async def count() -> tuple[int, int]:
            types = [r.payload_type for r in self.peer.received]
            return types.count(PT_INQUIRY), len(self.peer.commands())
        return asyncio.run_coroutine_threadsafe(count(), self.loop).result(5)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.peer.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="module")
def wall_head() -> Iterator[PeerInThread]:
    head = PeerInThread()
    yield head
    head.close()


@pytest.fixture(scope="module")
def ptz_server(tmp_path_factory: pytest.TempPathFactory,
               wall_head: PeerInThread) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("ptz")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]  # closed again: nothing answers there
    room = folder / "or1.toml"
    room.write_text(ROOM.format(dead_port=dead_port, wall_port=wall_head.peer.port))
    yield from start_server(folder / "data", extra_env={"MEDROOM_ROOM_FILES": str(room)})


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def position(http: httpx.Client) -> dict[str, int]:
    return http.get("/api/rooms/or1/ptz/head/position").json()  # type: ignore[no-any-return]


def test_drive_presets_and_home(ptz_server: Server) -> None:
    with httpx.Client(base_url=ptz_server.url, headers=auth(ptz_server.token("instructor", room="or1")),
                      timeout=10) as http:
        heads = {h["id"]: h for h in http.get("/api/rooms/or1/ptz").json()}
        assert heads["head"]["reachable"] is True and heads["head"]["camera_source"] == "cam"
        start = position(http)
        assert http.post("/api/rooms/or1/ptz/head/move", json={"pan": 1, "tilt": 0.5}).status_code == 204
        time.sleep(0.6)
        assert http.post("/api/rooms/or1/ptz/head/move", json={"pan": 0, "tilt": 0}).status_code == 204
        time.sleep(0.2)
        moved = position(http)
        assert moved["pan"] > start["pan"] + 100 and moved["tilt"] > start["tilt"]
        time.sleep(0.3)
        assert position(http) == moved  # stopped means stopped

        assert http.put("/api/rooms/or1/ptz/head/presets/3").status_code == 204
        assert http.post("/api/rooms/or1/ptz/head/home").status_code == 204
        assert position(http)["pan"] == 0
        assert http.post("/api/rooms/or1/ptz/head/presets/3/recall").status_code == 204
        assert position(http)["pan"] == moved["pan"]

        no_preset = http.put("/api/rooms/or1/ptz/head/presets/200")  # presets are 0..127
        assert no_preset.status_code == 404 and "127" in no_preset.json()["detail"]
        assert http.post("/api/rooms/or1/ptz/head/focus", json={"mode": "blurry"}).status_code == 422
        assert http.post("/api/rooms/or1/ptz/nope/home").status_code == 404
        student = http.post("/api/rooms/or1/ptz/head/move", json={"pan": 1, "tilt": 0},
                            headers=auth(ptz_server.token("student", room="or1")))
        assert student.status_code == 403
        assert http.post("/api/rooms/or1/ptz/head/move", json={"pan": 3, "tilt": 0}).status_code == 422


def test_a_dead_camera_is_reported_and_the_room_keeps_working(ptz_server: Server) -> None:
    with httpx.Client(base_url=ptz_server.url, headers=auth(ptz_server.token("instructor", room="or1")),
                      timeout=15) as http:
        def dead_head() -> dict:  # type: ignore[type-arg]
            return next(h for h in http.get("/api/rooms/or1/ptz").json() if h["id"] == "dead")

        # The head's first probe times out a few seconds after start-up: until then, unknown.
        assert wait_for(lambda: dead_head()["reachable"] is not None, timeout=30, step=0.2)
        assert dead_head()["reachable"] is False and dead_head()["last_error"]
        started = time.monotonic()
        r = http.post("/api/rooms/or1/ptz/dead/home")
        assert r.status_code == 504 and "127.0.0.1" in r.json()["detail"]
        assert time.monotonic() - started < 6
        # The room, its source and the other head are unaffected.
        assert http.get("/api/rooms/or1").json()["sources"][0]["health"]["state"] == "live"
        assert http.post("/api/rooms/or1/ptz/head/home").status_code == 204


def test_a_head_unplugged_while_idle_shows_not_answering_within_5_s(
        ptz_server: Server, wall_head: PeerInThread) -> None:
    with httpx.Client(base_url=ptz_server.url, headers=auth(ptz_server.token("instructor", room="or1")),
                      timeout=10) as http:
        def wall() -> dict:  # type: ignore[type-arg]
            return next(h for h in http.get("/api/rooms/or1/ptz").json() if h["id"] == "wall")

        assert wait_for(lambda: wall()["reachable"] is True, timeout=15, step=0.2), wall()
        # Nobody drives it, yet the server keeps asking: the answer stays a few seconds young.
        inquiries, _ = wall_head.received()
        time.sleep(4.5)
        assert wall()["reachable"] is True and wall()["last_answer_age"] < 3
        assert wall_head.received()[0] >= inquiries + 2

        wall_head.set_mode("mute")  # unplugged; no command is sent from here on
        unplugged = time.monotonic()
        assert wait_for(lambda: wall()["reachable"] is False, timeout=5.0, step=0.1), wall()
        assert time.monotonic() - unplugged < 5.0
        head = wall()
        assert "did not answer" in head["last_error"] and head["last_answer_age"] >= 2

        wall_head.set_mode("normal")  # plugged back in
        assert wait_for(lambda: wall()["reachable"] is True, timeout=5.0, step=0.1), wall()
        head = wall()
        assert head["last_error"] is None and head["last_answer_age"] < 2
        assert wall_head.received()[1] == 0  # all of it without a single command to the head

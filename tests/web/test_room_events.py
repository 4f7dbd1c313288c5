"""The console's websocket against a real `medroom serve`: state pushed on change, who may
connect, and a PTZ head that stops when the console driving it vanishes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import PASSWORD, Server, start_server
from tests.web.test_ptz_api import ROOM as PTZ_ROOM


@pytest.fixture(scope="module")
def ptz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("events")
    room = folder / "or1.toml"
    # Nothing listens on the discard port: both heads stay unplugged here.
    room.write_text(PTZ_ROOM.format(dead_port=9, wall_port=9))
    yield from start_server(folder / "data", extra_env={"MEDROOM_ROOM_FILES": str(room)})


def ws_url(server: Server, room: str, token: str | None = None) -> str:
    url = server.url.replace("http://", "ws://") + f"/api/rooms/{room}/events"
    return url + (f"?token={token}" if token else "")


async def next_state(ws: ClientConnection, timeout: float) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message["type"] == "state":
            return message  # type: ignore[no-any-return]


async def refused(url: str, **kwargs: Any) -> tuple[int, str]:
    async with connect(url, **kwargs) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def test_state_is_pushed_when_the_program_changes(server: Server) -> None:
    instructor = server.token("instructor")
    async with connect(ws_url(server, "demo", instructor)) as ws:
        first = await next_state(ws, timeout=10)
        assert first["room"]["id"] == "demo" and first["composition"]["layout"]["kind"]
        assert {s["id"] for s in first["room"]["sources"]} == {"endoscope", "room-cam", "ct"}
        for source in ("ct", "endoscope"):
            async with httpx.AsyncClient(base_url=server.url) as http:
                switched_at = time.monotonic()
                r = await http.post("/api/rooms/demo/program", json={"source": source},
                                    headers={"Authorization": f"Bearer {instructor}"})
                assert r.status_code == 200
            while True:
                state = await next_state(ws, timeout=5)
                if state["room"]["program_source"] == source:
                    break
            assert time.monotonic() - switched_at < 1.0
            assert state["composition"]["layout"]["sources"][0] == source


async def test_a_logged_in_page_connects_with_its_session_cookie(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        csrf = (await http.get("/login")).text.split('name="csrf" value="')[1].split('"')[0]
        r = await http.post("/login", data={"username": "dr-ana", "password": PASSWORD,
                                            "csrf": csrf})
        assert r.status_code == 303
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    async with connect(ws_url(server, "demo"), additional_headers={"Cookie": cookie},
                       origin=server.url) as ws:  # type: ignore[arg-type]
        assert (await next_state(ws, timeout=10))["room"]["id"] == "demo"
    code, reason = await refused(ws_url(server, "demo"), additional_headers={"Cookie": cookie},
                                 origin="http://evil.example")  # type: ignore[arg-type]
    assert code == 4403 and "cross-site" in reason


async def test_sockets_without_the_right_credentials_are_refused(server: Server) -> None:
    code, reason = await refused(ws_url(server, "demo"))
    assert code == 4401 and "token" in reason
    code, reason = await refused(ws_url(server, "demo", "not-a-token"))
    assert code == 4401 and "not valid" in reason
    code, reason = await refused(ws_url(server, "demo", server.token("student")))
    assert code == 4403 and "student" in reason
    code, _ = await refused(ws_url(server, "nope", server.token("instructor", room="*")))
    assert code == 4404


async def pan(http: httpx.AsyncClient) -> int:
    return int((await http.get("/api/rooms/or1/ptz/head/position")).json()["pan"])


async def test_a_head_stops_when_the_console_driving_it_vanishes(ptz_server: Server) -> None:
    token = ptz_server.token("instructor", room="or1")
    async with httpx.AsyncClient(base_url=ptz_server.url, timeout=10,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        start = await pan(http)
        ws = await connect(ws_url(ptz_server, "or1", token))
        state = await next_state(ws, timeout=10)
        assert [h["id"] for h in state["ptz"]] == ["head", "dead", "wall"]
        await ws.send(json.dumps({"type": "ptz", "camera": "nope", "action": "move", "pan": 1}))
        error = json.loads(await asyncio.wait_for(ws.recv(), 5))
        while error["type"] != "error":
            error = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert "no PTZ camera 'nope'" in error["message"]
        await ws.send(json.dumps({"type": "ptz", "camera": "head", "action": "move",
                                  "pan": 1, "tilt": 0}))
        for _ in range(6):  # the console holds the key: keep-alives, the head keeps turning
            await asyncio.sleep(0.25)
            await ws.send(json.dumps({"type": "ptz", "camera": "head", "action": "keepalive"}))
        await ws.close()  # the console's tab is closed with the key still held
        await asyncio.sleep(0.6)
        stopped = await pan(http)
        assert stopped > start + 100  # it did move for the ~1.5 s the key was held
        await asyncio.sleep(1.0)
        assert await pan(http) == stopped  # and it stopped when the socket closed

        # A client that stops sending keep-alives (no socket close, e.g. a frozen page):
        # the server stops the head after about a second.
        assert (await http.post("/api/rooms/or1/ptz/head/move",
                                json={"pan": -1, "tilt": 0})).status_code == 204
        deadline = time.monotonic() + 6
        previous = await pan(http)
        while True:
            await asyncio.sleep(0.5)
            now = await pan(http)
            if now == previous and now < stopped:
                break
            assert time.monotonic() < deadline, "the head never stopped"
            previous = now
        await asyncio.sleep(1.0)
        assert await pan(http) == now

"""WHEP/WHIP browser clients that nobody here wrote, as published on npm (``whip-whep``'s
WHEPClient and WHIPClient, ``@eyevinn/webrtc-player`` with its WHEP adapter,
``@eyevinn/whip-web-client``), on a page of ANOTHER origin, in headless Chromium, against a real
`medroom serve` with that origin in MEDROOM_CORS_ORIGINS: each player views the demo room's
program (frames counted with requestVideoFrameCallback), each publisher publishes Chromium's
fake camera into a WHIP source; each ends with DELETE and the server keeps nothing.
``make npm-clients`` builds the bundle."""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from config.settings import DEMO_ROOM_FILE
from tests.conftest import REPO, Server, free_port, start_server
from tests.e2e.test_browser import CHROMIUM, FLAGS
from tests.web.test_whip_ingest import ROOM

pytestmark = pytest.mark.browser

BUNDLE = REPO / ".cache" / "npm" / "clients.js"
PAGE = """<!doctype html><meta charset="utf-8"><title>LMS page</title>
<script src="clients.js"></script><body><p>An embedded MedRoom player</p></body>"""

#: whip-whep's WHEPClient: the page makes the peer connection, the client does the exchange.
VIEW = """async ({url, token}) => {
  const pc = new RTCPeerConnection({iceServers: []});
  pc.addTransceiver("video", {direction: "recvonly"});
  const video = document.createElement("video");
  video.muted = true; video.autoplay = true; video.playsInline = true;
  document.body.append(video);
  const state = window.viewer = {frames: 0, first: null, pc, video};
  const started = performance.now();
  const count = () => {
    state.frames += 1;
    if (state.first === null) state.first = (performance.now() - started) / 1000;
    video.requestVideoFrameCallback(count);
  };
  pc.ontrack = (e) => {
    video.srcObject = e.streams[0] || new MediaStream([e.track]);
    video.requestVideoFrameCallback(count);
    video.play();
  };
  state.client = new WHEPClient();
  await state.client.view(pc, url, token);
}"""

#: @eyevinn/webrtc-player makes its own peer connection (no STUN server: ``iceServers: []``)
#: and sends the Authorization header as given.
EYEVINN_VIEW = """async ({url, token}) => {
  const video = document.createElement("video");
  video.muted = true; video.autoplay = true; video.playsInline = true;
  document.body.append(video);
  const state = window.viewer = {frames: 0, first: null, video};
  const started = performance.now();
  const count = () => {
    state.frames += 1;
    if (state.first === null) state.first = (performance.now() - started) / 1000;
    video.requestVideoFrameCallback(count);
  };
  video.requestVideoFrameCallback(count);
  state.client = new WebRTCPlayer({video, type: "whep", iceServers: []});
  state.client.stop = () => state.client.unload();
  await state.client.load(new URL(url), "Bearer " + token);
}"""

PUBLISH = """async ({url, token}) => {
  const stream = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 360}});
  const pc = new RTCPeerConnection({iceServers: []});
  for (const track of stream.getTracks()) pc.addTransceiver(track, {direction: "sendonly"});
  window.publisher = {pc, client: new WHIPClient()};
  await window.publisher.client.publish(pc, url, token);
}"""


#: @eyevinn/whip-web-client asks the endpoint (OPTIONS) whether it allows PATCH, and then posts
#: its offer at once and trickles each candidate by PATCH.
EYEVINN_PUBLISH = """async ({url, token}) => {
  const stream = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 360}});
  const client = new EyevinnWHIPClient({endpoint: url, opts: {authkey: token, iceServers: []}});
  window.publisher = {client};
  client.stop = () => client.destroy();
  await client.ingest(stream);
  window.publisher.trickles = client.supportTrickleIce();
}"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def other_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The LMS page: a second HTTP server on another port of 127.0.0.1 (another origin)."""
    if not BUNDLE.exists():
        subprocess.run(["make", "npm-clients"], cwd=REPO, check=True, timeout=600)
    folder = tmp_path_factory.mktemp("lms")
    shutil.copy(BUNDLE, folder / "clients.js")
    (folder / "index.html").write_text(PAGE)
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", free_port()), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def cors_server(tmp_path_factory: pytest.TempPathFactory, other_origin: str) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("npm-clients")
    room = folder / "or2.toml"
    room.write_text(ROOM)
    yield from start_server(folder / "data", extra_env={
        "MEDROOM_ROOM_FILES": f"{DEMO_ROOM_FILE},{room}",
        "MEDROOM_CORS_ORIGINS": other_origin,
    })


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.fail(f"headless Chromium not found at {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            *FLAGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
        yield browser
        browser.close()


def exchanges_of(page: Any) -> list[tuple[str, int]]:
    """(method, status) of every request the page makes to MedRoom (the preflights excepted)."""
    seen: list[tuple[str, int]] = []
    page.on("response", lambda r: seen.append((r.request.method, r.status))
            if "/api/rooms/" in r.url else None)
    return seen


def deletes(seen: list[tuple[str, int]]) -> list[int]:
    """Statuses of the DELETEs. whip-whep closes its peer connection before the DELETE, so the
    server may have ended the session already (404): either way it is gone."""
    return [status for method, status in seen if method == "DELETE"]


def nothing_left(server: Server) -> dict[str, Any]:
    admin = {"Authorization": f"Bearer {server.token('admin')}"}
    deadline = time.monotonic() + 10
    while True:
        state: dict[str, Any] = httpx.get(f"{server.url}/api/diagnostics", headers=admin).json()
        if state["viewers"] == 0 or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


PLAYERS = {"whip-whep WHEPClient": VIEW, "@eyevinn/webrtc-player": EYEVINN_VIEW}
PUBLISHERS = {"whip-whep WHIPClient": PUBLISH, "@eyevinn/whip-web-client": EYEVINN_PUBLISH}


@pytest.mark.parametrize("client", PLAYERS)
def test_npm_player_on_another_origin_views_the_program(
    chromium: Any, cors_server: Server, other_origin: str, client: str,
) -> None:
    instructor = {"Authorization": f"Bearer {cors_server.token('instructor')}"}
    r = httpx.post(f"{cors_server.url}/api/rooms/demo/live", json={}, headers=instructor)
    assert r.status_code == 201, r.text
    context = chromium.new_context()
    page = context.new_page()
    seen = exchanges_of(page)
    try:
        page.goto(other_origin + "/index.html")
        page.evaluate(PLAYERS[client], {"url": f"{cors_server.url}/api/rooms/demo/whep",
                                        "token": cors_server.token("student", subject="lms")})
        page.wait_for_function("window.viewer.frames >= 60", timeout=30_000)
        frames, first = page.evaluate("[window.viewer.frames, window.viewer.first]")
        size = page.evaluate("[window.viewer.video.videoWidth, window.viewer.video.videoHeight]")
        print(f"{client}: {frames} frames, first after {first:.2f} s, {size}")
        assert size == [1280, 720]
        assert httpx.get(f"{cors_server.url}/api/rooms/demo",
                         headers=instructor).json()["viewer_count"] == 1
        page.evaluate("window.viewer.client.stop()")  # DELETE on the session URL
        state = nothing_left(cors_server)
        assert state["viewers"] == 0, state
        assert deletes(seen) and deletes(seen)[0] in (200, 404), seen
        print(f"{client}: requests {seen}")
    finally:
        context.close()
    r = httpx.delete(f"{cors_server.url}/api/rooms/demo/live", headers=instructor)
    assert r.status_code == 200
    assert nothing_left(cors_server)["encoders"] == []


@pytest.mark.parametrize("client", PUBLISHERS)
def test_npm_publisher_on_another_origin_publishes_the_camera(
    chromium: Any, cors_server: Server, other_origin: str, client: str,
) -> None:
    token = cors_server.token("instructor", room="or2")
    headers = {"Authorization": f"Bearer {token}"}

    def health() -> dict[str, Any]:
        room = httpx.get(f"{cors_server.url}/api/rooms/or2", headers=headers).json()
        return next(s["health"] for s in room["sources"] if s["id"] == "obs")  # type: ignore[no-any-return]

    context = chromium.new_context()
    page = context.new_page()
    seen = exchanges_of(page)
    try:
        page.goto(other_origin + "/index.html")
        started = time.monotonic()
        page.evaluate(PUBLISHERS[client], {
            "url": f"{cors_server.url}/api/rooms/or2/sources/obs/whip", "token": token})
        while (current := health())["state"] != "live":
            assert time.monotonic() - started < 20, f"never live: {current}, {seen}"
            time.sleep(0.2)
        live_after = time.monotonic() - started
        time.sleep(2)
        print(f"{client}: source live after {live_after:.2f} s, {health()['fps']:.1f} fps")
        assert health()["fps"] > 5
        if client == "@eyevinn/whip-web-client":
            # It asked first, read that PATCH is allowed, and trickled its candidates.
            assert seen[0] == ("OPTIONS", 204), seen
            assert page.evaluate("window.publisher.trickles")
            assert ("PATCH", 204) in seen, seen
        page.evaluate("window.publisher.client.stop()")  # DELETE on the session URL
        deadline = time.monotonic() + 10
        while (current := health())["state"] == "live" or not deletes(seen):
            assert time.monotonic() < deadline, f"publish not ended: {current}, {seen}"
            time.sleep(0.2)
        assert deletes(seen)[0] in (200, 404), seen
        assert current["note"] == "accepting a new WHIP publisher"
        print(f"{client}: requests {seen}")
    finally:
        context.close()

"""Debian's GStreamer 1.22 webrtcbin publishes into a room by WHIP and views it by WHEP.

GStreamer's DTLS certificate is RSA, so this is the test of the ECDHE-RSA suites
(``streaming/dtls.py``). It needs Debian's GStreamer packages (``make setup-test`` installs
them); without them it fails saying which command to run, it never skips. The peer is
``tests/e2e/gst_peer.py`` under the system python3 (python3-gi; the virtualenv cannot import
gi), speaking WHIP/WHEP over HTTP to a real ``medroom serve`` on loopback.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.conftest import Server, start_server
from tests.web.test_whip_ingest import ROOM

pytestmark = pytest.mark.gstreamer

SYSTEM_PYTHON = "/usr/bin/python3"
PEER = Path(__file__).with_name("gst_peer.py")
PACKAGES = (
    "python3-gi gir1.2-gst-plugins-bad-1.0 gstreamer1.0-plugins-bad gstreamer1.0-plugins-good "
    "gstreamer1.0-plugins-ugly gstreamer1.0-nice gstreamer1.0-libav"
)
ELEMENTS = ("webrtcbin", "nicesrc", "videotestsrc", "x264enc", "rtph264pay", "avdec_h264")


def require_gstreamer() -> None:
    probe = (
        "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstWebRTC', '1.0');"
        "from gi.repository import Gst, GstWebRTC; Gst.init(None);"
        f"print(' '.join(e for e in {ELEMENTS!r} if Gst.ElementFactory.find(e) is None))"
    )
    try:
        result = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True,
                                timeout=60, check=False)
        missing = result.stdout.strip() if result.returncode == 0 else result.stderr.strip()
    except FileNotFoundError:
        missing = f"{SYSTEM_PYTHON} itself"
    if missing:
        pytest.fail(f"GStreamer's webrtcbin is not usable ({missing}): run "
                    f"'sudo apt-get install {PACKAGES}' (or 'make setup-test')", pytrace=False)


class GstPeer:
    """One gst_peer.py process; its JSON lines read as they come."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [SYSTEM_PYTHON, str(PEER), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        self.events: list[dict[str, Any]] = []
        self.began = time.monotonic()

    def until(self, event: str, timeout: float) -> dict[str, Any]:
        """Read events up to the first ``event``; fail with what GStreamer said if not."""
        deadline = time.monotonic() + timeout
        stdout: IO[str] = self.process.stdout  # type: ignore[assignment]
        while time.monotonic() < deadline:
            line = stdout.readline()
            if not line:
                break
            self.events.append(json.loads(line))
            if self.events[-1]["event"] == event:
                return self.events[-1]
        self.process.kill()
        stderr = self.process.stderr.read() if self.process.stderr else ""
        raise AssertionError(f"no '{event}' from GStreamer: {self.events}\n{stderr[-3000:]}")

    def stop(self) -> dict[str, Any]:
        """Close stdin (the publisher's cue to DELETE) and read its last word."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.until("done", 20)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def whip_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_gstreamer()
    folder = tmp_path_factory.mktemp("gst")
    room = folder / "or2.toml"
    room.write_text(ROOM)
    yield from start_server(folder / "data", extra_env={"MEDROOM_ROOM_FILES": str(room)})


def wait_for(http: httpx.Client, check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check(http)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.2)


def obs_health(http: httpx.Client) -> dict[str, Any]:
    room = http.get("/api/rooms/or2").json()
    health: dict[str, Any] = next(s["health"] for s in room["sources"] if s["id"] == "obs")
    return health


def test_gstreamer_publishes_by_whip_and_views_by_whep(whip_server: Server) -> None:
    instructor = whip_server.token("instructor", room="or2")
    admin = {"Authorization": f"Bearer {whip_server.token('admin')}"}
    whip_url = f"{whip_server.url}/api/rooms/or2/sources/obs/whip"
    whep_url = f"{whip_server.url}/api/rooms/or2/whep"
    with httpx.Client(base_url=whip_server.url, timeout=20,
                      headers={"Authorization": f"Bearer {instructor}"}) as http:
        before = http.get("/api/diagnostics", headers=admin).json()
        publisher = GstPeer("whip", whip_url, instructor)
        viewer: GstPeer | None = None
        try:
            assert publisher.until("answer", 30)["status"] == 201
            connected = publisher.until("connected", 15)  # DTLS with GStreamer's RSA key
            # MedRoom shows GStreamer's picture: the source goes live at its size and rate.
            live = wait_for(http, lambda h: (s := obs_health(h))["state"] == "live" and s,
                            20, "the WHIP source never went live")
            live_after = time.monotonic() - publisher.began
            assert (live["width"], live["height"]) == (640, 360)
            time.sleep(2.5)  # fps is measured over 2 s (the first frames come in a burst)
            fps = obs_health(http)["fps"]
            assert 20 < fps < 40, f"GStreamer sends 30 fps, MedRoom receives {fps}"

            # GStreamer views the program, which shows GStreamer's own published picture.
            assert http.post("/api/rooms/or2/live", json={}).status_code == 201
            assert http.post("/api/rooms/or2/program",
                             json={"source": "obs"}).status_code == 200
            viewer = GstPeer("whep", whep_url, whip_server.token("student", room="or2"), "60")
            offered = viewer.until("offer", 30)
            assert viewer.until("answer", 10)["status"] == 201
            viewer.until("connected", 15)
            first = viewer.until("first-frame", 20)
            assert (first["width"], first["height"]) == (640, 360)
            done = viewer.until("done", 30)
            assert done["frames"] >= 60, done
            assert done["delete"] == 200
            stopped = publisher.stop()
            assert stopped["delete"] == 200
            print(f"\nGStreamer publisher: connected {connected['seconds']:.2f} s after start, "
                  f"source live after {live_after:.2f} s at {fps} fps; GStreamer viewer: "
                  f"{done['frames']} frames decoded in {done['seconds'] - first['seconds']:.2f} s, "
                  f"first {first['seconds'] - offered['seconds']:.2f} s after its offer")

            # Nothing left behind: no viewer, the source waits for the next publisher.
            wait_for(http, lambda h: obs_health(h)["state"] != "live", 10,
                     "the WHIP source stayed live after DELETE")
            assert http.delete("/api/rooms/or2/live").status_code == 200
            after = wait_for(
                http, lambda h: (d := h.get("/api/diagnostics", headers=admin).json())
                ["viewers"] == 0 and d["encoders"] == before["encoders"] and d, 10,
                "a viewer or an encoder was left behind")
            assert not [k for k in after["task_kinds"] if "RTC" in k or "Dtls" in k], after
        finally:
            publisher.kill()
            if viewer is not None:
                viewer.kill()

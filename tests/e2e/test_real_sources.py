"""A room with real-source kinds in the console: a clip, a slide, an HTTP stream from a server
in the test, a refusing encoder and a missing camera. The working ones show pictures; the broken
ones say why, in the console and the API, and the room goes on."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from tests.conftest import Server, start_server
from tests.e2e.test_browser import ARTIFACTS, browser, log_in  # noqa: F401 (fixture)
from tests.room_controller.polling import wait_for
from tests.room_controller.stream_peers import http_file_server, refusing_port, write_clip

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    folder = tmp_path_factory.mktemp("media")
    write_clip(folder / "approach.mp4", frames=60, width=640, height=480)
    write_clip(folder / "tower.ts", frames=300, width=640, height=360)
    slide = np.full((720, 960, 3), (60, 30, 10), np.uint8)
    cv2.putText(slide, "Case 12: pituitary adenoma", (60, 360), cv2.FONT_HERSHEY_SIMPLEX, 1.6,
                (255, 255, 255), 3, cv2.LINE_AA)
    cv2.imwrite(str(folder / "case.png"), slide)
    with http_file_server(folder) as base:
        yield folder, base


@pytest.fixture(scope="module")
def real_server(
    tmp_path_factory: pytest.TempPathFactory, media: tuple[Path, str]
) -> Iterator[Server]:
    folder, base = media
    data_dir = tmp_path_factory.mktemp("medroom-real")
    (data_dir / "media").mkdir()
    shutil.copy(folder / "approach.mp4", data_dir / "media" / "approach.mp4")
    n = 7
    while Path(f"/dev/video{n}").exists():
        n += 1
    room = data_dir / "or-real.toml"
    room.write_text(f"""
[room]
id = "or-real"
name = "ENT OR 2"
program_source = "reference"

[[sources]]
kind = "clip"
id = "reference"
label = "Reference video"
path = "media/approach.mp4"

[[sources]]
kind = "network"
id = "tower"
label = "Tower encoder (HTTP)"
url = "{base}/tower.ts"

[[sources]]
kind = "still"
id = "slide"
label = "Case slide"
path = "{folder / 'case.png'}"

[[sources]]
kind = "network"
id = "obs"
label = "Laptop encoder"
url = "rtsp://presenter:secret@127.0.0.1:{refusing_port()}/live"

[[sources]]
kind = "device"
id = "field"
label = "Field camera"
device = "/dev/video{n}"
""")
    yield from start_server(data_dir, extra_env={"MEDROOM_ROOM_FILES": str(room)})


def test_console_shows_real_sources_and_why_broken_ones_fail(  # type: ignore[no-untyped-def]
    browser, real_server: Server  # noqa: F811 (fixture)
) -> None:
    token = real_server.token("instructor", room="or-real")
    headers = {"Authorization": f"Bearer {token}"}
    api = real_server.url + "/api/rooms/or-real"

    def health() -> dict[str, dict[str, object]]:
        data = httpx.get(api, headers=headers, timeout=10).json()
        return {s["id"]: s["health"] for s in data["sources"]}

    h: dict[str, dict[str, object]] = {}

    def settled() -> bool:
        nonlocal h
        h = health()
        working = all(h[s]["state"] == "live" for s in ("reference", "tower", "slide"))
        return working and bool(h["obs"]["error"]) and bool(h["field"]["error"])

    assert wait_for(settled, 20.0, step=0.2), h
    assert h["reference"]["state"] == "live" and h["tower"]["state"] == "live", h
    assert (h["slide"]["width"], h["slide"]["height"]) == (1280, 720)
    assert h["obs"]["state"] == "failed"
    obs_error = str(h["obs"]["error"])
    assert obs_error.startswith("connection refused: rtsp://presenter:***@127.0.0.1:")
    assert "secret" not in obs_error
    assert str(h["field"]["error"]).startswith("no such video device /dev/video")

    context, page = log_in(browser, real_server, "dr-ana")
    try:
        page.goto(real_server.url + "/rooms/or-real/console")
        page.wait_for_selector("[data-health='tower'].health-live", timeout=15_000)
        page.wait_for_selector("[data-health='obs'].health-failed", timeout=15_000)
        obs = page.text_content("[data-health='obs']") or ""
        assert obs.startswith("failed: connection refused: rtsp://presenter:***@")
        assert page.get_attribute("[data-health='obs']", "title") == obs  # whole on hover
        field = page.text_content("[data-health='field']") or ""
        assert "no such video device" in field and "`medroom devices`" in field
        page.keyboard.press("3")  # the slide on program
        page.wait_for_selector(".source-tile.on-program[data-source='slide']")
        page.wait_for_timeout(1500)  # thumbnails refresh in turn
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-real-sources.png"), full_page=True)
    finally:
        context.close()

"""Headless Chromium: live drawing. The instructor draws on the console's program and the
student's page shows it over the same frame, then fades it; an allowed student draws in their
colour and the console shows it; a student who is not allowed is refused by the server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from library.db import Database
from library.users import get_user_by_username
from tests.conftest import PASSWORD, Server
from tests.e2e.test_browser import ARTIFACTS, browser, log_in  # noqa: F401 - the fixture
from web.bench.draw import measure, print_report, report

pytestmark = pytest.mark.browser

YELLOW = (255, 212, 0)  # the console's first swatch, #ffd400
SPEAKER = "#ff3b8d"
CLOCK = 90_000

# The colour of the canvas pixel at (fx, fy) of its size: [r, g, b, a].
PIXEL = """([fx, fy]) => { const c = document.getElementById('draw-canvas');
  const d = c.getContext('2d').getImageData(Math.round(c.width * fx), Math.round(c.height * fy), 1, 1).data;
  return Array.from(d); }"""


def draw_line(page: Any, y: float, x0: float, x1: float, steps: int = 12) -> None:
    """Drag the mouse across the page's drawing canvas (fractions of its box)."""
    box = page.locator("#draw-canvas").bounding_box()
    assert box is not None
    at = lambda fx, fy: (box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
    page.mouse.move(*at(x0, y))
    page.mouse.down()
    for i in range(1, steps + 1):
        page.mouse.move(*at(x0 + (x1 - x0) * i / steps, y))
        page.wait_for_timeout(25)
    page.mouse.up()


def near(pixel: list[int], rgb: tuple[int, int, int], tolerance: int = 40,
         alpha: int = 150) -> bool:
    return pixel[3] > alpha and all(abs(a - b) <= tolerance for a, b in zip(pixel, rgb, strict=False))


def user_id(server: Server, name: str) -> int:
    db = Database(f"sqlite:///{server.data_dir / 'medroom.db'}")
    try:
        user = get_user_by_username(db, name)
        assert user is not None
        return int(user.id)
    finally:
        db.dispose()


def test_drawing_reaches_every_screen_on_its_frame(browser, server: Server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    token = server.token("instructor")
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"},
                       timeout=30)
    console_ctx, console = log_in(browser, server, "dr-ana", height=768)
    student_ctx, watch = log_in(browser, server, "marko", width=1366, height=768)
    try:
        console.goto(server.url + "/rooms/demo/console")
        console.fill("#session-title", "Drawing on the program")
        console.click("#go-live")
        console.wait_for_selector("#live-badge.badge-live")
        watch.goto(server.url + "/rooms/demo/watch")
        for page, video in ((console, "program-video"), (watch, "live-video")):
            # Playing, and the page knows its RTP origin: frames have media ticks.
            page.wait_for_function(
                f"document.getElementById('{video}').videoWidth > 0 && "
                "MedRoom.liveOverlay.ticks !== null", timeout=30_000)
        console.wait_for_selector("#draw-toggle:not([hidden])")
        assert watch.is_hidden("#draw-toggle")  # a student has no right to draw yet

        # The instructor draws across the middle of the program (D toggles drawing).
        console.keyboard.press("d")
        console.wait_for_selector("body.drawing")
        draw_line(console, 0.5, 0.3, 0.7)
        watch.wait_for_function(
            "Number(document.getElementById('draw-canvas').dataset.strokes) >= 1", timeout=5000)
        watch.wait_for_timeout(300)
        assert near(watch.evaluate(PIXEL, [0.5, 0.5]), YELLOW), watch.evaluate(PIXEL, [0.5, 0.5])
        assert watch.evaluate(PIXEL, [0.5, 0.2])[3] == 0  # only where it was drawn
        watch.screenshot(path=str(ARTIFACTS / "drawing-student-1366.png"))
        console.screenshot(path=str(ARTIFACTS / "drawing-console-1366.png"))
        # On its frame: each point showed up on the first frame at or after the one the console
        # displayed when the pointer moved there, never before.
        drawn = console.evaluate("MedRoom.liveOverlay.trace")
        shown = watch.evaluate("MedRoom.liveOverlay.shown")
        assert drawn and shown and all(p["f"] is not None for p in drawn)
        drawn_at = {(p["x"], p["y"]): p["at"] for p in drawn}
        report = [(round(((e["ticks"] - e["f"]) % 2**32) / CLOCK, 3),
                   round(e["arrived"] - drawn_at.get((e["x"], e["y"]), 0)),
                   round(e["at"] - drawn_at.get((e["x"], e["y"]), 0))) for e in shown]
        for late, _, _ in report:
            # Never before its frame; after it by no more than the data channel's delay (a
            # wrong RTP origin would be hours off; a loaded machine can add some tenths).
            assert 0 <= late < 1.0, report
        first_frame = min(p["f"] for p in drawn)
        assert min(((e["f"] - first_frame) % 2**32) for e in shown) < 0.2 * CLOCK, report

        # The phone layout shows the same drawing over its smaller picture.
        watch.set_viewport_size({"width": 390, "height": 844})
        watch.wait_for_timeout(300)
        draw_line(console, 0.5, 0.3, 0.7)
        watch.wait_for_function(f"({PIXEL})([0.5, 0.5])[3] > 200", timeout=5000)
        assert near(watch.evaluate(PIXEL, [0.5, 0.5]), YELLOW)
        watch.screenshot(path=str(ARTIFACTS / "drawing-student-390.png"))
        watch.set_viewport_size({"width": 1366, "height": 768})

        # It fades out on the student's screen as on the console (4 s after the pen lifts).
        watch.wait_for_function(
            "Number(document.getElementById('draw-canvas').dataset.strokes) === 0", timeout=8000)
        assert watch.evaluate(PIXEL, [0.5, 0.5])[3] == 0
        console.keyboard.press("d")

        # A student who is not allowed: the page offers no drawing, and the server refuses a
        # stroke sent anyway; the console shows nothing.
        watch.evaluate("""() => MedRoom.liveOverlay.channel.send(JSON.stringify(
            {t: 'seg', s: 1, p: [[0.5, 0.5], [0.6, 0.6]]}))""")
        watch.wait_for_function(
            "document.getElementById('draw-note').textContent.includes('may not draw')")
        console.wait_for_timeout(500)
        assert console.evaluate("document.getElementById('draw-canvas').dataset.strokes") == "0"

        # The instructor gives marko the word: he draws in his colour, seen on the console, and
        # kept on the recording with his name.
        recording = api.post("/api/rooms/demo/recordings", json={"title": "Drawing"})
        assert recording.status_code == 201, recording.text
        marko = user_id(server, "marko")
        allowed = api.put(f"/api/rooms/demo/drawers/{marko}", json={"colour": SPEAKER})
        assert allowed.status_code == 200, allowed.text
        watch.wait_for_selector("#draw-toggle:not([hidden])")
        watch.keyboard.press("d")
        watch.wait_for_selector("body.drawing")
        draw_line(watch, 0.25, 0.2, 0.8)
        console.wait_for_function(
            "Number(document.getElementById('draw-canvas').dataset.strokes) >= 1", timeout=5000)
        console.wait_for_timeout(300)
        pixel = console.evaluate(PIXEL, [0.5, 0.25])
        assert near(pixel, (0xFF, 0x3B, 0x8D)), pixel
        watch.screenshot(path=str(ARTIFACTS / "drawing-speaker-1366.png"))
        console.screenshot(path=str(ARTIFACTS / "drawing-console-speaker-1366.png"))
        assert api.get("/api/rooms/demo/drawers").json() == [{"user_id": marko, "colour": SPEAKER}]
        rec_id = recording.json()["id"]
        for _ in range(50):  # written as the stroke ends, off the loop
            events = api.get(f"/api/recordings/{rec_id}/timeline").json()
            if any(e["type"] == "stroke" for e in events):
                break
            watch.wait_for_timeout(100)
        [kept] = [e for e in events if e["type"] == "stroke"]
        assert kept["author"] == "marko" and kept["data"]["colour"] == SPEAKER
        assert abs(kept["data"]["points"][0][0] - 0.2) < 0.02
        api.post(f"/api/recordings/{rec_id}/stop")

        # Revoked: the page's drawing mode ends and the server refuses again.
        assert api.delete(f"/api/rooms/demo/drawers/{marko}").status_code == 204
        watch.wait_for_selector("#draw-toggle[hidden]", state="attached")
        assert watch.evaluate("document.body.classList.contains('drawing')") is False
    finally:
        api.delete("/api/rooms/demo/live")
        api.close()
        console_ctx.close()
        student_ctx.close()


def test_bench_draw_at_small_scale(browser, server: Server, capsys) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """``medroom bench draw``'s measurement, two strokes long: every point drawn is paired
    with its showing on the watch page, never before its frame (its timing is the bench's)."""
    api = httpx.Client(base_url=server.url, timeout=30,
                       headers={"Authorization": f"Bearer {server.token('instructor')}"})
    try:
        assert api.post("/api/rooms/demo/live", json={"title": "bench"}).status_code == 201
        measured = measure(browser, server.url, strokes=2, moves=5, interval_ms=33.0,
                           instructor=("dr-ana", PASSWORD), student=("marko", PASSWORD))
    finally:
        api.delete("/api/rooms/demo/live")
        api.close()
    result = report(measured["drawn"], measured["shown"])
    print_report(result)
    # Two strokes of a press and five moves: twelve points, each seen on the watch page.
    assert result["points_drawn"] == 12 and result["points_shown"] == 12
    assert result["latency"]["count"] == 12 and result["latency"]["p95_ms"] > 0
    assert result["shown_before_frame"] == 0
    assert "pointer moved -> on screen" in capsys.readouterr().out

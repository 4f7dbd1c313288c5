"""Headless Chromium: an instructor goes live, a student in another browser context watches."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, REPO, Server

pytestmark = pytest.mark.browser

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("MEDROOM_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.fail(f"headless Chromium not found at {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


def log_in(browser, server: Server, username: str, width: int = 1366, height: int = 900,  # type: ignore[no-untyped-def]
           enforce_csp: bool = False):
    # The tests' own probes (wait_for_function, evaluate) are JavaScript strings the pages'
    # Content-Security-Policy forbids; tests/e2e/test_page_security.py runs the pages with
    # the policy enforced.
    context = browser.new_context(viewport={"width": width, "height": height},
                                  bypass_csp=not enforce_csp)
    page = context.new_page()
    page.goto(server.url + "/")
    assert "/login" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/")
    return context, page


def test_instructor_goes_live_and_student_watches(browser, server: Server) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    instructor_ctx, console = log_in(browser, server, "dr-ana")
    student_ctx, watch = log_in(browser, server, "marko", width=1024, height=768)
    try:
        console.click("text=Open console")
        console.wait_for_selector(".source-tile img[src^='blob:'], .source-tile img[src*='thumbnail']")
        console.keyboard.press("2")  # keyboard shortcut: second source (room camera) on program
        console.wait_for_selector(".source-tile.on-program[data-source='room-cam']")
        console.click(".source-tile[data-source='endoscope']")
        console.wait_for_selector(".source-tile.on-program[data-source='endoscope']")

        watch.goto(server.url + "/rooms/demo/watch")
        watch.wait_for_selector(".watch[data-state='waiting']", timeout=15_000)
        watch.screenshot(path=str(ARTIFACTS / "student-waiting.png"))

        console.fill("#session-title", "Endoscopic polypectomy, live")
        console.click("#go-live")
        console.wait_for_selector("#live-badge.badge-live")

        # The student's video starts by itself and keeps advancing (frame callbacks).
        watch.wait_for_selector(".watch[data-state='live']", timeout=20_000)
        watch.wait_for_function(
            "Number(document.getElementById('live-video').dataset.frames || 0) > 30",
            timeout=20_000,
        )
        before = int(watch.eval_on_selector("#live-video", "v => v.dataset.frames"))
        watch.wait_for_timeout(2000)
        after = int(watch.eval_on_selector("#live-video", "v => v.dataset.frames"))
        assert after - before >= 30, f"only {after - before} frames in 2 s"
        size = watch.eval_on_selector("#live-video", "v => [v.videoWidth, v.videoHeight]")
        assert size == [1280, 720]
        assert watch.inner_text("#watch-title") == "Endoscopic polypectomy, live"
        watch.screenshot(path=str(ARTIFACTS / "student-live.png"))

        # The console shows the student among the viewers, and its own program preview plays.
        console.wait_for_function(
            "document.getElementById('viewer-list').textContent.includes('marko')",
            timeout=10_000,
        )
        console.wait_for_function(
            "document.getElementById('program-video').videoWidth === 1280", timeout=20_000
        )
        # Each viewer's link figures: a measured round-trip time and the delivered frame rate.
        console.wait_for_function(
            """[...document.querySelectorAll('#viewer-list .viewer-row')].some(r =>
                 r.textContent.includes('marko') && / ms/.test(r.querySelector('.metric b').textContent)
                 && Number(r.querySelectorAll('.metric b')[1].textContent) >= 20)""",
            timeout=20_000,
        )
        console.wait_for_timeout(1000)
        console.screenshot(path=str(ARTIFACTS / "instructor-console-live.png"))
        console.locator(".viewers-panel").screenshot(path=str(ARTIFACTS / "console-viewers-panel.png"))

        # A tablet-sized console still works.
        console.set_viewport_size({"width": 820, "height": 1180})
        console.wait_for_timeout(500)
        console.screenshot(path=str(ARTIFACTS / "instructor-console-tablet.png"), full_page=True)

        # End: the student is told, the console returns to preview.
        console.once("dialog", lambda dialog: dialog.accept())
        console.click("#end-live")
        console.wait_for_selector("#live-badge.badge-idle")
        watch.wait_for_selector(".watch[data-state='waiting'], .watch[data-state='reconnecting']",
                                timeout=15_000)
    finally:
        instructor_ctx.close()
        student_ctx.close()


def test_student_rejoins_after_a_network_drop(browser, server: Server) -> None:  # type: ignore[no-untyped-def]
    import httpx

    token = server.token("instructor")
    httpx.post(f"{server.url}/api/rooms/demo/live", json={"title": "rejoin"},
               headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    student_ctx, watch = log_in(browser, server, "marko")
    try:
        watch.goto(server.url + "/rooms/demo/watch")
        watch.wait_for_selector(".watch[data-state='live']", timeout=20_000)
        # Drop the viewer from the server side, as a dead network would end it.
        room = httpx.get(f"{server.url}/api/rooms/demo",
                         headers={"Authorization": f"Bearer {token}"}).json()
        for viewer in room["viewers"]:
            httpx.delete(f"{server.url}/api/rooms/demo/whep/{viewer['id']}",
                         headers={"Authorization": f"Bearer {token}"}).raise_for_status()
        watch.wait_for_selector(".watch[data-state='reconnecting']", timeout=40_000)
        watch.wait_for_selector(".watch[data-state='live']", timeout=30_000)
        frames = int(watch.eval_on_selector("#live-video", "v => v.dataset.frames || 0"))
        watch.wait_for_timeout(1500)
        assert int(watch.eval_on_selector("#live-video", "v => v.dataset.frames")) > frames + 20
    finally:
        student_ctx.close()
        httpx.delete(f"{server.url}/api/rooms/demo/live",
                     headers={"Authorization": f"Bearer {token}"})


MEAN_COLOURS = """thumbs => Object.fromEntries(thumbs.map(t => {
    const v = t.querySelector('video'), c = document.createElement('canvas');
    c.width = 64; c.height = 36;
    const g = c.getContext('2d'); g.drawImage(v, 0, 0, 64, 36);
    const d = g.getImageData(0, 0, 64, 36).data, sum = [0, 0, 0];
    for (let i = 0; i < d.length; i += 4) { sum[0] += d[i]; sum[1] += d[i + 1]; sum[2] += d[i + 2]; }
    return [t.dataset.view, sum.map(x => x / (d.length / 4))];
}))"""


def test_student_watches_multi_view_and_swaps_the_large_picture(browser, server: Server) -> None:  # type: ignore[no-untyped-def]
    import httpx

    token = server.token("instructor")
    httpx.post(f"{server.url}/api/rooms/demo/live", json={"title": "multi-view"},
               headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    student_ctx, watch = log_in(browser, server, "marko")
    try:
        watch.goto(server.url + "/rooms/demo/watch")
        watch.wait_for_selector(".watch[data-state='live']", timeout=20_000)
        watch.click("#multiview")
        # Four pictures in one connection: the program, endoscope, room camera and CT.
        watch.wait_for_function(
            "[...document.querySelectorAll('.view-thumb video')].every(v => v.videoWidth > 0)",
            timeout=30_000,
        )
        sizes = watch.eval_on_selector_all(
            ".view-thumb", "ts => ts.map(t => [t.dataset.view, t.querySelector('video').videoWidth,"
            " t.querySelector('video').videoHeight])",
        )
        by_view = {name: (w, h) for name, w, h in sizes}
        assert set(by_view) == {"program", "endoscope", "room-cam", "ct"}
        assert by_view["program"] == (1280, 720)
        # Different pictures: the endoscope (on program) is red, the CT grey, the room camera's
        # colour bars are neither (mean colour of each small video, drawn on a canvas).
        colours = watch.eval_on_selector_all(".view-thumb", MEAN_COLOURS)
        red, grey = (lambda c: c[0] > 1.4 * c[2]), (lambda c: max(c) - min(c) < 12)
        assert red(colours["program"]) and red(colours["endoscope"]), colours
        assert grey(colours["ct"]) and not red(colours["ct"]), colours
        assert not grey(colours["room-cam"]) and not red(colours["room-cam"]), colours
        assert watch.eval_on_selector("#live-video", "v => v.videoWidth") == 1280
        # One viewer on the server, with four video lines.
        viewers = httpx.get(f"{server.url}/api/rooms/demo/viewers",
                            headers={"Authorization": f"Bearer {token}"}).json()
        assert len(viewers) == 1
        watch.wait_for_timeout(1000)
        watch.screenshot(path=str(ARTIFACTS / "student-multiview.png"))
        # Click the CT: it becomes the large picture, swapped in the page.
        watch.click(".view-thumb[data-view='ct']")
        watch.wait_for_selector(".watch[data-large='ct']")
        assert watch.inner_text("#large-label") == "CT head (phantom)"
        large = watch.evaluate(
            "() => (" + MEAN_COLOURS + ")([{dataset: {view: 'large'}, querySelector: () =>"
            " document.getElementById('live-video')}])"
        )["large"]
        assert grey(large), large  # the large picture is now the CT
        frames = int(watch.eval_on_selector("#live-video", "v => v.dataset.frames || 0"))
        watch.wait_for_timeout(1500)
        assert int(watch.eval_on_selector("#live-video", "v => v.dataset.frames")) > frames + 10
        watch.screenshot(path=str(ARTIFACTS / "student-multiview-ct-large.png"))
    finally:
        student_ctx.close()
        httpx.delete(f"{server.url}/api/rooms/demo/live",
                     headers={"Authorization": f"Bearer {token}"})


def test_instructor_records_with_keyboard_markers(browser, server: Server) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    context, console = log_in(browser, server, "dr-ana")
    try:
        console.goto(server.url + "/rooms/demo/console")
        console.wait_for_selector("#rec-badge")
        console.keyboard.press("r")
        console.wait_for_selector("#rec-badge.badge-recording", timeout=15_000)
        console.wait_for_timeout(1500)
        console.keyboard.press("m")
        console.keyboard.type("Dura opening")
        console.keyboard.press("Enter")
        console.wait_for_function(
            "[...document.querySelectorAll('#marker-list input')].some(i => i.value === 'Dura opening')",
            timeout=10_000,
        )
        # Draw over the program: the stroke lands on the recording's timeline.
        console.click("body")
        console.keyboard.press("d")
        box = console.locator("#draw-canvas").bounding_box()
        assert box is not None
        console.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.4)
        console.mouse.down()
        for i in range(1, 11):
            console.mouse.move(box["x"] + box["width"] * (0.3 + i * 0.03),
                               box["y"] + box["height"] * (0.4 + i * 0.01))
        console.mouse.up()
        console.screenshot(path=str(ARTIFACTS / "instructor-console-drawing.png"))
        import httpx

        token = server.token("instructor")
        rec_id = httpx.get(f"{server.url}/api/rooms/demo/recordings",
                           headers={"Authorization": f"Bearer {token}"}).json()[0]["id"]
        events = httpx.get(f"{server.url}/api/recordings/{rec_id}/timeline",
                           headers={"Authorization": f"Bearer {token}"}).json()
        strokes = [e for e in events if e["type"] == "stroke"]
        assert len(strokes) == 1 and len(strokes[0]["data"]["points"]) >= 10
        x0, y0 = strokes[0]["data"]["points"][0]
        assert abs(x0 - 0.3) < 0.02 and abs(y0 - 0.4) < 0.02
        console.keyboard.press("d")
        console.click("body")
        console.keyboard.press("p")
        console.wait_for_selector("#rec-badge.badge-paused", timeout=10_000)
        console.keyboard.press("p")
        console.wait_for_selector("#rec-badge.badge-recording", timeout=10_000)
        clock = console.inner_text("#rec-clock")
        assert re.fullmatch(r"0:[0-5]\d", clock), clock  # running, in m:ss
        # Plan tomorrow's list from the console, then cancel it.
        import datetime as dt

        tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
        console.fill("#plan-title", "Endoscopic sinus surgery")
        console.fill("#plan-course", "ENT")
        console.fill("#plan-date", tomorrow)
        console.fill("#plan-start", "09:00")
        console.fill("#plan-end", "10:30")
        console.click("#schedule-form button[type=submit]")
        console.wait_for_selector("#schedule-list li:has-text('Endoscopic sinus surgery')")
        console.screenshot(path=str(ARTIFACTS / "instructor-console-recording.png"), full_page=True)
        console.click("#schedule-list li:has-text('Endoscopic sinus surgery') >> text=Cancel")
        console.wait_for_selector("#schedule-list li:has-text('cancelled')")
        console.once("dialog", lambda dialog: dialog.accept())
        console.click("#rec-stop")
        console.wait_for_selector("#rec-badge.badge-stopped", timeout=20_000)
        assert "kept" in console.inner_text("#rec-clock")
    finally:
        context.close()


def test_instructor_composes_picture_in_picture_and_masks_a_face(browser, server: Server) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    context, console = log_in(browser, server, "dr-ana")
    try:
        console.goto(server.url + "/rooms/demo/console")
        console.click("[data-layout='pip']")
        console.wait_for_selector("[data-layout='pip'][aria-pressed='true']")
        # Drag the CT onto the inset (bottom right corner of the program).
        monitor = console.locator(".program-panel .monitor").bounding_box()
        assert monitor is not None
        console.locator(".source-tile[data-source='ct']").drag_to(
            console.locator(".program-panel .monitor"),
            target_position={"x": monitor["width"] * 0.85, "y": monitor["height"] * 0.8},
        )
        console.wait_for_function(
            "document.querySelector('.source-tile.on-program') !== null", timeout=5000)
        import httpx

        token = server.token("instructor")
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(50):
            layout = httpx.get(f"{server.url}/api/rooms/demo/composition", headers=headers).json()
            if layout["layout"]["sources"][1] == "ct":
                break
            console.wait_for_timeout(100)
        assert layout["layout"]["sources"][1] == "ct", layout

        # Draw a privacy mask over the main picture.
        console.keyboard.press("k")
        console.mouse.move(monitor["x"] + monitor["width"] * 0.1, monitor["y"] + monitor["height"] * 0.1)
        console.mouse.down()
        console.mouse.move(monitor["x"] + monitor["width"] * 0.3, monitor["y"] + monitor["height"] * 0.3)
        console.mouse.up()
        console.wait_for_selector("#mask-list li")
        masks = httpx.get(f"{server.url}/api/rooms/demo/composition", headers=headers).json()["masks"]
        assert len(masks) == 1 and masks[0]["source"] == layout["layout"]["sources"][0]
        console.wait_for_timeout(1200)  # the preview refreshes with the mask burnt in
        console.screenshot(path=str(ARTIFACTS / "instructor-console-pip-mask.png"))
        httpx.put(f"{server.url}/api/rooms/demo/masks", json={"masks": []}, headers=headers)
        httpx.put(f"{server.url}/api/rooms/demo/layout", headers=headers,
                  json={"kind": "single", "sources": ["endoscope"]})
    finally:
        context.close()


def test_ptz_pad_moves_the_demo_head_with_the_keyboard(browser, server: Server) -> None:  # type: ignore[no-untyped-def]
    import httpx

    context, console = log_in(browser, server, "dr-ana")
    headers = {"Authorization": f"Bearer {server.token('instructor')}"}
    position = f"{server.url}/api/rooms/demo/ptz/room-head/position"
    try:
        console.goto(server.url + "/rooms/demo/console")
        console.wait_for_selector("#ptz-health.health-live", timeout=15_000)
        start = httpx.get(position, headers=headers).json()
        console.keyboard.down("ArrowRight")
        console.wait_for_timeout(800)
        console.keyboard.up("ArrowRight")
        console.wait_for_timeout(400)
        moved = httpx.get(position, headers=headers).json()
        assert moved["pan"] > start["pan"] + 50, (start, moved)
        console.wait_for_timeout(400)
        assert httpx.get(position, headers=headers).json() == moved  # key released: stopped
        console.locator("[data-preset='2']").click(modifiers=["Shift"])
        console.wait_for_selector("#console-message:has-text('Preset 2 stored')")
        console.click("#ptz-home")
        console.wait_for_selector("#console-message:has-text('home position')")
        console.click("[data-preset='2']")
        console.wait_for_selector("#console-message:has-text('Preset 2 recalled')")
        assert httpx.get(position, headers=headers).json()["pan"] == moved["pan"]
        console.locator(".ptz-panel").scroll_into_view_if_needed()
        console.screenshot(path=str(ARTIFACTS / "instructor-console-ptz.png"))
    finally:
        context.close()

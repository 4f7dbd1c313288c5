"""Headless Chromium plays a published lesson as an enrolled student.

A real recording (program + one ISO view, a chapter marker, a note and a drawing stroke) is
published by the real pipeline; the student finds it by a chapter title and plays it: the video
advances, the chapters are listed and on the timeline, the drawing appears on the overlay at its
time, views switch, the hidden part is skipped, and the place is kept for the next visit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_server
from tests.web.lessons import PublishedFixture, publish_lesson

from .test_browser import ARTIFACTS, browser, log_in  # noqa: F401  (browser is a fixture)

pytestmark = pytest.mark.browser
HIDDEN = (4.6, 5.4)  # lesson seconds the curator hid


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("medroom-player"))


@pytest.fixture(scope="module")
def lesson(server: Server) -> PublishedFixture:
    return publish_lesson(server, seconds=8.0, hidden=HIDDEN, classroom=True)


def stroke(lesson: PublishedFixture) -> dict:  # type: ignore[type-arg]
    events = json.loads((lesson.folder / "timeline.json").read_text())["events"]
    return next(e for e in events if e["type"] == "stroke")


# The overlay's pixel at a point of the picture (x, y in 0..1), as RGBA.
PIXEL_AT = """([x, y]) => {
  const c = document.getElementById('drawings');
  const v = document.querySelector('.view[data-index="0"] video');
  const dpr = window.devicePixelRatio || 1;
  const s = Math.min(c.clientWidth / v.videoWidth, c.clientHeight / v.videoHeight);
  const ox = (c.clientWidth - v.videoWidth * s) / 2, oy = (c.clientHeight - v.videoHeight * s) / 2;
  const px = Math.round((ox + x * v.videoWidth * s) * dpr), py = Math.round((oy + y * v.videoHeight * s) * dpr);
  return Array.from(c.getContext('2d').getImageData(px - 1, py - 1, 3, 3).data.slice(16, 20));
}"""
MASTER = ".view[data-index='0'] video"


def test_student_plays_a_lesson_with_chapters_and_drawings(browser, server: Server,  # type: ignore[no-untyped-def]  # noqa: F811
                                                           lesson: PublishedFixture) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    line = stroke(lesson)
    context, page = log_in(browser, server, "marko")
    try:
        # Found by a chapter title; the result jumps to the chapter.
        page.goto(server.url + "/library/search?q=resection")
        page.wait_for_selector("#results .result")
        assert page.inner_text("#results .result-title") == "Septoplasty, endoscopic"
        assert page.inner_text("#results mark") == "Resection"
        page.screenshot(path=str(ARTIFACTS / "library-search.png"), full_page=True)

        page.goto(f"{server.url}/library/lessons/{lesson.lesson_id}")
        page.wait_for_selector("#lesson[data-first-frame-ms]", timeout=20_000)
        first_frame_ms = int(page.get_attribute("#lesson", "data-first-frame-ms") or 0)
        print(f"\nfirst frame on loopback: {first_frame_ms} ms after navigation start "
              "(target <= 1000 ms on a quiet machine)")
        assert first_frame_ms > 0

        # Plays: time advances, real pictures.
        page.wait_for_function(f"document.querySelector(\"{MASTER}\").currentTime > 0.5",
                               timeout=20_000)
        assert page.eval_on_selector(MASTER, "v => v.videoWidth") > 0
        assert page.eval_on_selector(".view[data-index='1'] video", "v => v.videoWidth") > 0
        # Chapters: listed, marked on the timeline, and loaded as a WebVTT chapters track.
        titles = page.eval_on_selector_all("#chapter-list .item-title", "els => els.map(e => e.textContent)")
        assert titles == [title for title, _ in lesson.markers]
        assert page.eval_on_selector_all("#scrub-marks .mark", "els => els.length") >= 1
        page.wait_for_function(
            f"document.querySelector(\"{MASTER}\").textTracks[0].cues?.length === 2")
        assert "Keep the mucoperichondrial flap intact." in page.inner_text("#note-list")

        # The drawing: nothing before its time, drawn at its time, where it was drawn.
        page.eval_on_selector(MASTER, "v => v.pause()")
        page.eval_on_selector(MASTER, f"v => {{ v.currentTime = {max(0.0, line['started_at'] - 0.5)}; }}")
        page.wait_for_timeout(400)
        assert page.evaluate(PIXEL_AT, [0.35, 0.35])[3] == 0
        page.eval_on_selector(MASTER, f"v => {{ v.currentTime = {line['ended_at'] + 0.3}; }}")
        page.wait_for_function("document.getElementById('drawings').dataset.strokes === '1'")
        r, g, b, a = page.evaluate(PIXEL_AT, [0.35, 0.35])
        assert g > 200 and r < 80 and b < 80 and a > 200, (r, g, b, a)  # the green line
        assert page.evaluate(PIXEL_AT, [0.8, 0.2])[3] == 0  # and nowhere else
        page.screenshot(path=str(ARTIFACTS / "lesson-player.png"))

        # Keyboard: 2 makes the ISO view large, C goes to the next chapter.
        page.keyboard.press("2")
        page.wait_for_selector(".view[data-index='1'].large")
        page.screenshot(path=str(ARTIFACTS / "lesson-player-iso-large.png"))
        page.keyboard.press("1")
        page.eval_on_selector(MASTER, "v => { v.currentTime = 0.2; }")
        page.wait_for_timeout(300)
        page.keyboard.press("c")
        first_chapter = lesson.markers[0][1] - lesson.published.start
        page.wait_for_function(
            f"Math.abs(document.querySelector(\"{MASTER}\").currentTime - {first_chapter}) < 0.3")

        # The hidden part is skipped while playing.
        page.eval_on_selector(MASTER, f"v => {{ v.currentTime = {HIDDEN[0] - 0.6}; v.play(); }}")
        page.wait_for_function(
            f"document.querySelector(\"{MASTER}\").currentTime > {HIDDEN[1]}", timeout=15_000)
        assert "Skipped" in page.inner_text("#toast")

        # Leaving keeps the place (pagehide ping); the next visit resumes there.
        page.eval_on_selector(MASTER, "v => { v.pause(); v.currentTime = 3.0; }")
        page.wait_for_timeout(300)
        page.goto(server.url + "/library/search")
        resume = page.evaluate(
            f"fetch('/api/lessons/{lesson.lesson_id}/playback').then(r => r.json()).then(j => j.resume_at)")
        assert resume == pytest.approx(3.0, abs=0.3)

        # Phone width: the page still looks finished (video first, lists below).
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{server.url}/library/lessons/{lesson.lesson_id}")
        page.wait_for_function(f"document.querySelector(\"{MASTER}\")?.videoWidth > 0", timeout=20_000)
        page.wait_for_timeout(800)
        page.screenshot(path=str(ARTIFACTS / "lesson-player-phone.png"), full_page=True)
        wider = page.evaluate("""() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .map(e => e.tagName + '#' + e.id + '.' + e.className)""")
        assert wider == [], f"wider than a phone: {wider}"
    finally:
        context.close()


SHOWN = "document.getElementById('classroom').dataset.shown"
CURRENT = "document.getElementById('classroom').dataset.current"


def _at(page, seconds: float) -> None:  # type: ignore[no-untyped-def]
    page.eval_on_selector(MASTER, f"v => {{ v.pause(); v.currentTime = {seconds}; }}")


def test_the_classroom_panel_follows_the_video(browser, server: Server,  # type: ignore[no-untyped-def]  # noqa: F811
                                               lesson: PublishedFixture) -> None:
    """The live session's conversation beside the video: it appears as the playhead passes,
    follows seeks both ways, seeks on a click, shows text as text, and names no student."""
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = log_in(browser, server, "marko", width=1366, height=768)
    try:
        page.goto(f"{server.url}/library/lessons/{lesson.lesson_id}")
        page.wait_for_function(f"document.querySelector(\"{MASTER}\")?.videoWidth > 0",
                               timeout=20_000)
        talk = json.loads((lesson.folder / "timeline.json").read_text())["conversation"]
        ids = [item["id"] for item in talk]
        assert "c3" not in ids  # the deleted line was never published

        def shown(t: float) -> str:
            return f"{SHOWN} === '{sum(1 for item in talk if item['at'] <= t)}'"

        assert page.is_visible("#classroom")
        assert page.get_attribute("#classroom", "data-items") == str(len(talk))
        _at(page, 0.3)
        page.wait_for_function(f"{SHOWN} === '0'")
        assert page.is_visible("#talk-empty")

        # Playing: the items appear as the playhead passes them, the latest highlighted.
        page.eval_on_selector(MASTER, "v => { v.currentTime = 0.5; v.play(); }")
        # (paused by the probe itself, before the playhead reaches the question at 3 s)
        page.wait_for_function(f"{shown(1.6)} && (document.querySelector(\"{MASTER}\")"
                               ".pause() || true)", timeout=15_000)
        page.wait_for_function(f"{CURRENT} === 'c2'")
        assert not page.is_visible("#talk-empty")
        assert page.eval_on_selector("#talk-list li.current", "li => li.dataset.id") == "c2"
        # Markup typed in the classroom is shown as text and never runs.
        row = page.inner_text("#talk-list li[data-id='c2']")
        assert '<img src=x onerror="document.title=' in row
        assert page.eval_on_selector_all("#talk-list img", "els => els.length") == 0
        assert page.title() != "owned"

        # Seeking forward past the question and the poll, then back again.
        _at(page, 3.7)
        page.wait_for_function(f"{shown(3.7)} && {CURRENT} === 'p1'")
        poll = page.inner_text("#talk-list li[data-id='p1']")
        assert "Which approach would you take?" in poll and "Endoscopic" in poll and "5" in poll
        assert "7 answered" in poll
        question = page.inner_text("#talk-list li[data-id='q1']")
        assert "▲ 3 · answered" in question
        page.screenshot(path=str(ARTIFACTS / "lesson-classroom.png"))
        _at(page, 1.2)
        page.wait_for_function(f"{shown(1.2)} && {CURRENT} === 'c1'")
        assert not page.is_visible("#talk-list li[data-id='c2']")

        # Clicking an item seeks the video there.
        _at(page, 6.4)
        page.wait_for_function(shown(6.4))
        assert "speaks to the room until 0:07" in page.inner_text("#talk-list li.current")
        page.click("#talk-list li[data-id='q1'] button")
        page.wait_for_function(
            f"Math.abs(document.querySelector(\"{MASTER}\").currentTime - 3.0) < 0.4")
        page.wait_for_function(f"{CURRENT} === 'q1'")

        # Instructors by name; students as numbered participants; nothing deleted.
        panel = page.inner_text("#classroom")
        assert "Participant 1" in panel and "Participant 2" in panel
        assert "marko" not in panel and "ivan" not in panel and "0888" not in page.content()

        # A phone: the panel sits below the video and nothing is wider than the screen.
        page.set_viewport_size({"width": 390, "height": 844})
        _at(page, 7.5)
        page.wait_for_function(shown(7.5))
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "lesson-classroom-phone.png"), full_page=True)
        wider = page.evaluate("""() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .map(e => e.tagName + '#' + e.id + '.' + e.className)""")
        assert wider == [], f"wider than a phone: {wider}"

        # A lesson without a conversation shows no panel.
        published = lesson.folder / "timeline.json"
        original = published.read_text()
        document = json.loads(original)
        document.pop("conversation")
        published.write_text(json.dumps(document))
        try:
            page.reload()
            page.wait_for_function(f"document.querySelector(\"{MASTER}\")?.videoWidth > 0",
                                   timeout=20_000)
            assert page.get_attribute("#classroom", "data-items") == "0"
            assert not page.is_visible("#classroom")
        finally:
            published.write_text(original)
    finally:
        context.close()

    # With the page's Content-Security-Policy enforced, the panel is built all the same.
    context, page = log_in(browser, server, "marko", width=1366, height=768, enforce_csp=True)
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text)
            if "Content Security Policy" in m.text else None)
    try:
        page.goto(f"{server.url}/library/lessons/{lesson.lesson_id}#t=3.7")
        page.wait_for_selector("#classroom:not([hidden]) #talk-list li.current[data-id='p1']",
                               timeout=20_000)
        assert page.locator("#talk-list .talk-bar").count() == 2
    finally:
        context.close()
    assert refused == []


def test_student_outside_the_course_sees_a_clear_refusal(browser, server: Server,  # type: ignore[no-untyped-def]  # noqa: F811
                                                         lesson: PublishedFixture) -> None:
    context, page = log_in(browser, server, "ivan")
    try:
        response = page.goto(f"{server.url}/library/lessons/{lesson.lesson_id}")
        assert response is not None and response.status == 403
        assert "not enrolled" in page.inner_text(".alert")
        page.screenshot(path=str(ARTIFACTS / "lesson-refused.png"))
    finally:
        context.close()

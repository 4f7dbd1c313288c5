"""Headless Chromium drives the curation editor on a real recording with the keyboard and the
mouse: start and end at the playhead (landing on the keyframe before), a chapter added, renamed
in place and dragged, a part hidden by drag-select + H, undo/redo, a mask drawn over a view,
the preview skipping the hidden part, a conflicting save shown, and the lesson published."""

from __future__ import annotations

import json
import time
from contextlib import closing
from pathlib import Path

import httpx

from recorder.synthetic import write_synthetic_recording
from recorder.timeline import ChatMessage, Marker, Note, Stroke
from tests.conftest import Server
from tests.e2e.test_browser import ARTIFACTS, browser, log_in  # noqa: F401  (fixture)
from tests.web.test_library_api import course_id, session

SECONDS = 16.0


def _lesson(server: Server) -> tuple[httpx.Client, int]:
    folder = write_synthetic_recording(
        server.data_dir / "recordings", "demo", "Endoscopic septoplasty", seconds=SECONDS,
        events=[Marker("Exposure", at=1.0, author="dr-ana"), Note("septum deviated", at=3.0),
                Stroke(((0.3, 0.3), (0.6, 0.5)), "#00ff00", 4, 5.0, 5.6, at=5.0),
                ChatMessage("can you zoom in?", at=6.0, author="marko")])
    http = session(server, "cura")
    r = http.post("/api/library/lessons", json={"recording_id": folder.name.split("-")[-1],
                                                "course_ids": [course_id(http, "ent")]})
    assert r.status_code == 201, r.text
    return http, r.json()["id"]


def _strip_x(page, t: float) -> float:  # type: ignore[no-untyped-def]
    box = page.locator("#tl-media").bounding_box()
    return float(box["x"] + box["width"] * t / SECONDS)


def _time(page) -> float:  # type: ignore[no-untyped-def]
    return float(page.get_attribute("#cut-editor", "data-time") or "nan")


def _press(page, key: str, times: int = 1) -> None:  # type: ignore[no-untyped-def]
    for _ in range(times):
        page.keyboard.press(key)
        page.wait_for_timeout(40)


def _saved(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector("#cut-editor[data-save-state=saved]", timeout=15_000)


def test_curator_cuts_by_looking(browser, server: Server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    http, lesson_id = _lesson(server)
    context, page = log_in(browser, server, "cura", width=1366, height=768)
    with closing(http):
        try:
            page.goto(f"{server.url}/library/lessons/{lesson_id}/edit")
            page.wait_for_selector("#cut-editor[data-first-picture]", timeout=30_000)
            page.wait_for_selector("#cut-editor[data-strip-ready]", timeout=30_000)
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / "cut-editor-open.png"))
            page.locator("#cut-editor").focus()

            # '.' twice: keyframe to keyframe (GOP 2 s); then 5 frames on (25 fps); I.
            _press(page, ".", 2)
            page.wait_for_function("Math.abs(document.querySelector('#cut-editor').dataset.time - 4) < 0.02")
            _press(page, "ArrowRight", 5)
            assert abs(_time(page) - 4.2) < 0.03, _time(page)
            _press(page, "i")
            assert "4:0" not in page.inner_text("#ro-cut")  # minutes:seconds, 0:04.00
            assert page.inner_text("#ro-cut").startswith("0:04.00 (keyframe, 0.20 s before")
            # Shift+→ a second at a time, then O.
            _press(page, "Shift+ArrowRight", 6)
            assert abs(_time(page) - 10.2) < 0.03, _time(page)
            _press(page, "o")
            _saved(page)
            state = http.get(f"/api/library/lessons/{lesson_id}").json()
            assert (state["trim_start"], state["trim_end"]) == (4.2, 10.2)

            # M at 6 s, renamed in place.
            page.mouse.click(_strip_x(page, 6.0), page.locator("#tl-media").bounding_box()["y"] + 20)
            page.wait_for_timeout(200)
            assert abs(_time(page) - 6.0) < 0.1
            page.locator("#cut-editor").focus()
            _press(page, "m")
            page.wait_for_selector("#tl-chapters input")
            page.keyboard.press("Control+A")
            page.keyboard.type("Resection")
            page.keyboard.press("Enter")
            page.wait_for_selector(".tl-flag:has-text('Resection')")
            # Drag its flag to 7 s.
            flag = page.locator(".tl-flag", has_text="Resection").bounding_box()
            page.mouse.move(flag["x"] + 8, flag["y"] + 8)
            page.mouse.down()
            page.mouse.move(_strip_x(page, 6.5), flag["y"] + 8, steps=4)
            page.mouse.move(_strip_x(page, 7.0) + 1, flag["y"] + 8, steps=4)
            page.mouse.up()

            # Drag-select 7.5 → 9 s on the strip and hide it with H.
            media = page.locator("#tl-media").bounding_box()
            y = media["y"] + 30
            page.mouse.move(_strip_x(page, 7.5), y)
            page.mouse.down()
            page.mouse.move(_strip_x(page, 8.2), y, steps=4)
            page.mouse.move(_strip_x(page, 9.0), y, steps=4)
            page.mouse.up()
            page.locator("#cut-editor").focus()
            _press(page, "h")
            page.wait_for_selector(".tl-hidden")
            # Undo takes the hidden part away, redo brings it back.
            _press(page, "Control+z")
            assert page.locator(".tl-hidden").count() == 0
            _press(page, "Control+Shift+z")
            assert page.locator(".tl-hidden").count() == 1
            _saved(page)
            page.screenshot(path=str(ARTIFACTS / "cut-editor-edited.png"))
            state = http.get(f"/api/library/lessons/{lesson_id}").json()
            chapters = {c["title"]: c["start"] for c in state["chapters"]}
            assert set(chapters) == {"Exposure", "Resection"}
            assert abs(chapters["Resection"] - 7.0) < 0.1, chapters
            [hidden] = state["hidden_segments"]
            assert abs(hidden["start"] - 7.5) < 0.1 and abs(hidden["end"] - 9.0) < 0.1, hidden

            # Preview: from the cut keyframe, the hidden part skipped, stops at the end.
            _press(page, "p")
            page.wait_for_selector("#cut-editor[data-preview=on]")
            page.wait_for_selector("#cut-editor[data-skipped]", timeout=15_000)
            page.wait_for_selector("#cut-editor[data-preview=off]", timeout=15_000)
            assert 9.9 < _time(page) < 10.4, _time(page)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "cut-editor-failure.png"))
            raise
        finally:
            context.close()

"""Headless Chromium drives the curation editor on a real recording with the keyboard and the
mouse: start and end at the playhead (landing on the keyframe before), a chapter added, renamed
in place and dragged, a part hidden by drag-select + H, undo/redo, a mask drawn over a view,
the preview skipping the hidden part, a conflicting save shown, and the lesson published."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import av
import httpx
import numpy as np

from recorder.synthetic import write_synthetic_recording
from recorder.timeline import ChatMessage, Marker, Note, Question, QuestionStatus, Stroke
from tests.conftest import Server
from tests.e2e.test_browser import ARTIFACTS, CHROMIUM, FLAGS, browser, log_in  # noqa: F401  (fixture)
from tests.web.test_library_api import course_id, session

SECONDS = 16.0


def _lesson(server: Server) -> tuple[httpx.Client, int]:
    folder = write_synthetic_recording(
        server.data_dir / "recordings", "demo", "Endoscopic septoplasty", seconds=SECONDS,
        events=[Marker("Exposure", at=1.0, author="dr-ana"), Note("septum deviated", at=3.0),
                Stroke(((0.3, 0.3), (0.6, 0.5)), "#00ff00", 4, 5.0, 5.6, at=5.0),
                ChatMessage("can you zoom in?", at=6.0, author="marko"),
                ChatMessage("call me on 0888 123", at=6.5, author="ivan", id="s1-c9"),
                Question(question="s1-q1", text="Is the cartilage kept?", at=6.8,
                         author="marko"),
                QuestionStatus(question="s1-q1", status="answered", votes=2, at=7.1,
                               author="dr-ana")])
    http = session(server, "cura")
    r = http.post("/api/library/lessons", json={"recording_id": folder.name.split("-")[-1],
                                                "course_ids": [course_id(http, "ent")]})
    assert r.status_code == 201, r.text
    return http, r.json()["id"]


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray").astype(np.int16) for f in container.decode(video=0)]


def _gray(recordings: Path, lesson_id: int, http_base: Server) -> list[np.ndarray]:
    """The recording's own room view, frame by frame on the session clock."""
    [folder] = [p.parent for p in recordings.glob("demo/*/manifest.json")
                if "Endoscopic septoplasty" in p.read_text()]
    return _frames(folder / "curation" / "iso-room.mp4")


def _strip_x(page, t: float) -> float:  # type: ignore[no-untyped-def]
    box = page.locator("#tl-media").bounding_box()
    return float(box["x"] + box["width"] * t / SECONDS)


def _time(page) -> float:  # type: ignore[no-untyped-def]
    return float(page.get_attribute("#cut-editor", "data-time") or "nan")


def _wait_time(page, seconds: float) -> None:  # type: ignore[no-untyped-def]
    for _ in range(100):
        if abs(_time(page) - seconds) < 0.02:
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"the playhead is at {_time(page)}, not {seconds}")


def _press(page, key: str, times: int = 1) -> None:  # type: ignore[no-untyped-def]
    for _ in range(times):
        page.keyboard.press(key)
        page.wait_for_timeout(40)


def _saved(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector("#cut-editor[data-save-state=saved]", timeout=15_000)


def test_curator_cuts_by_looking(browser, server: Server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    http, lesson_id = _lesson(server)
    # The page's own Content-Security-Policy is enforced: the editor needs no inline script.
    context, page = log_in(browser, server, "cura", width=1366, height=768, enforce_csp=True)
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text)
            if "Content Security Policy" in m.text else None)
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
            _wait_time(page, 4.0)
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

            # A mask over the room view: select 4.5-6.5 s, Mask..., drag a box over its
            # bottom-left quarter (the burnt-in clock).
            page.mouse.move(_strip_x(page, 4.5), y)
            page.mouse.down()
            page.mouse.move(_strip_x(page, 6.5), y, steps=5)
            page.mouse.up()
            page.click("#ed-mask")
            tile = page.locator(".ed-iso[data-track=iso-room]").bounding_box()
            page.mouse.move(tile["x"] + 1, tile["y"] + tile["height"] * 0.76)
            page.mouse.down()
            page.mouse.move(tile["x"] + tile["width"] * 0.3, tile["y"] + tile["height"] * 0.9,
                            steps=4)
            page.mouse.move(tile["x"] + tile["width"] * 0.5, tile["y"] + tile["height"] - 1,
                            steps=4)
            page.mouse.up()
            page.wait_for_selector("#mask-list .seg-row")
            assert "iso-room" in page.inner_text("#gate-masks")  # the privacy gate lists it
            _saved(page)
            page.locator("#cut-editor").focus()
            page.mouse.click(_strip_x(page, 5.0), page.locator("#tl-ruler").bounding_box()["y"] + 5)
            page.wait_for_selector(".ed-iso[data-track=iso-room] .ed-mask-box")
            page.screenshot(path=str(ARTIFACTS / "cut-editor-mask.png"))

            # Another curator saves first: the page's next save is refused and says so.
            current = http.get(f"/api/library/lessons/{lesson_id}/curation")
            theirs = current.json()["edit"]
            r = http.put(f"/api/library/lessons/{lesson_id}/edit", headers={
                "If-Match": current.headers["etag"]}, json={
                "trim_start": theirs["trim_start"], "trim_end": 10.6,
                "chapters": [{"id": c["id"], "title": c["title"], "start": c["start"]}
                             for c in theirs["chapters"]],
                "hidden": theirs["hidden"], "masks": theirs["masks"]})
            assert r.status_code == 200, r.text
            page.locator("#cut-editor").focus()
            _press(page, "m")
            page.keyboard.press("Enter")
            page.wait_for_selector("#conflict:not([hidden])")
            assert page.get_attribute("#cut-editor", "data-save-state") == "conflict"
            page.screenshot(path=str(ARTIFACTS / "cut-editor-conflict.png"))
            page.click("#conflict-reload")
            _saved(page)
            assert page.get_attribute("#cut-editor", "data-version") == str(r.json()["version"])
            assert page.locator(".tl-flag").count() == 2  # theirs: without the new chapter

            # The classroom: a line with a phone number is hidden before publishing; the
            # privacy gate counts what will be published.
            page.wait_for_selector("#talk .talk-row[data-id='s1-c9']")
            assert page.locator("#talk .talk-row").count() == 3
            assert "3 of 3 items" in page.inner_text("#gate-talk")
            page.click("#talk .talk-row[data-id='s1-c9'] button:has-text('Hide')")
            page.wait_for_selector("#talk .talk-row.left-out[data-id='s1-c9']")
            _saved(page)
            assert "2 of 3 items" in page.inner_text("#gate-talk")
            assert http.get(f"/api/library/lessons/{lesson_id}/curation").json()["edit"][
                "hidden_messages"] == ["s1-c9"]
            page.locator("#talk").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "cut-editor-classroom.png"))

            # Privacy gate, then publish from the page.
            page.check("#consent")
            page.check("#deidentified")
            page.click("#save-privacy")
            page.wait_for_selector(".gate-open")
            page.click("#publish")
            page.wait_for_selector("#lesson-status:text('published')", timeout=120_000)
            page.screenshot(path=str(ARTIFACTS / "cut-editor-published.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "cut-editor-failure.png"))
            raise
        finally:
            context.close()

    assert refused == []
    folder = server.data_dir / "library" / "lessons" / str(lesson_id)
    meta = json.loads((folder / "lesson.json").read_text())
    # Starts at the keyframe before 4.2 s, ends at 10.6 s; hidden 7.5-9 s on the lesson clock.
    assert meta["trim"]["start"] == 4.0 and abs(meta["duration"] - 6.6) < 0.1, meta["trim"]
    [hidden] = meta["hidden"]
    assert abs(hidden["start"] - 3.5) < 0.1 and abs(hidden["end"] - 5.0) < 0.1
    assert [c["title"] for c in meta["chapters"]["items"]] == ["Exposure", "Resection"]
    [mask] = meta["masks"]
    assert mask["track"] == "iso-room" and mask["reencoded"] == [[0.0, 4.0]]
    # The conversation: the hidden line is not published, students are numbered participants.
    talk = json.loads((folder / "timeline.json").read_text())["conversation"]
    assert [(i["kind"], i["at"], i["author"]) for i in talk] == [
        ("chat", 2.0, "Participant 1"), ("question", 2.8, "Participant 1")]
    assert b"0888" not in b"".join(p.read_bytes() for p in folder.glob("*.json"))
    # Masked pixels changed only in the masked part; the copy of the rest is exact.
    source = _gray(Path(str(server.data_dir / "recordings")) , lesson_id, http_base=server)
    published = _frames(folder / "iso-room.mp4")
    h, w = published[0].shape
    region = (slice(int(0.8 * h), h), slice(0, int(0.45 * w)))
    for index, frame in enumerate(published):
        t = 4.0 + index / 25
        diff = np.abs(frame - source[100 + index])
        if t >= 8.0:
            assert diff.max() == 0, t
        elif 4.6 <= t < 6.4:
            assert diff[region].mean() > 5, t


COMPARE_JS = """async () => {
  const grab = async (id, t) => {
    const v = document.getElementById(id);
    if (v.readyState < 1) await new Promise((r) => { v.onloadedmetadata = r; });
    await new Promise((r) => { v.onseeked = r; v.currentTime = t; });
    // The seeked frame is decoded; give the compositor a moment to hand it to the canvas.
    await new Promise((r) => setTimeout(r, 150));
    const c = document.getElementById('c').getContext('2d');
    c.drawImage(v, 0, 0, 640, 360);
    return c.getImageData(0, 0, 640, 360).data;
  };
  const out = {};
  for (const t of [1.0, 4.0, 7.0, 9.0]) {
    const a = await grab('a', t), b = await grab('b', t);
    let outside = 0, region = 0, n = 0;
    for (let y = 0; y < 360; y++) for (let x = 0; x < 640; x++) {
      const i = (y * 640 + x) * 4;
      const d = Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]);
      if (y >= 270 && x < 320) { region += d; n++; } else outside += d;
    }
    out[t] = { outside: outside / (640 * 360 - n), region: region / n };
  }
  const v = document.getElementById('b');
  v.currentTime = 0;
  v.playbackRate = 4;  // every frame still decoded, in a quarter of the time
  await v.play();
  await new Promise((r) => { v.onended = r; });
  const q = v.getVideoPlaybackQuality();
  out.error = v.error ? v.error.message : null;
  out.corrupted = q.corruptedVideoFrames;
  return out;
}"""


def test_chromium_plays_a_masked_view_exactly(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The re-encoded GOPs carry their own SPS/PPS in band and the copied GOP after them gets
    the original's back: Chromium shows the copied frames pixel for pixel."""
    from library.publishing.masking import MaskRegion
    from library.publishing.remux import remux_faststart

    folder = write_synthetic_recording(tmp_path, "demo", "Masked", seconds=10.0, audio=False)
    remux_faststart(folder / "iso-room.mp4", tmp_path / "plain.mp4")
    remux_faststart(folder / "iso-room.mp4", tmp_path / "masked.mp4",
                    masks=[MaskRegion(3.3, 5.1, 0.0, 0.75, 0.5, 0.25)])
    (tmp_path / "compare.html").write_text(
        '<video id=a src="plain.mp4" muted></video><video id=b src="masked.mp4" muted></video>'
        '<canvas id=c width=640 height=360></canvas>')
    # A page of local files may read its own videos' pixels only with this flag.
    local = browser.browser_type.launch(executable_path=CHROMIUM, headless=True,
                                        args=[*FLAGS, "--allow-file-access-from-files"])
    try:
        page = local.new_page()
        page.goto(f"file://{tmp_path}/compare.html")
        seen = page.evaluate(COMPARE_JS)
    finally:
        local.close()
    assert seen["error"] is None and seen["corrupted"] == 0, seen
    for t in ("1", "7", "9"):  # copied GOPs, before and after the re-encoded ones
        assert seen[t] == {"outside": 0, "region": 0}, (t, seen[t])
    assert seen["4"]["region"] > 10 and seen["4"]["outside"] < 1, seen["4"]

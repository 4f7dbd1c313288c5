"""``medroom bench player``: how soon a student sees the first frame of a published lesson.

A synthetic recording (program + one ISO view, 1280x720, ``--minutes`` long, built like the
recorder's files) is put in a ``medroom serve`` child's recordings folder, and the server's own
publishing runner publishes it as a lesson of a course a student is enrolled in. The student
then opens the lesson page ``--loads`` times in headless Chromium (Debian's ``chromium``,
driven by Playwright from the test extras), each time in a fresh browser context that holds
only the login cookie, so nothing comes from the browser's cache.

The page stamps the moment its first video frame was presented (``requestVideoFrameCallback``,
on the page's clock, which starts at navigation). Printed per load and as p50/p95/max, beside
the time the page's HTML arrived and the first media byte, so a slow figure shows where the
time went. Target: the first frame within 1 s on loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from library.courses import create_course, set_member
from library.db import Database
from library.lessons import LessonStatus, confirm_privacy, create_lesson, get_lesson
from library.publishing.bench import build_recording
from library.publishing.jobs import request_publish
from library.users import Role, create_user
from recorder.manifest import Manifest
from recorder.timeline import Timeline
from streaming.latency import percentile
from web.bench.churn import serve
from web.bench.processes import progress
from web.bench.protocol import BenchError

TARGET_MS = 1000.0
STUDENT, PASSWORD = "bench-student", "bench-student-password"
CHROMIUM = os.environ.get("MEDROOM_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required"]
#: What the page knows of one load: navigation to HTML, to the first media byte, to first frame.
TIMINGS_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const media = performance.getEntriesByType('resource').filter(e => e.name.includes('/media/'));
  return {html_ms: nav ? nav.responseEnd : null,
          media_ms: media.length ? Math.min(...media.map(e => e.responseStart)) : null,
          first_frame_ms: Number(document.getElementById('lesson').dataset.firstFrameMs)};
}"""


def _publish_lesson(data_dir: Path, minutes: float, deadline_s: float = 600.0) -> int:
    """A recording in the server's folder, published by the server; returns the lesson id."""
    folder = data_dir / "recordings" / "demo" / "bench-player"
    progress(f"building a {minutes:g}-minute 720p recording (program + 1 ISO)")
    build_recording(folder, minutes=minutes, tracks=2, width=1280, height=720, fps=30,
                    clip_seconds=10.0, bitrate_kbps=2000)
    db = Database(f"sqlite:///{data_dir / 'medroom.db'}")
    try:
        student = create_user(db, STUDENT, PASSWORD, Role.STUDENT)
        course = create_course(db, slug="bench-player", title="Player benchmark",
                               specialty="Otorhinolaryngology")
        set_member(db, course.id, student.id, "student")
        duration = Manifest.read(folder).duration
        lesson = create_lesson(db, recording_id="bench-player", room_id="demo",
                               recording_folder="demo/bench-player", title="Player benchmark",
                               recording_duration=duration, markers=Timeline(folder).markers(),
                               course_ids=[course.id])
        confirm_privacy(db, lesson.id, consent=True, deidentified=True, user_id=None)
        request_publish(db, lesson.id, data_dir / "recordings", requested_by=None)
        progress("the server publishes it")
        ends = time.monotonic() + deadline_s
        while (status := get_lesson(db, lesson.id).status) != LessonStatus.PUBLISHED:
            if status != LessonStatus.PUBLISHING or time.monotonic() > ends:
                raise BenchError(f"publishing ended as {status.value!r}; see the server log")
            time.sleep(0.5)
        return lesson.id
    finally:
        db.dispose()



def log_in(page: Any, url: str, username: str, password: str) -> None:
    """Log ``page`` in through the login form, as a person would (the benches' browsers)."""
    page.goto(url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")

def _measure(url: str, lesson_id: int, loads: int) -> list[dict[str, float | None]]:
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BenchError("the player benchmark drives Chromium with Playwright: "
                         "install the test extras (make setup-test)") from exc
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        raise BenchError(f"headless Chromium not found at {CHROMIUM}: apt-get install chromium")
    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            login = browser.new_context()
            log_in(login.new_page(), url, STUDENT, PASSWORD)
            state = login.storage_state()
            login.close()
            for n in range(loads):
                # The bench's probes are scripts the page's CSP would refuse.
                context = browser.new_context(storage_state=state, bypass_csp=True,
                                              viewport={"width": 1366, "height": 900})
                try:
                    page = context.new_page()
                    page.goto(f"{url}/library/lessons/{lesson_id}")
                    page.wait_for_selector("#lesson[data-first-frame-ms]", timeout=30_000)
                    timings = page.evaluate(TIMINGS_JS)
                except PlaywrightError as exc:
                    raise BenchError(f"load {n + 1}: the lesson did not show a frame: {exc}")
                finally:
                    context.close()
                results.append(timings)
                progress(f"load {n + 1}/{loads}: first frame {timings['first_frame_ms']:.0f} ms")
        finally:
            browser.close()
    return results


def _report(results: list[dict[str, float | None]]) -> dict[str, Any]:
    def figures(key: str) -> dict[str, float] | None:
        values = [float(v) for r in results if (v := r[key]) is not None]
        if not values:
            return None
        return {"p50": percentile(values, 50), "p95": percentile(values, 95),
                "max": max(values)}

    first = figures("first_frame_ms")
    return {"loads": len(results), "first_frame_ms": first,
            "html_ms": figures("html_ms"), "first_media_byte_ms": figures("media_ms"),
            "target_ms": TARGET_MS, "load_average": os.getloadavg()[0],
            "meets_target": bool(first and first["p95"] <= TARGET_MS)}


def run_from_args(args: argparse.Namespace) -> int:
    if not 1 <= args.loads <= 500:
        print("medroom bench player: --loads must be between 1 and 500", file=sys.stderr)
        return 2
    if not 0.5 <= args.minutes <= 180:
        print("medroom bench player: --minutes must be between 0.5 and 180", file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory(prefix="medroom-player-bench-") as tmp:
            data_dir = Path(tmp)
            with serve(data_dir) as served:
                lesson_id = _publish_lesson(data_dir, args.minutes)
                results = _measure(served.url, lesson_id, args.loads)
    except BenchError as exc:
        print(f"medroom bench player failed: {exc}", file=sys.stderr)
        return 1
    report = _report(results)
    print(f"\nfirst frame of a published lesson, {report['loads']} page loads in fresh browser "
          f"contexts (load average {report['load_average']:.1f}):")
    for label, key in (("page HTML", "html_ms"), ("first media byte", "first_media_byte_ms"),
                       ("first frame", "first_frame_ms")):
        f = report[key]
        if f:
            print(f"  {label:<17} p50 {f['p50']:6.0f} ms   p95 {f['p95']:6.0f} ms   "
                  f"max {f['max']:6.0f} ms")
    verdict = "meets" if report["meets_target"] else "MISSES"
    print(f"  target: first frame p95 <= {TARGET_MS:.0f} ms: {verdict}")
    print()
    print(json.dumps(report), flush=True)
    return 0

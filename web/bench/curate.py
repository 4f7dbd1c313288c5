"""``medroom bench curate``: the curation editor on a long recording, and a masked publish.

1. A ``--minutes`` long recording (program + 2 ISO views, 1280x720 at 30 fps, built like the
   recorder's files from a repeated encoded clip, plus repeated Opus sound) is put in a
   ``medroom serve`` child's recordings folder; its editor media (faststart copies, keyframes,
   waveform, thumbnails) are made as when a recording stops, and that time is printed.
2. A curator opens the lesson's editor ``--loads`` times in headless Chromium, each in a fresh
   browser context: the time to the first picture and to the waveform and thumbnail strip being
   drawn (both on the page's clock, from navigation). Targets: 1 s and 3 s.
3. Seeking: ``--seeks`` random positions, from setting the time to the element's ``seeked``
   (the frame there decoded and ready). Target: 300 ms.
4. A 30 s mask in the middle of one view: publishing that view with the mask (one remux pass
   that re-encodes only the masked GOPs) against the plain remux and against re-encoding the
   whole view with PyAV (libx264 veryfast, extrapolated from ``--reencode-sample`` seconds, as
   ``bench publishing`` does).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from library.courses import create_course
from library.db import Database
from library.lessons import create_lesson
from library.publishing.bench import build_recording, reencode
from library.publishing.curation_media import prepare_curation
from library.publishing.masking import MaskRegion
from library.publishing.remux import remux_faststart
from library.users import Role, create_user
from recorder.manifest import Manifest
from recorder.synthetic import add_sound
from streaming.latency import percentile
from web.bench.churn import serve
from web.bench.player import CHROMIUM, FLAGS, log_in
from web.bench.processes import progress
from web.bench.protocol import BenchError

CURATOR, PASSWORD = "bench-curator", "bench-curator-password"
TARGETS_MS = {"first_picture_ms": 1000.0, "strip_ms": 3000.0, "seek_ms": 300.0}
SEEK_JS = """async (targets) => {
  const v = document.querySelector('#ed-program');
  const out = [];
  for (const t of targets) {
    const t0 = performance.now();
    // 'seeked': the element has the frame at the new position decoded and ready to show.
    await new Promise((resolve) => { v.addEventListener('seeked', resolve, { once: true }); v.currentTime = t; });
    out.push(performance.now() - t0);
  }
  return out;
}"""


def _recording(data_dir: Path, minutes: float, height: int) -> tuple[Path, dict[str, float]]:
    folder = data_dir / "recordings" / "demo" / "bench-curate"
    progress(f"building a {minutes:g}-minute {height}p recording (program + 2 ISO + sound)")
    began = time.perf_counter()
    build_recording(folder, minutes=minutes, tracks=3, width=height * 16 // 9, height=height,
                    fps=30, clip_seconds=10.0, bitrate_kbps=2000 * height // 720)
    add_sound(folder, Manifest.read(folder).duration)
    built = time.perf_counter() - began
    progress("making the editor's media (as when a recording stops)")
    began = time.perf_counter()
    prepare_curation(folder)
    return folder, {"build_s": round(built, 1),
                    "prepare_s": round(time.perf_counter() - began, 2)}


def _lesson(data_dir: Path, folder: Path) -> int:
    db = Database(f"sqlite:///{data_dir / 'medroom.db'}")
    try:
        create_user(db, CURATOR, PASSWORD, Role.CURATOR)
        course = create_course(db, slug="bench-curate", title="Curation benchmark",
                               specialty="Otorhinolaryngology")
        lesson = create_lesson(db, recording_id="bench-curate", room_id="demo",
                               recording_folder="demo/bench-curate", title="Curation benchmark",
                               recording_duration=Manifest.read(folder).duration,
                               course_ids=[course.id])
        return lesson.id
    finally:
        db.dispose()


def _browse(url: str, lesson_id: int, loads: int, seeks: int, duration: float
            ) -> dict[str, list[float]]:
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BenchError("the curation benchmark drives Chromium with Playwright: "
                         "install the test extras (make setup-test)") from exc
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        raise BenchError(f"headless Chromium not found at {CHROMIUM}: apt-get install chromium")
    out: dict[str, list[float]] = {"first_picture_ms": [], "strip_ms": [], "seek_ms": []}
    rng = random.Random(17)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            login = browser.new_context()
            log_in(login.new_page(), url, CURATOR, PASSWORD)
            state = login.storage_state()
            login.close()
            for n in range(loads):
                context = browser.new_context(storage_state=state, bypass_csp=True,
                                              viewport={"width": 1366, "height": 768})
                try:
                    page = context.new_page()
                    page.goto(f"{url}/library/lessons/{lesson_id}/edit")
                    page.wait_for_selector("#cut-editor[data-first-picture][data-strip-ready]",
                                           timeout=60_000)
                    first = float(page.get_attribute("#cut-editor", "data-first-picture") or 0)
                    strip = float(page.get_attribute("#cut-editor", "data-strip-ready") or 0)
                    out["first_picture_ms"].append(first)
                    out["strip_ms"].append(strip)
                    if n == 0 and seeks:
                        targets = [rng.uniform(0, duration - 1) for _ in range(seeks)]
                        out["seek_ms"] = [float(x) for x in page.evaluate(SEEK_JS, targets)]
                except PlaywrightError as exc:
                    raise BenchError(f"load {n + 1}: the editor did not open: {exc}") from exc
                finally:
                    context.close()
                progress(f"load {n + 1}/{loads}: first picture {first:.0f} ms, "
                         f"strip {strip:.0f} ms")
        finally:
            browser.close()
    return out


def _masked_publish(folder: Path, work: Path, sample: float) -> dict[str, float]:
    """One view as publishing writes it: remuxed alone, remuxed with a 30 s mask (the masked
    GOPs re-encoded in the same pass), and re-encoded whole (estimated)."""
    src = folder / "iso-cam1.mp4"
    duration = Manifest.read(folder).duration
    began = time.perf_counter()
    remux_faststart(src, work / "plain.mp4")
    remux_s = time.perf_counter() - began
    (work / "plain.mp4").unlink()
    middle = duration / 2
    mask = MaskRegion(middle, min(duration, middle + 30.0), 0.1, 0.1, 0.3, 0.3)
    began = time.perf_counter()
    result = remux_faststart(src, work / "masked.mp4", masks=[mask])
    masked_s = time.perf_counter() - began
    assert result.masked is not None
    (work / "masked.mp4").unlink()
    progress(f"re-encoding {sample:g} s of the view to estimate a whole re-encode")
    done, wall = reencode(src, work / "full.mp4", seconds=sample, preset="veryfast",
                          bitrate_kbps=2000)
    (work / "full.mp4").unlink(missing_ok=True)
    full_s = wall * duration / max(done, 1e-9)
    return {"view_seconds": round(duration, 1), "mask_seconds": 30.0,
            "reencoded_seconds": round(result.masked.reencoded_seconds, 2),
            "remux_s": round(remux_s, 2), "masked_publish_s": round(masked_s, 2),
            "full_reencode_s_estimated": round(full_s, 1),
            "ratio_full_over_masked": round(full_s / masked_s, 1)}


def _figures(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"p50": round(percentile(values, 50), 1), "p95": round(percentile(values, 95), 1),
            "max": round(max(values), 1)}


def run_from_args(args: argparse.Namespace) -> int:
    if not 0.2 <= args.minutes <= 180:
        print("medroom bench curate: --minutes must be between 0.2 and 180", file=sys.stderr)
        return 2
    if not 1 <= args.loads <= 100 or not 0 <= args.seeks <= 500 or args.height not in (
            360, 720, 1080):
        print("medroom bench curate: --loads 1..100, --seeks 0..500, --height 360, 720 or 1080",
              file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory(prefix="medroom-curate-bench-") as tmp:
            data_dir = Path(tmp)
            (data_dir / "recordings").mkdir()
            folder, prepared = _recording(data_dir, args.minutes, args.height)
            duration = Manifest.read(folder).duration
            with serve(data_dir) as served:
                lesson_id = _lesson(data_dir, folder)
                browsed = _browse(served.url, lesson_id, args.loads, args.seeks, duration)
            work = data_dir / "mask"
            work.mkdir()
            progress("publishing one view with a 30 s mask")
            masked = _masked_publish(folder, work, min(args.reencode_sample, duration))
    except BenchError as exc:
        print(f"medroom bench curate failed: {exc}", file=sys.stderr)
        return 1
    report: dict[str, Any] = {
        "bench": "curate", "minutes": round(duration / 60, 2),
        "tracks": f"program + 2 ISO {args.height * 16 // 9}x{args.height} 30 fps + Opus", **prepared,
        **{key: _figures(values) for key, values in browsed.items()},
        "targets_ms": TARGETS_MS, "masked_publish": masked,
        "load_average": round(os.getloadavg()[0], 2)}
    print(f"\ncuration editor on a {report['minutes']:g}-minute recording ({report['tracks']}), "
          f"load average {report['load_average']:.1f}:")
    print(f"  recording built in {prepared['build_s']} s; editor media made in "
          f"{prepared['prepare_s']} s (once, when the recording stops)")
    for label, key in (("first picture", "first_picture_ms"),
                       ("waveform + thumbnails", "strip_ms"), ("seek to frame", "seek_ms")):
        f = report[key]
        if f:
            verdict = "meets" if f["p95"] <= TARGETS_MS[key] else "MISSES"
            print(f"  {label:<22} p50 {f['p50']:6.0f} ms  p95 {f['p95']:6.0f} ms  "
                  f"max {f['max']:6.0f} ms   target {TARGETS_MS[key]:.0f} ms: {verdict}")
    m = masked
    print(f"  30 s mask on one {m['view_seconds']:g} s view: published in "
          f"{m['masked_publish_s']} s ({m['reencoded_seconds']} s re-encoded, the rest copied; "
          f"the plain remux takes {m['remux_s']} s); re-encoding the whole view "
          f"~{m['full_reencode_s_estimated']} s: {m['ratio_full_over_masked']}x")
    print()
    print(json.dumps(report), flush=True)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the recording")
    parser.add_argument("--loads", type=int, default=5, help="editor opens measured")
    parser.add_argument("--seeks", type=int, default=20, help="random seeks measured")
    parser.add_argument("--height", type=int, default=720, help="picture height: 360, 720, 1080")
    parser.add_argument("--reencode-sample", type=float, default=60.0,
                        help="seconds re-encoded to estimate re-encoding the whole view")

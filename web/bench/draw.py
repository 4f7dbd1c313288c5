"""``medroom bench draw``: how soon a stroke drawn on the console is on a viewer's screen, on
its frame.

A ``medroom serve`` child goes live; headless Chromium (Debian's ``chromium``, driven by
Playwright from the test extras) opens the instructor's console and a student's watch page,
both WHEP viewers of the program with their ``overlay`` data channel (``streaming.overlay``).
The console draws ``--strokes`` strokes of ``--moves`` pointer moves each (one every
``--interval-ms``, as a hand moves), each move at a point no other move uses.

Both pages note times on one clock, the machine's (``performance.timeOrigin + now``: the pages
run in one browser on one machine). The console notes when each point was drawn (its
``pointermove``) and the media ticks of the frame it showed; the watch page notes when each
point was first on its screen: the presentation time of the video frame with which the point
was first painted (``requestVideoFrameCallback``'s ``expectedDisplayTime``), or the next paint
when it arrived between frames. Latency = on screen - drawn, per point. Alignment: the frame
the watch page showed the point with, minus the frame it was drawn on, in milliseconds of
media time: never below zero (a stroke is never shown before its frame), and small when the
data channel keeps up with the video. Printed as p50/p95/max with the number of samples.
Target: p95 <= 150 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from library.db import Database
from library.users import Role, create_user
from streaming.latency import percentile
from web.bench.churn import serve
from web.bench.player import log_in
from web.bench.processes import progress
from web.bench.protocol import BenchError

TARGET_MS = 150.0
CLOCK = 90_000
INSTRUCTOR, STUDENT = "bench-instructor", "bench-student"
PASSWORD = "bench-draw-password"
CHROMIUM = os.environ.get("MEDROOM_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required"]
READY_JS = ("(id) => document.getElementById(id).videoWidth > 0 && "
            "MedRoom.liveOverlay && MedRoom.liveOverlay.ticks !== null")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strokes", type=int, default=20, help="strokes drawn on the console")
    parser.add_argument("--moves", type=int, default=20, help="pointer moves per stroke")
    parser.add_argument("--interval-ms", type=float, default=33.0,
                        help="time between pointer moves")


def _users(data_dir: Path) -> None:
    db = Database(f"sqlite:///{data_dir / 'medroom.db'}")
    try:
        create_user(db, INSTRUCTOR, PASSWORD, Role.INSTRUCTOR)
        create_user(db, STUDENT, PASSWORD, Role.STUDENT)
    finally:
        db.dispose()


def _page(browser: Any, url: str, account: tuple[str, str], path: str) -> Any:
    # The bench's probes are scripts the page's CSP would refuse.
    context = browser.new_context(bypass_csp=True, viewport={"width": 1366, "height": 768})
    page = context.new_page()
    log_in(page, url, *account)
    page.goto(url + path)
    return page


def measure(
    browser: Any, url: str, strokes: int, moves: int, interval_ms: float, *,
    instructor: tuple[str, str] = (INSTRUCTOR, PASSWORD),
    student: tuple[str, str] = (STUDENT, PASSWORD), room: str = "demo",
) -> dict[str, Any]:
    """Draw on ``room``'s console in ``browser`` (Playwright) while a student watches; the
    room must be live. Returns both pages' notes: what was drawn, and what was shown."""
    console = _page(browser, url, instructor, f"/rooms/{room}/console")
    watch = _page(browser, url, student, f"/rooms/{room}/watch")
    try:
        for page, video in ((console, "program-video"), (watch, "live-video")):
            page.wait_for_function(READY_JS, arg=video, timeout=60_000)
        console.wait_for_selector("#draw-toggle:not([hidden])")
        console.keyboard.press("d")
        console.wait_for_selector("body.drawing")
        box = console.locator("#draw-canvas").bounding_box()
        assert box is not None
        for k in range(strokes):
            # Each stroke on its own row, each move at its own column: points are unique.
            y = 0.05 + 0.9 * (k + 0.5) / strokes
            xs = [0.05 + 0.9 * i / max(1, moves) for i in range(moves + 1)]
            console.mouse.move(box["x"] + box["width"] * xs[0], box["y"] + box["height"] * y)
            console.mouse.down()
            for x in xs[1:]:
                console.mouse.move(box["x"] + box["width"] * x, box["y"] + box["height"] * y)
                console.wait_for_timeout(interval_ms)
            console.mouse.up()
            console.wait_for_timeout(150)
            progress(f"stroke {k + 1}/{strokes}")
        console.wait_for_timeout(1000)  # the last points reach the watch page
        return {"drawn": console.evaluate("MedRoom.liveOverlay.trace"),
                "shown": watch.evaluate("MedRoom.liveOverlay.shown")}
    finally:
        console.context.close()
        watch.context.close()


def _measure(url: str, strokes: int, moves: int, interval_ms: float) -> dict[str, Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BenchError("the draw benchmark drives Chromium with Playwright: "
                         "install the test extras (make setup-test)") from exc
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        raise BenchError(f"headless Chromium not found at {CHROMIUM}: apt-get install chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            return measure(browser, url, strokes, moves, interval_ms)
        finally:
            browser.close()


def _figures(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "p50_ms": None, "p95_ms": None, "max_ms": None}
    return {"count": len(values), "p50_ms": round(percentile(values, 50), 1),
            "p95_ms": round(percentile(values, 95), 1), "max_ms": round(max(values), 1)}


def report(drawn: list[dict[str, Any]], shown: list[dict[str, Any]]) -> dict[str, Any]:
    """Pair each point drawn with its first showing on the watch page (by its coordinates)."""
    first: dict[tuple[float, float], dict[str, Any]] = {}
    for entry in shown:
        first.setdefault((entry["x"], entry["y"]), entry)
    latencies, transits, offsets, early = [], [], [], 0
    for point in drawn:
        seen = first.get((point["x"], point["y"]))
        if seen is None:
            continue
        latencies.append(seen["at"] - point["at"])
        transits.append(seen["arrived"] - point["at"])
        if seen["ticks"] is not None and seen["f"] is not None:
            offset = ((seen["ticks"] - seen["f"] + 2**31) % 2**32 - 2**31) / CLOCK * 1000
            early += offset < 0
            offsets.append(offset)
    latency = _figures(latencies)
    return {
        "bench": "draw", "points_drawn": len(drawn), "points_shown": len(latencies),
        "latency": latency, "transit": _figures(transits), "frame_offset": _figures(offsets), "shown_before_frame": early,
        "target_p95_ms": TARGET_MS,
        "meets_target": latency["p95_ms"] is not None and float(latency["p95_ms"]) <= TARGET_MS
        and early == 0 and len(latencies) == len(drawn),
        "load_average": os.getloadavg()[0],
    }


def run_from_args(args: argparse.Namespace) -> int:
    strokes, moves, interval = int(args.strokes), int(args.moves), float(args.interval_ms)
    if not 1 <= strokes <= 500 or not 1 <= moves <= 500:
        print("medroom bench draw: --strokes and --moves must be between 1 and 500",
              file=sys.stderr)
        return 2
    if not 5 <= interval <= 1000:
        print("medroom bench draw: --interval-ms must be between 5 and 1000", file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory(prefix="medroom-bench-draw-") as tmp:
            data_dir = Path(tmp)
            with serve(data_dir) as served:
                _users(data_dir)
                headers = {"Authorization": f"Bearer {served.token}"}
                live = httpx.post(f"{served.url}/api/rooms/demo/live", headers=headers,
                                  json={"title": "bench draw"}, timeout=60)
                if live.status_code != 201:
                    raise BenchError(f"could not go live: {live.status_code} {live.text}")
                progress(f"drawing {strokes} strokes of {moves} moves on the console")
                measured = _measure(served.url, strokes, moves, interval)
    except BenchError as exc:
        print(f"medroom bench draw failed: {exc}", file=sys.stderr)
        return 1
    print_report(report(measured["drawn"], measured["shown"]))
    return 0


def print_report(result: dict[str, Any]) -> None:
    lat, off = result["latency"], result["frame_offset"]
    print(f"\nlive drawing, console to watch page in headless Chromium: {result['points_shown']}"
          f" of {result['points_drawn']} points seen (load average {result['load_average']:.1f})")
    if lat["count"]:
        print(f"  pointer moved -> on screen   p50 {lat['p50_ms']:6.1f} ms   p95 "
              f"{lat['p95_ms']:6.1f} ms   max {lat['max_ms']:6.1f} ms   n={lat['count']}")
    if result["transit"]["count"]:
        t = result["transit"]
        print(f"  of which data channel        p50 {t['p50_ms']:6.1f} ms   p95 "
              f"{t['p95_ms']:6.1f} ms   max {t['max_ms']:6.1f} ms   (console to watch page)")
    if off["count"]:
        print(f"  shown frame - drawn frame    p50 {off['p50_ms']:6.1f} ms   p95 "
              f"{off['p95_ms']:6.1f} ms   max {off['max_ms']:6.1f} ms   "
              f"(shown before its frame: {result['shown_before_frame']})")
    verdict = "meets" if result["meets_target"] else "MISSES"
    print(f"  target: p95 <= {TARGET_MS:.0f} ms, never before its frame: {verdict}")
    print()
    print(json.dumps(result), flush=True)

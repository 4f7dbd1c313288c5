"""Benchmark of program composition: `python -m room_controller.composition`.

Composes each layout from typical room sources (a 1080p endoscope, a 720p room camera, a
512x512 CT slice) with title, clock and two privacy masks, on ONE OpenCV thread, and reports
milliseconds per frame and the share of one core at 30 fps. The same frames are composed the
plain way in the same run for comparison: a fresh canvas per frame, each source resized into a
new array, letterboxed with copyMakeBorder, pasted, text drawn every frame.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial

import cv2
import numpy as np

from room_controller.composition import (
    BAR_COLOR,
    Composer,
    Layout,
    LayoutKind,
    Overlays,
    PrivacyMask,
    TitleLine,
    _fit,
)

Image = np.ndarray


def _sources() -> dict[str, Image]:
    rng = np.random.default_rng(0)
    frames = {}
    for name, (w, h) in {"endo": (1920, 1080), "room": (1280, 720), "ct": (512, 512),
                         "room720": (1280, 720)}.items():
        image = rng.integers(0, 256, (h, w, 3), np.uint8)
        image.flags.writeable = False
        frames[name] = image
    return frames


LAYOUTS = {
    "single (720p source)": Layout(LayoutKind.SINGLE, ("room",)),
    "single (1080p source)": Layout(LayoutKind.SINGLE, ("endo",)),
    "side-by-side": Layout(LayoutKind.SIDE_BY_SIDE, ("endo", "room")),
    "pip": Layout(LayoutKind.PIP, ("endo", "room")),
    "grid-2x2 (3 sources)": Layout(LayoutKind.GRID, ("endo", "room", "ct", None)),
}

OVERLAYS = Overlays(
    title=TitleLine("Endoscopic sinus surgery", "Dr A. Smith", "University Hospital"),
    clock=True,
    masks=(PrivacyMask(0.05, 0.05, 0.2, 0.15, source="room"),
           PrivacyMask(0.7, 0.6, 0.2, 0.3, source="endo")),
)


def naive_compose(width: int, height: int, frames: dict[str, Image], layout: Layout) -> Image:
    """The plain way: new arrays everywhere, geometry recomputed, text drawn every frame."""
    composer = Composer(width, height)  # only for the cell rectangles
    canvas = np.zeros((height, width, 3), np.uint8)
    sizes = {k: (v.shape[1], v.shape[0]) for k, v in frames.items()}
    for slot in composer.geometry(layout, sizes):
        x, y, w, h = slot.cell
        if slot.source is None:
            canvas[y:y + h, x:x + w] = 40
            continue
        image = frames[slot.source].copy()
        for mask in OVERLAYS.masks:
            if mask.source == slot.source:  # masks on a copy of the full source frame
                ih, iw = image.shape[:2]
                image[int(mask.y * ih):int((mask.y + mask.h) * ih),
                      int(mask.x * iw):int((mask.x + mask.w) * iw)] = 0
        cx, cy, cw, ch = _fit(image.shape[1], image.shape[0], slot.cell)
        resized = cv2.resize(image, (cw, ch), interpolation=cv2.INTER_AREA)
        boxed = cv2.copyMakeBorder(resized, cy - y, y + h - cy - ch, cx - x, x + w - cx - cw,
                                   cv2.BORDER_CONSTANT, value=BAR_COLOR)
        canvas[y:y + h, x:x + w] = boxed
    title = OVERLAYS.title.text() if OVERLAYS.title else ""
    band = round(height * 0.065)
    canvas[height - band:] = (28, 24, 20)
    cv2.putText(canvas, title, (20, height - band // 3), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                (235, 235, 235), 2, cv2.LINE_AA)
    cv2.putText(canvas, datetime.now().strftime("%H:%M:%S"), (width - 160, 40),
                cv2.FONT_HERSHEY_SIMPLEX, 0.8, (235, 235, 235), 2, cv2.LINE_AA)
    return canvas.copy()  # handed on as a new frame


def _time(fn: Callable[[], object], seconds: float) -> tuple[float, float]:
    fn()  # warm caches (geometry, text)
    samples: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(samples) < 10:
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads (1 = one core)")
    args = parser.parse_args(argv)
    cv2.setNumThreads(args.threads)
    frames = _sources()
    print(f"composition benchmark, OpenCV {cv2.__version__}, {args.threads} thread(s); "
          "overlays: title, clock, 2 privacy masks")
    print(f"{'output':>9}  {'layout':<22} {'ms median':>9} {'p95':>6} {'core@30fps':>10}"
          f"  {'naive ms':>8} {'naive/ours':>10}")
    for width, height in ((1280, 720), (1920, 1080)):
        composer = Composer(width, height)
        out = np.empty((height, width, 3), np.uint8)
        for name, layout in LAYOUTS.items():
            ours = partial(composer.compose, frames, layout, OVERLAYS, out=out)
            med, p95 = _time(ours, args.seconds)
            naive, _ = _time(partial(naive_compose, width, height, frames, layout), args.seconds)
            print(f"{width}x{height:<4}  {name:<22} {med:9.2f} {p95:6.2f} {med * 30 / 10:9.1f}%"
                  f"  {naive:8.2f} {naive / med:9.1f}x")
        fresh, _ = _time(partial(composer.compose, frames, LAYOUTS["pip"], OVERLAYS),
                         args.seconds)
        print(f"{width}x{height:<4}  {'pip, new array/frame':<22} {fresh:9.2f}")


if __name__ == "__main__":
    main()

"""``medroom bench dicom``: a CT slice to a program frame, and loading a 300-slice series.

Both against the plain way in the same run, on the same files (written first: the phantom's
512x512 head CT, uncompressed, so they sit in the page cache as a local series would):

- **slice**: read one slice from its file, window it, draw it into a 1280x720 and a 1920x1080
  frame with its text. MedRoom: decode, one lookup table from stored values to display bytes
  (rescale folded in), resize, paste. Plain: ``dcmread`` + ``pixel_array`` +
  ``apply_modality_lut`` + ``apply_voi_lut`` (float64), scale to bytes, a fresh canvas. The
  per-pixel Python loop a first attempt might write is timed too, on a few slices.
- **series**: MedRoom reads headers in a thread pool and decodes pixels on demand (ready to show
  = headers + the first slice), and also all slices decoded (2 threads). Plain: every file read
  whole, decoded and rescaled one after the other, sorted and stacked.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pydicom
from pydicom.pixels.processing import apply_modality_lut, apply_voi_lut
from pydicom.uid import generate_uid

from ..sources.dicom_source import DicomSeriesSource
from .phantom import write_head_phantom
from .series import DicomSeries, load_series
from .window import Window

TARGET_SLICE_MS = 5.0
TARGET_LOAD_S = 2.0
WINDOW = Window.named("brain")


def write_bench_series(folder: Path, slices: int, size: int = 512) -> list[Path]:
    """`slices` files of one series: 16 phantom slices repeated along z (writing 300 distinct
    512x512 phantom slices takes half a minute and measures nothing more)."""
    models = [pydicom.dcmread(p) for p in write_head_phantom(folder / "model", 16, size)]
    series_uid = generate_uid()
    paths = []
    for i in range(slices):
        ds = models[i * len(models) // slices]
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.SeriesInstanceUID = series_uid
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [ds.ImagePositionPatient[0], ds.ImagePositionPatient[1],
                                   round(-150 + i * 1.0, 3)]
        path = folder / "series" / f"IM{i:04d}.dcm"
        path.parent.mkdir(exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _samples(fn: Callable[[int], object], count: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (this thread) milliseconds of each call, each list sorted. On a busy machine
    wall time waits for a core; CPU time is what the work itself costs."""
    fn(0)  # warm (lookup tables, first allocation)
    wall, cpu = [], []
    for i in range(count):
        t, c = time.perf_counter(), time.thread_time()
        fn(i)
        cpu.append((time.thread_time() - c) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
    return sorted(wall), sorted(cpu)


def _p50_p95(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def naive_slice(path: Path, width: int, height: int) -> np.ndarray:
    """The plain pydicom way, windowed to the same preset and drawn into a fresh canvas."""
    ds = pydicom.dcmread(path)
    hu = apply_modality_lut(ds.pixel_array, ds)
    ds.WindowCenter, ds.WindowWidth = WINDOW.center, WINDOW.width
    voi = apply_voi_lut(hu, ds)
    low, high = WINDOW.center - WINDOW.width / 2, WINDOW.center + WINDOW.width / 2
    grey = np.clip((voi - low) / (high - low) * 255.0, 0, 255).astype(np.uint8)
    side = min(width, height)
    resized = cv2.resize(grey, (side, side), interpolation=cv2.INTER_LINEAR)
    canvas = np.zeros((height, width, 3), np.uint8)
    x0, y0 = (width - side) // 2, (height - side) // 2
    canvas[y0:y0 + side, x0:x0 + side] = np.dstack([resized] * 3)
    cv2.putText(canvas, "Slice", (16, 36), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 1)
    return canvas


def per_pixel_window(path: Path) -> list[list[int]]:
    """The loop a first attempt writes: every pixel rescaled and windowed in Python."""
    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array.tolist()
    slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
    low = WINDOW.center - WINDOW.width / 2
    out = []
    for row in pixels:
        line = []
        for value in row:
            level = (value * slope + intercept - low) * 255.0 / WINDOW.width
            line.append(0 if level < 0 else 255 if level > 255 else round(level))
        out.append(line)
    return out


def naive_load(paths: list[Path]) -> np.ndarray:
    """Every file read whole and decoded in turn, then sorted by z and stacked."""
    slices = []
    for path in paths:
        ds = pydicom.dcmread(path)
        slices.append((float(ds.ImagePositionPatient[2]), apply_modality_lut(ds.pixel_array, ds)))
    slices.sort(key=lambda s: s[0])
    return np.stack([s[1] for s in slices])


def _draw_ours(source: DicomSeriesSource, series: DicomSeries, i: int) -> object:
    return source.draw(series, (i * 7) % series.count, WINDOW, False, 4.0)


def _draw_naive(paths: list[Path], width: int, height: int, i: int) -> object:
    return naive_slice(paths[(i * 7) % len(paths)], width, height)


def bench_slice(paths: list[Path], iterations: int) -> dict[str, Any]:
    folder = paths[0].parent
    results: dict[str, Any] = {}
    for width, height in ((1280, 720), (1920, 1080)):
        source = DicomSeriesSource("ct", "CT", folder, width=width, height=height)
        series = load_series(folder, cache_bytes=0)  # every slice read from its file again
        ours, ours_cpu = _samples(partial(_draw_ours, source, series), iterations)
        naive, naive_cpu = _samples(partial(_draw_naive, paths, width, height), iterations)
        p50, p95 = _p50_p95(ours)
        n50, n95 = _p50_p95(naive)
        c50, n_c50 = statistics.median(ours_cpu), statistics.median(naive_cpu)
        results[f"{width}x{height}"] = {
            "ms_p50": round(p50, 2), "ms_p95": round(p95, 2), "cpu_ms_p50": round(c50, 2),
            "naive_ms_p50": round(n50, 2), "naive_ms_p95": round(n95, 2),
            "naive_cpu_ms_p50": round(n_c50, 2),
            "ratio": round(n50 / p50, 1), "cpu_ratio": round(n_c50 / c50, 1),
            "target_ms": TARGET_SLICE_MS, "meets_target": p50 <= TARGET_SLICE_MS,
        }
    _, pixel_cpu = _samples(lambda i: per_pixel_window(paths[i]), 2)
    results["per_pixel_python_cpu_ms"] = round(statistics.median(pixel_cpu), 1)
    return results


def bench_load(paths: list[Path], repeats: int) -> dict[str, Any]:
    folder = paths[0].parent
    runs: dict[str, list[tuple[float, float]]] = {"ready": [], "decoded": [], "naive": []}

    def timed(name: str, fn: Callable[[], object]) -> None:
        t, c = time.perf_counter(), time.process_time()
        fn()
        runs[name].append((time.perf_counter() - t, time.process_time() - c))

    def ready() -> None:
        series = load_series(folder)
        series.windowed(series.count // 2, WINDOW)

    for _ in range(repeats):
        timed("ready", ready)
        timed("decoded", lambda: load_series(folder, cache_bytes=1 << 34).decode_all(workers=2))
        timed("naive", lambda: naive_load(paths))
    wall = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
    return {
        "slices": len(paths), "ready_s": round(wall["ready"], 3),
        "all_decoded_s": round(wall["decoded"], 3), "naive_s": round(wall["naive"], 3),
        "ready_cpu_s": round(cpu["ready"], 3), "all_decoded_cpu_s": round(cpu["decoded"], 3),
        "naive_cpu_s": round(cpu["naive"], 3),
        "ratio_ready": round(wall["naive"] / wall["ready"], 1),
        "ratio_decoded": round(wall["naive"] / wall["decoded"], 1),
        "target_s": TARGET_LOAD_S, "meets_target": wall["decoded"] <= TARGET_LOAD_S,
    }


def format_report(report: dict[str, Any]) -> str:
    lines = [
        ("dicom benchmark: 512x512 head CT slices (uncompressed, in the page cache), "
         f"window {WINDOW.label}; load average {report['load_average']:.1f} on "
         f"{report['cpus']} cores (wall time waits for a core when busy; CPU time does not)"),
        "",
        (f"{'slice -> frame':<12} {'wall p50':>8} {'p95':>6} {'cpu p50':>8} "
         f"{'naive wall':>10} {'naive cpu':>9} {'naive/ours':>10}  target (wall p50)"),
    ]
    for size in ("1280x720", "1920x1080"):
        s = report["slice"][size]
        lines.append(
            f"{size:<12} {s['ms_p50']:8.2f} {s['ms_p95']:6.2f} {s['cpu_ms_p50']:8.2f} "
            f"{s['naive_ms_p50']:10.2f} {s['naive_cpu_ms_p50']:9.2f} {s['ratio']:9.1f}x  "
            f"<= {TARGET_SLICE_MS:g} ms {'ok' if s['meets_target'] else 'MISSED'}")
    lines.append("per-pixel Python windowing alone: "
                 f"{report['slice']['per_pixel_python_cpu_ms']:.0f} ms CPU per slice")
    load = report["load"]
    lines += [
        "", f"series of {load['slices']} slices (wall / CPU seconds):",
        f"  ready to show (headers + one slice) {load['ready_s']:.3f} / {load['ready_cpu_s']:.3f}",
        (f"  all slices decoded                  {load['all_decoded_s']:.3f} / "
         f"{load['all_decoded_cpu_s']:.3f}"),
        f"  naive sequential read + decode      {load['naive_s']:.3f} / {load['naive_cpu_s']:.3f}",
        (f"  naive/ours: {load['ratio_ready']:.1f}x to show, {load['ratio_decoded']:.1f}x all "
         f"decoded; target all decoded <= {TARGET_LOAD_S:g} s "
         f"{'ok' if load['meets_target'] else 'MISSED'}"),
    ]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--slices", type=int, default=300, help="series length (default 300)")
    parser.add_argument("--iterations", type=int, default=100, help="slices drawn per size")
    parser.add_argument("--repeats", type=int, default=3, help="series loads per method")


def run_from_args(args: argparse.Namespace) -> int:
    if args.slices < 2 or args.iterations < 5 or args.repeats < 1:
        print("medroom bench dicom: needs --slices >= 2, --iterations >= 5, --repeats >= 1")
        return 2
    cv2.setNumThreads(1)  # one core, as in the room's source thread
    with tempfile.TemporaryDirectory(prefix="medroom-dicombench-") as folder:
        paths = write_bench_series(Path(folder), args.slices)
        report = {"bench": "dicom", "load_average": os.getloadavg()[0],
                  "cpus": os.cpu_count(), "slice": bench_slice(paths, args.iterations),
                  "load": bench_load(paths, args.repeats)}
    print(format_report(report))
    print()
    print(json.dumps(report), flush=True)
    return 0

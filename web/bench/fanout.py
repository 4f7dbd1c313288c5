"""``medroom bench fanout``: server CPU per WebRTC viewer, MedRoom's path against aiortc's stock one.

Every measurement runs in fresh processes on 127.0.0.1:

* one SERVER process runs the synthetic endoscope (1280x720, 30 fps) and answers SDP offers
  over a tiny line-based TCP signalling (one JSON line in, one JSON line out). Its video goes
  out either the MedRoom way (``medroom``: one ``SharedEncoder``, packets fanned out by
  ``ViewerSessions``) or aiortc's stock way (``stock``: a ``VideoStreamTrack`` shared with
  ``MediaRelay``, so every viewer's sender runs its own libx264; H.264 is forced with
  ``setCodecPreferences`` so both paths send the same codec);
* VIEWER processes (at most 10 viewers each, at least 2 processes from 4 viewers on) hold lean
  aiortc peer connections that never decode: aiortc's decoder thread is replaced by one that
  only notes the time of every complete frame the jitter buffer hands it, so a viewer costs the
  probe about 1/30 of a core instead of a software decoder.

The server's CPU time is read from ``/proc/<pid>/stat`` (all its threads) over a steady window
that starts 2 s after every viewer has received its first frame. The same server with no viewer
is measured first for each path, so the cost per viewer is ``(cpu(N) - cpu(0)) / N``. Frame
rates are the complete frames each viewer received inside that same window.
"""

from __future__ import annotations

import os
import statistics
from typing import Any

from web.bench.probe import viewer_main
from web.bench.processes import RunResult, measure, progress
from web.bench.protocol import (
    PATHS,
    SATURATED_BELOW,
    SOURCE_FPS,
    WARMUP_SECONDS,
    Message,
    viewer_split,
)


def run_once(path: str, viewers: int, seconds: float) -> RunResult:
    """One server (fresh process) with ``viewers`` lean viewers; CPU over a steady window."""
    m = measure(f"server ({path})", (path,), viewer_main, (), viewer_split(viewers), seconds)
    return RunResult(
        path=path,
        viewers=viewers,
        seconds=m.seconds,
        server_mc=m.server_mc,
        probe_mc=m.probe_mc,
        probe_processes=m.probe_processes,
        connected=m.connected,
        fps=[round(float(v["fps"]), 2) for v in m.viewers],
        max_gap_ms=max((float(v["max_gap_ms"]) for v in m.viewers), default=None),
        errors=m.errors,
        server_stats=m.server_stats,
    )


def run_fanout(viewer_counts: list[int], seconds: float, baseline: bool) -> Message:
    """Measure each path with 0 viewers, then with each count; the result as a JSON-able dict."""
    counts = sorted({n for n in viewer_counts if n > 0})
    paths = PATHS if baseline else PATHS[:1]
    results: list[Message] = []
    per_viewer: dict[tuple[str, int], float] = {}
    per_frame: dict[tuple[str, int], float | None] = {}
    for path in paths:
        progress(f"{path}: server alone (0 viewers), {seconds:g} s")
        idle = run_once(path, 0, seconds)
        results.append(_result_row(idle, None))
        for n in counts:
            progress(f"{path}: {n} viewer(s) in {len(viewer_split(n))} process(es), "
                      f"{seconds:g} s")
            run = run_once(path, n, seconds)
            row = _result_row(run, idle)
            results.append(row)
            per_viewer[(path, n)] = float(row["mc_per_viewer"])
            per_frame[(path, n)] = row["mc_per_viewer_at_full_rate"]
    ratios: dict[str, float | None] = {}
    ratios_per_frame: dict[str, float | None] = {}
    if baseline:
        for n in counts:
            medroom, stock = per_viewer[("medroom", n)], per_viewer[("stock", n)]
            ratios[str(n)] = round(stock / medroom, 2) if medroom > 0 else None
            m_frame, s_frame = per_frame[("medroom", n)], per_frame[("stock", n)]
            ratios_per_frame[str(n)] = (
                round(s_frame / m_frame, 2) if m_frame and s_frame and m_frame > 0 else None
            )
    return {"bench": "fanout", "seconds": seconds, "warmup_seconds": WARMUP_SECONDS,
            "cpus": os.cpu_count(), "source_fps": SOURCE_FPS, "results": results,
            "ratios": ratios, "ratios_at_full_rate": ratios_per_frame}


def _result_row(run: RunResult, idle: RunResult | None) -> Message:
    row: Message = {
        "path": run.path,
        "viewers": run.viewers,
        "connected": run.connected,
        "server_mc": run.server_mc,
        "baseline_mc": idle.server_mc if idle is not None else None,
        "mc_per_viewer": (
            round((run.server_mc - idle.server_mc) / run.viewers, 1)
            if idle is not None and run.viewers else None
        ),
        "fps_min": min(run.fps) if run.fps else None,
        "fps_median": round(statistics.median(run.fps), 2) if run.fps else None,
        "fps": run.fps,
        "max_gap_ms": run.max_gap_ms,
        "probe_mc": run.probe_mc,
        "probe_processes": run.probe_processes,
        "window_s": run.seconds,
        "server": run.server_stats,
    }
    # A saturated server delivers fewer frames, so its CPU per viewer understates the cost;
    # scaled to the full frame rate it is an estimate of what each viewer would need.
    median = row["fps_median"]
    row["saturated"] = bool(run.viewers and (median or 0) < SATURATED_BELOW * SOURCE_FPS)
    per_viewer = row["mc_per_viewer"]
    row["mc_per_viewer_at_full_rate"] = (
        round(per_viewer * SOURCE_FPS / median, 1) if per_viewer is not None and median else None
    )
    if run.errors:
        row["errors"] = run.errors
    return row


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def format_table(report: Message) -> str:
    lines = [
        (
            f"fan-out: synthetic endoscope 1280x720 @ {SOURCE_FPS} fps, H.264, loopback; "
            f"server CPU over {report['seconds']:g} s after a {report['warmup_seconds']:g} s "
            f"warm-up ({report['cpus']} CPUs; mc = millicores)"
        ),
        "",
        (
            f"{'path':<8} {'viewers':>7} {'connected':>9} {'server mc':>9} {'mc/viewer':>9} "
            f"{'fps min':>7} {'fps med':>7} {'max gap ms':>10} {'probe mc':>8}"
        ),
    ]
    saturated = False
    for row in report["results"]:
        lines.append(
            f"{row['path']:<8} {row['viewers']:>7} {row['connected']:>9} "
            f"{fmt(row['server_mc']):>9} {fmt(row['mc_per_viewer']):>9} "
            f"{fmt(row['fps_min']):>7} {fmt(row['fps_median']):>7} "
            f"{fmt(row['max_gap_ms'], 0):>10} {fmt(row['probe_mc']):>8}"
            + ("  *" if row["saturated"] else "")
        )
        saturated = saturated or bool(row["saturated"])
        for error in row.get("errors", [])[:3]:
            lines.append(f"         ! {error}")
    lines.append(
        "  mc/viewer = (server CPU with N viewers - with none) / N; fps over the same window; "
        "probe mc = the viewer processes"
    )
    if saturated:
        lines.append(
            f"  * saturated: median delivery under {SATURATED_BELOW:.0%} of {SOURCE_FPS} fps; "
            "its CPU per viewer is a floor, not the cost of a full-rate viewer"
        )

    def ratio_line(title: str, ratios: dict[str, float | None]) -> str:
        return title + "; ".join(
            f"{n} viewer{'s' if n != '1' else ''}: "
            + (f"{r:.1f}x" if r is not None else "n/a (medroom per-viewer cost <= 0)")
            for n, r in ratios.items()
        )

    if report["ratios"]:
        lines.append("")
        lines.append(ratio_line("stock / medroom CPU per viewer: ", report["ratios"]))
        lines.append(ratio_line(
            f"same, each scaled to {SOURCE_FPS} fps delivered: ", report["ratios_at_full_rate"]
        ))
    return "\n".join(lines)

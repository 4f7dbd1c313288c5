"""``medroom bench links``: a decoding viewer across a long, lossy, narrow or broken link.

Loopback hides what a cross-border link between classrooms does. Here the bench's server
(stamped synthetic endoscope, adaptive renditions) runs in one network namespace and one
decoding viewer in another, joined by a ``ShapedLink`` (``web.bench.netns``) that behaves like
a university link to another country. Per condition it measures, from the viewer's decoded
frames and their capture stamps: frames on time (decoded within the round trip + 150 ms, out of
every frame the source made), freezes (gaps over 200 ms between decoded frames), glass-to-glass
p50/p95, the time the picture needs to come back after an outage, and the rendition the quality
controller chose and when it settled there.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.connection import Connection

from streaming.ice import set_ice_addresses
from streaming.latency import install_receiver, summarize
from web.bench import linktrace
from web.bench.fanout import fmt
from web.bench.latency import connect_decoding_viewer
from web.bench.netns import SERVER_ADDRESS, VIEWER_ADDRESS, LinkShape, ShapedLink, enter_namespace
from web.bench.probe import probe
from web.bench.processes import child_process, progress, run_and_print
from web.bench.protocol import (
    CONNECT_TIMEOUT,
    REPORT_TIMEOUT,
    SERVER_START_TIMEOUT,
    SOURCE_FPS,
    STOP_TIMEOUT,
    BenchError,
    Message,
    quiet_child,
    send_error,
)
from web.bench.server import server_main

FREEZE_MS = 200.0  # a gap between decoded frames longer than this is a freeze
ON_TIME_BUDGET_MS = 150.0  # on time: glass-to-glass within the round trip plus this
RECOVERY_GOAL_S = 1.0  # after an outage, the picture is back within this of the link
SETTLE_GOAL_S = 5.0  # a bottleneck's rung is reached within this of the first frame


@dataclass(frozen=True)
class Condition:
    name: str
    description: str
    shape: LinkShape
    outage_s: float = 0.0  # an outage of this length ...
    outage_at_s: float = 5.0  # ... this long into the measured window


CONDITIONS = {c.name: c for c in (
    Condition("clean", "the namespaces' link, unshaped", LinkShape()),
    Condition("lossy", "80 ms round trip, +-10 ms jitter, 1 % loss",
              LinkShape(rtt_ms=80, jitter_ms=10, loss=0.01)),
    Condition("outage", "70 ms round trip, +-5 ms jitter, a 3 s outage",
              LinkShape(rtt_ms=70, jitter_ms=5), outage_s=3.0),
    Condition("bottleneck", "70 ms round trip, 4 Mbit/s bottleneck (100 ms queue)",
              LinkShape(rtt_ms=70, jitter_ms=5, rate_kbps=4000)),
    Condition("narrow", "70 ms round trip, 1.5 Mbit/s bottleneck (100 ms queue)",
              LinkShape(rtt_ms=70, jitter_ms=5, rate_kbps=1500)),
)}


def _viewer_main(conn: Connection, port: int, netns: str) -> None:
    quiet_child()
    try:
        enter_namespace(netns)
        set_ice_addresses([VIEWER_ADDRESS])
        install_receiver("marker")
        if linktrace.start():
            linktrace.install_viewer()
        connect = partial(connect_decoding_viewer, host=SERVER_ADDRESS)
        asyncio.run(probe(conn, port, 1, connect))
    except BaseException:  # noqa: BLE001 - anything at all goes to the parent, then exit
        send_error(conn, "viewer process (shaped link)")
    finally:
        linktrace.dump("viewer")
        conn.close()


@dataclass
class Timeline:
    """One viewer's decoded frames over a window: (monotonic time, latency ms or None)."""

    t0: float
    t1: float
    frames: list[tuple[float, float | None]] = field(default_factory=list)

    def gaps(self) -> list[tuple[float, float]]:
        """(start, end) of every stretch without a decoded frame longer than a freeze, the
        window's edges included."""
        times = [self.t0, *(t for t, _ in self.frames), self.t1]
        return [(a, b) for a, b in itertools.pairwise(times) if (b - a) * 1000 > FREEZE_MS]

    def first_live_frame_after(self, t: float, budget_ms: float) -> float | None:
        """When the picture is back after ``t``: the first frame decoded with a readable stamp
        within ``budget_ms`` of its capture (a garbled or stale frame is not the picture)."""
        return next(
            (at for at, lat in self.frames if at >= t and lat is not None and lat <= budget_ms),
            None,
        )


def measure_condition(condition: Condition, seconds: float, trace: str | None = None) -> Message:
    """Server and viewer in a fresh namespace pair shaped as ``condition``; the figures.
    ``trace``: a folder for the run's trace (``web.bench.linktrace``)."""
    if trace is not None:
        os.makedirs(trace, exist_ok=True)
        os.environ[linktrace.ENV] = trace
        linktrace.start()
    try:
        return _measure_condition(condition, seconds)
    finally:
        if trace is not None:
            linktrace.dump("link")
            os.environ.pop(linktrace.ENV, None)


def _measure_condition(condition: Condition, seconds: float) -> Message:
    with ShapedLink() as link:
        link.shape(condition.shape)  # from the start: the viewer connects across the link
        with child_process("server (shaped link)", server_main, "medroom", True,
                           link.server_ns, SERVER_ADDRESS, True) as server:
            port = int(server.expect("ready", SERVER_START_TIMEOUT)["port"])
            with child_process("viewer (shaped link)", _viewer_main, port,
                               link.viewer_ns) as viewer:
                ready = viewer.expect("ready", CONNECT_TIMEOUT)
                if not ready["connected"]:
                    raise BenchError(f"{condition.name}: the viewer did not connect: "
                                     f"{'; '.join(ready['errors'])}")
                # The window starts at the first frame: a bottleneck's settling counts.
                t0 = time.monotonic()
                outage_end: float | None = None
                if condition.outage_s:
                    time.sleep(condition.outage_at_s)
                    outage_end = link.outage(condition.outage_s)
                time.sleep(max(0.0, t0 + seconds - time.monotonic()))
                t1 = time.monotonic()
                # Every frame since the viewer's first (which came before t0).
                viewer.send({"kind": "report", "t0": t0 - CONNECT_TIMEOUT, "t1": t1})
                row = viewer.expect("report", REPORT_TIMEOUT)["viewers"][0]
                linktrace.dump_decoded(row["timeline"])
                # Stopped while the viewer is still there: its link figures are in the stats.
                server.send({"kind": "stop"})
                stats = server.expect("stopped", STOP_TIMEOUT)["stats"]
        counters = link.counters()
    return _figures(condition, row, stats, counters, t0, t1, outage_end)


def _figures(
    condition: Condition, row: Message, stats: Message, counters: dict[str, int],
    t0: float, t1: float, outage_end: float | None,
) -> Message:
    all_frames = [(float(at), lat) for at, lat in row["timeline"]]
    # The first frame arrived before t0 (the viewer reports ready at its first frame).
    first_at = all_frames[0][0] if all_frames else t0
    timeline = Timeline(first_at, t1, [f for f in all_frames if f[0] >= first_at])
    latencies = [float(lat) for _, lat in timeline.frames if lat is not None]
    budget = condition.shape.rtt_ms + ON_TIME_BUDGET_MS
    on_time = sum(1 for lat in latencies if lat <= budget)
    window = t1 - first_at
    gaps = timeline.gaps()
    recovery_s: float | None = None
    if outage_end is not None:
        back = timeline.first_live_frame_after(outage_end, budget)
        recovery_s = None if back is None else round(back - outage_end, 3)
        # The outage's own gap is the outage, not a freeze of the streaming path.
        start = outage_end - condition.outage_s
        gaps = [(a, b) for a, b in gaps if not (a < outage_end and b > start)]
    freezes = [round((b - a) * 1000) for a, b in gaps]
    switches = [(float(at), str(name)) for at, name in stats.get("renditions", [])]
    settled_s = round(max(0.0, switches[-1][0] - first_at), 2) if len(switches) > 1 else 0.0
    summary = summarize(latencies)
    shape = condition.shape
    report: Message = {
        "condition": condition.name,
        "description": condition.description,
        "shape": {"rtt_ms": shape.rtt_ms, "jitter_ms": shape.jitter_ms, "loss": shape.loss,
                  "rate_kbps": shape.rate_kbps, "queue_ms": shape.queue_ms,
                  "outage_s": condition.outage_s},
        "seconds": round(window, 2),
        "frames": len(timeline.frames),
        "on_time": round(on_time / (SOURCE_FPS * window), 3) if window > 0 else None,
        "freezes": len(freezes),
        "freeze_ms_max": max(freezes, default=0),
        "p50_ms": summary["p50_ms"],
        "p95_ms": summary["p95_ms"],
        "max_ms": summary["max_ms"],
        "recovery_s": recovery_s,
        "rendition": switches[-1][1] if switches else None,
        "renditions": [name for _, name in switches],
        "settled_s": settled_s,
        "first_frame_s": row.get("first_frame_s"),
        "link": stats.get("link"),
        "keyframes": stats.get("keyframes"),
        "forced_keyframes": stats.get("forced_keyframes"),
        # The playout delay the server asked the viewer for at the end (streaming.playout).
        "playout_ms": stats.get("playout_ms"),
        "packets": counters,
        "error": row.get("error"),
    }
    report["goals"] = _goals(condition, report)
    return report


def _goals(condition: Condition, r: Message) -> dict[str, bool]:
    """The issue's goals that apply to ``condition``: True met, False missed."""
    goals: dict[str, bool] = {"picture": r["frames"] > 0}
    shape = condition.shape
    if shape.loss:
        goals["no_freeze"] = r["freezes"] == 0
        goals["p95_within_rtt_150"] = (
            r["p95_ms"] is not None and r["p95_ms"] <= shape.rtt_ms + ON_TIME_BUDGET_MS
        )
    if condition.outage_s:
        goals["recovery_1s"] = r["recovery_s"] is not None and r["recovery_s"] <= RECOVERY_GOAL_S
    if shape.rate_kbps:
        goals["settled_5s"] = r["settled_s"] <= SETTLE_GOAL_S
        goals["no_freeze"] = r["freezes"] == 0
    return goals


def run_links(names: list[str], seconds: float, trace: str | None = None) -> Message:
    unknown = [n for n in names if n not in CONDITIONS]
    if unknown:
        raise BenchError(f"unknown link condition(s) {', '.join(unknown)} "
                         f"(conditions: {', '.join(CONDITIONS)})")
    load_before = os.getloadavg()[0]
    rows = []
    for name in names:
        progress(f"links: {name} ({CONDITIONS[name].description}), {seconds:g} s")
        folder = None if trace is None else os.path.join(trace, name)
        rows.append(measure_condition(CONDITIONS[name], seconds, folder))
        if folder is not None:
            rows[-1]["freeze_causes"] = linktrace.explain(folder)
    return {
        "bench": "links",
        "seconds": seconds,
        "source": f"stamped synthetic endoscope 1280x720 @ {SOURCE_FPS} fps, adaptive renditions",
        "cpus": os.cpu_count(),
        "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "conditions": rows,
    }


def format_links(report: Message) -> str:
    lines = [
        (f"links: one decoding WHEP viewer in its own network namespace, {report['source']}; "
         f"{report['seconds']:g} s from the first frame per condition"),
        (f"  on time = decoded within round trip + {ON_TIME_BUDGET_MS:g} ms, out of every source "
         f"frame; freeze = no frame for over {FREEZE_MS:g} ms; recovery = outage end to the "
         "next frame on time; delay = playout delay asked of the viewer (ms)"),
        "",
        (f"{'condition':<11} {'frames':>6} {'on time':>7} {'freezes':>7} {'max ms':>6} "
         f"{'p50 ms':>6} {'p95 ms':>6} {'recov s':>7} {'rendition':>12} {'settled s':>9} "
         f"{'nacks':>5} {'delay':>5}  goals"),
    ]
    for r in report["conditions"]:
        goals = " ".join(f"{k}:{'ok' if v else 'MISSED'}" for k, v in r["goals"].items())
        nacks = (r["link"] or {}).get("nacks")
        lines.append(
            f"{r['condition']:<11} {r['frames']:>6} {fmt(r['on_time'], 3):>7} "
            f"{r['freezes']:>7} {r['freeze_ms_max']:>6} {fmt(r['p50_ms']):>6} "
            f"{fmt(r['p95_ms']):>6} {fmt(r['recovery_s'], 3):>7} "
            f"{'>'.join(r['renditions']) or '-':>12} {fmt(r['settled_s']):>9} "
            f"{fmt(nacks, 0):>5} {fmt(r.get('playout_ms'), 0):>5}  {goals}"
        )
        if r.get("error"):
            lines.append(f"            ! {r['error']}")
    lines.append(f"machine load (1 min) before/after: {report['load_1min'][0]:.2f} / "
                 f"{report['load_1min'][1]:.2f} on {report['cpus']} CPUs")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--link", action="append", choices=list(CONDITIONS), default=None,
                        help="a link condition (repeatable; default: all)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="seconds measured per condition from the first frame (default 60)")
    parser.add_argument("--trace", default=None, metavar="DIR",
                        help="note every lost packet, NACK, retransmission, PLI and frame into "
                        "DIR/<condition>/ and explain each freeze (web/bench/linktrace.py)")


def run_links_bench(args: argparse.Namespace) -> int:
    names = list(args.link or CONDITIONS)
    seconds = float(args.seconds)
    if not 5 <= seconds <= 600:
        print("medroom bench links: --seconds must be between 5 and 600", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("medroom bench links: network namespaces need root", file=sys.stderr)
        return 2
    trace = getattr(args, "trace", None)
    return run_and_print("links", partial(run_links, names, seconds, trace), format_links)

"""``medroom bench latency``: glass-to-glass time of stamped frames at decoding WHEP viewers."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Connection

import aiortc.rtcrtpreceiver
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)

from streaming.latency import (
    RECEIVERS,
    MarkerJitterBuffer,
    StampWatcher,
    install_receiver,
    percentile,
    read_playout_delay,
    summarize,
)
from web.bench.fanout import fmt
from web.bench.probe import probe, recvonly_offer, signal_offer
from web.bench.processes import measure, progress, run_and_print
from web.bench.protocol import (
    LOOPBACK,
    SOURCE_FPS,
    WARMUP_SECONDS,
    BenchError,
    Message,
    quiet_child,
    send_error,
    viewer_split,
)

# -- latency: stamped frames decoded by the viewers --------------------------------------------

#: Decoding viewers cost the probe a software decoder each (about 0.1 core at 720p30).
MAX_DECODING_VIEWERS_PER_PROCESS = 4
LATENCY_TARGETS = {"p50_ms": 80.0, "p95_ms": 120.0, "first_frame_p95_s": 1.0}


@dataclass
class _DecodingViewer:
    """A probe viewer that decodes (aiortc's decoder) and reads each frame's capture stamp."""

    pc: RTCPeerConnection
    watcher: StampWatcher | None = None
    gather_s: float | None = None
    error: str | None = None

    def window(self, t0: float, t1: float) -> Message:
        report: Message = (
            self.watcher.window(t0, t1) if self.watcher is not None
            else summarize([]) | {"frames": 0, "first_frame_s": None}
        )
        inside = (
            [s for s in self.watcher.samples if t0 <= s.at < t1]
            if self.watcher is not None else []
        )
        latencies = [round(s.latency_ms, 1) for s in inside if s.latency_ms is not None]
        # When each frame was decoded (monotonic), and its latency (None: unreadable stamp).
        timeline = [
            (round(s.at, 4), None if s.latency_ms is None else round(s.latency_ms, 1))
            for s in inside
        ]
        report.update(latencies=latencies, timeline=timeline, gather_s=self.gather_s,
                      state=str(self.pc.connectionState), error=self.error)
        return report


async def connect_decoding_viewer(
    port: int, deadline: float, host: str = LOOPBACK
) -> _DecodingViewer:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    viewer = _DecodingViewer(pc=pc)
    try:
        began = time.monotonic()
        transceiver = await recvonly_offer(pc)  # aiortc gathers ICE before the offer goes out
        # A marker receiver shows frames as a browser would, after the playout delay the
        # sender asks for (streaming.playout); its transport reads the extension from now on.
        playout = (
            read_playout_delay(transceiver.receiver)
            if aiortc.rtcrtpreceiver.JitterBuffer is MarkerJitterBuffer  # type: ignore[attr-defined]
            else None
        )
        posted = time.monotonic()
        viewer.gather_s = round(posted - began, 3)
        answer = await asyncio.wait_for(
            signal_offer(port, pc.localDescription.sdp, host), deadline - posted
        )
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        watcher = StampWatcher(transceiver.receiver.track, started=posted, playout_delay=playout)
        viewer.watcher = watcher
        watcher.start()
        if not await watcher.wait_first_frame(max(0.1, deadline - time.monotonic())):
            raise BenchError(
                f"no frame decoded (connection {pc.connectionState}, {watcher.ended or 'waiting'})"
            )
    except Exception as exc:  # noqa: BLE001 - one viewer failing is a result, not a crash
        viewer.error = f"{type(exc).__name__}: {exc}"
    return viewer


def _latency_viewer_main(conn: Connection, port: int, count: int, receiver: str) -> None:
    quiet_child()
    install_receiver(receiver)
    try:
        asyncio.run(probe(conn, port, count, connect_decoding_viewer))
    except BaseException:  # noqa: BLE001 - anything at all goes to the parent, then exit
        send_error(conn, "latency viewer process")
    finally:
        conn.close()


def run_latency(viewers: int, seconds: float, receiver: str = "marker") -> Message:
    """Glass-to-glass and first-frame figures of ``viewers`` decoding viewers; JSON-able."""
    if receiver not in RECEIVERS:
        raise BenchError(f"unknown receiver {receiver!r} (receivers: {', '.join(RECEIVERS)})")
    load_before = os.getloadavg()[0]
    m = measure(
        "server (medroom, stamped source)", ("medroom", True), _latency_viewer_main,
        (receiver,), viewer_split(viewers, MAX_DECODING_VIEWERS_PER_PROCESS), seconds,
    )
    pooled: list[float] = []
    rows: list[Message] = []
    for i, v in enumerate(m.viewers):
        pooled.extend(float(x) for x in v.pop("latencies"))
        v.pop("timeline")
        rows.append({"viewer": i + 1, **v})
    firsts = [float(r["first_frame_s"]) for r in rows if r.get("first_frame_s") is not None]
    p95s = [float(r["p95_ms"]) for r in rows if r.get("p95_ms") is not None]
    overall = summarize(pooled)
    first_p95 = round(percentile(firsts, 95), 3) if firsts else None
    report: Message = {
        "bench": "latency",
        "receiver": receiver,
        "viewers": viewers,
        "connected": m.connected,
        "seconds": m.seconds,
        "warmup_seconds": WARMUP_SECONDS,
        "cpus": os.cpu_count(),
        "source_fps": SOURCE_FPS,
        "frames": overall["count"],
        "unreadable": sum(int(r.get("unreadable") or 0) for r in rows),
        "p50_ms": overall["p50_ms"],
        "p95_ms": overall["p95_ms"],
        "max_ms": overall["max_ms"],
        "min_ms": overall["min_ms"],
        "viewer_p95_ms_max": max(p95s) if p95s else None,
        "first_frame_s_p95": first_p95,
        "first_frame_s_max": round(max(firsts), 3) if firsts else None,
        "fps_min": min((float(r["fps"]) for r in rows if r.get("fps") is not None), default=None),
        "server_mc": m.server_mc,
        "probe_mc": m.probe_mc,
        "probe_processes": m.probe_processes,
        # Other work on the machine inflates every figure: the load says whether there was any.
        "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "targets": LATENCY_TARGETS,
        "per_viewer": rows,
        "server": m.server_stats,
    }
    report["meets_targets"] = {
        "p50_ms": overall["p50_ms"] is not None
        and float(overall["p50_ms"]) <= LATENCY_TARGETS["p50_ms"],
        "p95_ms": overall["p95_ms"] is not None
        and float(overall["p95_ms"]) <= LATENCY_TARGETS["p95_ms"],
        "first_frame_p95_s": first_p95 is not None
        and first_p95 <= LATENCY_TARGETS["first_frame_p95_s"],
    }
    if m.errors:
        report["errors"] = m.errors
    return report


def format_latency(report: Message) -> str:
    receiver = (
        "frames closed at the RTP marker bit, as browsers do" if report["receiver"] == "marker"
        else "aiortc's jitter buffer (closes a frame when the next one starts: +1 frame)"
    )
    lines = [
        (f"latency: stamped synthetic endoscope 1280x720 @ {report['source_fps']} fps, shared "
        f"libx264 encoder, {report['viewers']} decoding WHEP viewer(s) in "
        f"{report['probe_processes']} process(es), loopback, {report['seconds']:g} s after a "
        f"{report['warmup_seconds']:g} s warm-up"),
        (f"  glass-to-glass = decoded at the viewer - capture time stamped in the frame "
        f"(one machine, one clock); receiver: {receiver}"),
        "",
        (f"{'viewer':>6} {'frames':>6} {'fps':>5} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} "
        f"{'first frame s':>13} {'unread':>6}"),
    ]
    for row in report["per_viewer"]:
        lines.append(
            f"{row['viewer']:>6} {row.get('frames', 0):>6} {fmt(row.get('fps')):>5} "
            f"{fmt(row.get('p50_ms')):>7} {fmt(row.get('p95_ms')):>7} "
            f"{fmt(row.get('max_ms')):>7} {fmt(row.get('first_frame_s'), 3):>13} "
            f"{row.get('unreadable', 0):>6}"
        )
        if row.get("error"):
            lines.append(f"         ! {row['error']}")

    def verdict(key: str) -> str:
        return "ok" if report["meets_targets"][key] else "MISSED"

    t = report["targets"]
    lines += [
        "",
        (f"all viewers: p50 {fmt(report['p50_ms'])} ms (target <= {t['p50_ms']:g}: "
        f"{verdict('p50_ms')}), p95 {fmt(report['p95_ms'])} ms (target <= {t['p95_ms']:g}: "
        f"{verdict('p95_ms')}), max {fmt(report['max_ms'])} ms; worst viewer p95 "
        f"{fmt(report['viewer_p95_ms_max'])} ms"),
        (f"first frame (offer POST to first decoded frame): p95 over viewers "
        f"{fmt(report['first_frame_s_p95'], 3)} s (target <= {t['first_frame_p95_s']:g}: "
        f"{verdict('first_frame_p95_s')}), max {fmt(report['first_frame_s_max'], 3)} s"),
        (f"server {fmt(report['server_mc'])} mc, probe {fmt(report['probe_mc'])} mc "
        "(decoding viewers share the 2 cores with the server: their CPU is in the figure)"),
        (f"server: source {fmt(report['server'].get('source_fps'))} fps at the end, "
         f"{report['server'].get('frames_encoded', '-')} frames encoded, "
         f"{fmt(report['server'].get('encode_ms_avg'))} ms per encode"),
        (f"machine load (1 min) before/after: {report['load_1min'][0]:.2f} / "
         f"{report['load_1min'][1]:.2f} on {report['cpus']} CPUs"),
    ]
    return "\n".join(lines)


def run_latency_bench(args: argparse.Namespace) -> int:
    viewers = int(args.viewers)
    seconds = float(args.seconds)
    receiver = str(getattr(args, "receiver", "marker"))
    if not 1 <= viewers <= 64:
        print("medroom bench latency: --viewers must be between 1 and 64", file=sys.stderr)
        return 2
    if not 1 <= seconds <= 600:
        print("medroom bench latency: --seconds must be between 1 and 600", file=sys.stderr)
        return 2
    progress(f"latency: {viewers} decoding viewer(s), {seconds:g} s, receiver {receiver}")
    return run_and_print(
        "latency", partial(run_latency, viewers, seconds, receiver), format_latency
    )

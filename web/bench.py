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

import argparse
import asyncio
import itertools
import json
import logging
import math
import multiprocessing
import os
import queue
import signal
import statistics
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from typing import Any, Protocol

import aiortc.rtcrtpreceiver
import av
import cv2
import numpy as np
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import VideoStreamTrack
from aiortc.rtcrtpreceiver import RemoteStreamTrack, RTCRtpReceiver
from aiortc.rtcrtpsender import RTCRtpSender

from room_controller.sources.base import Source
from room_controller.sources.synthetic import EndoscopeSimSource
from streaming.encoder import EncoderSettings, SharedEncoder
from streaming.ice import set_ice_addresses
from streaming.latency import RECEIVERS, StampWatcher, install_receiver, percentile, summarize
from streaming.stamp import StampedSource
from streaming.whep import ViewerSessions

PATHS = ("medroom", "stock")
LOOPBACK = "127.0.0.1"
WARMUP_SECONDS = 2.0
MAX_VIEWERS_PER_PROCESS = 10
SERVER_START_TIMEOUT = 60.0  # spawn + imports + the endoscope texture
CONNECT_TIMEOUT = 90.0  # all viewers connected and each with a first frame
REPORT_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
SIGNAL_LINE_LIMIT = 1 << 20
SOURCE_FPS = 30
#: Below this share of the source rate a run is "saturated": its CPU per viewer is a floor.
SATURATED_BELOW = 0.9

Message = dict[str, Any]


class BenchError(RuntimeError):
    """A benchmark run could not complete; the message says which process and why."""


# -- shared helpers ----------------------------------------------------------------------------


def viewer_split(viewers: int, per_process: int = MAX_VIEWERS_PER_PROCESS) -> list[int]:
    """Viewers per probe process: at most ``per_process`` each, at least 2 from 4 viewers on."""
    if viewers <= 0:
        return []
    processes = max(math.ceil(viewers / per_process), 2 if viewers >= 4 else 1)
    base, extra = divmod(viewers, processes)
    return [base + (1 if i < extra else 0) for i in range(processes)]


def _h264_only(codecs: list[RTCRtpCodecCapability]) -> list[RTCRtpCodecCapability]:
    return [c for c in codecs if c.mimeType.lower() in ("video/h264", "video/rtx")]


def _quiet_child() -> None:
    """Children leave Ctrl-C to the parent (which stops them) and log only problems."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Every process of the benchmark must keep ICE on loopback.
    set_ice_addresses([LOOPBACK])


async def _receive(conn: Connection) -> Message:
    """The parent's next command, without blocking the event loop; EOF means stop."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Message] = loop.create_future()
    fd = conn.fileno()

    def readable() -> None:
        loop.remove_reader(fd)
        message: Message
        try:
            message = conn.recv()
        except (EOFError, OSError):
            message = {"kind": "stop", "reason": "parent gone"}
        if not done.done():
            done.set_result(message)

    loop.add_reader(fd, readable)
    try:
        return await done
    finally:
        loop.remove_reader(fd)


def _send_error(conn: Connection, who: str) -> None:
    try:
        conn.send({"kind": "error", "message": f"{who}: {traceback.format_exc()}"})
    except (OSError, ValueError):
        pass


# -- server process ----------------------------------------------------------------------------


class _SourceTrack(VideoStreamTrack):
    """aiortc's stock way: a track of decoded frames, paced by ``VideoStreamTrack``.

    The BGR to I420 conversion is done once here (MediaRelay calls ``recv`` once per frame for
    all viewers), so the stock path pays per viewer exactly what aiortc itself adds: an encode.
    """

    def __init__(self, source: Source) -> None:
        super().__init__()
        self._source = source
        self.frames = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = self._source.latest_frame()
        assert frame is not None, "the server waits for the first frame before answering"
        yuv = np.asarray(cv2.cvtColor(frame.image, cv2.COLOR_BGR2YUV_I420), dtype=np.uint8)
        video = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        video.pts = pts
        video.time_base = time_base
        self.frames += 1
        return video


def _server_main(conn: Connection, path: str, stamp: bool = False) -> None:
    _quiet_child()
    try:
        asyncio.run(_serve(conn, path, stamp))
    except BaseException:  # noqa: BLE001 - anything at all goes to the parent, then exit
        _send_error(conn, f"server ({path})")
    finally:
        conn.close()


async def _serve(conn: Connection, path: str, stamp: bool = False) -> None:
    source: Source = EndoscopeSimSource(
        "endoscope", "Endoscope", width=1280, height=720, fps=SOURCE_FPS
    )
    if stamp:  # every frame carries its capture time (``medroom bench latency``)
        source = StampedSource(source)
    source.start()
    encoder: SharedEncoder | None = None
    sessions: ViewerSessions | None = None
    stock_track: _SourceTrack | None = None
    stock_pcs: list[RTCPeerConnection] = []
    answered = 0
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while source.latest_frame() is None:
            if time.monotonic() > deadline:
                raise BenchError(f"the endoscope source gave no frame: {source.health()}")
            await asyncio.sleep(0.02)
        first = source.latest_frame()
        assert first is not None
        last_image: list[np.ndarray] = [first.image]

        def supply() -> np.ndarray:
            frame = source.latest_frame()
            if frame is not None:
                last_image[0] = frame.image
            return last_image[0]

        answer: Callable[[str], Awaitable[str]]
        if path == "medroom":
            encoder = SharedEncoder(supply, EncoderSettings(width=1280, height=720, fps=SOURCE_FPS))
            encoder.start()
            sessions = ViewerSessions()
            medroom_encoder, medroom_sessions = encoder, sessions

            async def answer_medroom(offer: str) -> str:
                nonlocal answered
                answered += 1
                _, sdp = await medroom_sessions.join(
                    room_id="bench", offer_sdp=offer, encoder=medroom_encoder,
                    subject=f"bench-{answered}", role="student", user_id=None,
                )
                return sdp

            answer = answer_medroom
        elif path == "stock":
            stock_track = _SourceTrack(source)
            relay = MediaRelay()
            track = stock_track
            capabilities = RTCRtpSender.getCapabilities("video")
            assert capabilities is not None

            async def answer_stock(offer: str) -> str:
                nonlocal answered
                answered += 1
                pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                stock_pcs.append(pc)
                # Unbuffered: a sender that falls behind takes the latest frame, never a backlog.
                transceiver = pc.addTransceiver(
                    relay.subscribe(track, buffered=False), direction="sendonly"
                )
                transceiver.setCodecPreferences(_h264_only(capabilities.codecs))
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
                await pc.setLocalDescription(await pc.createAnswer())
                return pc.localDescription.sdp

            answer = answer_stock
        else:
            raise BenchError(f"unknown path {path!r} (paths: {', '.join(PATHS)})")

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                request = json.loads(await reader.readline())
                try:
                    reply: Message = {"sdp": await answer(str(request["sdp"]))}
                except Exception as exc:  # noqa: BLE001 - reported to the viewer process
                    reply = {"error": f"{type(exc).__name__}: {exc}"}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
            finally:
                writer.close()

        server = await asyncio.start_server(handle, LOOPBACK, 0, limit=SIGNAL_LINE_LIMIT)
        port = int(server.sockets[0].getsockname()[1])
        conn.send({"kind": "ready", "port": port, "pid": os.getpid()})
        while (await _receive(conn)).get("kind") != "stop":
            pass
        server.close()

        stats: Message = {"source_fps": round(source.health().fps, 1), "offers": answered}
        if encoder is not None:
            s = encoder.stats()
            stats.update(frames_encoded=s.frames_encoded, keyframes=s.keyframes,
                         forced_keyframes=s.forced_keyframes, encode_ms_avg=s.encode_ms_avg)
        if stock_track is not None:
            stats["frames_made"] = stock_track.frames
        if sessions is not None:
            await sessions.close_all("benchmark over")
        await asyncio.gather(*(pc.close() for pc in stock_pcs), return_exceptions=True)
        if encoder is not None:
            await encoder.stop()
            encoder = None
        conn.send({"kind": "stopped", "stats": stats})
    finally:
        if encoder is not None:
            await encoder.stop()
        source.stop()


# -- viewer (probe) process --------------------------------------------------------------------

#: Arrival times of complete frames, per receiving track (keyed by id of the track's queue).
_FRAME_TIMES: dict[int, list[float]] = {}


def _counting_decoder_worker(
    loop: asyncio.AbstractEventLoop,
    input_q: queue.Queue[Any],
    output_q: asyncio.Queue[Any],
    decode_error: threading.Event,
) -> None:
    """Stands in for aiortc's ``decoder_worker``: notes each complete frame, decodes nothing."""
    times = _FRAME_TIMES.setdefault(id(output_q), [])
    while True:
        task = input_q.get()
        if task is None:
            try:  # end the track as aiortc's worker does
                asyncio.run_coroutine_threadsafe(output_q.put(None), loop)
            except RuntimeError:
                pass
            return
        times.append(time.monotonic())


def _install_lean_receiver() -> None:
    # RTCRtpReceiver.receive() looks the worker up in its module when it starts the thread.
    aiortc.rtcrtpreceiver.decoder_worker = _counting_decoder_worker


@dataclass
class _LeanViewer:
    pc: RTCPeerConnection
    times: list[float]
    started: float
    first_frame_s: float | None = None
    error: str | None = None

    def window(self, t0: float, t1: float) -> Message:
        inside = [t for t in self.times if t0 <= t < t1]
        gaps = [b - a for a, b in itertools.pairwise(inside)]
        # A freeze at the start or end of the window counts too.
        edges = [inside[0] - t0, t1 - inside[-1]] if inside else [t1 - t0]
        return {
            "frames": len(inside),
            "fps": len(inside) / (t1 - t0),
            "max_gap_ms": round(1000 * max(gaps + edges), 1),
            "first_frame_s": self.first_frame_s,
            "state": str(self.pc.connectionState),
            "error": self.error,
        }


async def _signal(port: int, offer: str) -> str:
    reader, writer = await asyncio.open_connection(LOOPBACK, port, limit=SIGNAL_LINE_LIMIT)
    try:
        writer.write(json.dumps({"sdp": offer}).encode() + b"\n")
        await writer.drain()
        reply = json.loads(await reader.readline())
    finally:
        writer.close()
    if "error" in reply:
        raise BenchError(f"server refused the offer: {reply['error']}")
    return str(reply["sdp"])


async def _recvonly_offer(pc: RTCPeerConnection) -> RTCRtpTransceiver:
    """A receive-only H.264 video transceiver, and the local offer (ICE gathered) set."""
    transceiver = pc.addTransceiver("video", direction="recvonly")
    capabilities = RTCRtpReceiver.getCapabilities("video")
    assert capabilities is not None
    transceiver.setCodecPreferences(_h264_only(capabilities.codecs))
    await pc.setLocalDescription(await pc.createOffer())
    return transceiver


async def _connect_viewer(port: int, deadline: float) -> _LeanViewer:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    viewer = _LeanViewer(pc=pc, times=[], started=time.monotonic())
    try:
        transceiver = await _recvonly_offer(pc)
        answer = await asyncio.wait_for(
            _signal(port, pc.localDescription.sdp), deadline - time.monotonic()
        )
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        track = transceiver.receiver.track
        assert isinstance(track, RemoteStreamTrack)
        viewer.times = _FRAME_TIMES.setdefault(id(track._queue), [])
        while not viewer.times:
            if time.monotonic() > deadline:
                raise BenchError(f"no frame received (connection {pc.connectionState})")
            if pc.connectionState in ("failed", "closed"):
                raise BenchError(f"connection {pc.connectionState}")
            await asyncio.sleep(0.02)
        viewer.first_frame_s = round(viewer.times[0] - viewer.started, 3)
    except Exception as exc:  # noqa: BLE001 - one viewer failing is a result, not a crash
        viewer.error = f"{type(exc).__name__}: {exc}"
    return viewer


def _viewer_main(conn: Connection, port: int, count: int) -> None:
    _quiet_child()
    _install_lean_receiver()
    try:
        asyncio.run(_probe(conn, port, count))
    except BaseException:  # noqa: BLE001 - anything at all goes to the parent, then exit
        _send_error(conn, "viewer process")
    finally:
        conn.close()


class _ProbeViewer(Protocol):
    pc: RTCPeerConnection
    error: str | None

    def window(self, t0: float, t1: float) -> Message: ...


async def _probe(
    conn: Connection,
    port: int,
    count: int,
    connect: Callable[[int, float], Awaitable[_ProbeViewer]] = _connect_viewer,
) -> None:
    deadline = time.monotonic() + CONNECT_TIMEOUT - 5
    viewers = list(await asyncio.gather(*(connect(port, deadline) for _ in range(count))))
    try:
        conn.send({
            "kind": "ready",
            "connected": sum(v.error is None for v in viewers),
            "errors": [v.error for v in viewers if v.error],
        })
        while True:
            command = await _receive(conn)
            if command.get("kind") == "report":
                t0, t1 = float(command["t0"]), float(command["t1"])
                conn.send({"kind": "report", "viewers": [v.window(t0, t1) for v in viewers]})
            elif command.get("kind") == "stop":
                break
    finally:
        await asyncio.gather(*(v.pc.close() for v in viewers), return_exceptions=True)


# -- parent: orchestration ---------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads included (Linux /proc)."""
    path = f"/proc/{pid}/stat"
    try:
        with open(path, encoding="ascii") as f:
            data = f.read()
    except FileNotFoundError:
        raise BenchError(f"{path} is gone (or there is no /proc: Linux only)") from None
    fields = data[data.rindex(")") + 2 :].split()  # fields from 3 (state) on
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class _Child:
    name: str
    process: SpawnProcess
    conn: Connection

    def expect(self, kind: str, timeout: float) -> Message:
        deadline = time.monotonic() + timeout
        while not self.conn.poll(0.1):
            if not self.process.is_alive():
                raise BenchError(f"{self.name} exited (code {self.process.exitcode})")
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name}: no '{kind}' message within {timeout:.0f} s")
        try:
            message: Message = self.conn.recv()
        except EOFError:
            raise BenchError(f"{self.name} closed its pipe before '{kind}'") from None
        if message.get("kind") == "error":
            raise BenchError(str(message.get("message")))
        if message.get("kind") != kind:
            raise BenchError(f"{self.name}: expected '{kind}', got {message.get('kind')!r}")
        return message

    def send(self, message: Message) -> None:
        try:
            self.conn.send(message)
        except (OSError, ValueError):
            pass  # gone already; shutdown() deals with it


def _start(ctx: multiprocessing.context.SpawnContext, name: str,
           target: Callable[..., None], *args: Any) -> _Child:
    parent_end, child_end = ctx.Pipe()
    process = ctx.Process(target=target, args=(child_end, *args), name=name, daemon=True)
    # The child inherits an ignored SIGINT, so a Ctrl-C while it is still importing does not
    # spray tracebacks: the parent alone handles Ctrl-C, and stops its children.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT)
    if in_main_thread:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process.start()
    finally:
        if in_main_thread:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    child_end.close()
    return _Child(name=name, process=process, conn=parent_end)


def _shutdown(children: list[_Child]) -> None:
    """Ask every child to stop, then terminate and finally kill whatever is left."""
    for child in children:
        child.send({"kind": "stop"})
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in children:
        child.process.join(max(0.1, deadline - time.monotonic()))
    for child in children:
        if child.process.is_alive():
            child.process.terminate()
            child.process.join(3)
        if child.process.is_alive():
            child.process.kill()
            child.process.join(3)
        child.conn.close()


@dataclass
class RunResult:
    path: str
    viewers: int
    seconds: float
    server_mc: float
    probe_mc: float
    probe_processes: int
    connected: int
    fps: list[float] = field(default_factory=list)
    max_gap_ms: float | None = None
    errors: list[str] = field(default_factory=list)
    server_stats: Message = field(default_factory=dict)


def _progress(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


@dataclass
class _Measured:
    """What one server + probes session measured over its steady window."""

    seconds: float
    server_mc: float
    probe_mc: float
    probe_processes: int
    connected: int
    errors: list[str]
    viewers: list[Message]
    server_stats: Message


def _measure(
    server_name: str,
    server_args: tuple[Any, ...],
    probe_main: Callable[..., None],
    probe_args: tuple[Any, ...],
    split: list[int],
    seconds: float,
) -> _Measured:
    """A fresh server process and probe processes (``split``: viewers each); CPU and reports
    over a ``seconds`` window that starts ``WARMUP_SECONDS`` after every viewer is ready."""
    ctx = multiprocessing.get_context("spawn")
    children: list[_Child] = []
    try:
        server = _start(ctx, server_name, _server_main, *server_args)
        children.append(server)
        port = int(server.expect("ready", SERVER_START_TIMEOUT)["port"])
        probes: list[_Child] = []
        for i, count in enumerate(split):
            probe = _start(ctx, f"viewer process {i + 1}", probe_main, port, count, *probe_args)
            children.append(probe)
            probes.append(probe)
        connected = 0
        errors: list[str] = []
        for probe in probes:
            ready = probe.expect("ready", CONNECT_TIMEOUT)
            connected += int(ready["connected"])
            errors.extend(str(e) for e in ready["errors"])
        time.sleep(WARMUP_SECONDS)

        pids = [p.process.pid for p in probes if p.process.pid is not None]
        assert server.process.pid is not None
        t0 = time.monotonic()
        server0 = _cpu_seconds(server.process.pid)
        probe0 = sum(_cpu_seconds(pid) for pid in pids)
        time.sleep(seconds)
        t1 = time.monotonic()
        server1 = _cpu_seconds(server.process.pid)
        probe1 = sum(_cpu_seconds(pid) for pid in pids)
        window = t1 - t0

        per_viewer: list[Message] = []
        for probe in probes:
            probe.send({"kind": "report", "t0": t0, "t1": t1})
        for probe in probes:
            per_viewer.extend(probe.expect("report", REPORT_TIMEOUT)["viewers"])
        for probe in probes:
            probe.send({"kind": "stop"})
        server.send({"kind": "stop"})
        stats: Message = server.expect("stopped", STOP_TIMEOUT)["stats"]
        errors.extend(str(v["error"]) for v in per_viewer if v["error"] and v["error"] not in errors)
        return _Measured(
            seconds=round(window, 3),
            server_mc=round(1000 * (server1 - server0) / window, 1),
            probe_mc=round(1000 * (probe1 - probe0) / window, 1),
            probe_processes=len(probes),
            connected=connected,
            errors=errors,
            viewers=per_viewer,
            server_stats=stats,
        )
    finally:
        _shutdown(children)


def run_once(path: str, viewers: int, seconds: float) -> RunResult:
    """One server (fresh process) with ``viewers`` lean viewers; CPU over a steady window."""
    m = _measure(f"server ({path})", (path,), _viewer_main, (), viewer_split(viewers), seconds)
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
        _progress(f"{path}: server alone (0 viewers), {seconds:g} s")
        idle = run_once(path, 0, seconds)
        results.append(_result_row(idle, None))
        for n in counts:
            _progress(f"{path}: {n} viewer(s) in {len(viewer_split(n))} process(es), "
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


def _fmt(value: Any, digits: int = 1) -> str:
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
            f"{_fmt(row['server_mc']):>9} {_fmt(row['mc_per_viewer']):>9} "
            f"{_fmt(row['fps_min']):>7} {_fmt(row['fps_median']):>7} "
            f"{_fmt(row['max_gap_ms'], 0):>10} {_fmt(row['probe_mc']):>8}"
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
        latencies = (
            [round(s.latency_ms, 1) for s in self.watcher.samples
             if t0 <= s.at < t1 and s.latency_ms is not None]
            if self.watcher is not None else []
        )
        report.update(latencies=latencies, gather_s=self.gather_s,
                      state=str(self.pc.connectionState), error=self.error)
        return report


async def _connect_decoding_viewer(port: int, deadline: float) -> _DecodingViewer:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    viewer = _DecodingViewer(pc=pc)
    try:
        began = time.monotonic()
        transceiver = await _recvonly_offer(pc)  # aiortc gathers ICE before the offer goes out
        posted = time.monotonic()
        viewer.gather_s = round(posted - began, 3)
        answer = await asyncio.wait_for(_signal(port, pc.localDescription.sdp), deadline - posted)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        watcher = StampWatcher(transceiver.receiver.track, started=posted)
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
    _quiet_child()
    install_receiver(receiver)
    try:
        asyncio.run(_probe(conn, port, count, _connect_decoding_viewer))
    except BaseException:  # noqa: BLE001 - anything at all goes to the parent, then exit
        _send_error(conn, "latency viewer process")
    finally:
        conn.close()


def run_latency(viewers: int, seconds: float, receiver: str = "marker") -> Message:
    """Glass-to-glass and first-frame figures of ``viewers`` decoding viewers; JSON-able."""
    if receiver not in RECEIVERS:
        raise BenchError(f"unknown receiver {receiver!r} (receivers: {', '.join(RECEIVERS)})")
    load_before = os.getloadavg()[0]
    m = _measure(
        "server (medroom, stamped source)", ("medroom", True), _latency_viewer_main,
        (receiver,), viewer_split(viewers, MAX_DECODING_VIEWERS_PER_PROCESS), seconds,
    )
    pooled: list[float] = []
    rows: list[Message] = []
    for i, v in enumerate(m.viewers):
        pooled.extend(float(x) for x in v.pop("latencies"))
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
            f"{row['viewer']:>6} {row.get('frames', 0):>6} {_fmt(row.get('fps')):>5} "
            f"{_fmt(row.get('p50_ms')):>7} {_fmt(row.get('p95_ms')):>7} "
            f"{_fmt(row.get('max_ms')):>7} {_fmt(row.get('first_frame_s'), 3):>13} "
            f"{row.get('unreadable', 0):>6}"
        )
        if row.get("error"):
            lines.append(f"         ! {row['error']}")

    def verdict(key: str) -> str:
        return "ok" if report["meets_targets"][key] else "MISSED"

    t = report["targets"]
    lines += [
        "",
        (f"all viewers: p50 {_fmt(report['p50_ms'])} ms (target <= {t['p50_ms']:g}: "
        f"{verdict('p50_ms')}), p95 {_fmt(report['p95_ms'])} ms (target <= {t['p95_ms']:g}: "
        f"{verdict('p95_ms')}), max {_fmt(report['max_ms'])} ms; worst viewer p95 "
        f"{_fmt(report['viewer_p95_ms_max'])} ms"),
        (f"first frame (offer POST to first decoded frame): p95 over viewers "
        f"{_fmt(report['first_frame_s_p95'], 3)} s (target <= {t['first_frame_p95_s']:g}: "
        f"{verdict('first_frame_p95_s')}), max {_fmt(report['first_frame_s_max'], 3)} s"),
        (f"server {_fmt(report['server_mc'])} mc, probe {_fmt(report['probe_mc'])} mc "
        "(decoding viewers share the 2 cores with the server: their CPU is in the figure)"),
        (f"server: source {_fmt(report['server'].get('source_fps'))} fps at the end, "
         f"{report['server'].get('frames_encoded', '-')} frames encoded, "
         f"{_fmt(report['server'].get('encode_ms_avg'))} ms per encode"),
        (f"machine load (1 min) before/after: {report['load_1min'][0]:.2f} / "
         f"{report['load_1min'][1]:.2f} on {report['cpus']} CPUs"),
    ]
    return "\n".join(lines)


def _run_latency_bench(args: argparse.Namespace) -> int:
    viewers = int(args.viewers)
    seconds = float(args.seconds)
    receiver = str(getattr(args, "receiver", "marker"))
    if not 1 <= viewers <= 64:
        print("medroom bench latency: --viewers must be between 1 and 64", file=sys.stderr)
        return 2
    if not 1 <= seconds <= 600:
        print("medroom bench latency: --seconds must be between 1 and 600", file=sys.stderr)
        return 2
    _progress(f"latency: {viewers} decoding viewer(s), {seconds:g} s, receiver {receiver}")
    try:
        report = run_latency(viewers, seconds, receiver)
    except BenchError as exc:
        print(f"medroom bench latency failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("medroom bench latency: interrupted; child processes stopped", file=sys.stderr)
        return 130
    print(format_latency(report))
    print()
    print(json.dumps(report), flush=True)
    return 0


def run_bench(args: argparse.Namespace) -> int:
    if args.bench == "latency":
        return _run_latency_bench(args)
    if args.bench != "fanout":
        print(f"medroom bench: unknown benchmark {args.bench!r}", file=sys.stderr)
        return 2
    viewers = [int(n) for n in args.viewers]
    seconds = float(args.seconds)
    if any(n < 0 for n in viewers) or not any(n > 0 for n in viewers):
        print("medroom bench fanout: --viewers needs positive counts", file=sys.stderr)
        return 2
    if not 1 <= seconds <= 600:
        print("medroom bench fanout: --seconds must be between 1 and 600", file=sys.stderr)
        return 2
    try:
        report = run_fanout(viewers, seconds, bool(args.baseline))
    except BenchError as exc:
        print(f"medroom bench fanout failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("medroom bench fanout: interrupted; child processes stopped", file=sys.stderr)
        return 130
    print(format_table(report))
    print()
    print(json.dumps(report), flush=True)
    return 0

"""The benchmark's viewer processes: lean aiortc peers that count frames without decoding."""

from __future__ import annotations

import asyncio
import itertools
import json
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Connection
from typing import Any, Protocol

import aiortc.rtcrtpreceiver
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.rtcrtpreceiver import RemoteStreamTrack, RTCRtpReceiver

from web.bench.protocol import (
    CONNECT_TIMEOUT,
    LOOPBACK,
    SIGNAL_LINE_LIMIT,
    BenchError,
    Message,
    h264_only,
    quiet_child,
    receive,
    send_error,
)

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


async def signal_offer(port: int, offer: str, host: str = LOOPBACK) -> str:
    reader, writer = await asyncio.open_connection(host, port, limit=SIGNAL_LINE_LIMIT)
    try:
        writer.write(json.dumps({"sdp": offer}).encode() + b"\n")
        await writer.drain()
        reply = json.loads(await reader.readline())
    finally:
        writer.close()
    if "error" in reply:
        raise BenchError(f"server refused the offer: {reply['error']}")
    return str(reply["sdp"])


async def recvonly_offer(pc: RTCPeerConnection) -> RTCRtpTransceiver:
    """A receive-only H.264 video transceiver, and the local offer (ICE gathered) set."""
    transceiver = pc.addTransceiver("video", direction="recvonly")
    capabilities = RTCRtpReceiver.getCapabilities("video")
    assert capabilities is not None
    transceiver.setCodecPreferences(h264_only(capabilities.codecs))
    await pc.setLocalDescription(await pc.createOffer())
    return transceiver


#: Sends an offer's SDP to the server, returns the answer's SDP.
Answerer = Callable[[str], Awaitable[str]]


async def _connect_viewer(port: int, deadline: float) -> _LeanViewer:
    return await _connect_lean_viewer(partial(signal_offer, port), deadline)


async def _connect_lean_viewer(send_offer: Answerer, deadline: float) -> _LeanViewer:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    viewer = _LeanViewer(pc=pc, times=[], started=time.monotonic())
    try:
        transceiver = await recvonly_offer(pc)
        answer = await asyncio.wait_for(
            send_offer(pc.localDescription.sdp), deadline - time.monotonic()
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


def viewer_main(
    conn: Connection, port: int, count: int, send_offer: Answerer | None = None
) -> None:
    """Lean viewers signalled over the bench's own line protocol on ``port``, or through
    ``send_offer`` (e.g. a real server's WHEP endpoint; picklable, for a spawned process)."""
    quiet_child()
    _install_lean_receiver()
    connect: Callable[[int, float], Awaitable[_ProbeViewer]] = _connect_viewer
    if send_offer is not None:
        offer = send_offer

        async def connect_with(_port: int, deadline: float) -> _ProbeViewer:
            return await _connect_lean_viewer(offer, deadline)

        connect = connect_with
    try:
        asyncio.run(probe(conn, port, count, connect))
    except BaseException:  # noqa: BLE001 - anything at all goes to the parent, then exit
        send_error(conn, "viewer process")
    finally:
        conn.close()


class _ProbeViewer(Protocol):
    pc: RTCPeerConnection
    error: str | None

    def window(self, t0: float, t1: float) -> Message: ...


async def probe(
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
            command = await receive(conn)
            if command.get("kind") == "report":
                t0, t1 = float(command["t0"]), float(command["t1"])
                conn.send({"kind": "report", "viewers": [v.window(t0, t1) for v in viewers]})
            elif command.get("kind") == "stop":
                break
    finally:
        await asyncio.gather(*(v.pc.close() for v in viewers), return_exceptions=True)

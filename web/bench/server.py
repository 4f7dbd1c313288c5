"""The benchmark's server process: the synthetic endoscope sent the MedRoom way or aiortc's stock way."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection

import av
import cv2
import numpy as np
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import VideoStreamTrack
from aiortc.rtcrtpsender import RTCRtpSender

from room_controller.sources.base import Source
from room_controller.sources.synthetic import EndoscopeSimSource
from streaming.broadcast import Picture, RoomBroadcast, View
from streaming.encoder import SharedEncoder
from streaming.ice import set_ice_addresses
from streaming.outputs import PROGRAM, Outputs
from streaming.stamp import StampedSource
from streaming.whep import ViewerSessions
from web.bench.protocol import (
    LOOPBACK,
    PATHS,
    SERVER_START_TIMEOUT,
    SIGNAL_LINE_LIMIT,
    SOURCE_FPS,
    BenchError,
    Message,
    h264_only,
    quiet_child,
    receive,
    send_error,
)

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


def server_main(
    conn: Connection, path: str, stamp: bool = False, netns: str | None = None,
    address: str = LOOPBACK, adaptive: bool = False,
) -> None:
    """The server: on loopback, or in network namespace ``netns`` at ``address`` (``medroom
    bench links``); ``adaptive``: viewers start at the top rung and the quality controller
    moves them, instead of staying pinned to it."""
    quiet_child()
    try:
        if netns is not None:
            from web.bench import linktrace
            from web.bench.netns import enter_namespace

            enter_namespace(netns)
            set_ice_addresses([address])
            if linktrace.start():
                linktrace.install_server()
        asyncio.run(_serve(conn, path, stamp, address, adaptive))
    except BaseException:  # noqa: BLE001 - anything at all goes to the parent, then exit
        send_error(conn, f"server ({path})")
    finally:
        if netns is not None:
            from web.bench import linktrace

            linktrace.dump("server")
        conn.close()


async def _watch_renditions(sessions: ViewerSessions, log: list[tuple[float, str]]) -> None:
    """Notes (monotonic time, rendition) whenever the first viewer's rendition changes."""
    while True:
        viewers = sessions.all()
        if viewers and (not log or log[-1][1] != viewers[0].rendition):
            log.append((time.monotonic(), viewers[0].rendition))
        await asyncio.sleep(0.05)


async def _serve(
    conn: Connection, path: str, stamp: bool = False, address: str = LOOPBACK,
    adaptive: bool = False,
) -> None:
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
    renditions: list[tuple[float, str]] = []
    watch: asyncio.Task[None] | None = None
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
            # The server's own path: a room's broadcast on air, viewers leasing its program.
            outputs = Outputs()
            broadcast = RoomBroadcast(
                "bench", {PROGRAM: View(supply, 1280, 720)},
                Picture(fps=SOURCE_FPS, gop_seconds=1.0, bitrate_kbps=2000,
                        keyframe_min_interval=0.5),
                outputs,
            )
            encoder = (await broadcast.go_on_air()).program.encoder
            # Held as a recording would hold it, so the encoder runs with no viewer: the
            # zero-viewer row measures the encode, the per-viewer figure the fan-out alone.
            encoder.subscribe(lambda packet: None)
            sessions = ViewerSessions()
            sessions.start()  # per-viewer link figures sampled each second, as in the server
            medroom_sessions = sessions
            # Pinned to the top rendition when the bench measures the fan-out, not adaptation.
            selection = broadcast.choose(None, None if adaptive else "720p")
            watch = asyncio.create_task(_watch_renditions(sessions, renditions))

            async def answer_medroom(offer: str) -> str:
                nonlocal answered
                answered += 1
                _, sdp = await medroom_sessions.join(
                    feed=broadcast, offer_sdp=offer, selection=selection,
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
                transceiver.setCodecPreferences(h264_only(capabilities.codecs))
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

        server = await asyncio.start_server(handle, address, 0, limit=SIGNAL_LINE_LIMIT)
        port = int(server.sockets[0].getsockname()[1])
        conn.send({"kind": "ready", "port": port, "pid": os.getpid()})
        while (await receive(conn)).get("kind") != "stop":
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
            watched = next(iter(sessions.all()), None)
            if watched is not None and watched.playout:
                stats["playout_ms"] = watched.playout[0].delay_ms
                stats["playout_negotiated"] = watched.playout[0].negotiated
            link = next((v.stats for v in sessions.all() if v.stats is not None), None)
            if link is not None:
                stats["link"] = {"rtt_ms": link.rtt_ms, "nacks": link.nacks,
                                 "packets_lost": link.packets_lost,
                                 "keyframe_requests": link.keyframe_requests,
                                 "remb_kbps": link.remb_kbps}
            stats["renditions"] = renditions
            await sessions.stop()
        await asyncio.gather(*(pc.close() for pc in stock_pcs), return_exceptions=True)
        if encoder is not None:
            await encoder.stop()
            encoder = None
        conn.send({"kind": "stopped", "stats": stats})
    finally:
        if watch is not None:
            watch.cancel()
        if encoder is not None:
            await encoder.stop()
        source.stop()

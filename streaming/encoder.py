"""The shared program encoder: every frame is encoded once, whatever the number of viewers.

A worker thread paces itself at the output frame rate, takes the latest composed frame, encodes
it with libx264 (constrained baseline, zero latency, SPS/PPS repeated in-band before every
keyframe so a late joiner can start) or, for browsers without H.264 (Firefox without its
OpenH264 plugin), with libvpx VP8 (realtime, error resilient), and hands each packet to the
event loop, where it is fanned out to the subscribers. Viewers' keyframe requests (PLI/FIR) arrive through
``request_keyframe``; they are coalesced so that a crowd of joiners forces at most one keyframe
per ``keyframe_min_interval`` seconds, and a request that arrives inside that interval is kept,
not dropped, and served when the interval ends. An encoder nobody subscribes to rests: it pulls
and encodes nothing until a subscriber comes, whose first frame is then a keyframe.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
import cv2
import numpy as np
from av.video.frame import PictureType

logger = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000
TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)

#: The one origin of every encoder's timestamps in this process: a packet's pts is the
#: ``time.monotonic()`` instant it was captured, minus this, in the encoder's clock (90 kHz for
#: video, 48 kHz for audio). Video and audio packets with the same pts in seconds were captured
#: at the same instant, which is what keeps a recording and a viewer in lip sync.
MEDIA_ORIGIN = time.monotonic()

FrameSupplier = Callable[[], np.ndarray]
# Encoded packets carry no stream: they come from a bare codec context, not a container.
PacketSink = Callable[["av.Packet[Any]"], None]

H264 = "h264"
VP8 = "vp8"
#: The video codecs an output can be encoded in; aiortc's sender packetizes both (``pack``).
VIDEO_CODECS = (H264, VP8)


@dataclass(frozen=True)
class EncoderSettings:
    width: int = 1280
    height: int = 720
    fps: int = 30
    bitrate_kbps: int = 2000
    gop_seconds: float = 1.0
    keyframe_min_interval: float = 0.5
    codec: str = H264  # one of VIDEO_CODECS


@dataclass(frozen=True)
class EncoderStats:
    running: bool
    frames_encoded: int
    keyframes: int
    forced_keyframes: int
    bytes_out: int
    encode_ms_avg: float
    subscribers: int


class PacketFanOut(ABC):
    """A worker thread that produces packets, and their fan-out to subscribers on the loop.

    Subclasses implement ``_run`` (the worker, which stops when ``_stopping`` is set) and hand
    each packet to ``_deliver``; subscribers are called on the event loop that ``start`` ran on.
    """

    name: str

    def __init__(self, name: str) -> None:
        self.name = name
        self._sinks: list[PacketSink] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.error: str | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start encoding; packets are delivered on the running event loop."""
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"encoder-{self.name}", daemon=True
        )
        self._thread.start()

    async def stop(self) -> None:
        """Stop encoding and wait for the worker to release the codec."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        await asyncio.to_thread(thread.join)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- subscribers -----------------------------------------------------------------------
    def subscribe(self, sink: PacketSink) -> None:
        """Call ``sink(packet)`` on the event loop for every packet from now on."""
        self._sinks.append(sink)

    def unsubscribe(self, sink: PacketSink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)

    @property
    def subscribers(self) -> int:
        return len(self._sinks)

    # -- worker side -----------------------------------------------------------------------
    @abstractmethod
    def _run(self) -> None:
        """The worker thread: encode and ``_deliver`` packets until ``_stopping`` is set."""

    def _deliver(self, packet: av.Packet[Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            # One hop to the loop per packet, whatever the number of viewers.
            loop.call_soon_threadsafe(self._fan_out, packet)
        except RuntimeError:
            pass  # loop closing during shutdown

    def _fan_out(self, packet: av.Packet[Any]) -> None:
        for sink in list(self._sinks):
            try:
                sink(packet)
            except Exception:
                logger.exception("packet subscriber failed; removing it")
                self.unsubscribe(sink)


class SharedEncoder(PacketFanOut):
    """Encodes the frames of one output once and fans the packets out on the event loop."""

    def __init__(
        self, supply_frame: FrameSupplier, settings: EncoderSettings, name: str = "program"
    ) -> None:
        super().__init__(name)
        self._supply_frame = supply_frame
        self.settings = settings
        self._keyframe_lock = threading.Lock()
        self._keyframe_pending = False
        self._last_forced = -1e9
        self._frames = 0
        self._keyframes = 0
        self._forced = 0
        self._bytes = 0
        self._encode_seconds = 0.0

    def request_keyframe(self) -> None:
        """Ask for a keyframe soon; thread-safe, coalesced and rate limited."""
        with self._keyframe_lock:
            self._keyframe_pending = True

    def stats(self) -> EncoderStats:
        frames = self._frames
        return EncoderStats(
            running=self.running,
            frames_encoded=frames,
            keyframes=self._keyframes,
            forced_keyframes=self._forced,
            bytes_out=self._bytes,
            encode_ms_avg=(self._encode_seconds / frames * 1000) if frames else 0.0,
            subscribers=len(self._sinks),
        )

    # -- worker thread ---------------------------------------------------------------------
    @property
    def library(self) -> str:
        """The encoding library: libx264 for H.264, libvpx for VP8."""
        return "libvpx" if self.settings.codec == VP8 else "libx264"

    def _open_codec(self) -> av.video.codeccontext.VideoCodecContext:
        s = self.settings
        if s.codec not in VIDEO_CODECS:
            raise ValueError(f"unknown video codec {s.codec!r} (codecs: {', '.join(VIDEO_CODECS)})")
        codec = av.CodecContext.create(self.library, "w")
        assert isinstance(codec, av.video.codeccontext.VideoCodecContext)
        codec.width = s.width
        codec.height = s.height
        codec.pix_fmt = "yuv420p"
        codec.time_base = TIME_BASE
        codec.framerate = fractions.Fraction(s.fps, 1)
        codec.bit_rate = s.bitrate_kbps * 1000
        gop = max(1, round(s.gop_seconds * s.fps))
        codec.gop_size = gop
        codec.options = self._vp8_options(gop) if s.codec == VP8 else self._h264_options(gop)
        if s.codec == VP8:
            # One thread: the output's cost stays one measurable share of a core, and a
            # second thread would compete with the compositor on a two-core machine.
            codec.thread_count = 1
        codec.open()
        return codec

    def _vp8_options(self, gop: int) -> dict[str, str]:
        bits = str(self.settings.bitrate_kbps * 1000)
        return {
            "deadline": "realtime",
            "cpu-used": "8",  # libvpx's fastest realtime speed: an output must keep up
            "lag-in-frames": "0",  # no look-ahead: a frame leaves as soon as it is encoded
            "auto-alt-ref": "0",
            # A lost packet damages only its frame: no probability updates carried over.
            "error-resilient": "1",
            "keyint_min": str(gop),
            # Constant bitrate (minrate = maxrate = bitrate), half a second of buffer.
            "minrate": bits,
            "maxrate": bits,
            "bufsize": str(self.settings.bitrate_kbps * 500),
            "undershoot-pct": "95",
            "overshoot-pct": "15",
        }

    def _h264_options(self, gop: int) -> dict[str, str]:
        s = self.settings
        return {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
            "forced-idr": "1",
            # in-band SPS/PPS before every keyframe: a viewer joining late can decode at once
            "x264-params": (
                f"repeat-headers=1:keyint={gop}:min-keyint={gop}:scenecut=0:"
                f"vbv-maxrate={s.bitrate_kbps}:vbv-bufsize={s.bitrate_kbps // 2}"
            ),
        }

    def _take_keyframe_request(self, now: float) -> bool:
        with self._keyframe_lock:
            if not self._keyframe_pending:
                return False
            if now - self._last_forced < self.settings.keyframe_min_interval:
                return False  # kept pending: served once the interval has passed
            self._keyframe_pending = False
            self._last_forced = now
            return True

    def _to_video_frame(self, image: np.ndarray) -> av.VideoFrame:
        s = self.settings
        if image.shape[0] != s.height or image.shape[1] != s.width:
            image = cv2.resize(image, (s.width, s.height), interpolation=cv2.INTER_AREA)
        yuv = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)
        return av.VideoFrame.from_ndarray(yuv.astype(np.uint8, copy=False), format="yuv420p")

    def _run(self) -> None:
        try:
            codec = self._open_codec()
        except Exception as exc:
            logger.exception("encoder %s could not open %s", self.name, self.library)
            self.error = f"could not open {self.library}: {exc}"
            return
        interval = 1.0 / self.settings.fps
        deadline = time.monotonic()
        resting = False
        try:
            while not self._stopping.is_set():
                now = time.monotonic()
                if deadline > now:
                    self._stopping.wait(deadline - now)
                    continue
                # Late by more than a frame (a stall): skip ahead instead of bursting frames.
                deadline = max(deadline + interval, now - interval)
                if not self._sinks:
                    # Nobody receives the packets (a room live with no viewer and no
                    # recording): neither pull the picture nor encode it. The first frame
                    # for whoever subscribes next is a keyframe, so they start at once.
                    resting = True
                    continue
                began = time.perf_counter()
                frame = self._to_video_frame(self._supply_frame())
                frame.pts = int((now - MEDIA_ORIGIN) * VIDEO_CLOCK)
                frame.time_base = TIME_BASE
                if self._take_keyframe_request(now) or resting:
                    frame.pict_type = PictureType.I
                    self._forced += 1
                    resting = False
                packets = codec.encode(frame)
                self._encode_seconds += time.perf_counter() - began
                self._frames += 1
                for packet in packets:
                    packet.time_base = TIME_BASE
                    if packet.is_keyframe:
                        self._keyframes += 1
                    self._bytes += packet.size
                    self._deliver(packet)
        except Exception as exc:
            logger.exception("encoder %s failed", self.name)
            self.error = f"encoder failed: {exc}"

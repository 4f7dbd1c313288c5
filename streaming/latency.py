"""Glass-to-glass latency, measured at a viewer from the capture-time stamps in the frames.

``StampWatcher`` reads a received video track (aiortc decodes it), and for every decoded frame
notes the wall-clock time the frame came out of the decoder and the capture time stamped into
it by ``streaming.stamp``: latency = decoded - captured, both on this machine's clock (the
benchmark runs server and viewers on one machine, so no clock offset enters the figure).

aiortc's receiver closes a video frame only when the first packet of the *next* frame arrives
(``JitterBuffer._remove_frame``), which adds one frame interval (33 ms at 30 fps) that a browser,
which closes a frame at the RTP marker bit, does not have. ``use_marker_bit_frames()`` makes
the probe's receivers close a frame at its marker bit, as browsers do, so that the figure is
MedRoom's, not the probe's; the benchmark says which receiver it used. The ``marker`` receiver
also NACKs as libwebrtc does (each lost packet at once, then again every 100 ms while missing,
only the packets due in each NACK), where aiortc asks once.

A browser does not show a frame the moment it is decoded: it renders it at a time computed from
its RTP timestamp (the arrival time extrapolated from earlier frames) plus a playout delay, and
it honours a minimum playout delay that the sender puts into the ``playout-delay`` RTP header
extension (``streaming.playout``; Chromium offers the extension and applies it). The ``marker``
receiver reads that extension and ``PlayoutModel`` renders the way Chromium's timing does,
reduced to what matters here: a frame is shown at max(decoded, expected + delay), where
expected = the frame's RTP time + the median offset of the last 90 decoded frames, and the
delay moves towards the signalled minimum by at most 100 ms per second of media
(``kDelayMaxChangeMsPerS``). With no delay signalled, a frame is shown when decoded, as before:
the probe then adds none of Chromium's own jitter and render allowances (20-40 ms), so its
latency is a little lower and its freezes a little longer than a browser's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiortc.rtcrtpreceiver
import numpy as np
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtp import HeaderExtensions, HeaderExtensionsMap, RtpPacket, unpack_header_extensions
from aiortc.utils import uint16_add, uint16_gt

from streaming.playout import PLAYOUT_DELAY_URI, offer_playout_delay, unpack_delay
from streaming.stamp import read_stamp_frame

logger = logging.getLogger(__name__)

#: Receivers: aiortc's own jitter buffer, or one that closes frames at the RTP marker bit.
RECEIVERS = ("marker", "aiortc")


def _has_idr(annex_b: bytes) -> bool:
    """True when an H.264 access unit (Annex-B, as aiortc depayloads it) has an IDR slice."""
    return any(nal and nal[0] & 0x1F == 5 for nal in annex_b.split(b"\x00\x00\x01")[1:])


class MarkerJitterBuffer(JitterBuffer):
    """A video jitter buffer that hands a frame on as soon as its marker packet is in.

    The frame must be contiguous from the buffer's origin up to the marker packet (same RTP
    timestamp throughout); a frame whose marker packet was lost still closes when the next
    frame starts, as in aiortc's buffer. While a lost packet holds the frame at the origin, a
    complete H.264 keyframe after it is handed on at once and what came before is dropped, as
    a browser's frame buffer does (aiortc's waits for the lost packet until 512 more have come,
    seconds at a low bitrate). Audio buffers keep aiortc's behaviour.
    """

    #: The minimum playout delay the sender asks for (ms), from the latest packet carrying it.
    playout_delay_ms = 0.0

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        delay = getattr(packet.extensions, "playout_delay", None)
        if delay is not None:
            self.playout_delay_ms = float(delay[0])
        return super().add(packet)

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        if not self._is_video:
            return super()._remove_frame(sequence_number)
        frame = self._frame_at_origin()
        if frame is None:
            frame = self._keyframe_ending_at(sequence_number)
        return frame

    def _keyframe_ending_at(self, sequence_number: int) -> JitterFrame | None:
        """The frame whose marker packet is ``sequence_number``, if it is complete and an
        H.264 keyframe (has an IDR slice); everything before it is dropped."""
        last = self._packets[sequence_number % self._capacity]
        if last is None or not last.marker:
            return None
        assert self._origin is not None
        packets = [last]
        for back in range(1, (sequence_number - self._origin) % 65536 + 1):
            packet = self._packets[(sequence_number - back) % self._capacity]
            if packet is None:
                return None  # a hole inside this frame too
            if packet.timestamp != last.timestamp:
                break
            packets.append(packet)
        else:
            return None  # the frame starts at the origin: _frame_at_origin had it
        packets.reverse()
        data = b"".join(p._data for p in packets)  # type: ignore[attr-defined]
        if not _has_idr(data):
            return None
        self.remove((sequence_number - self._origin + 1) % 65536)
        return JitterFrame(data, last.timestamp)

    def _frame_at_origin(self) -> JitterFrame | None:
        packets: list[Any] = []
        timestamp: int | None = None
        assert self._origin is not None
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self._capacity]
            if packet is None:
                return None
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:
                # the marker packet was lost: close the frame at the next one's start
                self.remove(count)
                return JitterFrame(b"".join(p._data for p in packets), timestamp)
            packets.append(packet)
            if packet.marker:
                self.remove(count + 1)
                return JitterFrame(b"".join(p._data for p in packets), timestamp)
        return None


class RepeatingNackGenerator(aiortc.rtcrtpreceiver.NackGenerator):
    """NACKs the way libwebrtc's ``NackRequester`` does, in aiortc's receiver.

    aiortc's receiver NACKs a lost packet once, and again only when a later loss happens to
    send a new NACK (listing every packet still missing). libwebrtc NACKs a packet as soon as a
    later one shows it missing, then again each time its own timer finds it still missing one
    round trip after the last ask, at most ``RETRIES`` times; a NACK lists only the packets due.
    A receive-only browser has no round-trip estimate of its own (it sends no media, so no
    sender report comes back answered), and uses libwebrtc's default, 100 ms (``REPEAT_S``).
    Here the check runs at each arriving packet (a few ms apart at these bitrates) rather than
    on libwebrtc's 20 ms timer.
    """

    REPEAT_S = 0.1
    RETRIES = 10
    MAX_AGE = 10_000  # sequence numbers (libwebrtc's kMaxPacketAge)

    def __init__(self) -> None:
        super().__init__()
        #: Missing sequence number -> (when last asked for, times asked).
        self._pending: dict[int, tuple[float, int]] = {}

    def add(self, packet: Any) -> bool:
        seq = packet.sequence_number
        now = time.monotonic()
        due: set[int] = set()
        if self.max_seq is None:
            self.max_seq = seq
            return False
        if uint16_gt(seq, self.max_seq):
            missing = uint16_add(self.max_seq, 1)
            while uint16_gt(seq, missing):
                due.add(missing)
                self._pending[missing] = (now, 1)
                missing = uint16_add(missing, 1)
            self.max_seq = seq
        else:
            self._pending.pop(seq, None)
        oldest = uint16_add(self.max_seq, -self.MAX_AGE)
        for missing, (asked, tries) in list(self._pending.items()):
            if uint16_gt(oldest, missing) or tries > self.RETRIES:
                del self._pending[missing]
            elif missing not in due and now - asked >= self.REPEAT_S:
                if tries >= self.RETRIES:
                    del self._pending[missing]
                    continue
                due.add(missing)
                self._pending[missing] = (now, tries + 1)
        # What aiortc's receiver puts into the NACK it sends when this returns True.
        self.missing = due
        return bool(due)


class PlayoutReadingMap(HeaderExtensionsMap):
    """A receiving transport's header extension map that also reads the playout delay
    (``packet.extensions.playout_delay``: (min ms, max ms)), which aiortc drops."""

    def __init__(self) -> None:
        super().__init__()
        self._playout_id: int | None = None

    def configure(self, parameters: Any) -> None:
        super().configure(parameters)
        for ext in parameters.headerExtensions:
            if ext.uri == PLAYOUT_DELAY_URI:
                self._playout_id = ext.id

    def get(self, extension_profile: int, extension_value: bytes) -> HeaderExtensions:
        values = super().get(extension_profile, extension_value)
        if self._playout_id is not None:
            for x_id, x_value in unpack_header_extensions(extension_profile, extension_value):
                if x_id == self._playout_id and len(x_value) == 3:
                    values.playout_delay = unpack_delay(x_value)  # type: ignore[attr-defined]
        return values


def read_playout_delay(receiver: RTCRtpReceiver) -> Callable[[], float]:
    """For a ``marker`` receiver whose transport exists (after the local offer): read the
    sender's playout delay from its packets; returns what the latest one asked for (ms)."""
    receiver.transport._rtp_header_extensions_map = PlayoutReadingMap()

    def delay_ms() -> float:
        buffer = getattr(receiver, "_RTCRtpReceiver__jitter_buffer", None)
        return float(getattr(buffer, "playout_delay_ms", 0.0))

    return delay_ms


class PlayoutModel:
    """When a browser would show each decoded frame, given the playout delay asked for."""

    WINDOW = 90  # frames whose offset (decoded - RTP time) gives the expected arrival
    MAX_CHANGE = 0.1  # seconds of delay change per second of media (Chromium's timing)

    def __init__(self) -> None:
        self._offsets: deque[float] = deque(maxlen=self.WINDOW)
        self._last_media_s: float | None = None
        self.delay_s = 0.0

    def show_at(self, decoded_at: float, media_s: float, target_ms: float) -> float:
        """``decoded_at``: monotonic seconds; ``media_s``: the frame's RTP time in seconds."""
        self._offsets.append(decoded_at - media_s)
        if self._last_media_s is not None:
            step = self.MAX_CHANGE * max(0.0, media_s - self._last_media_s)
            change = target_ms / 1000 - self.delay_s
            self.delay_s += max(-step, min(step, change))
        self._last_media_s = media_s
        if self.delay_s <= 0:
            return decoded_at
        expected = statistics.median(self._offsets) + media_s
        return max(decoded_at, expected + self.delay_s)


@contextlib.contextmanager
def use_marker_bit_frames() -> Iterator[None]:
    """Receivers created inside close video frames at the marker bit (process-wide patch)."""
    previous = aiortc.rtcrtpreceiver.JitterBuffer  # type: ignore[attr-defined]
    aiortc.rtcrtpreceiver.JitterBuffer = MarkerJitterBuffer  # type: ignore[attr-defined]
    try:
        yield
    finally:
        aiortc.rtcrtpreceiver.JitterBuffer = previous  # type: ignore[attr-defined]


def install_receiver(receiver: str) -> None:
    """For a probe process: ``marker`` patches aiortc's receivers for good (frames at the
    marker bit, NACKs repeated), ``aiortc`` not."""
    if receiver not in RECEIVERS:
        raise ValueError(f"unknown receiver {receiver!r} (receivers: {', '.join(RECEIVERS)})")
    if receiver == "marker":
        aiortc.rtcrtpreceiver.JitterBuffer = MarkerJitterBuffer  # type: ignore[attr-defined]
        aiortc.rtcrtpreceiver.NackGenerator = RepeatingNackGenerator  # type: ignore[misc]
        offer_playout_delay()  # as Chromium offers it


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def summarize(latencies_ms: Sequence[float]) -> dict[str, float | int | None]:
    """p50 / p95 / max / count of latencies in milliseconds (None when there are none)."""
    if not latencies_ms:
        return {"count": 0, "p50_ms": None, "p95_ms": None, "max_ms": None, "min_ms": None}
    return {
        "count": len(latencies_ms),
        "p50_ms": round(percentile(latencies_ms, 50), 1),
        "p95_ms": round(percentile(latencies_ms, 95), 1),
        "max_ms": round(max(latencies_ms), 1),
        "min_ms": round(min(latencies_ms), 1),
    }


@dataclass
class Sample:
    at: float  # time.monotonic() when the decoded frame reached the watcher
    latency_ms: float | None  # None: the frame carried no readable stamp


@dataclass
class StampWatcher:
    """Receives a decoded track and notes each frame's glass-to-glass latency.

    ``started`` is the instant the viewer's offer went out (``time.monotonic()``); the first
    frame time is measured from it.
    """

    track: MediaStreamTrack
    started: float
    #: The playout delay the sender asks for now (ms; ``read_playout_delay``): frames are
    #: noted when a browser would show them (``PlayoutModel``), not when decoded.
    playout_delay: Callable[[], float] | None = None
    samples: list[Sample] = field(default_factory=list)
    first_frame_at: float | None = None
    first_frame_latency_ms: float | None = None
    ended: str | None = None
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def first_frame_s(self) -> float | None:
        if self.first_frame_at is None:
            return None
        return self.first_frame_at - self.started

    async def wait_first_frame(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.first_frame_at is None and self.ended is None:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.01)
        return self.first_frame_at is not None

    async def _run(self) -> None:
        playout = PlayoutModel()
        try:
            while True:
                frame = await self.track.recv()
                now_wall = time.time()
                now = time.monotonic()
                stamp = read_stamp_frame(frame)
                if (self.playout_delay is not None and frame.pts is not None
                        and frame.time_base is not None):
                    shown = playout.show_at(now, float(frame.pts * frame.time_base),
                                            self.playout_delay())
                    now_wall += shown - now
                    now = shown
                latency = None if stamp is None else now_wall * 1000 - stamp
                if self.first_frame_at is None:
                    self.first_frame_at = now
                    self.first_frame_latency_ms = latency
                self.samples.append(Sample(at=now, latency_ms=latency))
        except MediaStreamError:
            self.ended = "track ended"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reported; the probe carries on
            logger.exception("stamp watcher failed")
            self.ended = f"{type(exc).__name__}: {exc}"

    def window(self, t0: float, t1: float) -> dict[str, Any]:
        """Figures for the frames decoded in [t0, t1) (monotonic)."""
        inside = [s for s in self.samples if t0 <= s.at < t1]
        latencies = [s.latency_ms for s in inside if s.latency_ms is not None]
        report: dict[str, Any] = summarize(latencies)
        report.update(
            frames=len(inside),
            unreadable=len(inside) - len(latencies),
            fps=round(len(inside) / (t1 - t0), 2) if t1 > t0 else None,
            first_frame_s=None if self.first_frame_s is None else round(self.first_frame_s, 3),
            first_frame_latency_ms=(
                None if self.first_frame_latency_ms is None
                else round(self.first_frame_latency_ms, 1)
            ),
            ended=self.ended,
        )
        return report

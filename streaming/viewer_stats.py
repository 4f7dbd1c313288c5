"""What each viewer actually gets: round-trip time, delivered frame rate, loss, NACKs, bitrate.

The instructor's console shows it per viewer, and the quality controller (``streaming.adapt``)
moves viewers between renditions by it. Two sources:

- aiortc's sender statistics (``RTCRtpSender.getStats``): ``outbound-rtp`` (packets and bytes
  sent) and ``remote-inbound-rtp``, built from the viewer's RTCP receiver reports (round-trip
  time from LSR/DLSR, cumulative packets lost, fraction lost in the last report interval).
- ``RtcpTap``, installed on the sender, counts what aiortc reads but does not expose: NACKs
  (retransmission requests), PLI/FIR (keyframe requests) and the latest REMB (the receiver's
  bandwidth estimate). It wraps the sender's RTCP handler and always hands the packet on.

``StatsSampler`` samples every viewer once per ``interval`` seconds; rates (fps, bitrate) are
differences between two samples, so every reader sees the same one-second figures however often
it asks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    unpack_remb_fci,
)

logger = logging.getLogger(__name__)


class RtcpTap:
    """Counts a sender's NACKs, keyframe requests and REMB, then lets aiortc handle the packet."""

    def __init__(self, sender: RTCRtpSender) -> None:
        self.nack_packets = 0  # RTCP NACK messages
        self.nacked = 0  # RTP packets asked for again
        self.keyframe_requests = 0  # PLI + FIR
        self.remb_bps: int | None = None
        self.remb_at: float | None = None
        self._sender = sender
        self._handle: Callable[[Any], Awaitable[None]] = sender._handle_rtcp_packet
        sender._handle_rtcp_packet = self._on_rtcp  # type: ignore[method-assign]

    async def _on_rtcp(self, packet: Any) -> None:
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            self.nack_packets += 1
            self.nacked += len(packet.lost)
        elif isinstance(packet, RtcpPsfbPacket):
            if packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
                self.keyframe_requests += 1
            elif packet.fmt == RTCP_PSFB_APP:
                try:
                    bitrate, ssrcs = unpack_remb_fci(packet.fci)
                except ValueError:
                    pass  # not a REMB, or a malformed one: aiortc ignores it too
                else:
                    if self._sender._ssrc in ssrcs:
                        self.remb_bps = bitrate
                        self.remb_at = time.monotonic()
        await self._handle(packet)


class CountsFrames(Protocol):
    """A track that counts the frames it handed to its sender (``PacketTrack``)."""

    packets_sent: int


@dataclass(frozen=True)
class LinkStats:
    """One sender's figures over the last sampling interval (rates) and since it started."""

    rtt_ms: float | None  # None until the viewer's first receiver report that answers an SR
    fps: float
    bitrate_kbps: float
    fraction_lost: float  # 0..1, from the viewer's latest receiver report
    packets_lost: int  # cumulative, as the viewer reports it
    packets_sent: int
    nacks: int  # RTP packets the viewer asked for again
    keyframe_requests: int
    remb_kbps: float | None
    sampled_at: float


@dataclass
class LinkMonitor:
    """Samples one sender (a viewer's video track); ``last`` holds the latest figures."""

    sender: RTCRtpSender
    track: CountsFrames
    tap: RtcpTap
    last: LinkStats | None = None
    _prev: tuple[float, int, int] | None = field(default=None, repr=False)

    @classmethod
    def install(cls, sender: RTCRtpSender, track: CountsFrames) -> LinkMonitor:
        return cls(sender, track, RtcpTap(sender))

    async def sample(self, now: float | None = None) -> LinkStats:
        now = time.monotonic() if now is None else now
        report = await self.sender.getStats()
        bytes_sent = packets_sent = 0
        rtt: float | None = None
        fraction_lost = 0.0
        packets_lost = 0
        for stats in report.values():
            if stats.type == "outbound-rtp":
                bytes_sent, packets_sent = int(stats.bytesSent), int(stats.packetsSent)
            elif stats.type == "remote-inbound-rtp":
                rtt = stats.roundTripTime
                fraction_lost = float(stats.fractionLost) / 256.0
                packets_lost = max(0, int(stats.packetsLost))
        frames = self.track.packets_sent
        fps = bitrate = 0.0
        if self._prev is not None:
            then, prev_frames, prev_bytes = self._prev
            elapsed = max(now - then, 1e-3)
            fps = (frames - prev_frames) / elapsed
            bitrate = (bytes_sent - prev_bytes) * 8 / 1000 / elapsed
        self._prev = (now, frames, bytes_sent)
        remb = self.tap.remb_bps
        self.last = LinkStats(
            rtt_ms=None if rtt is None else round(rtt * 1000, 1),
            fps=round(fps, 1),
            bitrate_kbps=round(bitrate, 1),
            fraction_lost=round(fraction_lost, 4),
            packets_lost=packets_lost,
            packets_sent=packets_sent,
            nacks=self.tap.nacked,
            keyframe_requests=self.tap.keyframe_requests,
            remb_kbps=None if remb is None else round(remb / 1000, 1),
            sampled_at=now,
        )
        return self.last


class StatsSampler:
    """Samples every viewer's links once per ``interval``; owned by ``ViewerSessions``.

    ``links`` returns the monitors to sample now; ``on_sampled`` (optional) gets each monitor
    after it was sampled (the quality controller decides there).
    """

    def __init__(
        self,
        links: Callable[[], Iterable[LinkMonitor]],
        interval: float = 1.0,
        on_sampled: Callable[[LinkMonitor], None] | None = None,
    ) -> None:
        self._links = links
        self.interval = interval
        self._on_sampled = on_sampled
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="viewer-stats")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def sample_all(self) -> None:
        now = time.monotonic()
        for link in list(self._links()):
            try:
                await link.sample(now)
            except Exception:
                # A viewer closing while sampled: its figures stay as they were.
                logger.debug("could not sample a viewer link", exc_info=True)
                continue
            if self._on_sampled is not None:
                self._on_sampled(link)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.sample_all()

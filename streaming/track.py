"""A viewer's video track that carries already-encoded packets from the shared encoder.

aiortc's sender packetizes an ``av.Packet`` instead of encoding a frame (``encoder.pack``), so a
viewer costs RTP packetization and encryption, never an encode. The negotiated codec picks the
packetizer: H.264 packets (Annex-B) go to aiortc's ``H264Encoder.pack``, VP8 frames from libvpx
to ``Vp8Encoder.pack``; the track itself carries either the same way. Each track keeps a short queue
of its own: a viewer that falls behind drops to the next keyframe (and asks for one) instead of
slowing the others down or growing memory.
"""

from __future__ import annotations

import asyncio
import logging
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpsender import RTCRtpSender

from streaming.encoder import PacketFanOut, SharedEncoder

logger = logging.getLogger(__name__)

QUEUE_PACKETS = 30  # about one second at 30 fps


class PacketTrack(MediaStreamTrack):
    """A viewer's track fed with a shared encoder's packets through a short queue of its own."""

    def __init__(self, encoder: PacketFanOut) -> None:
        super().__init__()
        self._encoder = encoder
        self._queue: asyncio.Queue[av.Packet[Any] | None] = asyncio.Queue(maxsize=QUEUE_PACKETS)
        self.packets_sent = 0
        self.packets_dropped = 0
        encoder.subscribe(self._on_packet)

    @abstractmethod
    def _on_packet(self, packet: av.Packet[Any]) -> None:
        """Queue a packet (on the event loop); what to do when behind is the kind's choice."""

    def end(self) -> None:
        """The output has ended: let the sender finish."""
        self._encoder.unsubscribe(self._on_packet)
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            self.stop()
            raise MediaStreamError
        self.packets_sent += 1
        return packet

    def stop(self) -> None:
        self._encoder.unsubscribe(self._on_packet)
        super().stop()


class EncodedVideoTrack(PacketTrack):
    """Reads packets from a SharedEncoder; starts at a keyframe, resyncs at a keyframe.

    ``switch`` moves the track to another encoder (another rendition of the same output): the
    current encoder's packets keep flowing until the new one delivers a keyframe, and the track
    cuts over exactly there, so the viewer's picture never stops. Both encoders stamp pts from
    the same capture clock, so the RTP timestamps run on without a jump.
    """

    kind = "video"

    def __init__(self, encoder: SharedEncoder) -> None:
        self._waiting_for_keyframe = True
        super().__init__(encoder)
        self._video_encoder = encoder
        self._next: SharedEncoder | None = None
        self._switched: asyncio.Future[SharedEncoder] | None = None
        #: The sender's RTP timestamp origin: ``RTP timestamp = rtp_origin + pts`` (mod 2^32),
        #: known once the first frame has been sent (``bind_sender``; ``streaming.overlay``).
        self.rtp_origin: int | None = None
        self.on_rtp_origin: Callable[[int], None] | None = None
        self._sender: RTCRtpSender | None = None
        self._last_pts: int | None = None
        self._sent_at_recv = 0
        # A new viewer should not wait for the next natural keyframe.
        encoder.request_keyframe()

    def bind_sender(self, sender: RTCRtpSender) -> None:
        """Learn ``rtp_origin`` from the sender that sends this track.

        aiortc draws a random origin per sender and keeps it in a local variable; what it does
        keep is the RTP timestamp of the last packet sent. Its send loop is sequential (take a
        packet from the track, send all its RTP packets, take the next), so when ``recv`` is
        called again and packets went out since the previous call, that timestamp belongs to
        the packet ``recv`` returned last: origin = timestamp - pts.
        """
        self._sender = sender

    async def recv(self) -> av.Packet[Any]:
        sender = self._sender
        if sender is not None and self.rtp_origin is None and self._last_pts is not None:
            sent = int(sender._RTCRtpSender__packet_count)  # type: ignore[attr-defined]
            if sent > self._sent_at_recv:
                last = int(sender._RTCRtpSender__rtp_timestamp)  # type: ignore[attr-defined]
                self.rtp_origin = (last - self._last_pts) % (1 << 32)
                if self.on_rtp_origin is not None:
                    self.on_rtp_origin(self.rtp_origin)
        packet = await super().recv()
        if sender is not None and self.rtp_origin is None:
            self._sent_at_recv = int(sender._RTCRtpSender__packet_count)  # type: ignore[attr-defined]
            # Video packets are stamped in 90 kHz (the RTP clock): no conversion.
            self._last_pts = int(packet.pts) if packet.pts is not None else None
        return packet

    @property
    def encoder(self) -> SharedEncoder:
        return self._video_encoder

    def request_keyframe(self) -> None:
        """The viewer asked for a keyframe (PLI/FIR): ask the encoder it receives now."""
        self._video_encoder.request_keyframe()

    def switch(self, encoder: SharedEncoder) -> asyncio.Future[SharedEncoder]:
        """Move to ``encoder`` at its next keyframe; the future resolves at the cut-over with
        the encoder left behind (the caller releases it)."""
        self.cancel_switch()
        loop = asyncio.get_running_loop()
        self._switched = loop.create_future()
        self._next = encoder
        encoder.subscribe(self._on_next_packet)
        encoder.request_keyframe()
        return self._switched

    def cancel_switch(self) -> None:
        if self._next is not None:
            self._next.unsubscribe(self._on_next_packet)
            self._next = None
        if self._switched is not None and not self._switched.done():
            self._switched.cancel()
        self._switched = None

    def _on_next_packet(self, packet: av.Packet[Any]) -> None:
        target = self._next
        if target is None or not packet.is_keyframe:
            return
        previous = self._video_encoder
        previous.unsubscribe(self._on_packet)
        target.unsubscribe(self._on_next_packet)
        self._next = None
        self._encoder = self._video_encoder = target
        target.subscribe(self._on_packet)
        self._waiting_for_keyframe = False
        self._on_packet(packet)
        if self._switched is not None and not self._switched.done():
            self._switched.set_result(previous)
        self._switched = None

    def stop(self) -> None:
        self.cancel_switch()
        super().stop()

    def _on_packet(self, packet: av.Packet[Any]) -> None:
        if self._waiting_for_keyframe:
            if not packet.is_keyframe:
                self.packets_dropped += 1
                return
            self._waiting_for_keyframe = False
        try:
            self._queue.put_nowait(packet)
        except asyncio.QueueFull:
            # This viewer is behind: throw away its backlog and restart at a keyframe.
            self.packets_dropped += self._queue.qsize() + 1
            while not self._queue.empty():
                self._queue.get_nowait()
            self._waiting_for_keyframe = True
            self._video_encoder.request_keyframe()

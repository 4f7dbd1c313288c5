"""Which lost packets a viewer gets again, and when a keyframe serves it better.

aiortc's sender answers every NACK from its history of the last 128 RTP packets, however old
the packet and however often it was asked for. Across a long link that hurts twice
(``medroom bench links`` measured it): after an outage a viewer NACKs hundreds of packets, and
the sender replays the stale last half second, whose frames reach the viewer seconds late (an
aiortc receiver even rewinds its jitter buffer to them and freezes for two more seconds); on a
narrow link the same packet is sent again for every NACK that still lists it, which takes the
bottleneck from the live picture.

``RetransmitPolicy`` wraps one sender's retransmission (as ``RtcpTap`` wraps its RTCP). A NACK
that names a packet already gone from the history is not a loss but a break (an outage, a burst
longer than the history): nothing from before it is sent again, and the encoder is asked for a
keyframe at once, which is what repairs a break. Otherwise a packet is sent again while it is
young enough to matter (``MAX_AGE_MS`` after its capture, by its RTP timestamp; libwebrtc keeps
its history as long) and at most once per ``REPEAT_MS`` (aiortc's receiver lists every
still-missing packet in each NACK). A packet too old for that also asks for a keyframe.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Awaitable, Callable

from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import RTP_HISTORY_SIZE, RtpPacket

#: Packets captured longer ago than this are not sent again (libwebrtc's history keeps 1 s): a
#: receiver that asks again only when the next loss shows up (aiortc) still gets them at 1 % loss.
MAX_AGE_MS = 1000.0
#: The same packet is not sent again sooner than this: a NACK that lists it again so soon (aiortc
#: lists every still-missing packet in each) crossed its retransmission on the way.
REPEAT_MS = 50.0
_VIDEO_CLOCK_HZ = 90_000  # RTP clock of every video codec MedRoom sends
_REMEMBERED = 512  # sequence numbers given up on, so one loss asks for one keyframe


class RetransmitPolicy:
    """Retransmits a sender's young packets only; turns unrepairable losses into keyframes."""

    def __init__(self, sender: RTCRtpSender, request_keyframe: Callable[[], None]) -> None:
        self.retransmitted = 0
        self.refused = 0  # NACKed packets not sent again (stale, gone, or just sent)
        self.keyframes_asked = 0
        self._sender = sender
        self._request_keyframe = request_keyframe
        self._resend: Callable[[int], Awaitable[None]] = sender._retransmit
        self._sent_at: dict[int, float] = {}
        self._given_up: collections.OrderedDict[int, None] = collections.OrderedDict()
        self._barrier: int | None = None  # RTP timestamp: nothing up to it is sent again
        sender._retransmit = self._retransmit  # type: ignore[method-assign]

    def _packet(self, sequence_number: int) -> RtpPacket | None:
        history: dict[int, RtpPacket] = self._sender._RTCRtpSender__rtp_history  # type: ignore[attr-defined]
        packet = history.get(sequence_number % RTP_HISTORY_SIZE)
        return packet if packet is not None and packet.sequence_number == sequence_number else None

    def _newest_timestamp(self) -> int:
        return int(self._sender._RTCRtpSender__rtp_timestamp)  # type: ignore[attr-defined]

    def _age_ms(self, packet: RtpPacket) -> float:
        return ((self._newest_timestamp() - packet.timestamp) & 0xFFFFFFFF) * 1000 / _VIDEO_CLOCK_HZ

    def _before_barrier(self, packet: RtpPacket) -> bool:
        if self._barrier is None:
            return False
        return ((self._barrier - packet.timestamp) & 0xFFFFFFFF) < 0x80000000

    def _give_up(self, sequence_number: int) -> None:
        if sequence_number in self._given_up:
            return
        self._given_up[sequence_number] = None
        while len(self._given_up) > _REMEMBERED:
            self._given_up.popitem(last=False)
        self.keyframes_asked += 1
        self._request_keyframe()  # coalesced and rate limited by the shared encoder

    async def _retransmit(self, sequence_number: int) -> None:
        packet = self._packet(sequence_number)
        if packet is None:
            # A break, not a loss: the keyframe repairs it, a replay of what is left would
            # only arrive late (and make an aiortc receiver rewind to it).
            self._barrier = self._newest_timestamp()
            self.refused += 1
            self._give_up(sequence_number)
            return
        if self._before_barrier(packet):
            self.refused += 1
            return
        if self._age_ms(packet) > MAX_AGE_MS:
            self.refused += 1
            self._give_up(sequence_number)
            return
        now = time.monotonic()
        last = self._sent_at.get(sequence_number)
        if last is not None and (now - last) * 1000 < REPEAT_MS:
            self.refused += 1
            return
        self._sent_at[sequence_number] = now
        if len(self._sent_at) > RTP_HISTORY_SIZE:  # only packets still in the history matter
            for seq in [s for s, at in self._sent_at.items() if (now - at) * 1000 > MAX_AGE_MS]:
                del self._sent_at[seq]
        self.retransmitted += 1
        await self._resend(sequence_number)

"""Which lost packets a viewer gets again, and when a keyframe serves it better.

aiortc's sender answers every NACK from its history of the last 128 RTP packets, however old
the packet and however often it was asked for. Across a long link that hurts twice
(``medroom bench links`` measured it): after an outage a viewer NACKs hundreds of packets, and
the sender replays the stale last half second, whose frames reach the viewer seconds late (an
aiortc receiver even rewinds its jitter buffer to them and freezes for two more seconds); on a
narrow link the same packet is sent again for every NACK that still lists it, which takes the
bottleneck from the live picture.

``RetransmitPolicy`` wraps one sender's retransmission (as ``RtcpTap`` wraps its RTCP): a packet
is sent again only while it is young enough to be displayed (``MAX_AGE_MS`` after it was
captured, by its RTP timestamp) and at most once per ``REPEAT_MS``; a packet that cannot be
repaired that way (too old, or gone from the history) asks the encoder for a keyframe at once,
instead of leaving the viewer to notice, ask, and wait a round trip more.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Awaitable, Callable

from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import RTP_HISTORY_SIZE, RtpPacket

#: A retransmission of a packet captured longer ago than this arrives after the viewer's
#: jitter buffer has given up on its frame: 300 ms covers a 200 ms round trip plus the buffer.
MAX_AGE_MS = 300.0
#: The same packet is not sent again sooner than this (a NACK lists every still-missing packet).
REPEAT_MS = 100.0
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
        sender._retransmit = self._retransmit  # type: ignore[method-assign]

    def _packet(self, sequence_number: int) -> RtpPacket | None:
        history: dict[int, RtpPacket] = self._sender._RTCRtpSender__rtp_history  # type: ignore[attr-defined]
        packet = history.get(sequence_number % RTP_HISTORY_SIZE)
        return packet if packet is not None and packet.sequence_number == sequence_number else None

    def _age_ms(self, packet: RtpPacket) -> float:
        newest: int = self._sender._RTCRtpSender__rtp_timestamp  # type: ignore[attr-defined]
        return ((newest - packet.timestamp) & 0xFFFFFFFF) * 1000 / _VIDEO_CLOCK_HZ

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
        if packet is None or self._age_ms(packet) > MAX_AGE_MS:
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

"""Pacing: a viewer's RTP leaves at a bounded rate instead of one burst per frame.

aiortc's sender writes all the packets of a frame back to back. A keyframe is many times a
P-frame (tens of kilobytes at 720p), so once a second the viewer's path receives a burst that a
bottleneck's queue cannot hold: on a 4 Mbit/s link with a 100 ms queue, ``medroom bench links``
saw the tail of the keyframes dropped, then resent a round trip later, and a freeze each time.
libwebrtc paces at 2.5 times the target bitrate; so does this, from the bitrate of the
renditions the viewer receives now (``rate_kbps``, asked at each packet, so a switch of
rendition changes the pace at once).

``Pacer`` wraps the viewer's DTLS transport's ``_send_rtp`` (every RTP packet of every sender of
the connection, retransmissions included, passes there): a packet waits until the pacing
budget has room, allowing a burst of ``BURST_MS``; RTCP is never held back. Retransmissions
(``urgent_ssrcs``: the senders' RTX streams) are not held either, as libwebrtc's pacer sends
them before media: a lost packet holds the viewer's picture until it is repaired, and aiortc
retransmits from inside its RTCP handler, so a retransmission held here would also hold every
RTCP packet behind it (``medroom bench links --trace`` measures the NACK-to-resend time). They
still count against the budget, so the media after them waits instead.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable, Iterable

from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import is_rtcp

PACE_FACTOR = 2.5
#: Sent at once before pacing holds packets back: a P-frame goes out unpaced.
BURST_MS = 10.0


class Pacer:
    """Holds a connection's RTP packets to ``PACE_FACTOR`` times ``rate_kbps()``."""

    def __init__(
        self, transport: RTCDtlsTransport, rate_kbps: Callable[[], float],
        urgent_ssrcs: Iterable[int] = (),
    ) -> None:
        self._rate_kbps = rate_kbps
        self._urgent = frozenset(urgent_ssrcs)
        self.urgent_sent = 0
        self._send: Callable[[bytes], Awaitable[None]] = transport._send_rtp
        self._free_at = 0.0  # loop time when everything handed over so far has left
        self.held_s = 0.0  # total time packets waited (for the benchmark)
        transport._send_rtp = self._send_rtp  # type: ignore[method-assign]

    async def _send_rtp(self, data: bytes) -> None:
        if not is_rtcp(data):
            now = asyncio.get_running_loop().time()
            bits_per_s = max(1.0, PACE_FACTOR * self._rate_kbps()) * 1000
            start = max(now, self._free_at)
            self._free_at = start + len(data) * 8 / bits_per_s
            if len(data) >= 12 and struct.unpack_from("!I", data, 8)[0] in self._urgent:
                self.urgent_sent += 1
                await self._send(data)
                return
            wait = start - now - BURST_MS / 1000
            if wait > 0:
                self.held_s += wait
                await asyncio.sleep(wait)
        await self._send(data)

"""Playout delay: a viewer on a lossy long link is asked to hold its frames one round trip.

Across a lossy link most repairs are one retransmission: the viewer NACKs, the packet comes
back a round trip later, and a viewer that shows frames as soon as they are complete shows
nothing meanwhile. At 80 ms round trip that is 120-170 ms between two frames, under the freeze
line; but one loss in fifty is repaired only by a second NACK (the first NACK or the
retransmission was lost too), 100 ms later by a browser's retry timer, and then the picture
stands still for 200-260 ms (``medroom bench links --trace`` shows each one). No sender-side
trick avoids that wait (aiortc has no FEC), so the viewer must hold frames long enough to hide
it; that costs the same delay on every frame.

libwebrtc's own answer is the RTT multiplier of its jitter estimator: once three frames were
NACKed in a minute it adds one round trip to its playout delay (behind a field trial). This does
the same from the sender's side, for every Chromium-based viewer: the ``playout-delay`` RTP
header extension (http://www.webrtc.org/experiments/rtp-hdrext/playout-delay, negotiated when
the viewer's offer lists it, as Chromium's does) carries a minimum playout delay, which Chromium
applies to its render timing. ``PlayoutDelay.observe`` sets it from the viewer's link figures:
``NACKS_TO_DELAY`` retransmitted packets within ``CLEAN_SECONDS`` (libwebrtc counts frames
delayed by a retransmission) switch it on at the round trip (at most ``MAX_DELAY_MS``),
``CLEAN_SECONDS`` without one switch it off. An outage does not: its NACKs are answered with a
keyframe, not retransmissions (``streaming.retransmit``). A
clean link (the room, a LAN) never gets any delay. Viewers that ignore the extension (Firefox)
are as before.
"""

from __future__ import annotations

import math
import struct
from collections import deque
from collections.abc import Callable

import aiortc.codecs
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import (
    HeaderExtensions,
    HeaderExtensionsMap,
    pack_header_extensions,
    unpack_header_extensions,
)

from streaming.viewer_stats import LinkStats

PLAYOUT_DELAY_URI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"
#: The id MedRoom offers it under (aiortc's own offers; an answer takes the offer's id). aiortc
#: uses 1-3 for mid, audio level and abs-send-time, shared across kinds under BUNDLE.
_OFFER_ID = 5
#: Units of the extension's two 12-bit fields.
_UNIT_MS = 10
#: The upper bound sent: Chromium's own default (no limit of ours on its jitter handling).
_MAX_FIELD = 0xFFF

NACKS_TO_DELAY = 3  # as libwebrtc's kNackLimit: three repaired packets ...
CLEAN_SECONDS = 60.0  # ... within a minute (its kNackCountTimeout) switch the delay on
#: Beyond one round trip (libwebrtc adds the round trip times 1). A repair by a second NACK
#: comes about 100 ms (a browser's retry timer) + one round trip after the frame was due; held
#: one round trip, the picture stands still for about 130-180 ms instead of 210-260.
MARGIN_MS = 0.0
#: The round trip assumed until the first measurement (libwebrtc's kDefaultRtt).
DEFAULT_RTT_MS = 100.0
#: Never more: with encode, pacing, the one-way delay and decode on top, glass-to-glass stays
#: within the round trip + 150 ms that counts as on time (a busy server's RTT reads high).
MAX_DELAY_MS = 120.0


def offer_playout_delay() -> None:
    """Let aiortc negotiate the extension for video (idempotent, process-wide)."""
    video = aiortc.codecs.HEADER_EXTENSIONS["video"]
    if not any(ext.uri == PLAYOUT_DELAY_URI for ext in video):
        video.append(RTCRtpHeaderExtensionParameters(id=_OFFER_ID, uri=PLAYOUT_DELAY_URI))


def pack_delay(min_ms: float, max_ms: float | None = None) -> bytes:
    """The extension's 3 bytes: min and max delay, 12 bits each, in 10 ms units."""
    low = min(_MAX_FIELD, max(0, math.ceil(min_ms / _UNIT_MS)))
    high = _MAX_FIELD if max_ms is None else min(_MAX_FIELD, max(low, math.ceil(max_ms / _UNIT_MS)))
    return struct.pack("!I", (low << 12) | high)[1:]


def unpack_delay(value: bytes) -> tuple[int, int]:
    """(min ms, max ms) of the extension's value."""
    word = struct.unpack("!I", b"\x00" + value[:3])[0]
    return (word >> 12) * _UNIT_MS, (word & _MAX_FIELD) * _UNIT_MS


class PlayoutDelayMap(HeaderExtensionsMap):
    """aiortc's header extension map, adding the playout delay to every packet once one was
    set (a frame's delay is read from its packets; every packet carries it, 4 bytes)."""

    def __init__(self) -> None:
        super().__init__()
        self.extension_id: int | None = None
        self.delay_ms = 0.0
        self._value = b""

    def configure(self, parameters: RTCRtpParameters) -> None:
        super().configure(parameters)
        for ext in parameters.headerExtensions:
            if ext.uri == PLAYOUT_DELAY_URI:
                self.extension_id = ext.id

    def set_delay(self, delay_ms: float) -> None:
        self.delay_ms = delay_ms
        if delay_ms > 0 or self._value:
            # Once sent, always sent: Chromium keeps the last delay a frame carried, so going
            # back to none takes an explicit zero.
            self._value = pack_delay(delay_ms)

    def set(self, values: HeaderExtensions) -> tuple[int, bytes]:
        profile, packed = super().set(values)
        if not self._value or self.extension_id is None:
            return profile, packed
        extensions = unpack_header_extensions(profile, packed) if packed else []
        extensions.append((self.extension_id, self._value))
        return pack_header_extensions(extensions)


class PlayoutDelay:
    """One viewer's playout delay: installed on its video sender before negotiation."""

    def __init__(self, sender: RTCRtpSender, repairs: Callable[[], int] | None = None) -> None:
        """``repairs``: how many packets the sender has retransmitted so far (the viewer's
        ``RetransmitPolicy``); without it, the NACKed packets in the link figures count."""
        offer_playout_delay()
        self._repairs = repairs
        self.map = PlayoutDelayMap()
        # The sender serialises every packet (retransmissions too) with this map.
        sender._RTCRtpSender__rtp_header_extensions_map = self.map  # type: ignore[attr-defined]
        self._nacked: deque[tuple[float, int]] = deque()  # (sampled at, NACKed since last)
        self._nacks_seen = 0

    @property
    def negotiated(self) -> bool:
        return self.map.extension_id is not None

    @property
    def delay_ms(self) -> float:
        return self.map.delay_ms

    def observe(self, stats: LinkStats) -> float:
        """Update the delay from a second's link figures; returns it (ms)."""
        # Repaired losses, not NACKs: after an outage the viewer NACKs hundreds of packets
        # that are not resent (a keyframe repairs a break), and holding frames would only
        # make the picture that comes back late.
        count = self._repairs() if self._repairs is not None else stats.nacks
        new = max(0, count - self._nacks_seen)
        self._nacks_seen = count
        now = stats.sampled_at
        if new:
            self._nacked.append((now, new))
        while self._nacked and now - self._nacked[0][0] > CLEAN_SECONDS:
            self._nacked.popleft()
        recent = sum(n for _, n in self._nacked)
        if recent >= NACKS_TO_DELAY:
            # aiortc knows the round trip only from a receiver report that answers its latest
            # sender report, seconds into a session on a long link: until then, libwebrtc's
            # default round trip.
            rtt_ms = DEFAULT_RTT_MS if stats.rtt_ms is None else stats.rtt_ms
            wanted = min(MAX_DELAY_MS, rtt_ms + MARGIN_MS)
            # Round up to the extension's unit; only grow while losses go on, so the
            # viewer's render timing is not pulled back and forth by the RTT's wobble.
            wanted = math.ceil(wanted / _UNIT_MS) * _UNIT_MS
            self.map.set_delay(max(self.map.delay_ms, wanted))
        elif not self._nacked:
            self.map.set_delay(0.0)
        return self.map.delay_ms

"""Playout delay on lossy long links, retransmissions ahead of the pacer, and the probe's model
of a browser's render timing."""

from __future__ import annotations

import asyncio
import itertools
import struct
from collections.abc import Iterator

import numpy as np
import pytest
from aiortc import RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import RtpPacket

from streaming.ice import set_ice_addresses
from streaming.latency import (
    PlayoutModel,
    PlayoutReadingMap,
    RepeatingNackGenerator,
    read_playout_delay,
    use_marker_bit_frames,
)
from streaming.pacing import Pacer
from streaming.playout import (
    MAX_DELAY_MS,
    PLAYOUT_DELAY_URI,
    PlayoutDelay,
    PlayoutDelayMap,
    offer_playout_delay,
)
from streaming.viewer_stats import LinkStats
from streaming.whep import ViewerSessions
from tests.streaming.feeds import broadcast_of, client

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"


def _stats(at: float, nacks: int, rtt_ms: float | None = 80.0) -> LinkStats:
    return LinkStats(rtt_ms=rtt_ms, fps=30.0, bitrate_kbps=2000.0, fraction_lost=0.0,
                     packets_lost=0, packets_sent=0, nacks=nacks, keyframe_requests=0,
                     remb_kbps=None, sampled_at=at)


class _Sender:
    """Just what PlayoutDelay touches on aiortc's sender: its header extension map."""

    _RTCRtpSender__rtp_header_extensions_map = None


def _parameters(*uris: str) -> RTCRtpParameters:
    return RTCRtpParameters(headerExtensions=[
        RTCRtpHeaderExtensionParameters(id=i + 1, uri=uri) for i, uri in enumerate(uris)
    ])


def test_a_clean_link_gets_no_delay_a_lossy_one_a_round_trip_until_a_clean_minute() -> None:
    playout = PlayoutDelay(_Sender())  # type: ignore[arg-type]
    playout.map.configure(_parameters(MID_URI, PLAYOUT_DELAY_URI))
    assert playout.negotiated
    # A link whose losses are rare (two NACKed packets in a minute): no delay, none sent.
    assert playout.observe(_stats(0, 0)) == 0
    assert playout.observe(_stats(1, 2)) == 0
    assert playout.map._value == b""
    # A third one within the minute: the round trip, in 10 ms units; before the first
    # measurement of it, libwebrtc's default (100 ms).
    assert playout.observe(_stats(30, 3, rtt_ms=None)) == 100
    playout.map.set_delay(0)
    assert playout.observe(_stats(30, 3, rtt_ms=84)) == 90
    # It only grows while losses go on (a longer round trip), never above the cap.
    assert playout.observe(_stats(31, 5, rtt_ms=60)) == 90
    assert playout.observe(_stats(31, 6, rtt_ms=97)) == 100
    assert playout.observe(_stats(32, 8, rtt_ms=400)) == MAX_DELAY_MS
    # A minute without a NACK: back to none, said explicitly (Chromium keeps the last value).
    assert playout.observe(_stats(93, 8)) == 0
    assert playout.map._value == b"\x00\x0f\xff"


def test_an_outage_repaired_by_a_keyframe_asks_for_no_delay_retransmissions_do() -> None:
    resent = [0]
    playout = PlayoutDelay(_Sender(), lambda: resent[0])  # type: ignore[arg-type]
    # 600 packets NACKed after an outage, none of them resent (a keyframe repairs it).
    assert playout.observe(_stats(0, 0)) == 0
    assert playout.observe(_stats(1, 600)) == 0
    resent[0] = 3  # three losses repaired by retransmission
    assert playout.observe(_stats(2, 603)) == 80


def test_the_delay_travels_in_the_packets_and_a_receiver_reads_it() -> None:
    sending = PlayoutDelayMap()
    sending.configure(_parameters(MID_URI, PLAYOUT_DELAY_URI))
    sending.set_delay(100)
    packet = RtpPacket(payload_type=96, sequence_number=7, timestamp=90_000)
    packet.extensions.mid = "0"
    packet.payload = b"\x65" * 20
    data = packet.serialize(sending)

    receiving = PlayoutReadingMap()
    receiving.configure(_parameters(MID_URI, PLAYOUT_DELAY_URI))
    back = RtpPacket.parse(data, receiving)
    assert back.extensions.mid == "0"  # aiortc's own extensions are untouched
    assert back.extensions.playout_delay[0] == 100  # type: ignore[attr-defined]

    # Not negotiated (a viewer whose offer lacks it, Firefox): never sent.
    plain = PlayoutDelayMap()
    plain.configure(_parameters(MID_URI))
    plain.set_delay(100)
    assert RtpPacket.parse(packet.serialize(plain), receiving).extensions.mid == "0"
    assert not hasattr(RtpPacket.parse(packet.serialize(plain), receiving).extensions,
                       "playout_delay")


class _Transport:
    def __init__(self) -> None:
        self.sent: list[tuple[float, int]] = []

    async def _send_rtp(self, data: bytes) -> None:
        self.sent.append((asyncio.get_running_loop().time(), struct.unpack_from("!I", data, 8)[0]))


def _rtp(ssrc: int, size: int) -> bytes:
    return bytes([0x80, 96, 0, 1, 0, 0, 0, 0]) + struct.pack("!I", ssrc) + bytes(size)


async def test_a_retransmission_is_not_held_behind_paced_media() -> None:
    transport = _Transport()
    # 2.5 x 40 kbit/s: a 1200-byte packet takes 96 ms of budget.
    pacer = Pacer(transport, lambda: 40.0, urgent_ssrcs={222})  # type: ignore[arg-type]
    media = [asyncio.create_task(transport._send_rtp(_rtp(111, 1200))) for _ in range(3)]
    await asyncio.sleep(0.01)
    began = asyncio.get_running_loop().time()
    await transport._send_rtp(_rtp(222, 1200))  # the retransmission leaves at once
    assert asyncio.get_running_loop().time() - began < 0.02
    assert [ssrc for _, ssrc in transport.sent] == [111, 222]  # ahead of the held media
    await asyncio.gather(*media)
    assert [ssrc for _, ssrc in transport.sent] == [111, 222, 111, 111]
    assert pacer.urgent_sent == 1 and pacer.held_s > 0.1  # the media waited for its budget


def test_a_repair_shorter_than_the_playout_delay_is_no_freeze() -> None:
    """Frames every 33 ms decoded 60 ms after their RTP time, one of them 150 ms late (a
    retransmission), the ones after it waiting for it (they depend on it)."""

    def shown(delay_ms: float) -> list[float]:
        model = PlayoutModel()
        times = []
        for i in range(200):
            media = i / 30
            decoded = media + 0.060
            if i in range(150, 155):  # frame 150 repaired 150 ms late, 151-154 behind it
                decoded = max(decoded, 150 / 30 + 0.060 + 0.150)
            times.append(model.show_at(decoded, media, delay_ms))
        return times

    def worst_gap(times: list[float]) -> float:
        return max(b - a for a, b in itertools.pairwise(times[100:]))

    # Shown when decoded: the repair is a 183 ms stand-still.
    assert worst_gap(shown(0)) == pytest.approx(0.183, abs=0.002)
    # Held 100 ms (reached after the first seconds' ramp): the same repair costs 83 ms.
    held = shown(100)
    assert worst_gap(held) == pytest.approx(0.083, abs=0.005)
    assert held[120] - (120 / 30 + 0.060) == pytest.approx(0.100, abs=0.002)  # the delay


@pytest.fixture
def loopback_only() -> Iterator[None]:
    set_ice_addresses(["127.0.0.1"])
    yield
    set_ice_addresses([])


def _moving(width: int = 320, height: int = 240) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2] = (0, 200, 255)
    return image


async def test_a_viewer_is_asked_for_the_delay_and_a_browser_like_receiver_reads_it(
    loopback_only: None,
) -> None:
    offer_playout_delay()  # as Chromium: the offer lists the extension
    broadcast, outputs = broadcast_of({"program": (_moving, 320, 240)}, bitrate_kbps=300)
    await broadcast.go_on_air()
    sessions = ViewerSessions()
    pc = client()
    try:
        with use_marker_bit_frames():
            transceiver = pc.addTransceiver("video", direction="recvonly")
        delay = read_playout_delay(transceiver.receiver)
        await pc.setLocalDescription(await pc.createOffer())
        assert PLAYOUT_DELAY_URI in pc.localDescription.sdp
        viewer, answer = await sessions.join(
            feed=broadcast, offer_sdp=pc.localDescription.sdp,
            selection=broadcast.choose(None, None), subject="s", role="student", user_id=None,
        )
        assert PLAYOUT_DELAY_URI in answer
        viewer.playout[0].map.set_delay(100)  # what three NACKs at 80 ms round trip give
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        track = transceiver.receiver.track
        for _ in range(10):
            try:
                await asyncio.wait_for(track.recv(), 10)
            except MediaStreamError:
                break
        assert viewer.playout[0].negotiated
        assert delay() == 100
    finally:
        await pc.close()
        await sessions.stop()
        await broadcast.go_off_air()
        await outputs.stop_all()


def test_the_probe_nacks_like_libwebrtc_each_packet_again_after_100_ms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr("streaming.latency.time.monotonic", lambda: now[0])
    nacks = RepeatingNackGenerator()

    def arrive(seq: int, at: float) -> list[int] | None:
        now[0] = 100.0 + at
        return sorted(nacks.missing) if nacks.add(RtpPacket(sequence_number=seq)) else None

    assert arrive(10, 0.000) is None
    assert arrive(12, 0.001) == [11]  # NACKed as soon as a later packet shows it missing
    assert arrive(13, 0.050) is None  # its retransmission may be on the way
    assert arrive(16, 0.060) == [14, 15]  # a new loss: only the new packets are listed
    assert arrive(17, 0.102) == [11]  # 11 is still missing a round trip after its NACK
    assert arrive(11, 0.120) is None  # repaired
    assert arrive(18, 0.170) == [14, 15]
    assert arrive(15, 0.180) is None
    asked = [arrive(19 + i, 0.280 + 0.105 * i) for i in range(12)]
    assert asked[:8] == [[14]] * 8 and asked[8:] == [None] * 4  # ten NACKs in all, then no more

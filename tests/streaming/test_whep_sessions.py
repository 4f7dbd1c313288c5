"""Real peer connections on loopback: viewers receive the shared encoder's packets."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from streaming.ice import set_ice_addresses
from streaming.whep import CodecError, OfferError, ViewerSessions, check_offer
from tests.streaming.feeds import broadcast_of, client


def moving_frame() -> np.ndarray:
    image = np.zeros((720, 1280, 3), np.uint8)
    x = int(time.monotonic() * 200) % 1200
    image[:, x : x + 80] = (40, 200, 255)
    return image


@pytest.fixture(autouse=True)
def loopback_only():
    set_ice_addresses(["127.0.0.1"])
    yield
    set_ice_addresses([])


async def offer_from_client() -> tuple[RTCPeerConnection, str]:
    pc = client()
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def decode_frames(pc: RTCPeerConnection, answer: str, want: int, timeout: float):
    """Apply the answer and decode frames; return (frames, seconds to first frame)."""
    got_track: asyncio.Future = asyncio.get_running_loop().create_future()
    pc.on("track", lambda track: got_track.set_result(track) if not got_track.done() else None)
    started = time.monotonic()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    track = await asyncio.wait_for(got_track, timeout)
    frames = []
    first = None
    deadline = started + timeout
    while len(frames) < want and time.monotonic() < deadline:
        try:
            frame = await asyncio.wait_for(track.recv(), deadline - time.monotonic())
        except (TimeoutError, MediaStreamError):
            break
        if first is None:
            first = time.monotonic() - started
        frames.append(frame)
    return frames, first


async def test_viewers_decode_shared_packets_and_late_joiner_starts_fast():
    broadcast, outputs = broadcast_of({"program": (moving_frame, 1280, 720)}, gop_seconds=10.0)
    encoder = (await broadcast.go_on_air()).program.encoder
    left: list[str] = []

    async def record_leave(viewer: object, reason: str) -> None:
        left.append(reason)

    sessions = ViewerSessions(on_leave=record_leave)
    selection = broadcast.choose(None, None)
    try:
        client1, offer1 = await offer_from_client()
        _viewer1, answer1 = await sessions.join(
            feed=broadcast, offer_sdp=offer1, selection=selection, subject="s1",
            role="student", user_id=None,
        )
        assert "H264" in answer1 and "VP8" not in answer1
        frames, _ = await decode_frames(client1, answer1, want=60, timeout=15)
        assert len(frames) >= 60
        assert (frames[-1].width, frames[-1].height) == (1280, 720)

        # A second viewer joins mid-GOP (10 s GOP): its keyframe request must be honoured.
        await asyncio.sleep(2)
        client2, offer2 = await offer_from_client()
        viewer2, answer2 = await sessions.join(
            feed=broadcast, offer_sdp=offer2, selection=selection, subject="s2",
            role="student", user_id=None,
        )
        frames2, first = await decode_frames(client2, answer2, want=5, timeout=10)
        assert len(frames2) == 5
        assert first is not None and first < 1.0, f"first frame after {first:.2f}s"
        assert encoder.stats().frames_encoded > 0
        assert len(sessions.in_room("demo")) == 2

        assert await sessions.leave(viewer2.id, reason="DELETE")
        assert not await sessions.leave(viewer2.id, reason="DELETE")
        assert left == ["DELETE"]
        assert encoder.stats().subscribers == 1
        await client1.close()
        await client2.close()
    finally:
        await sessions.close_all("test over")
        await outputs.stop_all()
    assert encoder.stats().subscribers == 0


@pytest.mark.parametrize(
    "sdp, message",
    [
        ("hello", "must start with 'v=0'"),
        (("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
          "a=ice-ufrag:x\r\na=rtpmap:111 opus/48000/2\r\n"), "no video section"),
    ],
)
def test_bad_offers_are_refused_with_a_reason(sdp, message):
    with pytest.raises(OfferError, match=message):
        check_offer(sdp)


def test_offer_without_h264_or_vp8_names_the_codec():
    sdp = (
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
        "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=rtpmap:96 VP9/90000\r\n"
        "a=rtpmap:97 rtx/90000\r\na=rtpmap:98 AV1/90000\r\n"
    )
    with pytest.raises(CodecError, match="video lists VP9, AV1 but neither H.264 nor VP8"):
        check_offer(sdp)
    bare = sdp.split("a=rtpmap")[0]
    with pytest.raises(CodecError, match="no codec at all"):
        check_offer(bare)


def test_an_offer_with_more_media_lines_than_a_viewer_needs_is_refused():
    line = "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\n"
    sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=ice-ufrag:abcd\r\n" + line * 200
    with pytest.raises(OfferError, match="200 media lines; a viewer may ask for at most 16"):
        check_offer(sdp)


async def test_a_malformed_connection_line_is_refused_with_a_reason():
    broadcast, outputs = broadcast_of({"program": (moving_frame, 320, 180)})
    sessions = ViewerSessions()
    pc, offer = await offer_from_client()
    broken = offer.replace("c=IN IP4", "c=IN IP4 ", 1).replace("c=IN IP4 ", "c=IN", 1)
    try:
        with pytest.raises(OfferError) as refused:
            await sessions.join(
                feed=broadcast, offer_sdp=broken, selection=broadcast.choose(None, None),
                subject="s", role="student", user_id=None,
            )
        assert "malformed connection line 'c=IN 127.0.0.1'" in str(refused.value)
        assert outputs.running() == []  # nothing leased for a refused offer
    finally:
        await pc.close()
        await sessions.close_all("test over")
        await outputs.stop_all()


@pytest.mark.parametrize("mangle, reason", [
    (("packetization-mode=1", "packetization-mode=0"), "packetization-mode=0"),
    (("profile-level-id=42", "profile-level-id=64"), "(high profile)"),
])
async def test_an_h264_offer_medroom_cannot_send_is_refused_with_the_parameter_named(
    mangle: tuple[str, str], reason: str,
) -> None:
    """A real client's H.264-only offer whose format parameters aiortc cannot match: refused
    before anything is leased, naming the parameter (not aiortc's "Failed to set remote video
    description send parameters"); with VP8 beside it, the viewer gets VP8 instead."""
    from aiortc.rtcrtpreceiver import RTCRtpReceiver

    broadcast, outputs = broadcast_of({"program": (moving_frame, 320, 180)})
    sessions = ViewerSessions()
    pc = client()
    transceiver = pc.addTransceiver("video", direction="recvonly")
    codecs = RTCRtpReceiver.getCapabilities("video").codecs
    transceiver.setCodecPreferences([c for c in codecs if c.mimeType != "video/VP8"])
    await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp.replace(*mangle)
    try:
        with pytest.raises(CodecError) as refused:
            await sessions.join(
                feed=broadcast, offer_sdp=offer, selection=broadcast.choose(None, None),
                subject="s", role="student", user_id=None,
            )
        assert reason in str(refused.value)
        assert "packetization-mode=1" in str(refused.value), refused.value
        assert "42e01f" in str(refused.value)
        assert outputs.running() == [] and sessions.all() == []
        vp8 = offer.replace("a=rtpmap:", "a=rtpmap:96 VP8/90000\r\na=rtpmap:", 1)
        assert check_offer(vp8) == "vp8"
    finally:
        await pc.close()
        await outputs.stop_all()

"""VP8 for viewers whose browser has no H.264 (Firefox without its OpenH264 plugin).

Real aiortc clients on loopback: one that offers only VP8 decodes the picture; the VP8 output
is encoded once, only while such a viewer holds it, and an H.264 viewer beside it costs no
extra encode.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from aiortc import RTCPeerConnection
from aiortc.rtcrtpsender import RTCRtpSender

from streaming.encoder import H264, VP8
from streaming.outputs import OutputKey
from streaming.whep import CodecError, ViewerSessions, check_offer
from tests.streaming.feeds import broadcast_of, client
from tests.streaming.test_whep_sessions import decode_frames, moving_frame, offer_from_client

pytestmark = pytest.mark.usefixtures("loopback_only")


def small_frame() -> np.ndarray:
    # The bar moves within the 640 columns: a crop of the 1280-wide frame lost it half the time.
    image = np.zeros((360, 640, 3), np.uint8)
    x = int(time.monotonic() * 200) % 560
    image[:, x : x + 80] = (40, 200, 255)
    return image


async def vp8_only_offer() -> tuple[RTCPeerConnection, str]:
    """An offer as Firefox without OpenH264 makes it: video in VP8 (and its retransmission)."""
    pc = client()
    transceiver = pc.addTransceiver("video", direction="recvonly")
    transceiver.setCodecPreferences([
        c for c in RTCRtpSender.getCapabilities("video").codecs
        if c.mimeType.lower() in ("video/vp8", "video/rtx")
    ])
    await pc.setLocalDescription(await pc.createOffer())
    assert "H264" not in pc.localDescription.sdp
    return pc, pc.localDescription.sdp


async def test_a_viewer_without_h264_decodes_vp8_encoded_only_while_it_watches():
    broadcast, outputs = broadcast_of({"program": (small_frame, 640, 360)}, bitrate_kbps=600)
    await broadcast.go_on_air()
    sessions = ViewerSessions()
    selection = broadcast.choose(None, None)
    program = OutputKey("demo", "program")
    vp8 = OutputKey("demo", "program", codec=VP8)
    firefox, offer = await vp8_only_offer()
    chrome, chrome_offer = await offer_from_client()
    try:
        assert outputs.running() == [program]  # on air: the H.264 program only
        viewer, answer = await sessions.join(
            feed=broadcast, offer_sdp=offer, selection=selection, subject="ff",
            role="student", user_id=None,
        )
        assert viewer.codec == VP8
        assert "VP8/90000" in answer and "H264" not in answer
        assert outputs.running() == [program, vp8]
        frames, first = await decode_frames(firefox, answer, want=30, timeout=15)
        assert len(frames) == 30, f"{len(frames)} VP8 frames decoded"
        assert (frames[-1].width, frames[-1].height) == (640, 360)
        assert first is not None and first < 3.0, f"first VP8 frame after {first:.2f} s"
        # The picture is the room's: the moving bar is in the decoded frame.
        image = frames[-1].to_ndarray(format="bgr24")
        assert image.max() > 150 and image.mean() < 100

        # An H.264 viewer beside it shares the program: no encode added.
        other, other_answer = await sessions.join(
            feed=broadcast, offer_sdp=chrome_offer, selection=selection, subject="chrome",
            role="student", user_id=None,
        )
        assert other.codec == H264 and "H264" in other_answer and "VP8" not in other_answer
        assert outputs.running() == [program, vp8]
        assert outputs.holders(program) == 2 and outputs.holders(vp8) == 1
        h264_frames, _ = await decode_frames(chrome, other_answer, want=10, timeout=15)
        assert len(h264_frames) == 10

        # The VP8 viewer leaves: nobody needs VP8 any more, so it is no longer encoded.
        assert await sessions.leave(viewer.id, reason="DELETE")
        assert outputs.running() == [program]
    finally:
        await firefox.close()
        await chrome.close()
        await sessions.close_all("test over")
        await outputs.stop_all()


async def test_vp8_viewers_share_one_encode_late_joiners_start_fast_and_switch():
    # A 10 s keyframe interval: a late joiner sees a picture only if its request is served.
    broadcast, outputs = broadcast_of({"program": (moving_frame, 1280, 720)}, gop_seconds=10.0)
    sessions = ViewerSessions()
    selection = broadcast.choose(None, None)
    pcs = []
    try:
        viewers = []
        for name in ("a", "b"):
            pc, offer = await vp8_only_offer()
            pcs.append(pc)
            viewer, answer = await sessions.join(
                feed=broadcast, offer_sdp=offer, selection=selection, subject=name,
                role="student", user_id=None,
            )
            viewers.append(viewer)
            frames, first = await decode_frames(pc, answer, want=5, timeout=15)
            assert len(frames) == 5 and (frames[-1].width, frames[-1].height) == (1280, 720)
            assert first is not None and first < 1.5, f"{name}: first frame after {first:.2f} s"
        vp8 = OutputKey("demo", "program", codec=VP8)
        assert outputs.running() == [vp8] and outputs.holders(vp8) == 2
        viewer = viewers[0]

        # The quality controller's move down works in VP8: the 360p VP8 output, at a keyframe.
        assert await sessions.switch_quality(viewer, "360p")
        assert viewer.rendition == "360p"
        assert set(outputs.running()) == {vp8, OutputKey("demo", "program", "360p", VP8)}
        track = pcs[0].getTransceivers()[0].receiver.track
        heights = []
        for _ in range(60):
            heights.append((await track.recv()).height)
            if heights[-1] == 360:
                break
        assert heights[-1] == 360, heights
    finally:
        for pc in pcs:
            await pc.close()
        await sessions.close_all("test over")
        await outputs.stop_all()
    assert outputs.running() == []


async def test_vp8_starts_at_its_top_rung_when_the_view_is_larger():
    """VP8 costs more to encode: a 1080p view is sent in VP8 at 720p at most."""
    broadcast, outputs = broadcast_of({"program": (lambda: np.zeros((1080, 1920, 3), np.uint8),
                                                   1920, 1080)}, bitrate_kbps=4000)
    sessions = ViewerSessions()
    pc, offer = await vp8_only_offer()
    try:
        viewer, _ = await sessions.join(
            feed=broadcast, offer_sdp=offer, selection=broadcast.choose(None, "1080p"),
            subject="ff", role="student", user_id=None,
        )
        assert viewer.rendition == "720p" and viewer.pinned
        assert outputs.running() == [OutputKey("demo", "program", "720p", VP8)]
        assert [r.name for r in broadcast.renditions("program", VP8)] == ["720p", "360p"]
    finally:
        await pc.close()
        await sessions.close_all("test over")
        await outputs.stop_all()


def test_offer_codecs_choose_h264_then_vp8_and_refusals_name_both():
    head = ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
            "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n")
    vp8 = "a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n"
    h264 = ("a=rtpmap:100 H264/90000\r\n"
            "a=fmtp:100 packetization-mode=1;profile-level-id=42e01f\r\n")
    assert check_offer(head + vp8) == VP8
    assert check_offer(head + vp8 + h264) == H264
    with pytest.raises(CodecError) as refused:
        check_offer(head + "a=rtpmap:98 VP9/90000\r\na=rtpmap:99 AV1/90000\r\n")
    assert str(refused.value) == (
        "the offer's video lists VP9, AV1 but neither H.264 nor VP8; MedRoom sends H.264 "
        "(constrained baseline) or VP8: enable one of them in the client"
    )


def test_bench_vp8_prints_cores_per_output_and_the_ratio(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from web.cli import main

    assert main(["bench", "vp8", "--seconds", "0"]) == 2
    assert main(["bench", "vp8", "--seconds", "1", "--fps", "15"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out.strip().splitlines()[-1])
    rows = {(r["rendition"], r["codec"]): r for r in report["outputs"]}
    assert set(rows) == {(rung, codec) for rung in ("1080p", "720p", "360p")
                         for codec in (H264, VP8)}
    for row in rows.values():
        assert row["cores"] > 0 and row["cpu_ms_per_frame"] > 0
        assert row["fps"] > 0 and row["kbps"] > 0
    assert set(report["vp8_over_h264"]) == {"1080p", "720p", "360p"}
    assert report["vp8_ladder"] == ["720p", "360p"]
    assert "VP8 / H.264 cores:" in out

"""Renditions: the ladder, the controller's decisions, and a lossy viewer moved down for real."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiortc import RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from streaming.renditions import QualityController, find, ladder
from streaming.turn import _ice_connection
from streaming.viewer_stats import LinkStats
from streaming.whep import ViewerSessions
from tests.streaming.feeds import broadcast_of
from tests.streaming.test_whep_sessions import moving_frame, offer_from_client

pytestmark = pytest.mark.usefixtures("loopback_only")


def test_ladder_follows_the_output_size():
    assert [(r.name, r.width, r.height, r.bitrate_kbps) for r in ladder(1920, 1080, 5000)] == [
        ("1080p", 1920, 1080, 5000), ("720p", 1280, 720, 2000), ("360p", 640, 360, 600)]
    assert [r.name for r in ladder(1280, 720, 2000)] == ["720p", "360p"]
    assert [(r.name, r.width) for r in ladder(512, 512, 2000)] == [("512p", 512), ("360p", 360)]
    with pytest.raises(LookupError, match="qualities: 720p, 360p"):
        find(ladder(1280, 720, 2000), "1080p")


def stats(loss: float = 0.0, remb: float | None = None) -> LinkStats:
    return LinkStats(rtt_ms=10, fps=30, bitrate_kbps=2000, fraction_lost=loss, packets_lost=0,
                     packets_sent=0, nacks=0, keyframe_requests=0, remb_kbps=remb, sampled_at=0)


def test_controller_moves_down_on_sustained_loss_and_up_after_a_clean_stretch():
    controller = QualityController(ladder(1280, 720, 2000), "720p")
    assert controller.observe(stats(0.2)) is None
    assert controller.observe(stats(0.2)) is None
    down = controller.observe(stats(0.2))
    assert down is not None and down.name == "360p"
    controller.moved_to("360p")
    assert controller.observe(stats(0.3)) is None  # nothing lower: stays
    for _ in range(9):
        assert controller.observe(stats(0.0)) is None
    up = controller.observe(stats(0.0))
    assert up is not None and up.name == "720p"
    # A bandwidth estimate below what the rendition needs, with a little loss, counts as a bad
    # second; alone (a browser's estimate ramping up) it does not. Pinned never moves.
    controller.moved_to("720p")
    assert all(controller.observe(stats(0, remb=300)) is None for _ in range(5))
    assert [controller.observe(stats(0.02, remb=900)) for _ in range(3)][-1].name == "360p"
    pinned = QualityController(ladder(1280, 720, 2000), "360p", pinned=True)
    assert all(pinned.observe(stats(0.5)) is None for _ in range(5))


async def test_a_viewer_losing_packets_is_moved_down_without_a_freeze():
    broadcast, outputs = broadcast_of({"program": (moving_frame, 1280, 720)})
    sessions = ViewerSessions(stats_interval=1.0)
    sessions.start()
    client, offer = await offer_from_client()
    try:
        viewer, answer = await sessions.join(
            feed=broadcast, offer_sdp=offer, selection=broadcast.choose(None, None),
            subject="s", role="student", user_id=None,
        )
        assert viewer.rendition == "720p" and not viewer.pinned
        got: asyncio.Future = asyncio.get_running_loop().create_future()
        client.on("track", lambda t: got.done() or got.set_result(t))
        await client.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        track = await asyncio.wait_for(got, 20)
        # The test's receiver is behind a lossy link: a quarter of the datagrams never arrive.
        connection = _ice_connection(client)
        keep = connection.data_received
        counter = iter(range(10**9))
        connection.data_received = lambda data, component: (
            None if next(counter) % 4 == 0 else keep(data, component)
        )
        sizes: list[tuple[float, int]] = []
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            try:
                frame = await asyncio.wait_for(track.recv(), deadline - time.monotonic())
            except (TimeoutError, MediaStreamError):
                break
            sizes.append((time.monotonic(), frame.height))
            if viewer.rendition == "360p" and sum(h == 360 for _, h in sizes) >= 10:
                break
        assert viewer.rendition == "360p", (viewer.rendition, viewer.stats)
        assert viewer.stats is not None and viewer.stats.packets_lost > 0
        heights = [h for _, h in sizes]
        assert 720 in heights and heights[-1] == 360
        switch_at = next(i for i, h in enumerate(heights) if h == 360)
        assert all(h == 360 for h in heights[switch_at:])  # one cut-over, no flapping
        # No freeze at the cut-over: frames keep coming (a lossy link loses some).
        gap = sizes[switch_at][0] - sizes[switch_at - 1][0]
        assert gap < 1.5, f"{gap:.2f} s without a frame at the switch"
        # 720p released: nobody holds it, so it is no longer encoded.
        assert [str(key) for key in outputs.running()] == ["demo/program@360p"]
    finally:
        await client.close()
        await sessions.stop()
        await outputs.stop_all()

"""Per-viewer link figures from real aiortc peers on loopback: RTT, frame rate, loss, NACKs."""

from __future__ import annotations

import asyncio
import time

import pytest

from streaming.whep import ViewerSessions
from tests.streaming.feeds import broadcast_of
from tests.streaming.test_whep_sessions import decode_frames, moving_frame, offer_from_client

pytestmark = pytest.mark.usefixtures("loopback_only")


async def test_a_receiving_viewer_reports_rtt_and_source_frame_rate():
    broadcast, outputs = broadcast_of({"program": (moving_frame, 640, 360)})
    encoder = (await broadcast.go_on_air()).program.encoder
    sessions = ViewerSessions(stats_interval=1.0)
    sessions.start()
    client, offer = await offer_from_client()
    try:
        viewer, answer = await sessions.join(
            feed=broadcast, offer_sdp=offer, selection=broadcast.choose(None, None),
            subject="s1", role="student", user_id=None,
        )
        assert viewer.rendition == "360p"
        # Keep the client reading (decoding) while the server samples its link.
        reading = asyncio.create_task(decode_frames(client, answer, want=10_000, timeout=12))
        deadline = time.monotonic() + 12
        stats = None
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            stats = viewer.stats
            if stats is not None and stats.rtt_ms is not None and stats.fps > 0:
                # let a few more seconds pass so the frame rate covers a steady interval
                await asyncio.sleep(2.5)
                stats = viewer.stats
                break
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
        assert stats is not None and stats.rtt_ms is not None, stats
        assert 0 < stats.rtt_ms < 500, stats
        # 30 fps at the source; a shared 2-core machine may lose a few, never most.
        assert 20 <= stats.fps <= 36, stats
        assert stats.bitrate_kbps > 50, stats
        assert stats.fraction_lost == 0 and stats.packets_lost == 0, stats
        assert stats.packets_sent > 0
    finally:
        await client.close()
        await sessions.stop()
        await outputs.stop_all()
    assert encoder.stats().subscribers == 0

"""Garbage datagrams sent to a viewer's port from another socket leave its video running.

Every kind at once: empty datagrams (which used to close the connection inside aiortc's DTLS
transport), fake SRTCP/SRTP, fake DTLS records, fake STUN and random bytes.
"""

from __future__ import annotations

import asyncio
import random
import re
import socket
import time

import pytest
from aiortc import RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from streaming.whep import ViewerSessions
from tests.streaming.feeds import broadcast_of
from tests.streaming.test_whep_sessions import moving_frame, offer_from_client
from tests.web.test_whep_abuse import _garbage, _server_port

pytestmark = pytest.mark.usefixtures("loopback_only")


async def _count_frames(track, seconds: float) -> int:  # type: ignore[no-untyped-def]
    frames, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            await asyncio.wait_for(track.recv(), deadline - time.monotonic())
        except (TimeoutError, MediaStreamError):
            break
        frames += 1
    return frames


@pytest.mark.parametrize("kind", ["empty", "mixed"])
async def test_garbage_to_the_servers_port_does_not_disturb_the_viewer(kind: str) -> None:
    broadcast, outputs = broadcast_of({"program": (moving_frame, 320, 180)})
    await broadcast.go_on_air()
    sessions = ViewerSessions()
    client, offer = await offer_from_client()
    try:
        got_track: asyncio.Future = asyncio.get_running_loop().create_future()
        client.on("track", lambda t: got_track.done() or got_track.set_result(t))
        viewer, answer = await sessions.join(
            feed=broadcast, offer_sdp=offer, selection=broadcast.choose(None, None),
            subject="s", role="student", user_id=None,
        )
        await client.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        track = await asyncio.wait_for(got_track, 20)
        assert re.search(r"typ host", answer)
        port = _server_port(answer)
        calm = await _count_frames(track, 3)
        rng = random.Random(3)
        datagrams = [b"" if kind == "empty" else _garbage(rng) for _ in range(300)]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as attacker:

            async def attack() -> int:
                sent, deadline = 0, time.monotonic() + 3
                while time.monotonic() < deadline:
                    for _ in range(40):
                        attacker.sendto(datagrams[sent % len(datagrams)], ("127.0.0.1", port))
                        sent += 1
                    await asyncio.sleep(0.02)
                return sent

            sending = asyncio.create_task(attack())
            during = await _count_frames(track, 3)
            sent = await sending
        assert sent > 1000
        assert calm >= 30, calm
        assert during >= 0.75 * calm, f"{during} frames with garbage, {calm} without"
        assert viewer.connection_state == "connected"
        assert sessions.get(viewer.id) is viewer
    finally:
        await client.close()
        await sessions.close_all("test over")
        await outputs.stop_all()

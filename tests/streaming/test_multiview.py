"""Multi-view: one peer connection, several video lines, a different shared output on each."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from aiortc import RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from streaming.whep import ViewerSessions
from tests.streaming.feeds import broadcast_of, client

pytestmark = pytest.mark.usefixtures("loopback_only")

# BGR colours and sizes that tell the three outputs apart.
OUTPUTS = {
    "program": ((40, 40, 220), (1280, 720)),  # red
    "endoscope": ((40, 200, 40), (640, 480)),  # green
    "ct": ((220, 40, 40), (512, 512)),  # blue
}


def solid(colour: tuple[int, int, int], size: tuple[int, int]):  # type: ignore[no-untyped-def]
    image = np.zeros((size[1], size[0], 3), np.uint8)
    image[:] = colour
    return lambda: image


async def test_three_video_lines_receive_program_endoscope_and_ct():
    broadcast, outputs = broadcast_of(
        {name: (solid(colour, size), *size) for name, (colour, size) in OUTPUTS.items()},
        fps=15,
    )
    sessions = ViewerSessions()
    pc = client()
    try:
        transceivers = [pc.addTransceiver("video", direction="recvonly") for _ in range(3)]
        await pc.setLocalDescription(await pc.createOffer())
        viewer, answer = await sessions.join(
            feed=broadcast, offer_sdp=pc.localDescription.sdp,
            selection=broadcast.choose(None, None), subject="s", role="student", user_id=None,
        )
        assert viewer.views == ["program", "endoscope", "ct"]
        assert answer.count("m=video") == 3 and answer.count("a=sendonly") == 3
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

        async def first_frames(track):  # type: ignore[no-untyped-def]
            frames = []
            deadline = time.monotonic() + 20
            while len(frames) < 5 and time.monotonic() < deadline:
                try:
                    frames.append(await asyncio.wait_for(track.recv(), deadline - time.monotonic()))
                except (TimeoutError, MediaStreamError):
                    break
            return frames

        received = await asyncio.gather(*(first_frames(t.receiver.track) for t in transceivers))
        for name, frames in zip(["program", "endoscope", "ct"], received, strict=True):
            assert len(frames) == 5, name
            frame = frames[-1]
            colour, size = OUTPUTS[name]
            assert (frame.width, frame.height) == size, name
            mean_bgr = frame.to_ndarray(format="bgr24").reshape(-1, 3).mean(axis=0)
            assert np.allclose(mean_bgr, colour, atol=25), (name, mean_bgr)
        encoders = [lease.encoder for lease in viewer.leases]
        assert [e.stats().subscribers for e in encoders] == [1, 1, 1]
        assert await sessions.leave(viewer.id, "DELETE")
        # Nobody else held them: leaving stopped all three outputs.
        assert outputs.running() == [] and not any(e.running for e in encoders)
    finally:
        await pc.close()
        await sessions.close_all("test over")
        await outputs.stop_all()


async def test_a_single_line_offer_gets_only_the_program():
    black = solid((0, 0, 0), (320, 180))
    broadcast, outputs = broadcast_of({"program": (black, 320, 180), "ct": (black, 320, 180)})
    sessions = ViewerSessions()
    pc = client()
    try:
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        viewer, answer = await sessions.join(
            feed=broadcast, offer_sdp=pc.localDescription.sdp,
            selection=broadcast.choose(["program", "ct"], None), subject="s", role="student",
            user_id=None,
        )
        assert viewer.views == ["program"] and answer.count("m=video") == 1
        assert [str(key) for key in outputs.running()] == ["demo/program"]  # no ct encode
    finally:
        await pc.close()
        await sessions.close_all("test over")
        await outputs.stop_all()

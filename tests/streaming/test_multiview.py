"""Multi-view: one peer connection, several video lines, a different shared output on each."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from streaming.encoder import EncoderSettings, SharedEncoder
from streaming.whep import ViewerSessions

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
    encoders = {
        name: SharedEncoder(solid(colour, size),
                            EncoderSettings(width=size[0], height=size[1], fps=15), name=name)
        for name, (colour, size) in OUTPUTS.items()
    }
    for encoder in encoders.values():
        encoder.start()
    released: list[str] = []

    async def release() -> None:
        released.append("all")

    sessions = ViewerSessions()
    client = RTCPeerConnection()
    try:
        transceivers = [client.addTransceiver("video", direction="recvonly") for _ in range(3)]
        await client.setLocalDescription(await client.createOffer())
        viewer, answer = await sessions.join(
            room_id="demo", offer_sdp=client.localDescription.sdp, encoder=encoders["program"],
            subject="s", role="student", user_id=None,
            views=[("endoscope", encoders["endoscope"]), ("ct", encoders["ct"])],
            release=release,
        )
        assert viewer.views == ["program", "endoscope", "ct"]
        assert answer.count("m=video") == 3 and answer.count("a=sendonly") == 3
        await client.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

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
        for encoder in encoders.values():
            assert encoder.stats().subscribers == 1
        assert await sessions.leave(viewer.id, "DELETE")
        assert released == ["all"]
        for encoder in encoders.values():
            assert encoder.stats().subscribers == 0
    finally:
        await client.close()
        await sessions.close_all("test over")
        for encoder in encoders.values():
            await encoder.stop()


async def test_a_single_line_offer_gets_only_the_program():
    program = SharedEncoder(solid((0, 0, 0), (320, 180)), EncoderSettings(width=320, height=180))
    other = SharedEncoder(solid((0, 0, 0), (320, 180)), EncoderSettings(width=320, height=180))
    sessions = ViewerSessions()
    client = RTCPeerConnection()
    try:
        client.addTransceiver("video", direction="recvonly")
        await client.setLocalDescription(await client.createOffer())
        viewer, answer = await sessions.join(
            room_id="demo", offer_sdp=client.localDescription.sdp, encoder=program,
            subject="s", role="student", user_id=None, views=[("ct", other)],
        )
        assert viewer.views == ["program"] and answer.count("m=video") == 1
        assert other.stats().subscribers == 0
    finally:
        await client.close()
        await sessions.close_all("test over")

"""The demo room's program sound reaches a WHEP viewer that offers audio, through the server."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
from aiortc import RTCSessionDescription

from tests.conftest import Server
from tests.peers import client_pc


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_viewer_offering_audio_hears_the_program(server: Server) -> None:
    instructor, student = server.token("instructor"), server.token("student", subject="ana")
    pc = client_pc()
    tracks: dict[str, object] = {}
    both = asyncio.get_running_loop().create_future()

    def on_track(track) -> None:  # type: ignore[no-untyped-def]
        tracks[track.kind] = track
        if len(tracks) == 2 and not both.done():
            both.set_result(None)

    pc.on("track", on_track)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        r = await http.post("/api/rooms/demo/live", json={"title": "Audio"},
                            headers=auth(instructor))
        assert r.status_code == 201, r.text
        try:
            pc.addTransceiver("audio", direction="recvonly")
            pc.addTransceiver("video", direction="recvonly")
            await pc.setLocalDescription(await pc.createOffer())
            r = await http.post("/api/rooms/demo/whep", content=pc.localDescription.sdp,
                                headers={"Content-Type": "application/sdp", **auth(student)})
            assert r.status_code == 201, r.text
            assert "opus/48000" in r.text.lower()
            await pc.setRemoteDescription(RTCSessionDescription(sdp=r.text, type="answer"))
            await asyncio.wait_for(both, 15)
            audio, video = tracks["audio"], tracks["video"]
            sound = [await asyncio.wait_for(audio.recv(), 10) for _ in range(50)]  # type: ignore[attr-defined]
            picture = await asyncio.wait_for(video.recv(), 10)  # type: ignore[attr-defined]
            assert all(f.sample_rate == 48000 for f in sound)
            assert np.abs(np.concatenate([f.to_ndarray().ravel() for f in sound])).max() > 100
            assert (picture.width, picture.height) == (1280, 720)
        finally:
            await pc.close()
            r = await http.delete("/api/rooms/demo/live", headers=auth(instructor))
            assert r.status_code == 200

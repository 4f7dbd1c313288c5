"""A WHIP publisher made of a real aiortc peer connection sending a synthetic moving picture."""

from __future__ import annotations

import asyncio

import av
import httpx
import numpy as np
from aiortc import RTCSessionDescription, VideoStreamTrack

from tests.peers import client_pc

# BGR of the publisher's picture: a colour no demo source has.
PUBLISHED_BGR = (160, 40, 230)


class MovingPattern(VideoStreamTrack):
    """A flat colour with a white block running along the bottom: every frame differs."""

    def __init__(self, width: int = 640, height: int = 480) -> None:
        super().__init__()
        self.width, self.height = width, height
        self.stalled = asyncio.Event()  # set: no more frames (an encoder that hangs)

    async def recv(self) -> av.VideoFrame:
        if self.stalled.is_set():
            await asyncio.Event().wait()
        pts, time_base = await self.next_timestamp()
        image = np.empty((self.height, self.width, 3), np.uint8)
        image[:] = PUBLISHED_BGR
        x = (pts // 3000 * 8) % (self.width - 40)
        image[-40:, x:x + 40] = 255
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class WhipPublisher:
    def __init__(self, base_url: str, room: str, source: str, token: str | None) -> None:
        self.base_url = base_url
        self.url = f"{base_url}/api/rooms/{room}/sources/{source}/whip"
        self.token = token
        self.pc = client_pc()
        self.location: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/sdp"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    async def publish(self, track: VideoStreamTrack | None = None) -> httpx.Response:
        self.pc.addTransceiver(track or MovingPattern(), direction="sendonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(self.url, content=self.pc.localDescription.sdp,
                                       headers=self.headers())
        if response.status_code == 201:
            self.location = response.headers["location"]
            await self.pc.setRemoteDescription(
                RTCSessionDescription(sdp=response.text, type="answer"))
        return response

    async def unpublish(self) -> int:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.delete(self.base_url + (self.location or ""),
                                         headers=self.headers())
        await self.pc.close()
        return response.status_code

    async def close(self) -> None:
        await self.pc.close()

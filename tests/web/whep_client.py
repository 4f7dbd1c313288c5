"""A WHEP client made of a real aiortc peer connection, for the tests."""

from __future__ import annotations

import asyncio
import time

import httpx
from aiortc import RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from tests.peers import client_pc


class WhepClient:
    def __init__(self, base_url: str, room: str, token: str) -> None:
        self.url = f"{base_url}/api/rooms/{room}/whep"
        self.base_url = base_url
        self.token = token
        self.pc = client_pc()
        self.location: str | None = None
        self._track: asyncio.Future = asyncio.get_running_loop().create_future()
        self.pc.on("track", self._on_track)

    def _on_track(self, track) -> None:  # type: ignore[no-untyped-def]
        if not self._track.done():
            self._track.set_result(track)

    async def join(self) -> httpx.Response:
        self.pc.addTransceiver("video", direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        async with httpx.AsyncClient() as http:
            response = await http.post(
                self.url, content=self.pc.localDescription.sdp,
                headers={"Content-Type": "application/sdp",
                         "Authorization": f"Bearer {self.token}"},
            )
        if response.status_code == 201:
            self.location = response.headers["location"]
            await self.pc.setRemoteDescription(
                RTCSessionDescription(sdp=response.text, type="answer")
            )
        return response

    async def frames(self, want: int, timeout: float) -> tuple[list, float | None]:
        """Decode up to ``want`` frames; return them and the seconds to the first one."""
        started = time.monotonic()
        deadline = started + timeout
        track = await asyncio.wait_for(self._track, timeout)
        frames: list = []
        first = None
        while len(frames) < want and time.monotonic() < deadline:
            try:
                frame = await asyncio.wait_for(track.recv(), deadline - time.monotonic())
            except (TimeoutError, MediaStreamError):
                break
            if first is None:
                first = time.monotonic() - started
            frames.append(frame)
        return frames, first

    async def leave(self) -> int:
        async with httpx.AsyncClient() as http:
            response = await http.delete(
                self.base_url + (self.location or ""),
                headers={"Authorization": f"Bearer {self.token}"},
            )
        await self.pc.close()
        return response.status_code

    async def close(self) -> None:
        await self.pc.close()

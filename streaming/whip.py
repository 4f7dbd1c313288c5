"""WHIP ingest (RFC 9725): an encoder such as OBS Studio publishes its picture into a room.

The WHIP exchange itself (HTTP, status codes, Location, bearer tokens) belongs to ``web/``; this
module owns the publishers' peer connections. It checks the offer (video in H.264 or VP8, sent
to us), answers it, and feeds the decoded pictures to the room's ``WhipSource``:

- aiortc decodes in its own thread; ``recv()`` runs on the event loop and only keeps the newest
  picture (live video never queues stale frames),
- one converter per publisher turns that picture into BGR of the source's size in a worker
  thread (``asyncio.to_thread``), never on the event loop,
- a watchdog ends the publish when the connection fails or closes, or when no picture came for
  ``silence_timeout`` seconds (``first_frame_timeout`` before the first one, ICE takes a moment).

Whatever a publisher does, it ends its own publish at worst: every task catches, logs and ends
the publisher; the room and its other sources never see an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

import av
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from room_controller.sources.base import Image
from room_controller.sources.whip import WhipSource, fit_image
from streaming.dtls import accept_rsa_peers
from streaming.whep import OfferError, media_sections

logger = logging.getLogger(__name__)

PUBLISHED_CODECS = ("h264", "vp8")


class PublishCodecError(OfferError):
    """The offer has no video codec MedRoom decodes (HTTP 400)."""


def check_publish_offer(sdp: str) -> None:
    """Refuse an offer that is not SDP, sends no video, or has neither H.264 nor VP8."""
    text = sdp.replace("\r\n", "\n").strip()
    if not text.startswith("v=0"):
        raise OfferError("body is not an SDP offer (it must start with 'v=0')")
    if "a=ice-ufrag:" not in text:
        raise OfferError("the offer has no ICE credentials (a=ice-ufrag)")
    sections = media_sections(text, "video")
    if not sections:
        raise OfferError("the offer has no video section (m=video): there is nothing to publish")
    sending = [s for s in sections if not any(l.strip() in ("a=recvonly", "a=inactive")
                                             for l in s)]
    if not sending:
        raise OfferError(
            "the offer's video is receive-only: WHIP publishes into the room; "
            "to watch the room use its WHEP endpoint (/api/rooms/<room>/whep)"
        )
    for section in sending:
        for line in section:
            lower = line.lower()
            if lower.startswith("a=rtpmap:") and any(f" {c}/" in lower for c in PUBLISHED_CODECS):
                return
    raise PublishCodecError(
        "the offer has no usable video codec: MedRoom decodes H.264 or VP8; in OBS Studio "
        "choose the x264 or a hardware H.264 encoder for the WHIP output"
    )


def picture_for_source(frame: av.VideoFrame, width: int, height: int) -> Image:
    """A decoded picture as BGR, scaled (keeping its shape) into width x height. CPU work:
    called in a worker thread."""
    scale = min(width / frame.width, height / frame.height)
    fitted_w = max(2, min(width, round(frame.width * scale)))
    fitted_h = max(2, min(height, round(frame.height * scale)))
    image = frame.reformat(width=fitted_w, height=fitted_h, format="bgr24").to_ndarray()
    return fit_image(cast(Image, image), width, height)  # bgr24 is uint8


@dataclass
class Publisher:
    id: str
    room_id: str
    source_id: str
    subject: str
    started_at: datetime
    pc: RTCPeerConnection = field(repr=False)
    source: WhipSource = field(repr=False)
    frames: int = 0
    last_frame_at: float | None = None
    connected_at: float = field(default_factory=time.monotonic)
    tasks: list[asyncio.Task[None]] = field(default_factory=list, repr=False)
    _latest: av.VideoFrame | None = field(default=None, repr=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, repr=False)


class WhipIngest:
    """Every WHIP publisher of the server, one per source at most."""

    def __init__(
        self,
        ice_servers: Sequence[RTCIceServer] = (),
        silence_timeout: float = 2.0,
        first_frame_timeout: float = 15.0,
    ) -> None:
        accept_rsa_peers()  # GStreamer-based encoders have RSA certificates
        self._publishers: dict[str, Publisher] = {}
        self._ending: set[asyncio.Task[bool]] = set()
        self._ice_servers = list(ice_servers)
        self.silence_timeout = silence_timeout
        self.first_frame_timeout = first_frame_timeout

    def get(self, publisher_id: str) -> Publisher | None:
        return self._publishers.get(publisher_id)

    async def publish(
        self, *, room_id: str, source: WhipSource, offer_sdp: str, subject: str
    ) -> tuple[Publisher, str]:
        """Answer a publisher's offer; returns the publisher and the SDP answer.

        Raises OfferError (bad SDP, no H.264/VP8) or PublisherBusyError (the source has one).
        """
        check_publish_offer(offer_sdp)
        # The session URL's last part, and its only credential (web/session_urls.py).
        publisher_id = secrets.token_hex(16)
        source.attach(publisher_id)  # PublisherBusyError before any connection is made
        pc = RTCPeerConnection(RTCConfiguration(iceServers=list(self._ice_servers)))
        publisher = Publisher(
            id=publisher_id, room_id=room_id, source_id=source.id, subject=subject,
            started_at=datetime.now(UTC), pc=pc, source=source,
        )
        pc.on("track", lambda track: self._on_track(publisher, track))
        try:
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            except (ValueError, KeyError, IndexError) as exc:
                raise OfferError(f"the SDP offer could not be parsed: {exc}") from None
            # aiortc decodes exactly H.264 and VP8, the codecs check_publish_offer requires:
            # the answer keeps the ones the offer has in common with it.
            await pc.setLocalDescription(await pc.createAnswer())
        except BaseException as exc:
            source.detach(publisher_id, "the offer could not be answered")
            await self._close_quietly(publisher)
            if isinstance(exc, OfferError) or not isinstance(exc, Exception):
                raise
            logger.exception("WHIP offer failed")
            raise OfferError(f"the offer could not be answered: {exc}") from None

        self._publishers[publisher_id] = publisher

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.end(publisher_id, f"connection {pc.connectionState}")

        publisher.tasks.append(asyncio.create_task(self._watch(publisher)))
        publisher.tasks.append(asyncio.create_task(self._convert(publisher)))
        logger.info("WHIP publisher %s (%s) publishes to %s/%s", publisher_id, subject, room_id,
                    source.id)
        return publisher, pc.localDescription.sdp

    async def end(self, publisher_id: str, reason: str) -> bool:
        """Close a publisher's connection; its source goes LOST and takes the next one."""
        publisher = self._publishers.pop(publisher_id, None)
        if publisher is None:
            return False
        current = asyncio.current_task()
        for task in publisher.tasks:
            if task is not current:
                task.cancel()
        for task in publisher.tasks:
            if task is not current:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        publisher.source.detach(publisher_id, reason)
        await self._close_quietly(publisher)
        logger.info("WHIP publisher %s of %s/%s ended: %s", publisher_id, publisher.room_id,
                    publisher.source_id, reason)
        return True

    async def close_all(self, reason: str) -> None:
        await asyncio.gather(*(self.end(p, reason) for p in list(self._publishers)))

    def _end_soon(self, publisher_id: str, reason: str) -> None:
        """End a publisher from one of its own tasks (which `end` cancels)."""
        task = asyncio.get_running_loop().create_task(self.end(publisher_id, reason))
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)

    @staticmethod
    async def _close_quietly(publisher: Publisher) -> None:
        for task in publisher.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        try:
            await publisher.pc.close()
        except Exception:  # closing a broken connection must not raise
            logger.exception("WHIP publisher %s: closing its connection failed", publisher.id)

    # -- per publisher tasks -------------------------------------------------------------------

    def _on_track(self, publisher: Publisher, track: MediaStreamTrack) -> None:
        # Audio is received and dropped (the room's sound comes from its own microphone): an
        # unread track would queue decoded audio without end.
        receive = self._receive_video if track.kind == "video" else self._drain
        publisher.tasks.append(asyncio.create_task(receive(publisher, track)))

    async def _receive_video(self, publisher: Publisher, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                if isinstance(frame, av.VideoFrame):
                    publisher._latest = frame  # newest wins; the converter takes it
                    publisher._wake.set()
        except MediaStreamError:
            await self.end(publisher.id, "the publisher's video ended")

    async def _drain(self, publisher: Publisher, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()

    async def _convert(self, publisher: Publisher) -> None:
        source = publisher.source
        try:
            while True:
                await publisher._wake.wait()
                publisher._wake.clear()
                frame, publisher._latest = publisher._latest, None
                if frame is None:
                    continue
                image = await asyncio.to_thread(
                    picture_for_source, frame, source.width, source.height
                )
                if not source.push(publisher.id, image):
                    break
                publisher.frames += 1
                publisher.last_frame_at = time.monotonic()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bad picture ends this publish, nothing else
            logger.exception("WHIP publisher %s: picture could not be converted", publisher.id)
            self._end_soon(publisher.id, f"its picture could not be decoded: {exc}")

    async def _watch(self, publisher: Publisher) -> None:
        while True:
            await asyncio.sleep(0.25)
            now = time.monotonic()
            if publisher.last_frame_at is None:
                if now - publisher.connected_at > self.first_frame_timeout:
                    reason = f"no picture within {self.first_frame_timeout:.0f} s of connecting"
                    break
            elif now - publisher.last_frame_at > self.silence_timeout:
                reason = f"no picture for {self.silence_timeout:.0f} s"
                break
        self._end_soon(publisher.id, reason)

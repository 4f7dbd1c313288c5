"""WHEP viewer sessions: an SDP offer in, an SDP answer out, one peer connection per viewer.

The WHEP exchange itself (HTTP status codes, Location, bearer tokens) belongs to ``web/``; this
module owns the peer connections: it checks the offer, attaches the shared encoder's packets to
the viewer's video transceiver (H.264 only) and, when the offer has an audio line with Opus and
the room has sound, the shared audio encoder's packets to an audio transceiver; routes the viewer's keyframe requests to the shared
encoder, and closes and forgets a viewer whose connection fails or who leaves.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcrtpsender import RTCRtpSender

from streaming.audio import EncodedAudioTrack
from streaming.encoder import PacketFanOut, SharedEncoder
from streaming.track import EncodedVideoTrack

logger = logging.getLogger(__name__)


class OfferError(ValueError):
    """The viewer's SDP offer cannot be used; the message says why (HTTP 400)."""


class CodecError(OfferError):
    """The offer has no codec MedRoom sends (HTTP 415 would be wrong: the SDP is fine)."""


@dataclass
class Viewer:
    id: str
    room_id: str
    subject: str
    role: str
    user_id: int | None
    joined_at: datetime
    pc: RTCPeerConnection = field(repr=False)
    track: EncodedVideoTrack = field(repr=False)
    audio_track: EncodedAudioTrack | None = field(default=None, repr=False)

    @property
    def connection_state(self) -> str:
        return str(self.pc.connectionState)


LeaveCallback = Callable[[Viewer, str], None]


def _media_sections(text: str, kind: str) -> list[list[str]]:
    sections: list[list[str]] = []
    current: list[str] | None = None
    for line in text.split("\n"):
        if line.startswith("m="):
            current = [line]
            if line.startswith(f"m={kind}"):
                sections.append(current)
        elif current is not None:
            current.append(line)
    return sections


def offers_opus_audio(sdp: str) -> bool:
    """True when the offer has an audio line (a browser's recvonly audio) listing Opus."""
    text = sdp.replace("\r\n", "\n")
    return any(
        any(l.lower().startswith("a=rtpmap:") and " opus/48000" in l.lower() for l in section)
        for section in _media_sections(text, "audio")
    )


def check_offer(sdp: str) -> None:
    """Refuse an offer that is not SDP or that offers no H.264 video, with a clear reason."""
    text = sdp.replace("\r\n", "\n").strip()
    if not text.startswith("v=0"):
        raise OfferError("body is not an SDP offer (it must start with 'v=0')")
    video_sections = _media_sections(text, "video")
    if not video_sections:
        raise OfferError("the offer has no video section (m=video): nothing to receive")
    if "a=ice-ufrag:" not in text:
        raise OfferError("the offer has no ICE credentials (a=ice-ufrag)")
    for section in video_sections:
        if any(l.lower().startswith("a=rtpmap:") and " h264/" in l.lower() for l in section):
            return
    raise CodecError(
        "the offer has no H.264 video codec; MedRoom sends H.264 constrained baseline, "
        "which every current browser supports: enable H.264 in the client"
    )


def _h264_only(transceiver_codecs: list) -> list:  # type: ignore[type-arg]
    return [c for c in transceiver_codecs if c.mimeType.lower() in ("video/h264", "video/rtx")]


def _opus_only(transceiver_codecs: list) -> list:  # type: ignore[type-arg]
    return [c for c in transceiver_codecs if c.mimeType.lower() == "audio/opus"]


class ViewerSessions:
    """All WHEP viewers of the server, each with its own peer connection."""

    def __init__(
        self,
        on_leave: LeaveCallback | None = None,
        ice_servers: Sequence[RTCIceServer] = (),
    ) -> None:
        """``ice_servers``: STUN/TURN for every viewer's connection (``streaming.turn``)."""
        self._viewers: dict[str, Viewer] = {}
        self._ice_servers = list(ice_servers)
        self._on_leave = on_leave
        self._closing: set[str] = set()

    def get(self, viewer_id: str) -> Viewer | None:
        return self._viewers.get(viewer_id)

    def in_room(self, room_id: str) -> list[Viewer]:
        return [v for v in self._viewers.values() if v.room_id == room_id]

    async def join(
        self,
        *,
        room_id: str,
        offer_sdp: str,
        encoder: SharedEncoder,
        subject: str,
        role: str,
        user_id: int | None,
        audio: PacketFanOut | None = None,
    ) -> tuple[Viewer, str]:
        """Answer a viewer's offer; returns the viewer and the SDP answer.

        ``audio``: the room's shared Opus encoder; sent when the offer has an audio line with
        Opus. A video-only offer, or a room without sound, gets video only.
        """
        check_offer(offer_sdp)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=list(self._ice_servers)))
        track = EncodedVideoTrack(encoder)
        audio_track = (
            EncodedAudioTrack(audio)
            if audio is not None and offers_opus_audio(offer_sdp) else None
        )
        viewer = Viewer(
            id=uuid.uuid4().hex,
            room_id=room_id,
            subject=subject,
            role=role,
            user_id=user_id,
            joined_at=datetime.now(UTC),
            pc=pc,
            track=track,
            audio_track=audio_track,
        )
        try:
            # The transceiver exists before the offer is applied so that the codec preference
            # (H.264 only) is used when aiortc negotiates; it takes the offer's first video line.
            transceiver = pc.addTransceiver(track, direction="sendonly")
            capabilities = RTCRtpSender.getCapabilities("video")
            transceiver.setCodecPreferences(_h264_only(capabilities.codecs))
            # The packet path ignores PLI/FIR; send them to the shared encoder instead.
            transceiver.sender._send_keyframe = encoder.request_keyframe  # type: ignore[method-assign]
            if audio_track is not None:
                # Opus only: the sender's OpusEncoder.pack() sends the shared packets as they are.
                audio_transceiver = pc.addTransceiver(audio_track, direction="sendonly")
                audio_transceiver.setCodecPreferences(
                    _opus_only(RTCRtpSender.getCapabilities("audio").codecs)
                )
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            except (ValueError, KeyError, IndexError) as exc:
                raise OfferError(f"the SDP offer could not be parsed: {exc}") from None
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
        except OfferError:
            track.stop()
            if audio_track is not None:
                audio_track.stop()
            await pc.close()
            raise
        except Exception as exc:
            track.stop()
            if audio_track is not None:
                audio_track.stop()
            await pc.close()
            logger.exception("WHEP offer failed")
            raise OfferError(f"the offer could not be answered: {exc}") from None

        self._viewers[viewer.id] = viewer

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.leave(viewer.id, reason=f"connection {pc.connectionState}")

        logger.info("viewer %s (%s, %s) joined room %s", viewer.id, subject, role, room_id)
        return viewer, pc.localDescription.sdp

    async def leave(self, viewer_id: str, reason: str) -> bool:
        """Close a viewer's connection and forget it; False when it was not here."""
        viewer = self._viewers.pop(viewer_id, None)
        if viewer is None:
            return False
        viewer.track.stop()
        if viewer.audio_track is not None:
            viewer.audio_track.stop()
        await viewer.pc.close()
        logger.info("viewer %s left room %s: %s", viewer_id, viewer.room_id, reason)
        if self._on_leave is not None:
            try:
                self._on_leave(viewer, reason)
            except Exception:
                logger.exception("leave callback failed for viewer %s", viewer_id)
        return True

    async def close_room(self, room_id: str, reason: str) -> int:
        viewers = self.in_room(room_id)
        await asyncio.gather(*(self.leave(v.id, reason) for v in viewers))
        return len(viewers)

    async def close_all(self, reason: str) -> None:
        await asyncio.gather(*(self.leave(v, reason) for v in list(self._viewers)))

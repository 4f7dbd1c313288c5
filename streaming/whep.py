"""WHEP viewer sessions: an SDP offer in, an SDP answer out, one peer connection per viewer.

The WHEP exchange itself (HTTP status codes, Location, bearer tokens) belongs to ``web/``; this
module owns the peer connections: it checks the offer, leases from the room's broadcast the
outputs the viewer asked for (``streaming.broadcast``), attaches their packets to the viewer's
video transceivers (H.264, or VP8 for a browser that offers no H.264) and, when the offer has an audio line with Opus and the room has
sound, the shared audio encoder's packets to an audio transceiver; routes the viewer's keyframe
requests to the shared encoder, moves it between renditions as its link allows, and closes and
forgets a viewer whose connection fails or who leaves, releasing what it held. A page that opens
an ``overlay`` data channel joins the room's live drawing (``streaming.overlay``), told its
program line's RTP origin so it can name frames on the media clock.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.sdp import H264Profile, parse_h264_profile_level_id

from streaming.audio import EncodedAudioTrack, SharedAudioEncoder
from streaming.broadcast import RoomBroadcast, Selection
from streaming.dtls import accept_rsa_peers
from streaming.encoder import H264, VP8, SharedEncoder
from streaming.ice import guard_empty_datagrams
from streaming.outputs import PROGRAM, Lease
from streaming.overlay import Member, Overlay
from streaming.pacing import Pacer
from streaming.playout import PlayoutDelay
from streaming.renditions import QualityController
from streaming.retransmit import RetransmitPolicy
from streaming.track import EncodedVideoTrack
from streaming.viewer_stats import LinkMonitor, LinkStats, StatsSampler

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
    link: LinkMonitor = field(repr=False)
    rendition: str
    #: The room's broadcast this viewer receives from: where it takes another rendition.
    feed: RoomBroadcast = field(repr=False)
    #: One lease per video line, in the offer's order: what keeps those outputs encoded.
    leases: list[Lease[SharedEncoder]] = field(repr=False)
    sound: Lease[SharedAudioEncoder] | None = field(default=None, repr=False)
    audio_track: EncodedAudioTrack | None = field(default=None, repr=False)
    #: What each video line carries, in the offer's order: "program", then source ids.
    views: list[str] = field(default_factory=lambda: ["program"])
    view_tracks: list[EncodedVideoTrack] = field(default_factory=list, repr=False)
    quality: QualityController | None = field(default=None, repr=False)
    #: Ends the session unless its client connects in time (cancelled once connected).
    connect_timer: asyncio.Task[None] | None = field(default=None, repr=False)
    #: The video codec every line of this viewer receives: "h264", or "vp8" when its offer
    #: has no H.264 (Firefox without the OpenH264 plugin).
    codec: str = H264
    #: Whether this session may draw over the program whenever it likes (a controlling role
    #: for this room: the console); others only while ``Overlay.allow`` lets them.
    leads: bool = False
    #: The session's place on the room's live drawing, once its page opened the channel.
    overlay: Member | None = field(default=None, repr=False)
    #: Each video line's playout delay (``streaming.playout``), the first one's decides.
    playout: list[PlayoutDelay] = field(default_factory=list, repr=False)

    @property
    def pinned(self) -> bool:
        return self.quality is not None and self.quality.pinned

    @property
    def connection_state(self) -> str:
        return str(self.pc.connectionState)

    @property
    def stats(self) -> LinkStats | None:
        """The video link's latest figures (sampled each second); None before the first."""
        return self.link.last

    async def release_outputs(self) -> None:
        for lease in self.leases:
            await lease.release()
        if self.sound is not None:
            await self.sound.release()


#: A switch waits this long for the target rendition's keyframe, then gives up (and stays).
SWITCH_TIMEOUT = 5.0


#: A viewer whose client has not connected this long after its offer is ended: a client that
#: posts an offer and vanishes must not hold encoders and a place in its user's session limit.
CONNECT_TIMEOUT = 30.0

#: Told (on the loop, awaited) when a viewer has left, with the reason.
LeaveCallback = Callable[[Viewer, str], Awaitable[None]]


def media_sections(text: str, kind: str) -> list[list[str]]:
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


def video_line_count(sdp: str) -> int:
    """How many video lines (m=video) the offer has: how many views it can receive."""
    return len(media_sections(sdp.replace("\r\n", "\n"), "video"))


def offers_opus_audio(sdp: str) -> bool:
    """True when the offer has an audio line (a browser's recvonly audio) listing Opus."""
    text = sdp.replace("\r\n", "\n")
    return any(
        any(l.lower().startswith("a=rtpmap:") and " opus/48000" in l.lower() for l in section)
        for section in media_sections(text, "audio")
    )


#: A viewer receives at most the program and a room's sources, and sound: an offer with more
#: media lines than this is not a player's (each line costs a transceiver and its tasks).
MAX_MEDIA_LINES = 16


#: The video codecs MedRoom sends, by the name an offer's rtpmap gives them, in preference
#: order: H.264 whenever the viewer has it (its outputs are shared with recordings and most
#: viewers), VP8 otherwise.
SENT_CODECS = {"h264": H264, "vp8": VP8}
#: rtpmap names that are not codecs of their own (retransmission, redundancy, FEC).
_NOT_CODECS = ("rtx", "red", "ulpfec", "flexfec-03")


#: The H.264 profiles whose decoders take MedRoom's constrained-baseline stream, as aiortc
#: matches them (it compares the profile exactly, and offers these two).
_SENDABLE_H264_PROFILES = (H264Profile.PROFILE_CONSTRAINED_BASELINE, H264Profile.PROFILE_BASELINE)


def _h264_refusal(section_lines: list[str]) -> str | None:
    """Why none of the offer's H.264 payloads can carry MedRoom's stream, or None when one can.

    aiortc negotiates H.264 only with packetization-mode=1 (a missing one means 0: a NAL unit
    per packet, which it does not send) and a (constrained) baseline profile-level-id (a
    missing one means constrained baseline 3.1); otherwise the offer fails deep inside it as
    "Failed to set remote video description send parameters". Say which parameter is wrong.
    """
    payloads = [line.split(":", 1)[1].split(" ", 1)[0] for line in section_lines
                if line.lower().startswith("a=rtpmap:") and " h264/" in line.lower()]
    reasons = []
    for pt in dict.fromkeys(payloads):
        fmtp = next((line.split(" ", 1)[1] for line in section_lines
                     if line.startswith(f"a=fmtp:{pt} ") and " " in line), "")
        params = dict(p.strip().split("=", 1) for p in fmtp.split(";") if "=" in p)
        mode = params.get("packetization-mode", "0").strip()
        level_id = params.get("profile-level-id", "42e01f").strip()
        try:
            profile: H264Profile | None = parse_h264_profile_level_id(level_id)[0]
        except ValueError:
            profile = None
        if mode == "1" and profile in _SENDABLE_H264_PROFILES:
            return None
        wrong = []
        if mode != "1":
            wrong.append(f"packetization-mode={mode}")
        if profile not in _SENDABLE_H264_PROFILES:
            name = profile.name.removeprefix("PROFILE_").lower().replace("_", " ") \
                if profile is not None else "unknown"
            wrong.append(f"profile-level-id={level_id} ({name} profile)")
        reasons.append(f"payload {pt}: {', '.join(wrong)}")
    return "; ".join(reasons)


def check_offer(sdp: str) -> str:
    """The video codec to send for an offer (``H264`` or ``VP8``); refuses an offer that is
    not SDP, that offers neither, or whose H.264 cannot carry constrained baseline in
    packetization mode 1 (and no VP8), with a clear reason."""
    text = sdp.replace("\r\n", "\n").strip()
    if not text.startswith("v=0"):
        raise OfferError("body is not an SDP offer (it must start with 'v=0')")
    for line in text.split("\n"):
        # aiortc asserts on these instead of saying why: say it here.
        if line.startswith("c=") and not re.fullmatch(r"c=IN IP[46] \S+", line.strip()):
            raise OfferError(f"malformed connection line {line.strip()[:80]!r} "
                             "(expected 'c=IN IP4 <address>')")
    lines = sum(1 for line in text.split("\n") if line.startswith("m="))
    if lines > MAX_MEDIA_LINES:
        raise OfferError(
            f"the offer has {lines} media lines; a viewer may ask for at most {MAX_MEDIA_LINES}"
        )
    video_sections = media_sections(text, "video")
    if not video_sections:
        raise OfferError("the offer has no video section (m=video): nothing to receive")
    if "a=ice-ufrag:" not in text:
        raise OfferError("the offer has no ICE credentials (a=ice-ufrag)")
    offered: list[str] = []
    for section in video_sections:
        for line in section:
            if line.lower().startswith("a=rtpmap:") and " " in line:
                name = line.split(" ", 1)[1].split("/", 1)[0].strip()
                if name.lower() not in _NOT_CODECS and name not in offered:
                    offered.append(name)
    h264_refused = None
    for name, codec in SENT_CODECS.items():
        if name in (o.lower() for o in offered):
            if codec == H264:
                h264_refused = _h264_refusal([line for s in video_sections for line in s])
                if h264_refused is not None:
                    continue  # VP8 may still serve this viewer
            return codec
    if h264_refused is not None:
        raise CodecError(
            f"the offer's H.264 cannot carry MedRoom's stream ({h264_refused}): MedRoom sends "
            "H.264 constrained baseline (profile-level-id 42e01f) with packetization-mode=1; "
            "offer that, or VP8, in the client"
        )
    what = ", ".join(offered) if offered else "no codec at all (no a=rtpmap lines)"
    raise CodecError(
        f"the offer's video lists {what} but neither H.264 nor VP8; MedRoom sends H.264 "
        "(constrained baseline) or VP8: enable one of them in the client"
    )


def _video_codec_only(transceiver_codecs: list, codec: str) -> list:  # type: ignore[type-arg]
    wanted = (f"video/{codec}", "video/rtx")
    return [c for c in transceiver_codecs if c.mimeType.lower() in wanted]


def _opus_only(transceiver_codecs: list) -> list:  # type: ignore[type-arg]
    return [c for c in transceiver_codecs if c.mimeType.lower() == "audio/opus"]


class ViewerSessions:
    """All WHEP viewers of the server, each with its own peer connection."""

    def __init__(
        self,
        on_leave: LeaveCallback | None = None,
        ice_servers: Sequence[RTCIceServer] = (),
        stats_interval: float = 1.0,
        connect_timeout: float = CONNECT_TIMEOUT,
        overlay: Overlay | None = None,
    ) -> None:
        """``ice_servers``: STUN/TURN for every viewer's connection (``streaming.turn``);
        ``connect_timeout``: seconds a viewer has from its offer to a connection; ``overlay``:
        the live drawing a page's ``overlay`` data channel joins (``streaming.overlay``)."""
        guard_empty_datagrams()  # one empty UDP packet must not end a viewer's connection
        accept_rsa_peers()  # GStreamer-based players have RSA certificates
        self._viewers: dict[str, Viewer] = {}
        self._ice_servers = list(ice_servers)
        self._on_leave = on_leave
        self._connect_timeout = connect_timeout
        self.overlay = overlay
        self.sampler = StatsSampler(
            lambda: [v.link for v in self._viewers.values()], interval=stats_interval,
            on_sampled=self._adapt,
        )
        self._switches: set[asyncio.Task[bool]] = set()

    def start(self) -> None:
        """Start sampling every viewer's link figures (``Viewer.stats``)."""
        self.sampler.start()

    async def stop(self) -> None:
        await self.sampler.stop()
        for task in list(self._switches):
            task.cancel()
        await asyncio.gather(*self._switches, return_exceptions=True)
        await self.close_all("server stopping")

    # -- adaptive quality --------------------------------------------------------------------
    def _adapt(self, link: LinkMonitor) -> None:
        viewer = next((v for v in self._viewers.values() if v.link is link), None)
        if viewer is None or link.last is None:
            return
        if viewer.playout:
            delay = viewer.playout[0].observe(link.last)
            for other in viewer.playout[1:]:
                other.map.set_delay(delay)
        if viewer.quality is None:
            return
        target = viewer.quality.observe(link.last)
        if target is None:
            return
        logger.info("viewer %s: %s -> %s (loss %.1f %%, REMB %s kbit/s)", viewer.id,
                    viewer.rendition, target.name, link.last.fraction_lost * 100,
                    link.last.remb_kbps)
        task = asyncio.create_task(self.switch_quality(viewer, target.name))
        self._switches.add(task)
        task.add_done_callback(self._switches.discard)

    async def switch_quality(self, viewer: Viewer, name: str) -> bool:
        """Move the viewer's first video line to rendition ``name`` at its next keyframe.

        False when the rendition's keyframe did not come in time (the viewer stays where it
        was) or the viewer left meanwhile.
        """
        controller = viewer.quality
        if controller is None or name == viewer.rendition:
            return False
        controller.switching = True
        try:
            target = await viewer.feed.video(viewer.views[0], name, viewer.codec)
            switched = viewer.track.switch(target.encoder)
            await asyncio.wait({switched}, timeout=SWITCH_TIMEOUT)
            if not switched.done() or switched.cancelled() or viewer.id not in self._viewers:
                viewer.track.cancel_switch()
                await target.release()
                return False
            previous, viewer.leases[0] = viewer.leases[0], target
            viewer.rendition = name
            controller.moved_to(name)
            await previous.release()
            return True
        finally:
            controller.switching = False

    def get(self, viewer_id: str) -> Viewer | None:
        return self._viewers.get(viewer_id)

    def all(self) -> list[Viewer]:
        return list(self._viewers.values())

    def in_room(self, room_id: str) -> list[Viewer]:
        return [v for v in self._viewers.values() if v.room_id == room_id]

    async def join(
        self,
        *,
        feed: RoomBroadcast,
        offer_sdp: str,
        selection: Selection,
        subject: str,
        role: str,
        user_id: int | None,
        leads: bool = False,
    ) -> tuple[Viewer, str]:
        """Answer a viewer's offer; returns the viewer and the SDP answer.

        The offer's video lines get ``selection.views`` in order (multi-view), as many as the
        offer has lines for; the first starts at ``selection.start``. The viewer leases each
        output from ``feed`` (and the room's sound when the offer has an audio line with Opus)
        and releases them when it leaves; a refused offer leases nothing.
        """
        codec = check_offer(offer_sdp)
        names = selection.views[: max(1, video_line_count(offer_sdp))]
        # A codec's ladder may stop lower (VP8 costs more to encode): a start above it begins
        # at the codec's top rung instead.
        rungs = feed.renditions(names[0], codec)
        start = selection.start if selection.start in rungs else rungs[0]
        leases: list[Lease[SharedEncoder]] = []
        sound: Lease[SharedAudioEncoder] | None = None
        pc = RTCPeerConnection(RTCConfiguration(iceServers=list(self._ice_servers)))
        tracks: list[EncodedVideoTrack] = []
        audio_track: EncodedAudioTrack | None = None
        try:
            leases.append(await feed.video(names[0], start.name, codec))
            for name in names[1:]:
                leases.append(await feed.video(name, codec=codec))
            if offers_opus_audio(offer_sdp):
                sound = await feed.sound_for(selection.sound)
            tracks = [EncodedVideoTrack(lease.encoder) for lease in leases]
            audio_track = EncodedAudioTrack(sound.encoder) if sound is not None else None
            # The transceivers exist before the offer is applied so that the codec preference
            # (the codec chosen, only) is used when aiortc negotiates; they take the offer's video lines in
            # order.
            capabilities = RTCRtpSender.getCapabilities("video")
            transceivers = []
            playout = []
            for track in tracks:
                transceiver = pc.addTransceiver(track, direction="sendonly")
                transceiver.setCodecPreferences(_video_codec_only(capabilities.codecs, codec))
                # The packet path ignores PLI/FIR; send them to the shared encoder instead.
                transceiver.sender._send_keyframe = track.request_keyframe  # type: ignore[method-assign]
                # Lost packets: resent while still useful, otherwise a keyframe at once.
                policy = RetransmitPolicy(transceiver.sender, track.request_keyframe)
                # A lossy long link: the viewer is asked to hold frames one round trip.
                playout.append(PlayoutDelay(
                    transceiver.sender, lambda policy=policy: policy.retransmitted  # type: ignore[misc]
                ))
                transceivers.append(transceiver)
            viewer = Viewer(
                # The session URL's last part, and its only credential (web/session_urls.py):
                # 128 random bits.
                id=secrets.token_hex(16),
                room_id=feed.room_id,
                subject=subject,
                role=role,
                user_id=user_id,
                joined_at=datetime.now(UTC),
                pc=pc,
                track=tracks[0],
                link=LinkMonitor.install(transceivers[0].sender, tracks[0]),
                rendition=start.name,
                feed=feed,
                leases=leases,
                sound=sound,
                audio_track=audio_track,
                views=names,
                view_tracks=tracks[1:],
                quality=QualityController(rungs, start.name, pinned=selection.pinned),
                codec=codec,
                leads=leads,
                playout=playout,
            )
            if PROGRAM in names:
                # The drawing is over the program: its line's RTP origin names its frames.
                program_line = names.index(PROGRAM)
                tracks[program_line].bind_sender(transceivers[program_line].sender)
            if audio_track is not None:
                # Opus only: the sender's OpusEncoder.pack() sends the shared packets as they are.
                audio_transceiver = pc.addTransceiver(audio_track, direction="sendonly")
                audio_transceiver.setCodecPreferences(
                    _opus_only(RTCRtpSender.getCapabilities("audio").codecs)
                )
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            except (ValueError, KeyError, IndexError, AssertionError) as exc:
                raise OfferError(f"the SDP offer could not be parsed: {exc!r}") from None
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
            # Keyframes leave paced, not as one burst a bottleneck's queue drops the tail of.
            Pacer(transceivers[0].sender.transport,
                  lambda: sum(lease.encoder.settings.bitrate_kbps for lease in viewer.leases),
                  urgent_ssrcs={t.sender._rtx_ssrc for t in transceivers})
        except BaseException as exc:
            for track in tracks:
                track.stop()
            if audio_track is not None:
                audio_track.stop()
            await pc.close()
            for lease in leases:
                await lease.release()
            if sound is not None:
                await sound.release()
            if isinstance(exc, OfferError) or not isinstance(exc, Exception):
                raise
            logger.exception("WHEP offer failed")
            raise OfferError(f"the offer could not be answered: {exc}") from None

        self._viewers[viewer.id] = viewer
        viewer.connect_timer = asyncio.create_task(self._end_unless_connected(viewer))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState == "connected" and viewer.connect_timer is not None:
                viewer.connect_timer.cancel()
            if pc.connectionState in ("failed", "closed"):
                await self.leave(viewer.id, reason=f"connection {pc.connectionState}")

        if self.overlay is not None:
            self._offer_overlay(viewer, self.overlay)
        logger.info("viewer %s (%s, %s) joined room %s", viewer.id, subject, role, feed.room_id)
        return viewer, pc.localDescription.sdp

    def _offer_overlay(self, viewer: Viewer, overlay: Overlay) -> None:
        """Join the page's ``overlay`` data channel, if it opens one, to the room's drawing."""
        lines = [viewer.track, *viewer.view_tracks]
        program = lines[viewer.views.index(PROGRAM)] if PROGRAM in viewer.views else None

        @viewer.pc.on("datachannel")
        def on_channel(channel: RTCDataChannel) -> None:
            if channel.label != "overlay" or viewer.overlay is not None \
                    or viewer.id not in self._viewers:
                return
            member = overlay.attach(
                viewer.room_id, viewer.id, subject=viewer.subject, user_id=viewer.user_id,
                leads=viewer.leads, send=channel.send, buffered=lambda: channel.bufferedAmount,
            )
            viewer.overlay = member
            if program is not None:
                if program.rtp_origin is not None:
                    member.set_origin(program.rtp_origin)
                else:
                    program.on_rtp_origin = member.set_origin
            channel.on("message", member.receive)

            @channel.on("close")
            def on_close() -> None:
                if viewer.overlay is member:
                    overlay.detach(member)
                    viewer.overlay = None

    async def _end_unless_connected(self, viewer: Viewer) -> None:
        await asyncio.sleep(self._connect_timeout)
        if viewer.pc.connectionState != "connected":
            await self.leave(viewer.id, reason="never connected")

    async def leave(self, viewer_id: str, reason: str) -> bool:
        """Close a viewer's connection and forget it; False when it was not here."""
        viewer = self._viewers.pop(viewer_id, None)
        if viewer is None:
            return False
        if viewer.connect_timer is not None and viewer.connect_timer is not asyncio.current_task():
            viewer.connect_timer.cancel()
        if viewer.overlay is not None and self.overlay is not None:
            self.overlay.detach(viewer.overlay)
            viewer.overlay = None
        for track in (viewer.track, *viewer.view_tracks):
            track.stop()
        if viewer.audio_track is not None:
            viewer.audio_track.stop()
        await viewer.pc.close()
        # aiortc race: a close that lands while the DTLS handshake completes lets the
        # connecting task start the senders afterwards, and their RTCP task then runs forever
        # (``medroom bench churn`` found it). Stopping a sender again is harmless.
        for transceiver in viewer.pc.getTransceivers():
            await transceiver.sender.stop()
        try:
            await viewer.release_outputs()
        except Exception:
            logger.exception("could not release the outputs of viewer %s", viewer_id)
        logger.info("viewer %s left room %s: %s", viewer_id, viewer.room_id, reason)
        if self._on_leave is not None:
            try:
                await self._on_leave(viewer, reason)
            except Exception:
                logger.exception("leave callback failed for viewer %s", viewer_id)
        return True

    async def close_room(self, room_id: str, reason: str) -> int:
        viewers = self.in_room(room_id)
        await asyncio.gather(*(self.leave(v.id, reason) for v in viewers))
        return len(viewers)

    async def close_all(self, reason: str) -> None:
        await asyncio.gather(*(self.leave(v, reason) for v in list(self._viewers)))

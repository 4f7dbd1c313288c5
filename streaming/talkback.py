"""Talkback: a student whose raised hand the instructor accepted speaks to the room.

The instructor's acceptance becomes a ``TalkbackGrant``: a short-lived, single-purpose publish
credential (its own random token, 256 bits, kept only here) bound to one room, one user and
that acceptance. The student's page publishes its microphone (and its camera only when the
grant allows it) by WHIP with the token as the bearer; the publish is not a room source, it
is a voice:

- its decoded samples go into the room's ``SoundMixer`` (``streaming.mixer``), so every viewer
  hears them in the program sound, the recording keeps them and the console's voices-only
  output plays them;
- the speaker's own viewer sessions switch to a mix-minus output (the program sound without
  their voice), leased while they speak and released when they stop: nobody hears themself
  back with a delay, and a lecture hall's loudspeakers do not feed the voice round again.

The token must be used before ``expires_at`` (minutes); a publish is refused for another room,
for another user (when the caller says who they are), after revoke, or while the grant already
publishes. ``revoke`` ends the publish at once: its peer connection is closed, the voice leaves
the mix, the speaker's sessions go back to the program sound. The student may end it too
(DELETE on the session URL), which ends the grant the same way. ``on_end`` tells the caller
(the hand queue) whenever a talkback ends, whoever ended it.

Latency is kept small on purpose: aiortc's audio receiver holds four packets (80 ms) before it
decodes; a talkback receiver holds one (20 ms); the mixer's voice buffer keeps at most 60 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import av
import numpy as np
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.jitterbuffer import JitterBuffer
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from streaming.audio import SharedAudioEncoder
from streaming.broadcast import RoomBroadcast
from streaming.dtls import accept_rsa_peers
from streaming.mixer import Voice
from streaming.outputs import AUDIO, Lease, OutputKey
from streaming.whep import OfferError, Viewer, ViewerSessions, media_sections

logger = logging.getLogger(__name__)

#: A grant's token must start a publish within this many seconds of the acceptance.
GRANT_TTL_SECONDS = 120.0
#: At most this many people talk back in one room at once (each costs a mix-minus encode).
MAX_SPEAKERS_PER_ROOM = 4
#: A publish whose audio does not arrive within this long of its offer is ended.
FIRST_AUDIO_TIMEOUT = 15.0


class TalkbackRefused(Exception):
    """A talkback request that may not proceed; ``status`` is the HTTP status it maps to."""

    status = 403


class UnknownGrant(TalkbackRefused):
    """No grant has this token: never issued, revoked, ended or expired (401)."""

    status = 401


class GrantMismatch(TalkbackRefused):
    """The token belongs to another room or another user (403)."""

    status = 403


class TalkbackBusy(TalkbackRefused):
    """The grant already publishes (409)."""

    status = 409


class TalkbackUnavailable(TalkbackRefused):
    """The room cannot take a talkback now: not on air, no sound, too many speakers (409)."""

    status = 409


@dataclass(frozen=True)
class TalkbackGrant:
    """One acceptance's publish right. ``token`` is the WHIP bearer credential: give it only
    to the accepted user's page."""

    id: str  # names the acceptance (the hand queue can keep it)
    room_id: str
    user_id: int
    allow_camera: bool
    expires_at: float  # Unix time: the publish must start before this
    token: str = field(repr=False)

    @property
    def whip_url(self) -> str:
        return f"/api/rooms/{self.room_id}/talkback/whip"

    def public(self) -> dict[str, object]:
        """What anyone but the speaker may see of the grant (no token)."""
        return {"id": self.id, "room_id": self.room_id, "user_id": self.user_id,
                "allow_camera": self.allow_camera, "expires_at": self.expires_at}

    def for_speaker(self) -> dict[str, object]:
        """What the speaker's page needs to publish (``startTalkback(grant)``)."""
        return {**self.public(), "token": self.token, "whip_url": self.whip_url}


@dataclass
class Speaker:
    """A grant that publishes now: its connection, its voice in the mix, its mix-minus."""

    grant: TalkbackGrant
    session_id: str  # the session URL's last part, its credential for PATCH and DELETE
    pc: RTCPeerConnection = field(repr=False)
    voice: Voice = field(repr=False)
    started_at: float = field(default_factory=time.monotonic)
    first_audio_at: float | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list, repr=False)
    #: The program sound without this voice, leased while the speaker speaks.
    minus: Lease[SharedAudioEncoder] | None = field(default=None, repr=False)
    #: The speaker's viewer sessions moved to ``minus``: viewer id -> encoder to go back to.
    switched: dict[str, SharedAudioEncoder] = field(default_factory=dict, repr=False)
    has_video: bool = False

    @property
    def session_url(self) -> str:
        return f"{self.grant.whip_url}/{self.session_id}"

    @property
    def connection_state(self) -> str:
        return str(self.pc.connectionState)


@dataclass(frozen=True)
class SpeakerStatus:
    """Who is talking back in a room, for the console (level meter) and its tests."""

    user_id: int
    grant_id: str
    publishing: bool
    seconds: float
    level_db: float
    audio: bool  # samples have arrived
    received_seconds: float  # of the speaker's sound, in all
    mix_minus_sessions: int  # the speaker's own viewer sessions playing the mix-minus


@dataclass(frozen=True)
class TalkbackEnded:
    """A grant's end, whoever ended it: what the hand queue and CME attendance need."""

    room_id: str
    user_id: int
    grant_id: str
    reason: str
    spoke_seconds: float  # from the publish's offer to its end (0 if it never published)


#: Told (awaited) when a talkback ends.
EndCallback = Callable[[TalkbackEnded], Awaitable[None]]


def voice_key(user_id: int) -> str:
    """A speaker's name in the mixer and in its mix-minus output key."""
    return f"user:{user_id}"


def check_talkback_offer(sdp: str, allow_camera: bool) -> None:
    """Refuse an offer that is not SDP, sends no Opus audio, or sends video without the right."""
    text = sdp.replace("\r\n", "\n").strip()
    if not text.startswith("v=0"):
        raise OfferError("body is not an SDP offer (it must start with 'v=0')")
    if "a=ice-ufrag:" not in text:
        raise OfferError("the offer has no ICE credentials (a=ice-ufrag)")
    if sum(1 for line in text.split("\n") if line.startswith("m=")) > 4:
        raise OfferError("a talkback offer has one audio line and at most one video line")

    def sending(section: list[str]) -> bool:
        return not any(l.strip() in ("a=recvonly", "a=inactive") for l in section)

    audio = [s for s in media_sections(text, "audio") if sending(s)]
    if not audio:
        raise OfferError("the offer sends no audio (m=audio): a talkback publishes a microphone")
    if not any(l.lower().startswith("a=rtpmap:") and " opus/48000" in l.lower()
               for s in audio for l in s):
        raise OfferError("the offer's audio has no Opus: MedRoom mixes Opus voices")
    video = [s for s in media_sections(text, "video") if sending(s)]
    if video and not allow_camera:
        raise OfferError(
            "this talkback grant does not allow the camera: publish the microphone only")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Talkback:
    """Every talkback grant and speaker of the server."""

    def __init__(
        self, broadcasts: Mapping[str, RoomBroadcast], viewers: ViewerSessions,
        ice_servers: Sequence[RTCIceServer] = (), ttl_seconds: float = GRANT_TTL_SECONDS,
        on_end: EndCallback | None = None, first_audio_timeout: float = FIRST_AUDIO_TIMEOUT,
    ) -> None:
        accept_rsa_peers()
        self._broadcasts = broadcasts
        self._viewers = viewers
        self._ice_servers = list(ice_servers)
        self.ttl_seconds = ttl_seconds
        self.on_end = on_end
        self.first_audio_timeout = first_audio_timeout
        self._grants: dict[str, TalkbackGrant] = {}  # by sha256 of the token
        self._speakers: dict[str, Speaker] = {}  # by grant id
        self._ending: set[asyncio.Task[bool]] = set()
        self._lock = asyncio.Lock()

    # -- grants -------------------------------------------------------------------------------
    async def grant(self, room_id: str, user_id: int, allow_camera: bool) -> TalkbackGrant:
        """Issue the publish right for one acceptance of ``user_id``'s hand in ``room_id``
        (replacing that user's earlier grant there, whose publish is closed before this
        returns). Raises ``TalkbackUnavailable`` when the room is not on air, has no sound, or
        has ``MAX_SPEAKERS_PER_ROOM`` grants already."""
        earlier = self.grant_for(room_id, user_id)
        grant = self.issue(room_id, user_id, allow_camera)
        if earlier is not None:
            await self._end_grant(earlier, "replaced by a new acceptance")
        return grant

    def issue(self, room_id: str, user_id: int, allow_camera: bool) -> TalkbackGrant:
        """``grant`` for callers that cannot wait (the hand queue answers the acceptance in
        the same step): an earlier grant of the user there stops being valid at once and its
        publish is closed in the background."""
        broadcast = self._broadcasts.get(room_id)
        if broadcast is None:
            raise LookupError(f"no room '{room_id}'")
        if broadcast.on_air is None:
            raise TalkbackUnavailable(
                f"room '{room_id}' is not live: talkback is possible only during a session")
        if broadcast.mixer is None:
            raise TalkbackUnavailable(
                f"room '{room_id}' has no sound to mix a voice into: add an [audio] table to "
                "its room file")
        self._prune()
        earlier = self.grant_for(room_id, user_id)
        others = [g for g in self._grants.values() if g.room_id == room_id and g is not earlier]
        if len(others) >= MAX_SPEAKERS_PER_ROOM:
            raise TalkbackUnavailable(
                f"room '{room_id}' has {MAX_SPEAKERS_PER_ROOM} speakers already: end one first")
        if earlier is not None:
            self._end_soon_grant(earlier, "replaced by a new acceptance")
        grant = TalkbackGrant(
            id=secrets.token_hex(8), room_id=room_id, user_id=user_id,
            allow_camera=allow_camera, expires_at=time.time() + self.ttl_seconds,
            token=secrets.token_urlsafe(32),
        )
        self._grants[_hash(grant.token)] = grant
        logger.info("talkback granted to user %s in room %s (grant %s, camera %s)", user_id,
                    room_id, grant.id, allow_camera)
        return grant

    def revoke_soon(self, room_id: str, user_id: int, reason: str) -> bool:
        """``revoke`` for callers that cannot wait: the token is refused at once, the publish
        closes in the background. False when there was no grant."""
        grant = self.grant_for(room_id, user_id)
        if grant is None:
            return False
        self._end_soon_grant(grant, reason)
        return True

    def _end_soon_grant(self, grant: TalkbackGrant, reason: str) -> None:
        # Out of the table now (so the token is refused and grant_for finds the new one),
        # then ended properly: _end_grant needs the entry, so it is put back for it.
        self._grants.pop(_hash(grant.token), None)

        async def end() -> bool:
            self._grants[_hash(grant.token)] = grant
            await self._end_grant(grant, reason)
            return True

        task = asyncio.get_running_loop().create_task(end())
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)

    def grant_for(self, room_id: str, user_id: int) -> TalkbackGrant | None:
        """``user_id``'s current grant in ``room_id`` (what their own page fetches)."""
        self._prune()
        return next((g for g in self._grants.values()
                     if g.room_id == room_id and g.user_id == user_id), None)

    def _prune(self) -> None:
        """Forget grants whose token expired unused (a publishing grant stays)."""
        now = time.time()
        for key, grant in list(self._grants.items()):
            if grant.expires_at < now and grant.id not in self._speakers:
                del self._grants[key]

    def check_token(self, room_id: str, token: str, user_id: int | None) -> TalkbackGrant:
        """The grant of ``token`` if it may publish now in ``room_id`` (for ``user_id``, when
        the caller says who they are)."""
        grant = self._grants.get(_hash(token))
        if grant is None or not hmac.compare_digest(grant.token, token):
            raise UnknownGrant("no talkback grant has this token: it ended, was revoked or "
                               "never existed; raise your hand again")
        if grant.room_id != room_id:
            raise GrantMismatch(f"this talkback grant is for room '{grant.room_id}'")
        if user_id is not None and user_id != grant.user_id:
            raise GrantMismatch("this talkback grant was given to another user")
        if grant.id in self._speakers:
            raise TalkbackBusy("this talkback already publishes: end it (DELETE its session "
                               "URL) before publishing again")
        if time.time() > grant.expires_at:
            raise UnknownGrant("this talkback grant expired before it was used: ask the "
                               "instructor to accept your hand again")
        return grant

    # -- publishing ---------------------------------------------------------------------------
    async def publish(
        self, room_id: str, token: str, offer_sdp: str, user_id: int | None = None
    ) -> tuple[Speaker, str]:
        """Answer the speaker's WHIP offer; returns the speaker and the SDP answer. Raises
        ``TalkbackRefused`` (see ``check_token``) or ``OfferError``."""
        async with self._lock:
            grant = self.check_token(room_id, token, user_id)
            broadcast = self._broadcasts[room_id]
            if broadcast.on_air is None or broadcast.mixer is None:
                raise TalkbackUnavailable(f"room '{room_id}' is not live")
            check_talkback_offer(offer_sdp, grant.allow_camera)
            mixer = broadcast.mixer
            pc = RTCPeerConnection(RTCConfiguration(iceServers=list(self._ice_servers)))
            speaker = Speaker(grant=grant, session_id=secrets.token_hex(16), pc=pc,
                              voice=Voice(voice_key(grant.user_id)))
            pc.on("track", lambda track: self._on_track(speaker, track))
            try:
                try:
                    await pc.setRemoteDescription(
                        RTCSessionDescription(sdp=offer_sdp, type="offer"))
                except (ValueError, KeyError, IndexError, AssertionError) as exc:
                    raise OfferError(f"the SDP offer could not be parsed: {exc!r}") from None
                for transceiver in pc.getTransceivers():
                    if transceiver.kind == "audio":
                        # aiortc holds 4 audio packets (80 ms) before decoding; one is enough
                        # on a good link and keeps mouth-to-ear short.
                        transceiver.receiver._RTCRtpReceiver__jitter_buffer = JitterBuffer(  # type: ignore[attr-defined]
                            capacity=16, prefetch=1)
                    else:
                        speaker.has_video = True
                await pc.setLocalDescription(await pc.createAnswer())
                speaker.minus = await broadcast.sound_without(speaker.voice.key)
                if self._grants.get(_hash(token)) is not grant or broadcast.on_air is None:
                    # Revoked (or the room went off air) while the offer was being answered.
                    raise UnknownGrant("this talkback grant ended while connecting: raise "
                                       "your hand again")
            except BaseException as exc:
                await _close_quietly(pc)
                if speaker.minus is not None:
                    await speaker.minus.release()
                if isinstance(exc, (OfferError, TalkbackRefused)) or not isinstance(exc, Exception):
                    raise
                logger.exception("talkback offer failed")
                raise OfferError(f"the offer could not be answered: {exc}") from None
            self._speakers[grant.id] = speaker
            mixer.add_voice(speaker.voice)
            self._switch_viewers(speaker)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self._end(speaker, f"connection {pc.connectionState}")

        speaker.tasks.append(asyncio.create_task(self._watch(speaker)))
        logger.info("talkback %s: user %s speaks in room %s", grant.id, grant.user_id, room_id)
        return speaker, pc.localDescription.sdp

    def session(self, room_id: str, session_id: str) -> Speaker | None:
        return next((s for s in self._speakers.values()
                     if s.session_id == session_id and s.grant.room_id == room_id), None)

    def speakers(self, room_id: str) -> list[SpeakerStatus]:
        """Everyone granted in ``room_id``, speaking or about to, with their level."""
        self._prune()
        out = []
        now = time.monotonic()
        for grant in self._grants.values():
            if grant.room_id != room_id:
                continue
            speaker = self._speakers.get(grant.id)
            out.append(SpeakerStatus(
                user_id=grant.user_id, grant_id=grant.id, publishing=speaker is not None,
                seconds=round(now - speaker.started_at, 1) if speaker else 0.0,
                level_db=round(speaker.voice.level_db, 1) if speaker else -120.0,
                audio=bool(speaker and speaker.voice.samples_in),
                received_seconds=round(speaker.voice.samples_in / 48_000, 2) if speaker else 0.0,
                mix_minus_sessions=sum(1 for v in speaker.switched if self._viewers.get(v))
                if speaker else 0,
            ))
        return out

    # -- ending -------------------------------------------------------------------------------
    async def revoke(self, room_id: str, user_id: int, reason: str = "ended by the instructor"
                     ) -> bool:
        """End ``user_id``'s talkback in ``room_id`` at once: the grant's token is refused from
        now on and its publish (if any) is closed. False when there was none."""
        grant = next((g for g in self._grants.values()
                      if g.room_id == room_id and g.user_id == user_id), None)
        if grant is None:
            return False
        await self._end_grant(grant, reason)
        return True

    async def end_session(self, speaker: Speaker, reason: str) -> None:
        """The speaker ended it (DELETE on the session URL): the grant ends too."""
        await self._end(speaker, reason)

    async def close_room(self, room_id: str, reason: str) -> None:
        for grant in [g for g in self._grants.values() if g.room_id == room_id]:
            await self._end_grant(grant, reason)

    async def close_all(self, reason: str) -> None:
        for grant in list(self._grants.values()):
            await self._end_grant(grant, reason)
        await asyncio.gather(*self._ending, return_exceptions=True)

    async def _end(self, speaker: Speaker, reason: str) -> None:
        await self._end_grant(speaker.grant, reason)

    async def _end_grant(self, grant: TalkbackGrant, reason: str) -> None:
        if self._grants.pop(_hash(grant.token), None) is None:
            return  # ended already
        speaker = self._speakers.pop(grant.id, None)
        spoke = 0.0
        if speaker is not None:
            spoke = round(time.monotonic() - speaker.started_at, 1)
            await self._stop_speaker(speaker)
        logger.info("talkback %s of user %s in room %s ended: %s", grant.id, grant.user_id,
                    grant.room_id, reason)
        if self.on_end is not None:
            try:
                await self.on_end(
                    TalkbackEnded(grant.room_id, grant.user_id, grant.id, reason, spoke))
            except Exception:
                logger.exception("talkback end callback failed for grant %s", grant.id)

    async def _stop_speaker(self, speaker: Speaker) -> None:
        current = asyncio.current_task()
        for task in speaker.tasks:
            if task is not current:
                task.cancel()
        for task in speaker.tasks:
            if task is not current:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        broadcast = self._broadcasts.get(speaker.grant.room_id)
        if broadcast is not None and broadcast.mixer is not None:
            broadcast.mixer.remove_voice(speaker.voice.key)
        # Back to the program sound first, then the mix-minus may stop.
        for viewer_id, encoder in speaker.switched.items():
            viewer = self._viewers.get(viewer_id)
            if viewer is not None and viewer.audio_track is not None:
                viewer.audio_track.switch(encoder)
        speaker.switched.clear()
        await _close_quietly(speaker.pc)
        if speaker.minus is not None:
            await speaker.minus.release()

    # -- the speaker's own viewer sessions ----------------------------------------------------
    def _switch_viewers(self, speaker: Speaker) -> None:
        for viewer in self._viewers.in_room(speaker.grant.room_id):
            self.viewer_joined(viewer)

    def viewer_joined(self, viewer: Viewer) -> None:
        """A viewer session joined (or exists): if its user talks back in its room, it plays
        the mix-minus. Called by ``Streaming.join`` for every new viewer."""
        if viewer.user_id is None or viewer.audio_track is None or viewer.sound is None:
            return
        if viewer.sound.key != OutputKey(viewer.room_id, AUDIO):
            return  # it plays something else than the program sound (the talkback alone)
        for speaker in self._speakers.values():
            grant = speaker.grant
            if (grant.room_id, grant.user_id) != (viewer.room_id, viewer.user_id):
                continue
            if speaker.minus is None or viewer.id in speaker.switched:
                continue
            previous = viewer.audio_track.switch(speaker.minus.encoder)
            assert isinstance(previous, SharedAudioEncoder)
            speaker.switched[viewer.id] = previous

    # -- per speaker tasks --------------------------------------------------------------------
    def _on_track(self, speaker: Speaker, track: MediaStreamTrack) -> None:
        receive = self._receive_audio if track.kind == "audio" else self._drain
        speaker.tasks.append(asyncio.create_task(receive(speaker, track)))

    async def _receive_audio(self, speaker: Speaker, track: MediaStreamTrack) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48_000)
        try:
            while True:
                frame = await track.recv()
                if not isinstance(frame, av.AudioFrame):
                    continue
                if speaker.first_audio_at is None:
                    speaker.first_audio_at = time.monotonic()
                for mono in resampler.resample(frame):
                    speaker.voice.push(mono.to_ndarray().reshape(-1).astype(np.int16))
        except MediaStreamError:
            self._end_soon(speaker, "the speaker's audio ended")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("talkback %s: audio could not be decoded", speaker.grant.id)
            self._end_soon(speaker, f"its audio could not be decoded: {exc}")

    async def _drain(self, speaker: Speaker, track: MediaStreamTrack) -> None:
        # The camera is received (the grant allowed it) but not shown yet: drain it, an unread
        # track would queue decoded pictures without end.
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()

    async def _watch(self, speaker: Speaker) -> None:
        while speaker.first_audio_at is None:
            await asyncio.sleep(0.25)
            if time.monotonic() - speaker.started_at > self.first_audio_timeout:
                self._end_soon(
                    speaker, f"no audio within {self.first_audio_timeout:.0f} s of the offer")
                return

    def _end_soon(self, speaker: Speaker, reason: str) -> None:
        task = asyncio.get_running_loop().create_task(self._end_and_report(speaker, reason))
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)

    async def _end_and_report(self, speaker: Speaker, reason: str) -> bool:
        await self._end(speaker, reason)
        return True


async def _close_quietly(pc: RTCPeerConnection) -> None:
    try:
        await pc.close()
    except Exception:  # closing a broken connection must not raise
        logger.exception("talkback: closing a connection failed")

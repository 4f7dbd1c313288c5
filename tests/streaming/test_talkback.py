"""Talkback: grants and their refusals, a voice mixed into the program sound for every viewer
but the speaker (mix-minus), and revoke closing the publish at once. Real peers on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiortc import RTCSessionDescription

from room_controller.sources.audio import SyntheticAudioSource
from streaming.ice import set_ice_addresses
from streaming.outputs import AUDIO, OutputKey, Outputs, without_key
from streaming.talkback import (
    GrantMismatch,
    Talkback,
    TalkbackBusy,
    TalkbackEnded,
    TalkbackUnavailable,
    UnknownGrant,
    voice_key,
)
from streaming.whep import OfferError, ViewerSessions
from tests.peers import client_pc
from web.bench.talkback import ROOM, ToneTrack, join_ear, publish_voice, quiet_room

SPEAKER, OTHER = 11, 12


@pytest.fixture(autouse=True)
def loopback_only() -> Iterator[None]:
    set_ice_addresses(["127.0.0.1"])
    yield
    set_ice_addresses([])


class Live:
    def __init__(self) -> None:
        self.source = SyntheticAudioSource("tb-audio", level_db=-50.0, beep_interval=0)
        self.outputs = Outputs()
        self.broadcast = quiet_room(self.outputs, self.source)
        self.sessions = ViewerSessions()
        self.ended: list[TalkbackEnded] = []

        async def on_end(ended: TalkbackEnded) -> None:
            self.ended.append(ended)

        self.talkback = Talkback({ROOM: self.broadcast}, self.sessions, on_end=on_end)


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    state = Live()
    state.source.start()
    await state.broadcast.go_on_air()
    yield state
    await state.talkback.close_all("test over")
    await state.sessions.close_all("test over")
    await state.broadcast.go_off_air()
    await state.outputs.stop_all()
    state.source.stop()


async def test_grant_token_refused_for_wrong_room_user_after_revoke_and_expiry(live: Live):
    talkback = live.talkback
    grant = await talkback.grant(ROOM, SPEAKER, allow_camera=False)
    assert len(grant.token) >= 40 and grant.expires_at > time.time()
    assert "token" not in grant.public() and grant.for_speaker()["token"] == grant.token
    assert talkback.grant_for(ROOM, SPEAKER) == grant
    assert talkback.grant_for(ROOM, OTHER) is None
    assert talkback.check_token(ROOM, grant.token, SPEAKER) == grant
    assert talkback.check_token(ROOM, grant.token, None) == grant  # the token alone
    with pytest.raises(GrantMismatch, match="room 'bench'"):
        talkback.check_token("other-room", grant.token, SPEAKER)
    with pytest.raises(GrantMismatch, match="another user"):
        talkback.check_token(ROOM, grant.token, OTHER)
    with pytest.raises(UnknownGrant):
        talkback.check_token(ROOM, grant.token[:-2] + "xx", SPEAKER)
    with pytest.raises(UnknownGrant):
        await talkback.publish(ROOM, "not-a-token", "v=0\r\n", SPEAKER)

    assert await talkback.revoke(ROOM, SPEAKER)
    assert not await talkback.revoke(ROOM, SPEAKER)  # once
    with pytest.raises(UnknownGrant, match="revoked"):
        talkback.check_token(ROOM, grant.token, SPEAKER)
    assert [(e.room_id, e.user_id, e.reason, e.spoke_seconds) for e in live.ended] == [
        (ROOM, SPEAKER, "ended by the instructor", 0.0)]

    # A new acceptance replaces the old grant (its token is refused).
    first = await talkback.grant(ROOM, SPEAKER, allow_camera=False)
    second = await talkback.grant(ROOM, SPEAKER, allow_camera=True)
    with pytest.raises(UnknownGrant):
        talkback.check_token(ROOM, first.token, SPEAKER)
    assert talkback.check_token(ROOM, second.token, SPEAKER).allow_camera

    talkback.ttl_seconds = 0.05
    short = await talkback.grant(ROOM, OTHER, allow_camera=False)
    await asyncio.sleep(0.1)
    with pytest.raises(UnknownGrant, match="expired"):
        talkback.check_token(ROOM, short.token, OTHER)
    assert talkback.grant_for(ROOM, OTHER) is None  # forgotten once expired


async def test_grant_needs_a_live_room_with_sound(live: Live):
    await live.broadcast.go_off_air()
    with pytest.raises(TalkbackUnavailable, match="not live"):
        await live.talkback.grant(ROOM, SPEAKER, allow_camera=False)
    with pytest.raises(LookupError):
        await live.talkback.grant("nowhere", SPEAKER, allow_camera=False)


async def test_offer_without_audio_or_with_a_camera_not_allowed_is_refused(live: Live):
    grant = await live.talkback.grant(ROOM, SPEAKER, allow_camera=False)
    pc = client_pc()
    try:
        pc.addTransceiver("video", direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        with pytest.raises(OfferError, match="sends no audio"):
            await live.talkback.publish(ROOM, grant.token, pc.localDescription.sdp, SPEAKER)
    finally:
        await pc.close()
    pc = client_pc()
    try:
        pc.addTransceiver("audio", direction="sendonly")
        pc.addTransceiver("video", direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        with pytest.raises(OfferError, match="does not allow the camera"):
            await live.talkback.publish(ROOM, grant.token, pc.localDescription.sdp, SPEAKER)
    finally:
        await pc.close()
    # A refused offer does not use up the grant.
    assert live.talkback.check_token(ROOM, grant.token, SPEAKER) == grant


async def test_voice_reaches_other_viewers_not_the_speaker_and_revoke_ends_it(live: Live):
    talkback, outputs = live.talkback, live.outputs
    own_pc, own_ear, own_task = await join_ear(
        live.sessions, talkback, live.broadcast, SPEAKER, "speaker")
    other_pc, other_ear, other_task = await join_ear(
        live.sessions, talkback, live.broadcast, OTHER, "other")
    client = None
    extra: list[tuple[Any, asyncio.Task[None]]] = []
    try:
        grant = await talkback.grant(ROOM, SPEAKER, allow_camera=False)
        client, speaker = await publish_voice(
            talkback, ROOM, grant.token, ToneTrack(period=None), SPEAKER)
        minus = without_key(ROOM, voice_key(SPEAKER))
        assert outputs.holders(minus) == 1  # leased while the speaker speaks
        # The same token cannot publish a second time while the first runs.
        with pytest.raises(TalkbackBusy):
            talkback.check_token(ROOM, grant.token, SPEAKER)

        deadline = time.monotonic() + 10
        while len(other_ear.heard) == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert other_ear.heard, "the other viewer never heard the talkback tone"
        own_ear.levels.clear()
        other_ear.levels.clear()
        await asyncio.sleep(1.0)
        heard, own = other_ear.tone_share_db(), own_ear.tone_share_db()
        print(f"tone at the other viewer {heard:.1f} dBFS, in the speaker's own sound "
              f"{own:.1f} dBFS")
        assert heard > -20  # the -12 dBFS tone, through Opus
        assert own < heard - 40  # absent from the speaker's own program sound
        # The speaker opens a second session (another tab, a rejoin): it plays the mix-minus too.
        late_pc, late_ear, late_task = await join_ear(
            live.sessions, talkback, live.broadcast, SPEAKER, "speaker-again")
        extra = [(late_pc, late_task)]
        await asyncio.sleep(1.0)
        assert late_ear.frames > 20 and late_ear.tone_share_db() < heard - 40
        status = talkback.speakers(ROOM)
        assert status[0].mix_minus_sessions == 2
        assert [s.user_id for s in status] == [SPEAKER] and status[0].publishing
        assert status[0].audio and status[0].level_db > -40  # the console's meter (tone: -15 dB RMS)

        assert await talkback.revoke(ROOM, SPEAKER)
        assert speaker.pc.connectionState == "closed"  # the publish ends at once
        assert outputs.holders(minus) == 0 and minus not in outputs.running()
        assert outputs.holders(OutputKey(ROOM, AUDIO)) >= 1
        assert talkback.speakers(ROOM) == []
        # The speaker's session plays the program sound again (its own encoder).
        viewer = next(v for v in live.sessions.all() if v.user_id == SPEAKER)
        assert viewer.audio_track is not None and viewer.sound is not None
        assert viewer.audio_track.encoder is viewer.sound.encoder
        # The client sees its connection end (DTLS close from the server).
        deadline = time.monotonic() + 5
        while client.connectionState not in ("closed", "failed") and \
                time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert client.connectionState in ("closed", "failed")
        assert (live.ended[-1].room_id, live.ended[-1].user_id) == (ROOM, SPEAKER)
        assert live.ended[-1].spoke_seconds >= 1.0  # for the attendance's talkback time
    finally:
        for task in (own_task, other_task, *(t for _, t in extra)):
            task.cancel()
        for pc in (own_pc, other_pc, client, *(p for p, _ in extra)):
            if pc is not None:
                await pc.close()


async def test_a_publish_that_sends_no_audio_is_ended(live: Live):
    talkback = live.talkback
    talkback.first_audio_timeout = 0.5
    grant = await talkback.grant(ROOM, SPEAKER, allow_camera=False)
    pc = client_pc()
    try:
        pc.addTransceiver("audio", direction="sendonly")  # a microphone that never sends
        await pc.setLocalDescription(await pc.createOffer())
        speaker, answer = await talkback.publish(ROOM, grant.token, pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        deadline = time.monotonic() + 5
        while not live.ended and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert live.ended and "no audio within" in live.ended[0].reason
        assert speaker.pc.connectionState == "closed" and talkback.speakers(ROOM) == []
    finally:
        await pc.close()


async def test_bench_runs_at_small_scale():
    """``medroom bench talkback`` works end to end (a few bursts; timing is not judged)."""
    from web.bench.talkback import format_report, run_talkback

    report = await run_talkback(bursts=3, period=0.3)
    print(format_report(report))
    assert report["bursts"] == 3 and report["heard"] >= 2
    assert report["mouth_to_ear_ms"]["p50"] is not None
    assert report["speaker_heard_bursts"] == 0
    assert report["speaker_to_listener_db"] < -30


async def test_console_hears_the_voices_without_the_room(live: Live):
    """The console's sound ("talkback"): the speaker's voice, not the room's own microphone."""
    talkback = live.talkback
    pc, ear, task = await join_ear(live.sessions, talkback, live.broadcast, SPEAKER, "console",
                                   sound="talkback")
    client = None
    try:
        await asyncio.sleep(1.0)
        assert ear.frames > 20 and max(ear.rms) < -90  # nobody speaks: silence, no room noise
        # The speaker's own console session (an instructor may also talk back) is not switched.
        grant = await talkback.grant(ROOM, SPEAKER, allow_camera=False)
        client, _ = await publish_voice(
            talkback, ROOM, grant.token, ToneTrack(period=None), SPEAKER)
        deadline = time.monotonic() + 10
        while not ear.heard and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert ear.heard, "the console never heard the talkback"
        assert talkback.speakers(ROOM)[0].mix_minus_sessions == 0
    finally:
        task.cancel()
        for peer in (pc, client):
            if peer is not None:
                await peer.close()


async def test_revoke_while_the_offer_is_answered_leaves_nothing_running(live: Live):
    talkback, outputs = live.talkback, live.outputs
    grant = await talkback.grant(ROOM, SPEAKER, allow_camera=False)
    pc = client_pc()
    try:
        pc.addTransceiver(ToneTrack(period=None), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        publishing = asyncio.create_task(
            talkback.publish(ROOM, grant.token, pc.localDescription.sdp, SPEAKER))
        while not talkback._lock.locked():  # the offer is being answered
            await asyncio.sleep(0)
        assert await talkback.revoke(ROOM, SPEAKER)
        with pytest.raises(UnknownGrant, match="ended while connecting"):
            await publishing
        assert talkback.speakers(ROOM) == []
        assert outputs.holders(without_key(ROOM, voice_key(SPEAKER))) == 0
        assert live.broadcast.mixer is not None and live.broadcast.mixer.voices() == []
    finally:
        await pc.close()

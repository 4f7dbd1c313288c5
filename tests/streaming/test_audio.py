"""The program audio: Opus encoded once, on the video's clock, sent to WHEP viewers."""

from __future__ import annotations

import asyncio
import fractions
import itertools
import time
from typing import Any

import av
import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from room_controller.sources.audio import CHUNK_SAMPLES, SyntheticAudioSource
from streaming.audio import AudioSettings, SharedAudioEncoder
from streaming.broadcast import Sound
from streaming.encoder import MEDIA_ORIGIN, EncoderSettings, SharedEncoder
from streaming.ice import set_ice_addresses
from streaming.whep import ViewerSessions, offers_opus_audio
from tests.streaming.feeds import broadcast_of, client

from .test_whep_sessions import moving_frame


@pytest.fixture(autouse=True)
def loopback_only():
    set_ice_addresses(["127.0.0.1"])
    yield
    set_ice_addresses([])


@pytest.fixture
def audio_source():
    source = SyntheticAudioSource("test-audio", channels=1)
    source.start()
    yield source
    source.stop()


def test_source_read_returns_every_chunk_since_last_read(audio_source):
    time.sleep(0.3)
    first = audio_source.read()
    time.sleep(0.2)
    second = audio_source.read()
    chunks = first + second
    assert len(chunks) >= 20
    assert [c.index for c in chunks] == list(range(chunks[0].index, chunks[0].index + len(chunks)))
    assert all(c.samples.shape == (CHUNK_SAMPLES, 1) and c.samples.dtype == np.int16
               for c in chunks)
    assert np.abs(np.concatenate([c.samples for c in chunks])).max() > 1000  # the beep


def test_source_rests_while_nobody_reads_and_resumes_at_once(audio_source):
    audio_source.rest_after = 0.3
    time.sleep(0.6)  # nobody reads: no live session, no recording
    made = audio_source.chunks_made
    time.sleep(0.5)
    assert audio_source.chunks_made == made  # no sound made for nobody

    assert audio_source.read() == []  # nothing stale from before the rest
    time.sleep(0.2)
    chunks = audio_source.read()
    assert len(chunks) >= 8  # sound again from the read on, 50 chunks a second
    assert [c.index for c in chunks] == list(range(chunks[0].index, chunks[0].index + len(chunks)))
    assert time.monotonic() - chunks[0].captured_at < 0.3  # made now, not a stale backlog
    assert audio_source.chunks_skipped == 0  # resting is not losing sound


async def test_encoder_sends_50_opus_packets_a_second_on_the_shared_clock(audio_source):
    encoder = SharedAudioEncoder(audio_source.read, AudioSettings(), name="a")
    packets: list[tuple[float, av.Packet[Any]]] = []
    encoder.subscribe(lambda p: packets.append((time.monotonic(), p)))
    encoder.start()
    await asyncio.sleep(0.3)
    packets.clear()
    cpu0 = encoder.stats().cpu_seconds
    await asyncio.sleep(2.0)
    cpu = encoder.stats().cpu_seconds - cpu0
    await encoder.stop()
    print(f"audio encoder CPU: {cpu / 2.0 * 1000:.1f} ms per second of audio")
    assert 90 <= len(packets) <= 110  # 50 per second
    pts = [p.pts for _, p in packets]
    assert all(b - a == 960 for a, b in itertools.pairwise(pts))
    assert all(p.time_base == fractions.Fraction(1, 48000) for _, p in packets)
    # pts is capture time on the origin the video uses: it is close to the arrival time.
    for arrived, packet in packets:
        assert packet.pts is not None
        lag = arrived - MEDIA_ORIGIN - packet.pts / 48000
        assert 0 <= lag < 0.15, lag
    decoder = av.CodecContext.create("libopus", "r")
    samples = 0
    for _, packet in packets:
        for frame in decoder.decode(av.Packet(bytes(packet))):
            assert isinstance(frame, av.AudioFrame)
            assert frame.sample_rate == 48000
            samples += frame.samples
    assert abs(samples - len(packets) * 960) <= 960
    assert cpu < 0.2  # well under 10 % of a core


async def test_video_pts_are_on_the_same_clock():
    encoder = SharedEncoder(moving_frame, EncoderSettings(width=320, height=240), name="v")
    packets: list[tuple[float, av.Packet[Any]]] = []
    encoder.subscribe(lambda p: packets.append((time.monotonic(), p)))
    encoder.start()
    await asyncio.sleep(0.5)
    await encoder.stop()
    assert packets
    for arrived, packet in packets:
        assert packet.pts is not None
        assert 0 <= arrived - MEDIA_ORIGIN - packet.pts / 90000 < 0.15


async def _offer(kinds: tuple[str, ...]) -> tuple[RTCPeerConnection, str]:
    pc = client()
    for kind in kinds:
        pc.addTransceiver(kind, direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def test_whep_viewer_offering_audio_gets_opus_and_video(audio_source):
    broadcast, outputs = broadcast_of(
        {"program": (moving_frame, 320, 240)}, sound=Sound(audio_source.read, AudioSettings())
    )
    audio = (await broadcast.go_on_air()).sound.encoder  # type: ignore[union-attr]
    sessions = ViewerSessions()
    client, offer = await _offer(("audio", "video"))
    assert offers_opus_audio(offer)
    try:
        viewer, answer = await sessions.join(
            feed=broadcast, offer_sdp=offer, selection=broadcast.choose(None, None),
            subject="s", role="student", user_id=None,
        )
        assert "m=audio" in answer and "opus/48000" in answer.lower()
        assert viewer.audio_track is not None
        tracks: dict[str, Any] = {}
        both = asyncio.get_running_loop().create_future()

        def on_track(track: Any) -> None:
            tracks[track.kind] = track
            if len(tracks) == 2 and not both.done():
                both.set_result(None)

        client.on("track", on_track)
        await client.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await asyncio.wait_for(both, 10)

        async def take(track: Any, want: int) -> list[Any]:
            frames = []
            while len(frames) < want:
                try:
                    frames.append(await asyncio.wait_for(track.recv(), 10))
                except (TimeoutError, MediaStreamError):
                    break
            return frames

        audio_frames, video_frames = await asyncio.gather(
            take(tracks["audio"], 50), take(tracks["video"], 10)
        )
        assert len(audio_frames) == 50
        assert all(f.sample_rate == 48000 for f in audio_frames)
        levels = np.concatenate([f.to_ndarray().ravel() for f in audio_frames])
        assert np.abs(levels).max() > 100  # sound, not silence
        assert len(video_frames) == 10
        assert video_frames[-1].width == 320
    finally:
        await client.close()
        await sessions.close_all("test over")
        await outputs.stop_all()
    assert audio.subscribers == 0


async def test_video_only_offer_gets_video_only(audio_source):
    broadcast, outputs = broadcast_of(
        {"program": (moving_frame, 320, 240)}, sound=Sound(audio_source.read, AudioSettings())
    )
    audio = (await broadcast.go_on_air()).sound.encoder  # type: ignore[union-attr]
    sessions = ViewerSessions()
    client, offer = await _offer(("video",))
    try:
        viewer, answer = await sessions.join(
            feed=broadcast, offer_sdp=offer, selection=broadcast.choose(None, None),
            subject="s", role="student", user_id=None,
        )
        assert "m=audio" not in answer and "m=video" in answer
        assert viewer.audio_track is None
        assert audio.subscribers == 0
    finally:
        await client.close()
        await sessions.close_all("test over")
        await outputs.stop_all()

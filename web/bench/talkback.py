"""``medroom bench talkback``: mouth-to-ear of a talkback voice, and the speaker's mix-minus.

One process, loopback only, real peer connections: a room on air (a small program picture and
a quiet synthetic sound, no beep), ``streaming.talkback`` granting user 1. A talkback client
(aiortc) publishes tone bursts (1 kHz, ``burst_ms`` long, one every ``period`` s) by WHIP into
the talkback; WHEP viewers receive the program sound:

- **listener**: another user's session, its receiver holding one packet before decoding (what
  a browser's adaptive buffer does on a clean link): mouth-to-ear p50/p95/max, from the instant
  the client's microphone track hands a burst's first frame to its sender to the instant the
  listener's track gives out the first frame carrying the tone;
- **listener (aiortc default buffer)**: the same with aiortc's stock audio receiver (four
  packets), for comparison;
- **speaker**: the speaker's own session, which plays the mix-minus: the tone's level in it
  against the listener's (dB; very negative = absent).

Timing is at frame resolution (20 ms) on both ends. The goal on loopback: p95 <= 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.jitterbuffer import JitterBuffer
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from room_controller.sources.audio import SyntheticAudioSource
from streaming.audio import AudioSettings
from streaming.broadcast import Picture, RoomBroadcast, Sound, View
from streaming.ice import set_ice_addresses
from streaming.outputs import Outputs
from streaming.talkback import Speaker, Talkback
from streaming.whep import ViewerSessions

SAMPLE_RATE = 48_000
FRAME = 960  # 20 ms
TONE_HZ = 1000.0
ROOM = "bench"
SPEAKER, LISTENER, LISTENER_STOCK = 1, 2, 3
#: A frame whose 1 kHz level is above this (dBFS) carries the tone; the room's noise is at
#: -50 dBFS spread over the spectrum, far below it at 1 kHz.
DETECT_DB = -30.0


def tone_level_db(samples: npt.NDArray[Any]) -> float:
    """The 1 kHz component of mono samples, in dBFS (a full-scale sine is 0)."""
    x = samples.astype(np.float64) / 32768
    t = np.arange(len(x)) / SAMPLE_RATE
    re = float(np.dot(x, np.cos(2 * np.pi * TONE_HZ * t)))
    im = float(np.dot(x, np.sin(2 * np.pi * TONE_HZ * t)))
    amplitude = 2 * math.hypot(re, im) / max(1, len(x))
    return 20 * math.log10(amplitude) if amplitude > 0 else -120.0


def mono(frame: av.AudioFrame) -> npt.NDArray[np.int16]:
    data = frame.to_ndarray().reshape(-1)
    channels = len(frame.layout.channels)
    samples: npt.NDArray[np.int16] = data.reshape(-1, channels)[:, 0].astype(np.int16)
    return samples


class ToneTrack(MediaStreamTrack):
    """A microphone that plays 1 kHz: bursts (``period`` s apart, ``burst_ms`` long), or a
    continuous tone (``period`` None). Paced in real time, 20 ms a frame; ``onsets`` keeps the
    instant each burst's first frame was handed to the sender."""

    kind = "audio"

    def __init__(self, period: float | None = 0.5, burst_ms: float = 100.0,
                 level_db: float = -12.0, bursts: int | None = None) -> None:
        super().__init__()
        self.period = period
        self.burst_samples = int(burst_ms / 1000 * SAMPLE_RATE)
        self.amplitude = 32767 * 10 ** (level_db / 20)
        self.bursts = bursts
        self.onsets: list[float] = []
        self._index = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._index * FRAME / SAMPLE_RATE
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        n0 = self._index * FRAME
        n = n0 + np.arange(FRAME)
        if self.period is None:
            on = np.ones(FRAME, dtype=bool)
        else:
            period = int(self.period * SAMPLE_RATE)
            # The first burst waits a second: the connection settles first.
            phase = (n - SAMPLE_RATE) % period
            burst_no = (n - SAMPLE_RATE) // period
            on = (n >= SAMPLE_RATE) & (phase < self.burst_samples)
            if self.bursts is not None:
                on &= burst_no < self.bursts
            if on.any() and phase[on.argmax()] == 0:
                self.onsets.append(time.monotonic())
        signal = np.where(on, self.amplitude * np.sin(2 * np.pi * TONE_HZ * n / SAMPLE_RATE), 0)
        frame = av.AudioFrame.from_ndarray(
            signal.astype(np.int16).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = n0
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._index += 1
        return frame


@dataclass
class Ear:
    """A WHEP viewer's program sound: when the tone was heard, and its levels."""

    name: str
    heard: list[float] = field(default_factory=list)  # arrival instants of tone onsets
    levels: list[float] = field(default_factory=list)  # 1 kHz dBFS of each frame
    frames: int = 0
    _on: bool = False

    def hear(self, frame: av.AudioFrame) -> None:
        samples = mono(frame)
        level = tone_level_db(samples)
        power = float(np.mean(np.square(samples.astype(np.float64) / 32768)))
        self.rms.append(10 * math.log10(power) if power > 0 else -120.0)
        self.frames += 1
        self.levels.append(level)
        on = level > DETECT_DB
        if on and not self._on:
            self.heard.append(time.monotonic())
        self._on = on

    rms: list[float] = field(default_factory=list)  # dBFS of each frame, all frequencies

    def loudest(self) -> float:
        return max(self.levels, default=-120.0)

    def tone_share_db(self) -> float:
        """The mean power of the frames above the room's noise, as dBFS (the tone's level)."""
        loud = sorted(self.levels)[-max(1, len(self.levels) // 10):]
        return 10 * math.log10(statistics.fmean(10 ** (v / 10) for v in loud))


def small_prefetch(pc: RTCPeerConnection) -> None:
    """Hold one audio packet before decoding, as a browser does on a clean link."""
    for transceiver in pc.getTransceivers():
        if transceiver.kind == "audio":
            transceiver.receiver._RTCRtpReceiver__jitter_buffer = JitterBuffer(  # type: ignore[attr-defined]
                capacity=16, prefetch=1)


async def join_ear(
    sessions: ViewerSessions, talkback: Talkback, broadcast: RoomBroadcast, user_id: int,
    name: str, browser_buffer: bool = True, sound: str | None = None,
) -> tuple[RTCPeerConnection, Ear, asyncio.Task[None]]:
    """A WHEP viewer of ``broadcast`` for ``user_id`` that listens for the tone (in the
    program sound, or in ``sound``)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    viewer, answer = await sessions.join(
        feed=broadcast, offer_sdp=pc.localDescription.sdp,
        selection=broadcast.choose(None, None, sound), subject=name, role="student",
        user_id=user_id,
    )
    talkback.viewer_joined(viewer)  # as Streaming.join does
    ear = Ear(name)
    got: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()

    def on_track(track: MediaStreamTrack) -> None:
        if track.kind == "audio" and not got.done():
            got.set_result(track)

    pc.on("track", on_track)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    if browser_buffer:
        small_prefetch(pc)
    track = await asyncio.wait_for(got, 10)

    async def listen() -> None:
        try:
            while True:
                frame = await track.recv()
                if isinstance(frame, av.AudioFrame):
                    ear.hear(frame)
        except MediaStreamError:
            return

    return pc, ear, asyncio.create_task(listen())


async def publish_voice(
    talkback: Talkback, room_id: str, token: str, track: MediaStreamTrack,
    user_id: int | None = None,
) -> tuple[RTCPeerConnection, Speaker]:
    """A talkback client: publish ``track`` by WHIP with the grant's token (in process)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(track, direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    speaker, answer = await talkback.publish(room_id, token, pc.localDescription.sdp, user_id)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return pc, speaker


def quiet_room(outputs: Outputs, source: SyntheticAudioSource) -> RoomBroadcast:
    """A room with a tiny, static program picture and ``source`` as its sound."""
    frame = np.zeros((120, 160, 3), dtype=np.uint8)
    views = {"program": View(lambda: frame, 160, 120)}
    picture = Picture(fps=10, gop_seconds=2.0, bitrate_kbps=200, keyframe_min_interval=0.5)
    return RoomBroadcast(ROOM, views, picture, outputs,
                         Sound(source.read, AudioSettings(channels=1)))


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def match(onsets: Sequence[float], heard: Sequence[float]) -> list[float]:
    """Mouth-to-ear of each burst: the first hearing after its onset, within 1 s (ms)."""
    out = []
    for onset in onsets:
        after = [h for h in heard if onset <= h < onset + 1.0]
        if after:
            out.append((after[0] - onset) * 1000)
    return out


async def run_talkback(bursts: int = 30, period: float = 0.4, burst_ms: float = 100.0
                       ) -> dict[str, Any]:
    set_ice_addresses(["127.0.0.1"])
    source = SyntheticAudioSource("bench-audio", level_db=-50.0, beep_interval=0)
    source.start()
    outputs = Outputs()
    broadcast = quiet_room(outputs, source)
    sessions = ViewerSessions()
    talkback = Talkback({ROOM: broadcast}, sessions)
    pcs: list[RTCPeerConnection] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        await broadcast.go_on_air()
        ears = {}
        for user, name, browser in ((SPEAKER, "speaker", True), (LISTENER, "listener", True),
                                    (LISTENER_STOCK, "listener_stock_buffer", False)):
            pc, ear, task = await join_ear(sessions, talkback, broadcast, user, name, browser)
            pcs.append(pc)
            tasks.append(task)
            ears[name] = ear
        grant = await talkback.grant(ROOM, SPEAKER, allow_camera=False)
        voice = ToneTrack(period=period, burst_ms=burst_ms, bursts=bursts)
        client, published = await publish_voice(talkback, ROOM, grant.token, voice, SPEAKER)
        pcs.append(client)
        deadline = time.monotonic() + 1.0 + bursts * period + 15.0
        while len(voice.onsets) < bursts and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.6)  # the last burst reaches the ears
        listener = match(voice.onsets, ears["listener"].heard)
        stock = match(voice.onsets, ears["listener_stock_buffer"].heard)
        speaker = ears["speaker"]
        heard_tone = ears["listener"].tone_share_db()
        own_tone = speaker.tone_share_db()
        report: dict[str, Any] = {
            "bench": "talkback", "bursts": len(voice.onsets), "heard": len(listener),
            "mouth_to_ear_ms": _summary(listener),
            "mouth_to_ear_stock_buffer_ms": _summary(stock),
            "speaker_heard_bursts": len(match(voice.onsets, speaker.heard)),
            "tone_at_listener_dbfs": round(heard_tone, 1),
            "tone_at_speaker_dbfs": round(own_tone, 1),
            "speaker_to_listener_db": round(own_tone - heard_tone, 1),
            "voice_dropped_ms": round(published.voice.samples_dropped / 48, 1),
            "voice_underruns": published.voice.underruns,
            "goal_p95_ms": 150,
            # A shared machine: compare runs made under a similar load.
            "load_average": [round(x, 2) for x in os.getloadavg()],
        }
        await talkback.revoke(ROOM, SPEAKER)
        return report
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for pc in pcs:
            await pc.close()
        await talkback.close_all("bench over")
        await sessions.close_all("bench over")
        await broadcast.go_off_air()
        await outputs.stop_all()
        source.stop()
        set_ice_addresses([])


def _summary(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    return {"p50": round(statistics.median(values), 1), "p95": round(percentile(values, 95), 1),
            "max": round(max(values), 1)}


def format_report(report: dict[str, Any]) -> str:
    m, s = report["mouth_to_ear_ms"], report["mouth_to_ear_stock_buffer_ms"]
    return "\n".join([
        f"talkback: {report['heard']}/{report['bursts']} tone bursts heard by the listener",
        (f"  mouth-to-ear (1-packet receive buffer): p50 {m['p50']} ms  p95 {m['p95']} ms  "
        f"max {m['max']} ms  (goal p95 <= {report['goal_p95_ms']} ms)"),
        (f"  mouth-to-ear (aiortc stock 4-packet buffer): p50 {s['p50']} ms  p95 {s['p95']} ms  "
        f"max {s['max']} ms"),
        (f"  speaker's own program sound (mix-minus): tone {report['tone_at_speaker_dbfs']} dBFS "
        f"vs {report['tone_at_listener_dbfs']} dBFS at the listener: "
        f"{report['speaker_to_listener_db']} dB; bursts heard by the speaker: "
        f"{report['speaker_heard_bursts']}"),
        (f"  voice buffer: {report['voice_dropped_ms']} ms dropped to stay short, "
        f"{report['voice_underruns']} underruns; load average {report['load_average']}"),
    ])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bursts", type=int, default=30, help="tone bursts (at least 1)")
    parser.add_argument("--period", type=float, default=0.4, help="seconds between bursts")


def run_from_args(args: argparse.Namespace) -> int:
    bursts, period = int(args.bursts), float(args.period)
    if not 1 <= bursts <= 1000:
        print("medroom bench talkback: --bursts must be between 1 and 1000", file=sys.stderr)
        return 2
    if not 0.25 <= period <= 5:
        print("medroom bench talkback: --period must be between 0.25 and 5 s", file=sys.stderr)
        return 2
    report = asyncio.run(run_talkback(bursts, period))
    print(format_report(report))
    print(json.dumps(report))
    return 0

"""The program audio: encoded to Opus once, whatever the number of viewers and recordings.

``SharedAudioEncoder`` drains the room's audio source every 20 ms, encodes each 20 ms chunk with
libopus (48 kHz, about 64 kbit/s) and fans the packets out on the event loop through the same
``PacketFanOut`` as the video encoder (``subscribe``/``unsubscribe``).

Lip sync: a packet's pts is its first sample's capture instant (``time.monotonic()``) minus
``streaming.encoder.MEDIA_ORIGIN``, in 1/48000 s; the video encoder stamps its frames from the
same origin in 1/90000 s. So ``pts * time_base`` of an audio and a video packet are comparable
seconds of capture time: a recording anchors its audio file to the program's first keyframe with
them, and a viewer's RTP timestamps (aiortc derives them from pts) keep the same relation. The
sample count advances the pts between chunks (no jitter); the pts is re-anchored to the capture
clock only when they drift apart by more than ``REANCHOR_SECONDS`` (a gap in the source).

``EncodedAudioTrack`` is a viewer's audio track: it yields the shared ``av.Packet`` objects to
aiortc's sender, whose ``OpusEncoder.pack(packet)`` sends them as they are (its timestamp is
``packet.pts`` converted from ``packet.time_base`` to 48 kHz): nothing is re-encoded per viewer.
"""

from __future__ import annotations

import fractions
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import av

from room_controller.sources.audio import CHUNK_SECONDS, SAMPLE_RATE, AudioChunk
from streaming.encoder import MEDIA_ORIGIN, PacketFanOut
from streaming.track import PacketTrack

logger = logging.getLogger(__name__)

AUDIO_CLOCK = SAMPLE_RATE
AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_CLOCK)
REANCHOR_SECONDS = 0.1
QUEUE_PACKETS = 50  # one second of 20 ms packets per viewer

ChunkSupplier = Callable[[], Sequence[AudioChunk]]


@dataclass(frozen=True)
class AudioSettings:
    channels: int = 1
    bitrate_kbps: int = 64
    sample_rate: int = SAMPLE_RATE
    frame_ms: int = 20


@dataclass(frozen=True)
class AudioEncoderStats:
    running: bool
    chunks_encoded: int
    packets: int
    bytes_out: int
    reanchors: int
    cpu_seconds: float  # thread CPU time of the encoder since it started
    subscribers: int


class SharedAudioEncoder(PacketFanOut):
    """Encodes the program audio to Opus once and fans the packets out on the event loop."""

    def __init__(
        self, supply_chunks: ChunkSupplier, settings: AudioSettings, name: str = "audio"
    ) -> None:
        super().__init__(name)
        self._supply = supply_chunks
        self.settings = settings
        self._layout = "stereo" if settings.channels == 2 else "mono"
        self._next_pts: int | None = None
        self._chunks = 0
        self._packets = 0
        self._bytes = 0
        self._reanchors = 0
        self._cpu = 0.0

    def request_keyframe(self) -> None:
        """Every Opus packet stands alone: nothing to force (kept for the recorder's protocol)."""

    def stats(self) -> AudioEncoderStats:
        return AudioEncoderStats(
            running=self.running, chunks_encoded=self._chunks, packets=self._packets,
            bytes_out=self._bytes, reanchors=self._reanchors, cpu_seconds=self._cpu,
            subscribers=self.subscribers,
        )

    def _open_codec(self) -> av.AudioCodecContext:
        s = self.settings
        codec = av.CodecContext.create("libopus", "w")
        assert isinstance(codec, av.AudioCodecContext)
        codec.sample_rate = s.sample_rate
        codec.layout = self._layout
        codec.format = "s16"
        codec.bit_rate = s.bitrate_kbps * 1000
        codec.time_base = AUDIO_TIME_BASE
        codec.options = {"application": "audio", "frame_duration": str(s.frame_ms), "vbr": "on"}
        codec.open()
        return codec

    def _pts_for(self, chunk: AudioChunk) -> int:
        captured = round((chunk.captured_at - MEDIA_ORIGIN) * AUDIO_CLOCK)
        expected = self._next_pts
        if expected is None or abs(captured - expected) > REANCHOR_SECONDS * AUDIO_CLOCK:
            if expected is not None:
                self._reanchors += 1
            expected = captured
        self._next_pts = expected + len(chunk.samples)
        return expected

    def _run(self) -> None:
        cpu0 = time.thread_time()
        try:
            codec = self._open_codec()
        except Exception as exc:
            logger.exception("audio encoder %s could not open libopus", self.name)
            self.error = f"could not open libopus: {exc}"
            return
        try:
            while not self._stopping.wait(CHUNK_SECONDS):
                for chunk in self._supply():
                    samples = chunk.samples.reshape(1, -1)  # packed s16: interleaved channels
                    frame = av.AudioFrame.from_ndarray(samples, format="s16", layout=self._layout)
                    frame.sample_rate = self.settings.sample_rate
                    frame.pts = self._pts_for(chunk)
                    frame.time_base = AUDIO_TIME_BASE
                    self._chunks += 1
                    for packet in codec.encode(frame):
                        packet.time_base = AUDIO_TIME_BASE
                        self._packets += 1
                        self._bytes += packet.size
                        self._deliver(packet)
                self._cpu = time.thread_time() - cpu0
        except Exception as exc:
            logger.exception("audio encoder %s failed", self.name)
            self.error = f"audio encoder failed: {exc}"


class EncodedAudioTrack(PacketTrack):
    """A viewer's audio track: the shared encoder's Opus packets, packetized by aiortc."""

    kind = "audio"

    _last_pts: int | None = None  # the newest pts queued
    _sent_pts: int | None = None  # the newest pts handed to the sender

    @property
    def encoder(self) -> PacketFanOut:
        return self._encoder

    def switch(self, encoder: PacketFanOut) -> PacketFanOut:
        """Play ``encoder``'s packets from now on (e.g. the mix-minus of the program sound while
        this viewer talks back) and return the encoder left behind. Every Opus packet stands
        alone, so the cut is immediate: what is still queued from the old encoder is dropped
        (it may carry the very voice this viewer must not hear). Both encoders stamp a chunk
        with the same pts (its capture time), so the pts check keeps a chunk from being played
        twice."""
        previous = self._encoder
        if encoder is not previous:
            previous.unsubscribe(self._on_packet)
            while not self._queue.empty():
                if self._queue.get_nowait() is not None:
                    self.packets_dropped += 1
            self._last_pts = self._sent_pts
            self._encoder = encoder
            encoder.subscribe(self._on_packet)
        return previous

    async def recv(self) -> av.Packet[Any]:
        packet = await super().recv()
        self._sent_pts = packet.pts
        return packet

    def _on_packet(self, packet: av.Packet[Any]) -> None:
        if packet.pts is not None:
            if self._last_pts is not None and packet.pts <= self._last_pts:
                return  # already sent from the encoder this track left (a switch)
            self._last_pts = packet.pts
        if self._queue.full():
            # Behind by a second: the oldest sound goes, so this viewer stays live.
            self._queue.get_nowait()
            self.packets_dropped += 1
        self._queue.put_nowait(packet)

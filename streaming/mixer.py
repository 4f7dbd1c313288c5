"""The room's program sound with talkback voices mixed in, and its mix-minus feeds.

The room's audio source is drained by ``read()`` (every chunk since the last read): two
encoders reading it directly would steal each other's chunks. ``SoundMixer`` is the one reader.
Each encoder gets a ``Feed`` (a ``ChunkSupplier``) of its own; whichever feed is pulled first
drains the source, mixes each new chunk with the voices speaking now and hands every feed its
version of the chunk:

- the program feed: the room plus every voice (what viewers hear and the recording keeps),
- a mix-minus feed ``without`` one speaker: the room plus the others (that speaker's own
  viewer session: nobody hears themself back),
- a voices-only feed (``room=False``): what the operating room's console plays, without the
  room's own microphone (which would feed back).

A ``Voice`` is a speaker's decoded samples waiting to be mixed: a small jitter buffer filled on
the event loop, emptied by the encoder thread 20 ms at a time. It keeps latency small on
purpose: when it holds more than ``MAX_BUFFER_SECONDS`` it drops the oldest, and a short
underrun is filled with silence instead of waiting.
"""

from __future__ import annotations

import collections
import math
import threading
import time

import numpy as np
import numpy.typing as npt

from room_controller.sources.audio import AudioChunk
from streaming.audio import ChunkSupplier

#: A voice holding more than this is behind: the oldest samples go (latency over completeness).
MAX_BUFFER_SECONDS = 0.06
#: ...down to this much.
TARGET_BUFFER_SECONDS = 0.02
#: Every this many takes (1 s), the part of the queue no take needed in that time is dropped...
TRIM_WINDOW_TAKES = 50
#: ...keeping this much for the jitter of arrivals.
SLACK_SECONDS = 0.005
#: A feed nobody pulled for this long belongs to a stopped encoder: it stops receiving chunks.
FEED_IDLE_SECONDS = 2.0
#: A feed keeps at most this many chunks for its encoder (2 s of 20 ms chunks).
FEED_BACKLOG = 100
SILENCE_DB = -120.0
METER_FALL_DB = 1.5


class Voice:
    """One speaker's samples (48 kHz mono int16) on their way into the mix."""

    def __init__(self, key: str, sample_rate: int = 48_000) -> None:
        self.key = key
        self._lock = threading.Lock()
        self._pending: collections.deque[npt.NDArray[np.int16]] = collections.deque()
        self._held = 0
        self._max = int(MAX_BUFFER_SECONDS * sample_rate)
        self._target = int(TARGET_BUFFER_SECONDS * sample_rate)
        self.level_db = SILENCE_DB  # of the last 20 ms mixed: the console's level meter
        self.samples_in = 0
        self.samples_dropped = 0
        self.underruns = 0
        self.trims = 0
        self._slack = int(SLACK_SECONDS * sample_rate)
        self._window_min = 0
        self._window_takes = 0
        self.last_sound_at: float | None = None

    def push(self, samples: npt.NDArray[np.int16]) -> None:
        """Received samples (any length, mono), in order."""
        with self._lock:
            self._pending.append(samples)
            self._held += len(samples)
            self.samples_in += len(samples)
            if self._held > self._max:
                self._drop_to(self._target)

    def _drop_to(self, keep: int) -> None:
        while self._held > keep and self._pending:
            head = self._pending[0]
            excess = self._held - keep
            if len(head) <= excess:
                self._pending.popleft()
                self._held -= len(head)
                self.samples_dropped += len(head)
            else:
                self._pending[0] = head[excess:]
                self._held -= excess
                self.samples_dropped += excess

    def take(self, n: int) -> npt.NDArray[np.float32]:
        """The next ``n`` samples as float32 (silence where none arrived yet)."""
        out = np.zeros(n, dtype=np.float32)
        filled = 0
        with self._lock:
            while filled < n and self._pending:
                head = self._pending[0]
                part = head[: n - filled]
                out[filled:filled + len(part)] = part
                filled += len(part)
                if len(part) == len(head):
                    self._pending.popleft()
                else:
                    self._pending[0] = head[len(part):]
            self._held -= filled
            # Latency creeps up after each underrun (what arrived late stays queued): when a
            # second of takes never needed some of the queue, drop that part (keep 5 ms slack).
            self._window_min = min(self._window_min, self._held)
            self._window_takes += 1
            if self._window_takes >= TRIM_WINDOW_TAKES:
                spare = self._window_min - self._slack
                if spare > 0:
                    self._drop_to(self._held - spare)
                    self.trims += 1
                self._window_min, self._window_takes = self._held, 0
        if 0 < filled < n or (filled == 0 and self.samples_in > 0):
            self.underruns += 1
        rms = float(np.sqrt(np.mean(np.square(out)))) if n else 0.0
        level = 20 * math.log10(rms / 32768) if rms > 0 else SILENCE_DB
        # A meter's ballistics: up at once, down by METER_FALL_DB per 20 ms (a late packet
        # does not make the meter flicker to silence).
        self.level_db = max(level, self.level_db - METER_FALL_DB)
        if rms > 0:
            self.last_sound_at = time.monotonic()
        return out


class Feed:
    """One encoder's supply of mixed chunks (call it as a ``ChunkSupplier``)."""

    def __init__(self, mixer: SoundMixer, room: bool, without: str | None) -> None:
        self.mixer = mixer
        self.room = room
        self.without = without
        self.chunks: collections.deque[AudioChunk] = collections.deque(maxlen=FEED_BACKLOG)
        self.last_pull = time.monotonic()

    def __call__(self) -> list[AudioChunk]:
        return self.mixer._pull(self)


class SoundMixer:
    """The single reader of a room's sound; mixes the voices in for each feed."""

    def __init__(self, supply: ChunkSupplier, channels: int = 1) -> None:
        self._supply = supply
        self.channels = channels
        self._lock = threading.Lock()
        self._feeds: list[Feed] = []
        self._voices: dict[str, Voice] = {}

    # -- voices (event loop) -------------------------------------------------------------------
    def add_voice(self, voice: Voice) -> None:
        """Mix ``voice`` into every feed but its mix-minus, from the next chunk on."""
        with self._lock:
            self._voices[voice.key] = voice

    def remove_voice(self, key: str) -> None:
        with self._lock:
            self._voices.pop(key, None)

    def voices(self) -> list[Voice]:
        with self._lock:
            return list(self._voices.values())

    # -- feeds (encoder threads) ---------------------------------------------------------------
    def feed(self, *, room: bool = True, without: str | None = None) -> Feed:
        """A new feed: the room's sound (or silence, ``room=False``) plus every voice but
        ``without``."""
        feed = Feed(self, room, without)
        with self._lock:
            self._feeds.append(feed)
        return feed

    def _pull(self, feed: Feed) -> list[AudioChunk]:
        now = time.monotonic()
        with self._lock:
            feed.last_pull = now
            if feed not in self._feeds:  # it had been idle: it receives again from now on
                self._feeds.append(feed)
            # A stopped encoder's feed stops costing a copy of every chunk.
            self._feeds = [f for f in self._feeds if now - f.last_pull <= FEED_IDLE_SECONDS]
            for chunk in self._supply():
                self._distribute(chunk)
            chunks = list(feed.chunks)
            feed.chunks.clear()
        return chunks

    def _distribute(self, chunk: AudioChunk) -> None:
        if not self._voices:
            for feed in self._feeds:
                feed.chunks.append(chunk if feed.room else _silent(chunk))
            return
        n = len(chunk.samples)
        spoken = {key: voice.take(n) for key, voice in self._voices.items()}
        room = chunk.samples.astype(np.float32)
        for feed in self._feeds:
            mixed = room.copy() if feed.room else np.zeros_like(room)
            for key, samples in spoken.items():
                if key != feed.without:
                    mixed += samples[:, None]  # a mono voice into every channel
            out = np.clip(mixed, -32768, 32767).astype(np.int16)
            feed.chunks.append(AudioChunk(out, chunk.captured_at, chunk.index))


def _silent(chunk: AudioChunk) -> AudioChunk:
    return AudioChunk(np.zeros_like(chunk.samples), chunk.captured_at, chunk.index)


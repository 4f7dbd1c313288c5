"""Audio sources of a room: the program sound (the instructor's microphone, in a real room).

The demo room has no microphone, so ``SyntheticAudioSource`` makes a soft operating-room
ambience: low-passed noise (ventilation) and a pulse-oximeter beep once a second. Its thread
produces 20 ms chunks of 48 kHz signed 16-bit samples, paced by ``time.monotonic()``, each
stamped with the capture instant of its first sample. Unlike a picture, sound must not be
dropped, so ``read()`` returns every chunk produced since the previous read (a bounded backlog:
with no reader for ``backlog_seconds`` the oldest chunks go). With no reader at all for
``rest_after`` seconds (no live session, no recording) it rests, and makes sound again from the
next read on.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
CHUNK_SECONDS = 0.02
CHUNK_SAMPLES = int(SAMPLE_RATE * CHUNK_SECONDS)  # 960
_TAPS = 48


@dataclass(frozen=True)
class AudioChunk:
    """``samples``: int16, shape (frames, channels), interleaved when made C-contiguous."""

    samples: npt.NDArray[np.int16]
    captured_at: float  # time.monotonic() of the first sample
    index: int  # chunk number since the source started (gaps show lost chunks)


class SyntheticAudioSource:
    """An operating-room ambience on its own paced thread; ``read()`` drains the backlog."""

    #: Behind by more than this (a stalled thread): skip ahead, leaving a gap, instead of a burst.
    max_catch_up: float = 0.5
    #: Nobody has read for this long: nobody listens, so stop making sound until a read.
    rest_after: float = 1.0

    def __init__(
        self,
        id: str = "audio",
        *,
        channels: int = 1,
        level_db: float = -30.0,
        beep_hz: float = 880.0,
        beep_interval: float = 1.0,
        backlog_seconds: float = 2.0,
        seed: int = 7,
    ) -> None:
        if channels not in (1, 2):
            raise ValueError(f"audio source {id!r}: channels must be 1 or 2, got {channels}")
        self.id = id
        self.channels = channels
        self.sample_rate = SAMPLE_RATE
        self.chunk_samples = CHUNK_SAMPLES
        self._noise_gain = 32767 * 10 ** (level_db / 20)
        self._beep_gain = 32767 * 10 ** ((level_db + 12) / 20)
        self._beep_hz = beep_hz
        self._beep_interval = beep_interval
        self._rng = np.random.default_rng(seed)
        self._tail = np.zeros(_TAPS - 1)
        self._backlog: collections.deque[AudioChunk] = collections.deque(
            maxlen=max(1, int(backlog_seconds / CHUNK_SECONDS))
        )
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_read = 0.0
        self._read_event = threading.Event()  # a read (or stop) ends a rest
        self.chunks_made = 0
        self.chunks_skipped = 0
        self.error: str | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop_event = threading.Event()
            self._last_read = time.monotonic()  # a reader gets the first rest_after seconds
            self._thread = threading.Thread(
                target=self._run, name=f"audio-{self.id}", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop_event.set()
        self._read_event.set()
        if thread is not None:
            thread.join(timeout=5.0)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def read(self) -> list[AudioChunk]:
        """Every chunk made since the last call, oldest first (never blocks)."""
        self._last_read = time.monotonic()
        self._read_event.set()
        with self._lock:
            chunks = list(self._backlog)
            self._backlog.clear()
        return chunks

    # -- synthesis -------------------------------------------------------------------------
    def render(self, index: int) -> npt.NDArray[np.int16]:
        """Chunk ``index``: (CHUNK_SAMPLES, channels) int16."""
        n = CHUNK_SAMPLES
        white = self._rng.standard_normal(n)
        # A 48-tap moving average (a low-pass near 1 kHz): the rumble of ventilation, not hiss.
        # The previous chunk's tail carries over, so chunks join without a click.
        joined = np.concatenate([self._tail, white])
        self._tail = white[-(_TAPS - 1):]
        out = np.convolve(joined, np.full(_TAPS, 1 / _TAPS), mode="valid")
        signal = out * self._noise_gain * np.sqrt(_TAPS)
        # The monitor's beep: 100 ms of a sine with 5 ms fades, at every whole interval.
        t = (index * n + np.arange(n)) / SAMPLE_RATE
        phase = np.mod(t, self._beep_interval or 1.0)
        on = phase < 0.1
        if self._beep_interval > 0 and on.any():
            envelope = np.clip(np.minimum(phase, 0.1 - phase) / 0.005, 0, 1) * on
            signal = signal + envelope * self._beep_gain * np.sin(2 * np.pi * self._beep_hz * t)
        mono: npt.NDArray[np.int16] = np.clip(signal, -32768, 32767).astype(np.int16)
        if self.channels == 1:
            column: npt.NDArray[np.int16] = mono[:, None]
            return column
        stereo: npt.NDArray[np.int16] = np.repeat(mono[:, None], 2, axis=1)
        return stereo

    def _rest(self, now: float) -> bool:
        """Wait for a read (or stop) if nobody has read for ``rest_after``; True if it did."""
        if now - self._last_read <= self.rest_after:
            return False
        self._read_event.clear()
        if time.monotonic() - self._last_read <= self.rest_after:  # a read came in between
            return False
        with self._lock:  # what nobody read is stale by now: the next reader starts fresh
            self._backlog.clear()
        self._read_event.wait()
        return True

    def _run(self) -> None:
        started = time.monotonic()
        index = 0
        try:
            while not self._stop_event.is_set():
                due = started + index * CHUNK_SECONDS
                now = time.monotonic()
                if self._rest(now):
                    if self._stop_event.is_set():
                        break
                    # Sound resumes now: nothing was lost while nobody listened.
                    started = time.monotonic() - index * CHUNK_SECONDS
                    continue
                if due > now:
                    self._stop_event.wait(due - now)
                    continue
                if now - due > self.max_catch_up:
                    skip = int((now - due) / CHUNK_SECONDS)
                    self.chunks_skipped += skip
                    index += skip
                    continue
                chunk = AudioChunk(self.render(index), due, index)
                with self._lock:
                    self._backlog.append(chunk)
                self.chunks_made += 1
                index += 1
        except Exception as exc:
            log.exception("audio source %s failed", self.id)
            self.error = f"audio source failed: {exc}"

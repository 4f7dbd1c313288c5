"""The program audio's track file: Opus packets into fragmented MP4, on the video's clock."""

from __future__ import annotations

import fractions
import logging
import queue
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av

from recorder.fmp4 import VIDEO_CLOCK, QueuedPacket, TrackWriter, TrackWriterError

logger = logging.getLogger(__name__)


AUDIO_CLOCK = 48_000
AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_CLOCK)
# Every Opus packet is a "keyframe": cut fragments by time only (about one per second).
AUDIO_FRAGMENT_OPTIONS = {
    "movflags": "empty_moov+default_base_moof",
    "frag_duration": "1000000",
    "flush_packets": "1",
}
_PENDING_AUDIO = 150  # 3 s of 20 ms packets held while the video track finds its keyframe


class AudioTrackWriter(TrackWriter):
    """Muxes Opus packets (48 kHz) into ``<name>.mp4.part``, stream copy, on the video's time.

    ``anchor`` returns the leading video track's shift (``TrackWriter.anchor``: what it adds to
    an encoder pts, in 90 kHz ticks, to get the file pts) or None while that track waits for a
    keyframe. Encoder pts of both encoders count from the same origin (capture time, see
    ``streaming.encoder.MEDIA_ORIGIN``), so applying the video's shift puts each sound on the
    file time of the picture captured with it: the audio file starts with the video's first
    keyframe and a pause is cut from both at the same instant. Packets that arrive before the
    video's anchor is known wait (up to 3 s); those captured before it are dropped. Without an
    ``anchor`` the track starts at its own first packet.
    """

    def __init__(
        self,
        path_final: Path,
        *,
        channels: int = 1,
        anchor: Callable[[], int | None] | None = None,
        clock: Callable[[], float] | None = None,
        on_error: Callable[[TrackWriter, TrackWriterError], None] | None = None,
        max_queue_seconds: float = 4.0,
        fsync_interval: float = 1.0,
    ) -> None:
        super().__init__(
            path_final, 0, 0, 50, clock=clock, on_error=on_error,
            max_queue_seconds=max_queue_seconds, fsync_interval=fsync_interval,
        )
        self.channels = channels
        self._anchor = anchor
        self._rate = AUDIO_CLOCK
        self._frame_ticks = AUDIO_CLOCK // 50
        self._pending: list[av.Packet[Any]] = []
        self._resume_at = 0

    def write(self, packet: av.Packet[Any]) -> None:
        if self._paused or self._closing or self.error is not None or packet.pts is None:
            return
        if self._anchor is not None:
            video_shift = self._anchor()
            if video_shift is None:
                if len(self._pending) >= _PENDING_AUDIO:
                    self._pending.pop(0)
                self._pending.append(packet)
                return
            shift = round(video_shift * AUDIO_CLOCK / VIDEO_CLOCK)
        else:
            if self._shift is None:
                self._shift = self._resume_at - self._pts48(packet)
            shift = self._shift
        pending, self._pending = self._pending, []
        for item in (*pending, packet):
            self._put(item, shift)

    @staticmethod
    def _pts48(packet: av.Packet[Any]) -> int:
        assert packet.pts is not None
        tb = packet.time_base or AUDIO_TIME_BASE
        return packet.pts if tb == AUDIO_TIME_BASE else round(packet.pts * tb * AUDIO_CLOCK)

    def _put(self, packet: av.Packet[Any], shift: int) -> None:
        file_pts = self._pts48(packet) + shift
        duration = packet.duration or self._frame_ticks
        # Before the video's first picture, or overlapping what is written (after a resume).
        if file_pts < 0 or (self._last_pts >= 0 and file_pts < self._last_pts + duration // 2):
            return
        if self._media_offset is None:
            self._media_offset = self._clock()
        try:
            self._queue.put_nowait(QueuedPacket(bytes(packet), file_pts, True, duration))
        except queue.Full:
            self._dropped += 1
            return
        self._last_pts = file_pts

    def pause(self) -> None:
        super().pause()
        self._pending.clear()

    def _resumed(self) -> None:
        # Every Opus packet is a keyframe: nothing to wait for, only the timestamps to mend.
        if self._anchor is None and self._shift is not None:
            # On its own: continue right after what is written, the paused time cut out.
            self._shift = None
            self._resume_at = self._last_pts + self._frame_ticks

    def _open(self) -> None:
        container = av.open(self._file, "w", format="mp4", options=dict(AUDIO_FRAGMENT_OPTIONS))
        # The MP4 muxer needs the OpusHead (dOps box), which only a codec context provides: the
        # libopus context is opened for its header, and never given a frame (stream copy).
        stream = container.add_stream(
            "libopus", rate=AUDIO_CLOCK, layout="stereo" if self.channels == 2 else "mono"
        )
        stream.time_base = AUDIO_TIME_BASE
        self._container, self._stream = container, stream

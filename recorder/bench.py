"""Benchmark: what recording costs per track, against re-encoding the same frames.

``medroom bench recording [--width 1920 --height 1080 --tracks 4 --seconds 10]`` runs one
real ``SharedEncoder`` and subscribes ``tracks`` TrackWriters to it (program plus ISOs cost the
same per packet at the same bitrate), then reports the CPU time the recorder spent per second
of media and per track: writer threads (``thread_time``) plus the packet hand-off on the loop.
The plain way, a re-encoding recorder (aiortc's ``MediaRecorder`` encodes every frame again
with libx264 at its default preset), is measured on the same frames in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc.contrib.media import MediaRecorder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from recorder.fmp4 import TrackWriter
from streaming.encoder import EncoderSettings, SharedEncoder


@dataclass(frozen=True)
class BenchResult:
    width: int
    height: int
    fps: int
    tracks: int
    media_seconds: float
    packets_per_track: int
    bytes_per_track: int
    writer_thread_cpu: float  # CPU seconds of all writer threads
    loop_cpu: float  # CPU seconds spent in write() on the event loop, all tracks
    reencode_cpu_per_media_second: float  # one track through aiortc's MediaRecorder

    @property
    def recorder_millicores_per_track(self) -> float:
        return (self.writer_thread_cpu + self.loop_cpu) / self.media_seconds / self.tracks * 1000

    @property
    def reencode_millicores_per_track(self) -> float:
        return self.reencode_cpu_per_media_second * 1000

    def report(self) -> str:
        per_second = self.media_seconds * self.tracks
        writer_mc = self.writer_thread_cpu / per_second * 1000
        loop_mc = self.loop_cpu / per_second * 1000
        total = self.recorder_millicores_per_track * self.tracks
        kbps = self.bytes_per_track * 8 / self.media_seconds / 1000
        ratio = self.reencode_millicores_per_track / max(self.recorder_millicores_per_track, 1e-9)
        lines = [
            (f"recording {self.tracks} track(s) of {self.width}x{self.height} at {self.fps} fps"
            f" for {self.media_seconds:.1f} s ({kbps:.0f} kbit/s per track)"),
            (f"  recorder (no re-encode): {self.recorder_millicores_per_track:.1f} millicores"
            f" per track (writer thread {writer_mc:.1f}, loop {loop_mc:.1f});"
            f" all tracks {total:.1f} mc = {total / 10:.2f} % of one core"),
            (f"  re-encoding recorder (aiortc MediaRecorder, same pictures):"
            f" {self.reencode_millicores_per_track:.0f} millicores per track"),
            f"  ratio: {ratio:.0f}x",
        ]
        return "\n".join(lines)


def _moving(width: int, height: int) -> Callable[[], np.ndarray]:
    base = np.random.default_rng(0).integers(0, 60, (height, width, 3), np.uint8)

    def supply() -> np.ndarray:
        image = base.copy()
        x = int(time.monotonic() * 300) % max(1, width - 80)
        image[:, x : x + 80] = (40, 200, 255)
        return image

    return supply


class _FramesTrack(MediaStreamTrack):
    """Hands MediaRecorder the same pictures as fast as it takes them, then ends."""

    kind = "video"

    def __init__(self, images: list[np.ndarray], frames: int, fps: int) -> None:
        super().__init__()
        self._images, self._frames, self._fps, self._sent = images, frames, fps, 0

    async def recv(self) -> av.VideoFrame:
        if self._sent >= self._frames:
            self.stop()
            raise MediaStreamError
        frame = av.VideoFrame.from_ndarray(self._images[self._sent % len(self._images)],
                                           format="bgr24")
        frame.pts, frame.time_base = self._sent, fractions.Fraction(1, self._fps)
        self._sent += 1
        return frame


async def _media_recorder_cost(supply: Callable[[], np.ndarray], fps: int, frames: int,
                               folder: Path) -> float:
    """CPU seconds per media second of aiortc's MediaRecorder recording the same pictures
    (it re-encodes every frame: libx264 into MP4)."""
    images = [supply() for _ in range(8)]
    track = _FramesTrack(images, frames, fps)
    recorder = MediaRecorder(str(folder / "mediarecorder.mp4"))
    recorder.addTrack(track)
    began = time.process_time()
    await recorder.start()
    while track.readyState == "live":
        await asyncio.sleep(0.05)
    await recorder.stop()
    return (time.process_time() - began) / (frames / fps)


async def run(width: int, height: int, fps: int, seconds: float, tracks: int,
              folder: Path) -> BenchResult:
    supply = _moving(width, height)
    encoder = SharedEncoder(supply, EncoderSettings(width=width, height=height, fps=fps,
                                                    bitrate_kbps=4000), name="bench")
    writers = [TrackWriter(folder / f"track{i}.mp4", width, height, fps) for i in range(tracks)]
    loop_cpu = 0.0

    def sink(packet: av.Packet[Any]) -> None:
        nonlocal loop_cpu
        began = time.thread_time()
        for writer in writers:
            writer.write(packet)
        loop_cpu += time.thread_time() - began

    encoder.subscribe(sink)
    encoder.start()
    await asyncio.sleep(seconds)
    encoder.unsubscribe(sink)
    await encoder.stop()
    for writer in writers:
        await asyncio.to_thread(writer.close)
    stats = writers[0].stats()
    reencode = await _media_recorder_cost(supply, fps, fps * 2, folder)
    return BenchResult(
        width=width, height=height, fps=fps, tracks=tracks, media_seconds=stats.duration,
        packets_per_track=stats.packets, bytes_per_track=stats.bytes,
        writer_thread_cpu=sum(w.cpu_seconds for w in writers), loop_cpu=loop_cpu,
        reencode_cpu_per_media_second=reencode,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--tracks", type=int, default=4, help="program + ISO tracks")


def run_from_args(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="medroom-recbench-") as folder:
        result = asyncio.run(run(args.width, args.height, args.fps, args.seconds, args.tracks,
                                 Path(folder)))
    print(result.report())
    return 0


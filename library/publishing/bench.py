"""Benchmark: publishing a 60-minute recording, against re-encoding the same tracks with PyAV.

``medroom bench publishing [--minutes 60 --tracks 3 --width 1280 --height 720]``

The synthetic recording is built the way the recorder writes one, but without waiting an
hour: each track encodes a short clip once (``--clip-seconds``, libx264 with the shared
encoder's settings: constrained baseline, one-second GOP, SPS/PPS before every keyframe),
then its packets are muxed again and again with shifted timestamps into a fragmented MP4
with the recorder's own fragment options, until the track is ``--minutes`` long. Every GOP
is closed (starts with an IDR frame, no B-frames), so the repeated clip decodes like one long
recording. A manifest (state ``stopped``) and a marker every five minutes complete the folder.

Then, in the same run:

- ``publish_recording`` on it (remux of every track, poster, a tile every 10 s, chapters,
  metadata), timed wall-clock and CPU;
- the plain way: decoding and re-encoding the tracks with PyAV (libx264, ``--preset``, same
  bitrate) into faststart MP4. A full re-encode of three hours of 720p takes most of an hour
  on two cores, so by default only ``--reencode-seconds`` of each track are re-encoded and
  the figure is extrapolated linearly (re-encoding costs the same per frame throughout);
  ``--reencode-seconds 0`` re-encodes everything.

The source files were just written, so they are read from the page cache: the publish figure
is CPU and write bound, as on a server that publishes right after recording.
"""

from __future__ import annotations

import argparse
import fractions
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from library.publishing.pipeline import publish_recording
from recorder.fmp4 import FRAGMENT_OPTIONS
from recorder.manifest import Manifest, RecordingState, TrackEntry
from recorder.timeline import Marker, Timeline

VIDEO_CLOCK = 90_000
TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)


@dataclass(frozen=True)
class Clip:
    packets: list[tuple[bytes, int, bool]]  # (Annex-B data, pts in 1/90000, keyframe)
    ticks: int  # length of the clip in 1/90000


def encode_clip(width: int, height: int, fps: int, seconds: float, bitrate_kbps: int,
                seed: int) -> Clip:
    """A few seconds of moving picture, encoded once like the room's shared encoder does."""
    codec = av.CodecContext.create("libx264", "w")
    assert isinstance(codec, av.video.codeccontext.VideoCodecContext)
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = TIME_BASE
    codec.framerate = fractions.Fraction(fps, 1)
    codec.bit_rate = bitrate_kbps * 1000
    codec.gop_size = fps
    codec.options = {"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline",
                     "x264-params": f"repeat-headers=1:keyint={fps}:min-keyint={fps}:scenecut=0"}
    codec.open()
    # Smooth shading with light grain, like an endoscope picture: pure noise would make
    # libx264 (and the re-encode it is compared with) far slower than real video does.
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    shade = (60 + 80 * np.sin(xs / width * np.pi) * np.sin(ys / height * np.pi)).astype(np.uint8)
    base = np.stack([shade // 2, shade // 3, shade], axis=-1)
    base = base + rng.integers(0, 8, base.shape, np.uint8)
    step = VIDEO_CLOCK // fps
    frames = round(seconds * fps)
    packets: list[tuple[bytes, int, bool]] = []

    def keep(out: list[av.Packet[Any]]) -> None:
        for p in out:
            assert p.pts is not None
            packets.append((bytes(p), p.pts, bool(p.is_keyframe)))

    for i in range(frames):
        image = base.copy()
        x = (i * (6 + seed)) % max(1, width - 120)
        image[:, x : x + 120] = (40, 200, 255)
        image[height // 3 : height // 3 + 60, :] = (i * 3 % 255, 80, 160)
        frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
        frame.pts = i * step
        frame.time_base = TIME_BASE
        keep(codec.encode(frame))
    keep(codec.encode(None))
    assert packets and packets[0][2], "the clip must start with a keyframe"
    return Clip(packets, frames * step)


def write_track(path: Path, clip: Clip, width: int, height: int, fps: int,
                repeats: int) -> None:
    """Mux the clip ``repeats`` times into one fragmented MP4, as the recorder's TrackWriter."""
    with av.open(str(path), "w", format="mp4", options=dict(FRAGMENT_OPTIONS)) as out:
        stream = out.add_mux_stream("h264", rate=fps, width=width, height=height)
        stream.time_base = TIME_BASE
        for n in range(repeats):
            shift = n * clip.ticks
            for data, pts, keyframe in clip.packets:
                packet = av.Packet(data)
                packet.pts = packet.dts = pts + shift
                packet.time_base = TIME_BASE
                packet.is_keyframe = keyframe
                packet.stream = stream
                out.mux(packet)


def build_recording(folder: Path, *, minutes: float, tracks: int, width: int, height: int,
                    fps: int, clip_seconds: float, bitrate_kbps: int) -> float:
    """A stopped recording folder of ``minutes``; returns the seconds it took to build."""
    began = time.perf_counter()
    folder.mkdir(parents=True)
    repeats = max(1, round(minutes * 60 / clip_seconds))
    duration = repeats * clip_seconds
    entries: list[TrackEntry] = []
    for index in range(tracks):
        name = "program" if index == 0 else f"iso-cam{index}"
        clip = encode_clip(width, height, fps, clip_seconds, bitrate_kbps, seed=index)
        path = folder / f"{name}.mp4"
        write_track(path, clip, width, height, fps, repeats)
        entries.append(TrackEntry(
            name=name, kind="program" if index == 0 else "iso",
            source_id=None if index == 0 else f"cam{index}", file=path.name,
            width=width, height=height, fps=fps, media_offset=0.0,
            packets=len(clip.packets) * repeats, size_bytes=path.stat().st_size,
        ))
    timeline = Timeline(folder)
    for k, at in enumerate(range(0, int(duration), 300)):
        timeline.append(Marker(title=f"Step {k + 1}", at=float(at)))
    Manifest(id="bench", room="bench", title="Synthetic 60-minute session",
             state=RecordingState.STOPPED, duration=duration, tracks=tuple(entries),
             ).write(folder)
    return time.perf_counter() - began


def reencode(src: Path, dst: Path, *, seconds: float | None, preset: str,
             bitrate_kbps: int) -> tuple[float, float]:
    """Decode and re-encode ``src`` (the first ``seconds`` of it, or all) into a faststart MP4
    with PyAV; returns (media seconds done, wall seconds)."""
    began = time.perf_counter()
    done = 0.0
    with av.open(str(src)) as source, \
            av.open(str(dst), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        video = source.streams.video[0]
        video.thread_type = "AUTO"
        ctx = video.codec_context
        stream = out.add_stream("libx264", rate=video.average_rate or 30)
        stream.width, stream.height, stream.pix_fmt = ctx.width, ctx.height, "yuv420p"
        stream.bit_rate = bitrate_kbps * 1000
        stream.options = {"preset": preset}
        for frame in source.decode(video):
            if frame.time is None:
                continue
            if seconds is not None and frame.time >= seconds:
                break
            done = frame.time
            frame.pict_type = av.video.frame.PictureType.NONE
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return done, time.perf_counter() - began


@dataclass
class _StepClock:
    began: float
    current: str = ""
    since: float = 0.0

    def __post_init__(self) -> None:
        self.steps: dict[str, float] = {}
        self.since = self.began

    def __call__(self, step: str, fraction: float) -> None:
        now = time.perf_counter()
        if step != self.current:
            if self.current:
                self.steps[self.current] = self.steps.get(self.current, 0.0) + now - self.since
            self.current, self.since = step, now

    def finish(self) -> dict[str, float]:
        self(".", 1.0)
        return self.steps


def run(args: argparse.Namespace, workdir: Path,
        say: Callable[[str], None] = print) -> dict[str, float]:
    folder = workdir / "rec" / "bench"
    built = build_recording(folder, minutes=args.minutes, tracks=args.tracks, width=args.width,
                            height=args.height, fps=args.fps, clip_seconds=args.clip_seconds,
                            bitrate_kbps=args.bitrate)
    sources = sorted(folder.glob("*.mp4"))
    total_bytes = sum(p.stat().st_size for p in sources)
    media = Manifest.read(folder).duration
    say(f"synthetic recording: {len(sources)} tracks x {media / 60:.0f} min, "
        f"{args.width}x{args.height} at {args.fps} fps, {total_bytes / 1e9:.2f} GB "
        f"(built in {built:.1f} s from {args.clip_seconds:g} s clips encoded once, repeated)")

    clock = _StepClock(time.perf_counter())
    cpu = time.process_time()
    lesson = publish_recording(folder, workdir / "lesson", progress=clock)
    publish_wall = time.perf_counter() - clock.began
    publish_cpu = time.process_time() - cpu
    steps = clock.finish()
    say(f"publish: {publish_wall:.1f} s wall, {publish_cpu:.1f} s CPU for "
        f"{lesson.duration / 60:.1f} min x {len(lesson.tracks)} tracks, "
        f"{lesson.strip.count} thumbnails, {len(lesson.chapters)} chapters "
        f"(issue limit: 60 s)")
    say("  steps: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in steps.items()))

    sample = None if args.reencode_seconds <= 0 else args.reencode_seconds
    reencode_done = 0.0
    reencode_wall = 0.0
    cpu = time.process_time()
    for src in sources:
        done, wall = reencode(src, workdir / f"reencoded-{src.name}", seconds=sample,
                              preset=args.preset, bitrate_kbps=args.bitrate)
        reencode_done += done
        reencode_wall += wall
    reencode_cpu = time.process_time() - cpu
    scale = media * len(sources) / max(reencode_done, 1e-9)
    estimate = reencode_wall * scale
    how = "measured" if sample is None else (
        f"{sample:g} s of each track took {reencode_wall:.1f} s wall "
        f"({reencode_cpu:.1f} s CPU), extrapolated")
    say(f"re-encode with PyAV (decode + libx264 {args.preset}, {args.bitrate} kbit/s): "
        f"{estimate:.0f} s wall for all tracks ({how})")
    say(f"ratio: re-encoding takes {estimate / publish_wall:.0f}x as long as publishing")
    return {"publish_wall": publish_wall, "publish_cpu": publish_cpu,
            "reencode_wall_estimate": estimate, "build": built}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--tracks", type=int, default=3, help="program + ISO tracks")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--bitrate", type=int, default=2000, help="kbit/s")
    parser.add_argument("--clip-seconds", type=float, default=10.0)
    parser.add_argument("--reencode-seconds", type=float, default=60.0,
                        help="re-encode this much of each track and extrapolate; 0: all")
    parser.add_argument("--preset", default="veryfast", help="libx264 preset of the re-encode")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the synthetic files go (several GB; default: a temp dir)")


def run_from_args(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="medroom-pubbench-", dir=args.workdir) as workdir:
        run(args, Path(workdir))
    return 0


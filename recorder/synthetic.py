"""A finished recording folder written from generated pictures and sound, faster than real time.

The demo's library and the curation benchmark need recordings without a room running for their
whole length: this writes what ``Recording`` writes (one fragmented MP4 per track with the
recorder's own fragment options, Opus sound, ``manifest.json``, the timeline and its sidecars),
so everything downstream (the editor's media, publishing) reads it exactly like a real one.
"""

from __future__ import annotations

import fractions
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import cv2
import numpy as np

from recorder.fmp4 import FRAGMENT_OPTIONS
from recorder.manifest import Manifest, RecordingState, TrackEntry, write_sidecars
from recorder.timeline import Event, Timeline

AUDIO_RATE = 48_000


@dataclass(frozen=True)
class SyntheticView:
    name: str  # track name: "program" or "iso-<source>"
    label: str  # drawn on the picture
    hue: int  # 0..179 (OpenCV hue)


DEFAULT_VIEWS = (SyntheticView("program", "PROGRAM", 5),
                 SyntheticView("iso-endoscope", "ENDOSCOPE", 170),
                 SyntheticView("iso-room", "ROOM", 100))


def _background(view: SyntheticView, width: int, height: int) -> np.ndarray:
    """A lit disc on a tinted field, larger than the picture: each frame is a moving crop."""
    h, w = height * 2, width * 2
    y, x = np.ogrid[0:h, 0:w]
    r = np.sqrt((x - w / 2) ** 2 + (y - h / 2) ** 2) / max(width, height)
    value = np.clip(235 - r * 300, 25, 235).astype(np.uint8)
    hsv = np.empty((h, w, 3), np.uint8)
    hsv[..., 0] = (view.hue + (x // 48) % 6).astype(np.uint8)
    hsv[..., 1] = 150
    hsv[..., 2] = value
    return np.ascontiguousarray(cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR))


def _picture(view: SyntheticView, background: np.ndarray, index: int, fps: int, width: int,
             height: int) -> np.ndarray:
    """A moving scene with the view's name and the time burnt in (so a frame is identifiable)."""
    t = index / fps
    x0 = int(width / 2 * (1 + 0.8 * math.sin(t * 0.7)))
    y0 = int(height / 2 * (1 + 0.8 * math.cos(t * 0.9)))
    image = background[y0:y0 + height, x0:x0 + width].copy()
    scale = height / 360
    thick = max(1, int(2 * scale))
    # The view's name top right (players put their own labels top left).
    (label_w, _), _ = cv2.getTextSize(view.label, cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, thick)
    cv2.putText(image, view.label, (width - label_w - int(16 * scale), int(36 * scale)),
                cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, (255, 255, 255), thick, cv2.LINE_AA)
    stamp = f"{int(t // 60):02d}:{t % 60:05.2f}"
    cv2.putText(image, stamp, (int(16 * scale), height - int(20 * scale)),
                cv2.FONT_HERSHEY_SIMPLEX, 1.2 * scale, (255, 255, 255), thick, cv2.LINE_AA)
    return image


def _write_video(path: Path, view: SyntheticView, seconds: float, width: int, height: int,
                 fps: int, gop_seconds: float) -> int:
    frames = round(seconds * fps)
    with av.open(str(path), "w", format="mp4", options=dict(FRAGMENT_OPTIONS)) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = max(1, int(gop_seconds * fps))
        stream.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency",
                                        "profile": "baseline", "crf": "28",
                                        "x264-params": "scenecut=0"}
        stream.time_base = fractions.Fraction(1, 90_000)
        background = _background(view, width, height)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(_picture(view, background, i, fps, width, height),
                                               format="bgr24")
            frame.pts = i * 90_000 // fps
            frame.time_base = fractions.Fraction(1, 90_000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return frames


def _write_audio(path: Path, seconds: float, clip_seconds: float | None = None) -> int:
    """Speech-like bursts over a low hum: a waveform with something to see. ``clip_seconds``:
    encode that much once and repeat its packets (hours of sound in seconds, for benchmarks)."""
    rng = np.random.default_rng(7)
    total = int((clip_seconds or seconds) * AUDIO_RATE)
    block = 960  # 20 ms
    packets = 0
    kept: list[tuple[bytes, int, int]] = []
    with av.open(str(path), "w", format="mp4", options=dict(FRAGMENT_OPTIONS)) as out:
        stream = out.add_stream("libopus", rate=AUDIO_RATE, layout="mono")
        for start in range(0, total, block):
            t = (start + np.arange(block)) / AUDIO_RATE
            envelope = 0.5 + 0.5 * np.sin(2 * math.pi * 0.23 * t) * np.sin(2 * math.pi * 1.7 * t)
            talk = envelope * (np.sin(2 * math.pi * t / 47) > -0.85)  # a pause now and then
            samples = 0.02 * np.sin(2 * math.pi * 120 * t) + 0.4 * talk * rng.standard_normal(
                block) * np.abs(np.sin(2 * math.pi * 180 * t))
            pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            frame.sample_rate = AUDIO_RATE
            frame.pts = start
            for packet in stream.encode(frame):
                if clip_seconds:
                    kept.append((bytes(packet), packet.pts or 0, packet.duration or 0))
                out.mux(packet)
                packets += 1
        for packet in stream.encode():
            if clip_seconds:
                kept.append((bytes(packet), packet.pts or 0, packet.duration or 0))
            out.mux(packet)
            packets += 1
        if clip_seconds:
            # Each repeat follows the last packet of the one before (the encoder's delay and
            # padding make that a little more than the clip's samples).
            per_repeat = kept[-1][1] + kept[-1][2] - kept[0][1]
            repeat = 1
            while (repeat + 1) * clip_seconds <= seconds + 1e-9:
                for data, pts, duration in kept:
                    copy = av.Packet(data)
                    copy.pts = copy.dts = pts + repeat * per_repeat
                    copy.duration = duration
                    copy.time_base = fractions.Fraction(1, AUDIO_RATE)
                    copy.stream = stream
                    out.mux(copy)
                    packets += 1
                repeat += 1
    return packets


def write_synthetic_recording(
    recordings_dir: Path, room: str, title: str, *, seconds: float,
    views: Sequence[SyntheticView] = DEFAULT_VIEWS, width: int = 640, height: int = 360,
    fps: int = 25, gop_seconds: float = 2.0, audio: bool = True,
    events: Sequence[Event] = (), started: datetime | None = None,
) -> Path:
    """Write a stopped recording of ``seconds`` and return its folder (``<room>/<stamp>-<id>``).

    ``events`` (markers, notes, strokes, chat; their ``at`` on the session clock) go into the
    timeline as the room would have written them.
    """
    started = started or datetime.now(UTC)
    recording_id = uuid.uuid4().hex[:12]
    folder = recordings_dir / room / f"{started.strftime('%Y%m%d-%H%M%S')}-{recording_id}"
    folder.mkdir(parents=True)
    tracks: list[TrackEntry] = []
    for view in views:
        file = f"{view.name}.mp4"
        count = _write_video(folder / file, view, seconds, width, height, fps, gop_seconds)
        tracks.append(TrackEntry(
            name=view.name, kind="program" if view.name == "program" else "iso", file=file,
            source_id=None if view.name == "program" else view.name.removeprefix("iso-"),
            width=width, height=height, fps=fps, media_offset=0.0, packets=count,
            size_bytes=(folder / file).stat().st_size))
    if audio:
        count = _write_audio(folder / "audio.mp4", seconds)
        tracks.append(TrackEntry(name="audio", kind="audio", file="audio.mp4", codec="opus",
                                 media_offset=0.0, packets=count,
                                 size_bytes=(folder / "audio.mp4").stat().st_size))
    timeline = Timeline(folder)
    for event in sorted(events, key=lambda e: e.at):
        timeline.append(event)
    stopped = started + timedelta(seconds=seconds)
    Manifest(id=recording_id, room=room, state=RecordingState.STOPPED, title=title,
             started_at=started.isoformat(timespec="seconds"),
             stopped_at=stopped.isoformat(timespec="seconds"), duration=round(seconds, 3),
             tracks=tuple(tracks)).write(folder)
    write_sidecars(folder, timeline, recording=recording_id, room=room, title=title,
                   duration=seconds)
    return folder


def add_sound(folder: Path, seconds: float, clip_seconds: float = 10.0) -> TrackEntry:
    """Add an ``audio`` track of ``seconds`` to a recording folder (a repeated clip) and list it
    in the manifest."""
    count = _write_audio(folder / "audio.mp4", seconds, clip_seconds)
    entry = TrackEntry(name="audio", kind="audio", file="audio.mp4", codec="opus",
                       media_offset=0.0, packets=count,
                       size_bytes=(folder / "audio.mp4").stat().st_size)
    manifest = Manifest.read(folder)
    Manifest(**{**manifest.__dict__, "tracks": (*manifest.tracks, entry)}).write(folder)
    return entry

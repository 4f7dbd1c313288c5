"""What the curation editor needs to edit by looking, computed once per recording.

Beside the recording, in ``<recording>/curation/``:

- every track remuxed (no re-encode) to a faststart MP4: a browser seeks in it with one range
  request, where the recorder's fragmented file has no index to seek by;
- ``curation.json``: each track's offset on the session clock, its length and its keyframes
  (session seconds), so the editor shows where a cut really falls (the keyframe at or before
  the chosen start) and steps keyframe to keyframe;
- ``waveform.json``: the program sound's peak per 1/20 s (0..255), decoded here with PyAV;
- ``thumbnails.jpg``: a sprite of keyframe tiles along the program track.

All of it is built in a staging folder and renamed into place last, so ``curation/`` is either
absent or complete; building it again is the cure for anything odd. It is built when the
recording stops (``web/room_recordings.py``) and, for older recordings, the first time the
editor asks.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from library.i18n import lazy
from library.publishing.errors import MediaError, PublishError
from library.publishing.remux import remux_audio_faststart, remux_faststart
from library.publishing.stills import thumbnail_strip
from recorder.durable import atomic_write_bytes, fsync_directory
from recorder.manifest import FINISHED, Manifest, ManifestError

CURATION_DIR = "curation"
CURATION_JSON = "curation.json"
WAVEFORM_JSON = "waveform.json"
THUMBNAILS_JPEG = "thumbnails.jpg"
CURATION_FORMAT = 1
WAVEFORM_RATE = 20  # peaks per second
TILE_WIDTH = 160
MAX_TILES = 400  # the strip stays one JPEG of a few hundred kB whatever the length

Progress = Callable[[float], None]


@dataclass(frozen=True)
class CurationTrack:
    name: str
    kind: str  # program | iso | audio
    source_id: str | None
    file: str  # in curation/
    offset: float  # session seconds at which the file's first frame plays
    duration: float
    width: int
    height: int
    keyframes: tuple[float, ...]  # session seconds (video only)
    fps: int = 0


@dataclass(frozen=True)
class CurationMedia:
    folder: Path
    recording_id: str
    duration: float  # the recording's, session seconds
    tracks: tuple[CurationTrack, ...]
    thumbnails: dict[str, Any]
    waveform: str | None  # file name, None when the recording has no sound

    def files(self) -> set[str]:
        """Every file the editor may fetch from ``folder``."""
        out = {t.file for t in self.tracks} | {CURATION_JSON, THUMBNAILS_JPEG}
        if self.waveform:
            out.add(self.waveform)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"format": CURATION_FORMAT, "recording_id": self.recording_id,
                "duration": self.duration, "tracks": [asdict(t) for t in self.tracks],
                "thumbnails": self.thumbnails, "waveform": self.waveform}


def curation_folder(recording_folder: Path) -> Path:
    return recording_folder / CURATION_DIR


def load_curation(recording_folder: Path) -> CurationMedia | None:
    """The prepared media, or None when it was never built (or is of an older format)."""
    folder = curation_folder(recording_folder)
    try:
        data = json.loads((folder / CURATION_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != CURATION_FORMAT:
        return None
    tracks = tuple(CurationTrack(**{**t, "keyframes": tuple(t["keyframes"])})
                   for t in data["tracks"])
    return CurationMedia(folder=folder, recording_id=data["recording_id"],
                         duration=data["duration"], tracks=tracks,
                         thumbnails=data["thumbnails"], waveform=data["waveform"])


def keyframe_before(keyframes: tuple[float, ...] | list[float], at: float) -> float:
    """Where a cut at ``at`` really falls: the keyframe at or before it (or the first one)."""
    best = keyframes[0] if keyframes else 0.0
    for k in keyframes:
        if k > at + 1e-6:
            break
        best = k
    return best


def prepare_curation(recording_folder: Path, *, progress: Progress | None = None,
                     force: bool = False) -> CurationMedia:
    """Build ``curation/`` for a finished recording (or return it when already built)."""
    if not force:
        found = load_curation(recording_folder)
        if found is not None:
            return found
    try:
        manifest = Manifest.read(recording_folder)
    except ManifestError as exc:
        raise PublishError(str(exc)) from exc
    if manifest.state not in FINISHED:
        raise PublishError(lazy("recording %(id)s is still in progress: the editor's media are "
                                "made once it has stopped", "recording_in_progress",
                                id=manifest.id))
    final = curation_folder(recording_folder)
    staging = recording_folder / f".{CURATION_DIR}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    report = progress or (lambda _f: None)
    try:
        entries = sorted(manifest.tracks, key=lambda t: (t.kind != "program", t.kind == "audio"))
        total = sum((recording_folder / t.file).stat().st_size for t in entries) or 1
        done = 0
        tracks: list[CurationTrack] = []
        waveform: str | None = None
        for entry in entries:
            src = recording_folder / entry.file
            dst = staging / Path(entry.file).name
            size = src.stat().st_size

            def step(fraction: float, base: int = done, size: int = size) -> None:
                report(0.8 * (base + fraction * size) / total)

            offset = entry.media_offset or 0.0
            if entry.kind == "audio":
                result = remux_audio_faststart(src, dst, start=0.0, end=None)
                if waveform is None:
                    _write_json(staging / WAVEFORM_JSON, waveform_peaks(dst, offset))
                    waveform = WAVEFORM_JSON
                tracks.append(CurationTrack(entry.name, "audio", entry.source_id, dst.name,
                                            round(offset, 3), round(result.duration, 3),
                                            0, 0, ()))
            else:
                remuxed = remux_faststart(src, dst, progress=step)
                keys = tuple(round(offset + k, 3) for k in keyframe_times(dst))
                tracks.append(CurationTrack(entry.name, entry.kind, entry.source_id, dst.name,
                                            round(offset + remuxed.start, 3),
                                            round(remuxed.duration, 3), remuxed.width,
                                            remuxed.height, keys, fps=entry.fps or 0))
            done += size
        report(0.8)
        program = tracks[0]
        if program.kind == "audio":
            raise PublishError(lazy("recording %(id)s holds no video track", "no_video",
                                    id=manifest.id))
        every = max(1.0, math.ceil(program.duration / MAX_TILES))
        strip = thumbnail_strip(staging / program.file, staging / THUMBNAILS_JPEG, every,
                                TILE_WIDTH)
        thumbnails = {"file": THUMBNAILS_JPEG, "columns": strip.columns, "rows": strip.rows,
                      "tile_width": strip.tile_width, "tile_height": strip.tile_height,
                      "every": strip.every_seconds, "count": strip.count,
                      "offset": program.offset}
        media = CurationMedia(folder=final, recording_id=manifest.id,
                              duration=manifest.duration or program.duration,
                              tracks=tuple(tracks), thumbnails=thumbnails, waveform=waveform)
        _write_json(staging / CURATION_JSON, media.to_json())
        fsync_directory(staging)
        shutil.rmtree(final, ignore_errors=True)
        os.rename(staging, final)
        fsync_directory(recording_folder)
    except MediaError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise PublishError(f"editor media of {recording_folder.name}: {exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    report(1.0)
    return media


def keyframe_times(path: Path) -> list[float]:
    """Seconds of every keyframe of a faststart MP4, from its index (nothing is decoded)."""
    with av.open(str(path), "r") as container:
        video = container.streams.video[0]
        tb = video.time_base
        assert tb is not None
        origin: int | None = None
        out: list[float] = []
        for packet in container.demux(video):
            if packet.pts is None:
                continue
            origin = packet.pts if origin is None else origin
            if packet.is_keyframe:
                out.append(float((packet.pts - origin) * tb))
        return out


def waveform_peaks(path: Path, offset: float) -> dict[str, Any]:
    """The sound's peak level per 1/``WAVEFORM_RATE`` s, 0..255 (square-root scaled, so quiet
    speech still shows), decoded once here rather than by every browser from the whole file."""
    peaks: list[int] = []
    with av.open(str(path), "r") as container:
        audio = container.streams.audio[0]
        rate = audio.codec_context.sample_rate or 48000
        bucket = max(1, rate // WAVEFORM_RATE)
        carry = np.zeros(0, np.float32)
        for frame in container.decode(audio):
            samples = frame.to_ndarray()
            mono = np.abs(samples.astype(np.float32)).max(axis=0)
            if samples.dtype.kind == "i":
                mono /= float(2 ** (8 * samples.dtype.itemsize - 1))
            carry = np.concatenate([carry, mono])
            whole = len(carry) // bucket
            if whole:
                block = carry[: whole * bucket].reshape(whole, bucket).max(axis=1)
                peaks.extend(int(v) for v in np.clip(np.sqrt(block) * 255, 0, 255))
                carry = carry[whole * bucket:]
        if len(carry):
            peaks.append(int(min(255, math.sqrt(float(carry.max())) * 255)))
    return {"rate": WAVEFORM_RATE, "offset": round(offset, 3), "peaks": peaks}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_bytes(path, json.dumps(data, separators=(",", ":")).encode("utf-8"))

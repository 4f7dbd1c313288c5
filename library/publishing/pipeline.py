"""Publishing one recording folder as a lesson folder: check, remux, stills, chapters, metadata.

``publish_recording`` builds everything in a hidden staging folder next to ``out_dir`` and
renames it to ``out_dir`` as its last act, so ``out_dir`` either does not exist or holds a
complete lesson: a crash or an error at any step leaves no half-published lesson, and the
next run wipes the stale staging folder and starts over (each step is minutes at most, so
redoing beats the bookkeeping of resuming).

Times: markers and the trim are on the session media clock. Each track file starts at its own
``media_offset`` on that clock (the moment its first keyframe arrived). The lesson clock starts
at the program track's keyframe at or before the trim start; every other track is cut at its
own keyframe and its ``offset`` in ``lesson.json`` says where its first frame plays on the
lesson clock, which is what the player needs to keep the views in sync.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av

from library.publishing.chapters import Chapter, ChapterEdit, chapters_to_webvtt, curate_chapters
from library.publishing.conversation import Names, lesson_conversation, moderators
from library.publishing.errors import MediaError, PublishError
from library.publishing.masking import MaskRegion
from library.publishing.remux import RemuxResult, remux_audio_faststart, remux_faststart
from library.publishing.stills import (
    PosterInfo,
    StripInfo,
    poster,
    thumbnail_strip,
    write_thumbnails_vtt,
)
from recorder import manifest as recording_folder
from recorder.durable import fsync_directory
from recorder.manifest import FINISHED, Manifest, ManifestError, RecordingState
from recorder.timeline import Marker, Note, Stroke, Timeline, event_to_dict

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[str, float], None]

LESSON_JSON = "lesson.json"
# A lesson's chapters and timeline keep the names they have in the recording's folder.
CHAPTERS_VTT = recording_folder.CHAPTERS
TIMELINE_JSON = recording_folder.TIMELINE_JSON
POSTER_JPEG = "poster.jpg"
SPRITE_JPEG = "thumbnails.jpg"
THUMBNAILS_VTT = "thumbnails.vtt"
LESSON_FORMAT = 1

# Share of the whole job per step, from the benchmark (60 minutes, program + 2 ISO, 720p:
# remux 22.2 s of 23.7 s, strip 0.9 s, check 0.6 s): the remux moves every byte twice (copy,
# then the faststart rewrite); the strip decodes one keyframe per tile; the rest is small.
STEP_WEIGHTS: Mapping[str, float] = {
    "check": 0.025,
    "remux": 0.90,
    "poster": 0.005,
    "thumbnails": 0.04,
    "chapters": 0.005,
    "metadata": 0.01,
    "finish": 0.015,
}
STEPS = tuple(STEP_WEIGHTS)


@dataclass(frozen=True)
class Trim:
    """The part of the session to publish, in session media seconds; None: from/to the end."""

    start: float | None = None
    end: float | None = None


@dataclass(frozen=True)
class PublishedTrack:
    name: str
    kind: str
    source_id: str | None
    file: str
    codec: str
    profile: str | None
    width: int
    height: int
    fps: int | None
    frames: int
    duration: float
    size_bytes: int
    bitrate: int  # bits per second
    offset: float  # lesson seconds at which this track's first frame plays


@dataclass(frozen=True)
class PublishedLesson:
    folder: Path
    recording_id: str
    title: str
    duration: float
    start: float  # session seconds where the lesson begins
    end: float
    tracks: tuple[PublishedTrack, ...]
    poster: PosterInfo
    strip: StripInfo
    chapters: tuple[Chapter, ...]

    @property
    def main_track(self) -> PublishedTrack:
        return self.tracks[0]


@dataclass(frozen=True)
class _Track:
    name: str
    kind: str
    source_id: str | None
    path: Path
    fps: int | None
    media_offset: float
    size_bytes: int


class _Progress:
    """Turns (step, fraction of the step) into an overall fraction that never goes back."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self._last = 0.0
        self._bases: dict[str, float] = {}
        done = 0.0
        for step in STEPS:
            self._bases[step] = done
            done += STEP_WEIGHTS[step]
        self._total = done

    def __call__(self, step: str, fraction: float, label: str | None = None) -> None:
        """``label``: what to call the step now (the remux of a masked view says "masks")."""
        within = min(1.0, max(0.0, fraction))
        overall = (self._bases[step] + STEP_WEIGHTS[step] * within) / self._total
        overall = 1.0 if step == STEPS[-1] and within >= 1.0 else min(overall, 0.999)
        if overall < self._last:
            return
        self._last = overall
        if self._callback is not None:
            self._callback(label or step, overall)


def publish_recording(
    folder: Path,
    out_dir: Path,
    *,
    trim: Trim | None = None,
    chapters_edit: ChapterEdit | None = None,
    markers: Sequence[Marker] | None = None,
    hidden: Sequence[tuple[float, float]] = (),
    masks: Mapping[str, Sequence[MaskRegion]] | None = None,
    hidden_messages: Collection[str] = (),
    people: Mapping[str, str] | None = None,
    progress: ProgressCallback | None = None,
    poster_at: float = 10.0,
    thumbnail_every: float = 10.0,
    tile_width: int = 160,
    replace_existing: bool = False,
) -> PublishedLesson:
    """Publish the recording in ``folder`` as a lesson in ``out_dir``; raises ``PublishError``.

    ``progress(step, fraction)`` is called with the overall fraction (0..1, never decreasing,
    1.0 only once the lesson is in place). ``poster_at`` is lesson seconds. An existing
    ``out_dir`` is replaced only with ``replace_existing`` (re-publishing after curation).
    ``markers`` replaces the recording's markers as the chapters' source (the curated list);
    ``hidden`` segments (session seconds) are left out of the published timeline and listed in
    ``lesson.json`` on the lesson clock for the player to skip. ``masks`` (track name -> regions
    in session seconds) are burnt into those views, re-encoding only the GOPs they touch
    (``masking.py``); ``lesson.json`` says what was re-encoded. The classroom conversation
    goes into the timeline (``conversation.py``): ``hidden_messages`` are chat and question
    ids the curator left out, ``people`` the names of the session's instructors by account
    name (every other author is published as a numbered participant).
    """
    report = _Progress(progress)
    staging = out_dir.with_name(f".{out_dir.name}.staging")
    retired = out_dir.with_name(f".{out_dir.name}.old")
    if retired.exists() and not out_dir.exists():
        # A crash between the two renames of a replacement: the old lesson comes back, so a
        # failed re-publish never costs the lesson that was already there.
        os.rename(retired, out_dir)
    if out_dir.exists() and not replace_existing:
        raise PublishError(f"{out_dir} already holds a published lesson; unpublish it first or "
                           "publish with replace_existing")
    # Leftovers of a run that crashed: the staging folder is never trusted, always redone.
    shutil.rmtree(staging, ignore_errors=True)
    if out_dir.exists():
        shutil.rmtree(retired, ignore_errors=True)

    report("check", 0.0)
    manifest, tracks = check_recording(folder)
    window = _check_trim(trim or Trim(), manifest.duration)
    report("check", 1.0)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging.mkdir()
    try:
        lesson = _build(folder, staging, manifest, tracks, window, chapters_edit, report,
                        poster_at=poster_at, thumbnail_every=thumbnail_every,
                        tile_width=tile_width, markers=markers, hidden=hidden,
                        masks=masks or {}, hidden_messages=hidden_messages,
                        people=people or {})
        fsync_directory(staging)
        report("finish", 0.5)
        if out_dir.exists():
            # No atomic directory swap in the standard library: the old lesson goes out of the
            # way first, so at every instant out_dir is either the old or the new one, or absent.
            os.rename(out_dir, retired)
        os.rename(staging, out_dir)
        fsync_directory(out_dir.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(retired, ignore_errors=True)
    report("finish", 1.0)
    return _moved(lesson, out_dir)


def check_recording(folder: Path) -> tuple[Manifest, list[_Track]]:
    """The manifest and the tracks of a finished recording; ``PublishError`` says what is wrong."""
    if not folder.is_dir():
        raise PublishError(f"recording folder {folder} does not exist")
    try:
        manifest = Manifest.read(folder)
    except ManifestError as exc:
        raise PublishError(str(exc)) from exc
    state = manifest.state
    if state in (RecordingState.RECORDING, RecordingState.PAUSED):
        raise PublishError(f"recording {manifest.id} is still in progress ({state.value}); "
                           "stop it before publishing")
    if state is RecordingState.FAILED:
        raise PublishError(f"recording {manifest.id} failed ({manifest.error}); "
                           "it cannot be published")
    if state not in FINISHED:
        raise PublishError(f"recording {manifest.id} is in state {state.value!r}; only "
                           "stopped or recovered recordings can be published")
    if not manifest.tracks:
        raise PublishError(f"recording {manifest.id} lists no tracks")
    tracks: list[_Track] = []
    problems: list[str] = []
    for entry in manifest.tracks:
        path = folder / entry.file
        if path.parent != folder:
            problems.append(f"track {entry.name}: file {entry.file!r} is outside the folder")
            continue
        problem = _track_problem(path, audio=entry.kind == "audio")
        if problem:
            problems.append(f"track {entry.name}: {problem}")
            continue
        tracks.append(_Track(
            name=entry.name, kind=entry.kind, source_id=entry.source_id,
            path=path, fps=entry.fps, media_offset=entry.media_offset or 0.0,
            size_bytes=path.stat().st_size,
        ))
    if problems:
        raise PublishError("cannot publish: " + "; ".join(problems))
    # The program track leads: it defines the lesson clock, the poster and the strip; the
    # sound follows the video, cut to the lesson's window once that is known.
    tracks.sort(key=lambda t: (t.kind != "program", t.kind == "audio"))
    if tracks[0].kind == "audio":
        raise PublishError(f"recording {manifest.id} holds no video track")
    return manifest, tracks


def _track_problem(path: Path, *, audio: bool = False) -> str | None:
    if not path.exists():
        if path.with_name(path.name + ".part").exists():
            return f"{path.name} is still a part file (recover the recording first)"
        return f"{path.name} is missing"
    try:
        with av.open(str(path), "r") as container:
            what = "sound" if audio else "video"
            streams = container.streams.audio if audio else container.streams.video
            if not streams:
                return f"{path.name} has no {what}"
            for _packet in container.demux(streams[0]):
                return None
            return f"{path.name} holds no {what}"
    except (av.FFmpegError, OSError) as exc:
        return f"{path.name} is unreadable ({exc})"
    return None


def _check_trim(trim: Trim, duration: float) -> tuple[float | None, float | None]:
    for label, value in (("start", trim.start), ("end", trim.end)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not math.isfinite(value) or value < 0):
            raise PublishError(f"trim {label} must be a non-negative number of seconds, "
                               f"got {value!r}")
    if trim.start is not None and trim.end is not None and trim.end <= trim.start:
        raise PublishError(f"trim end {trim.end:g} s is not after start {trim.start:g} s")
    if trim.start is not None and duration and trim.start >= duration:
        raise PublishError(f"trim start {trim.start:g} s is past the end of the recording "
                           f"({duration:g} s)")
    return trim.start, trim.end


def _build(
    folder: Path, staging: Path, manifest: Manifest, tracks: Sequence[_Track],
    window: tuple[float | None, float | None], chapters_edit: ChapterEdit | None,
    report: _Progress, *, poster_at: float, thumbnail_every: float, tile_width: int,
    markers: Sequence[Marker] | None = None, hidden: Sequence[tuple[float, float]] = (),
    masks: Mapping[str, Sequence[MaskRegion]] | None = None,
    hidden_messages: Collection[str] = (), people: Mapping[str, str] | None = None,
) -> PublishedLesson:
    trim_start, trim_end = window
    total_bytes = sum(t.size_bytes for t in tracks) or 1
    done_bytes = 0
    results: list[tuple[_Track, RemuxResult]] = []
    lesson_start = 0.0
    masks = masks or {}
    unknown = sorted(set(masks) - {t.name for t in tracks if t.kind != "audio"})
    if unknown:
        raise PublishError(f"masks name no video track of this recording: {', '.join(unknown)}")
    for index, track in enumerate(tracks):
        # A view's masks on its file's own clock (seconds from its first packet).
        local = [replace(m, start=m.start - track.media_offset, end=m.end - track.media_offset)
                 for m in masks.get(track.name, ()) if m.end > track.media_offset]

        def on_track(fraction: float, base: int = done_bytes, size: int = track.size_bytes,
                     label: str | None = "masks" if local else None) -> None:
            report("remux", (base + fraction * size) / total_bytes, label)

        if track.kind == "audio":
            results.append((track, _remux_audio(track, staging, lesson_start,
                                                lesson_start + results[0][1].duration)))
            done_bytes += track.size_bytes
            report("remux", done_bytes / total_bytes)
            continue
        if index == 0:
            start = trim_start
        else:
            # Other views start at their own keyframe at or before the lesson's first frame.
            start = lesson_start
        local_start = None if start is None else max(0.0, start - track.media_offset)
        local_end = None if trim_end is None else trim_end - track.media_offset
        if local_end is not None and local_end <= (local_start or 0.0):
            raise PublishError(f"track {track.name} has no video inside the trim window")
        try:
            result = remux_faststart(track.path, staging / track.path.name,
                                     start=local_start or None, end=local_end,
                                     progress=on_track, masks=local)
        except MediaError as exc:
            raise PublishError(f"track {track.name}: {exc}") from exc
        if index == 0:
            lesson_start = track.media_offset + result.start
        results.append((track, result))
        done_bytes += track.size_bytes
        report("remux", done_bytes / total_bytes)

    main_track, main = results[0]
    lesson_end = lesson_start + main.duration
    main_file = staging / main_track.path.name

    masked = [{"track": track.name, "regions": len(masks.get(track.name, ())),
               "reencoded": [[round(a + track.media_offset - lesson_start, 3),
                              round(b + track.media_offset - lesson_start, 3)]
                             for a, b in result.masked.segments],
               "reencoded_seconds": round(result.masked.reencoded_seconds, 3),
               "reencoded_frames": result.masked.reencoded_frames,
               "copied_packets": result.masked.copied_packets}
              for track, result in results if result.masked is not None]

    report("poster", 0.0)
    try:
        poster_info = poster(main_file, staging / POSTER_JPEG, poster_at)
        report("poster", 1.0)
        report("thumbnails", 0.0)
        strip = thumbnail_strip(main_file, staging / SPRITE_JPEG, thumbnail_every, tile_width)
        write_thumbnails_vtt(strip, staging / THUMBNAILS_VTT)
    except MediaError as exc:
        raise PublishError(f"stills of track {main_track.name}: {exc}") from exc
    report("thumbnails", 1.0)

    timeline = Timeline(folder)
    chapters = curate_chapters(timeline.markers() if markers is None else markers, chapters_edit,
                               duration=manifest.duration or lesson_end,
                               window=(lesson_start, lesson_end))
    _write(staging / CHAPTERS_VTT, chapters_to_webvtt(chapters))
    names = Names(moderators(timeline.raw_events), people or {})
    conversation = lesson_conversation(timeline, lesson_start, lesson_end, hidden=hidden,
                                       hidden_messages=hidden_messages, names=names)
    published_timeline = _lesson_timeline(timeline, lesson_start, lesson_end, hidden, names)
    published_timeline["conversation"] = conversation["items"]
    _write(staging / TIMELINE_JSON, json.dumps(published_timeline, ensure_ascii=False, indent=2))
    report("chapters", 1.0)

    published = tuple(
        PublishedTrack(
            name=track.name, kind=track.kind, source_id=track.source_id,
            file=result.path.name, codec=result.codec, profile=result.profile,
            width=result.width, height=result.height, fps=track.fps, frames=result.frames,
            duration=round(result.duration, 3), size_bytes=result.size_bytes,
            bitrate=result.bitrate,
            offset=round(track.media_offset + result.start - lesson_start, 3),
        )
        for track, result in results
    )
    lesson = PublishedLesson(
        folder=staging, recording_id=manifest.id,
        title=manifest.title, duration=round(main.duration, 3),
        start=round(lesson_start, 3), end=round(lesson_end, 3), tracks=published,
        poster=poster_info, strip=strip, chapters=tuple(chapters),
    )
    metadata = lesson_metadata(lesson, manifest, window)
    metadata["masks"] = masked
    metadata["conversation"] = {"items": len(conversation["items"]),
                                "truncated": conversation["truncated"]}
    metadata["hidden"] = [
        {"start": round(max(lo, lesson_start) - lesson_start, 3),
         "end": round(min(hi, lesson_end) - lesson_start, 3)}
        for lo, hi in sorted(hidden) if hi > lesson_start and lo < lesson_end]
    _write(staging / LESSON_JSON, json.dumps(metadata, ensure_ascii=False, indent=2))
    report("metadata", 1.0)
    return lesson


def _remux_audio(track: _Track, staging: Path, lesson_start: float, lesson_end: float
                 ) -> RemuxResult:
    """The sound of the lesson's window, from the audio file's own clock."""
    try:
        return remux_audio_faststart(
            track.path, staging / track.path.name,
            start=max(0.0, lesson_start - track.media_offset),
            end=lesson_end - track.media_offset)
    except MediaError as exc:
        raise PublishError(f"track {track.name}: {exc}") from exc


def _lesson_timeline(timeline: Timeline, start: float, end: float,
                     hidden: Sequence[tuple[float, float]] = (),
                     names: Names | None = None) -> dict[str, Any]:
    """Notes and drawings inside the lesson, on the lesson clock (for the player). The
    classroom conversation is added next to them by ``conversation.lesson_conversation``,
    which decides what of it is published and under which names; ``names`` renames the
    authors here the same way (an accepted student draws too)."""
    events: list[dict[str, Any]] = []
    for event in timeline.events():
        if not isinstance(event, Note | Stroke | Marker) or not start <= event.at < end:
            continue
        if any(lo <= event.at < hi for lo, hi in hidden):
            continue  # the player skips hidden segments: nothing of them is shown
        data = event_to_dict(event)
        data["at"] = round(event.at - start, 3)
        if names is not None:
            data["author"] = names(event.author)
        if isinstance(event, Stroke):
            data["started_at"] = round(max(0.0, event.started_at - start), 3)
            data["ended_at"] = round(max(0.0, event.ended_at - start), 3)
        events.append(data)
    return {"events": events}


def lesson_metadata(lesson: PublishedLesson, manifest: Manifest,
                    window: tuple[float | None, float | None]) -> dict[str, Any]:
    """The technical sidecar ``lesson.json``: what the job layer stores and the player reads."""
    strip = lesson.strip
    return {
        "format": LESSON_FORMAT,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "recording": {"id": manifest.id, "room": manifest.room, "title": manifest.title,
                      "state": manifest.state.value, "started_at": manifest.started_at,
                      "stopped_at": manifest.stopped_at, "duration": manifest.duration},
        "duration": lesson.duration,
        "trim": {"requested_start": window[0], "requested_end": window[1],
                 "start": lesson.start, "end": lesson.end},
        "tracks": [asdict(track) for track in lesson.tracks],
        "poster": {"file": POSTER_JPEG, "width": lesson.poster.width,
                   "height": lesson.poster.height, "at": round(lesson.poster.at, 3)},
        "thumbnails": {"sprite": SPRITE_JPEG, "vtt": THUMBNAILS_VTT, "columns": strip.columns,
                       "rows": strip.rows, "tile_width": strip.tile_width,
                       "tile_height": strip.tile_height, "every_seconds": strip.every_seconds,
                       "count": strip.count},
        "chapters": {"file": CHAPTERS_VTT,
                     "items": [asdict(chapter) for chapter in lesson.chapters]},
        "timeline": TIMELINE_JSON,
    }


def _moved(lesson: PublishedLesson, folder: Path) -> PublishedLesson:
    return replace(
        lesson, folder=folder,
        poster=replace(lesson.poster, path=folder / lesson.poster.path.name),
        strip=replace(lesson.strip, path=folder / lesson.strip.path.name),
    )


def _write(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


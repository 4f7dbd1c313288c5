"""Recordings kept on disk: finished after a crash, found and listed by id and room.

``recover_recordings`` runs at start-up: every manifest still RECORDING or PAUSED belongs to a
session the server did not close; its part files are cut to their last complete fragment and
remuxed (``recover_part_file``), its chapters and timeline written, its state RECOVERED.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import av

from recorder.fmp4 import RecoveryError, recover_part_file
from recorder.manifest import (
    ACTIVE,
    MANIFEST,
    Manifest,
    ManifestError,
    RecordingState,
    TrackEntry,
    utc_now,
    write_sidecars,
)
from recorder.timeline import Timeline

logger = logging.getLogger(__name__)


# -- recovery after a crash ----------------------------------------------------------------------
def recover_recordings(recordings_dir: Path) -> list[str]:
    """Every manifest still RECORDING/PAUSED: recover its tracks, write chapters, RECOVERED."""
    recovered = []
    for manifest_path in sorted(recordings_dir.glob(f"*/*/{MANIFEST}")):
        try:
            manifest = Manifest.read(manifest_path.parent)
        except ManifestError as exc:
            logger.warning("skipping %s", exc)
            continue
        if manifest.state not in ACTIVE:
            continue
        try:
            recover_session(manifest_path.parent, manifest)
        except OSError as exc:
            logger.error("could not recover %s: %s", manifest_path.parent, exc)
            continue
        recovered.append(manifest.id)
    return recovered


def recover_session(folder: Path, manifest: Manifest) -> Manifest:
    """Finish a session cut short: its tracks, chapters and timeline; the manifest RECOVERED."""
    last_write = 0.0
    duration = 0.0
    tracks: list[TrackEntry] = []
    for track in manifest.tracks:
        final = folder / track.file
        part = final.with_name(final.name + ".part")
        try:
            if part.exists():
                last_write = max(last_write, part.stat().st_mtime)
                if not final.exists():
                    recover_part_file(part)
                    track = replace(track, recovered=True)
            if final.exists():
                duration = max(duration, media_duration(final))
                track = replace(track, size_bytes=final.stat().st_size)
            else:
                track = replace(track, error=track.error or "no file: nothing was recorded")
        except RecoveryError as exc:
            track = replace(track, error=str(exc))
            logger.warning("track %s of %s not recovered: %s", final.name, folder, exc)
        tracks.append(track)
    write_sidecars(folder, Timeline(folder), recording=manifest.id, room=manifest.room,
                   title=manifest.title, duration=duration)
    recovered = replace(
        manifest,
        state=RecordingState.RECOVERED,
        recovered=True,
        duration=round(duration, 3),
        stopped_at=(datetime.fromtimestamp(last_write, UTC).isoformat(timespec="milliseconds")
                    if last_write else utc_now()),
        tracks=tuple(tracks),
    )
    recovered.write(folder)
    return recovered


def media_duration(path: Path) -> float:
    """Seconds of video (or audio) in an MP4, from its packets (fragmented files carry no total)."""
    with av.open(str(path)) as container:
        stream = (container.streams.video or container.streams.audio)[0]
        tb = stream.time_base
        first = last = None
        step = 0
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            if first is None:
                first = packet.pts
            last = packet.pts if last is None else max(last, packet.pts)
            step = packet.duration or step
        if first is None or last is None or tb is None:
            return 0.0
        return float((last - first + step) * tb)


# -- recordings on disk ---------------------------------------------------------------------------
def find_manifest(recordings_dir: Path, recording_id: str) -> tuple[Path, Manifest] | None:
    """The folder and manifest of a recording kept on disk (any state), or None.

    Raises ``ManifestError`` when the recording's folder is there but its manifest is garbled:
    the recording exists, and saying "no such recording" would send the caller looking for it.
    """
    damaged: ManifestError | None = None
    for manifest_path in recordings_dir.glob(f"*/*/{MANIFEST}"):
        if not manifest_path.parent.name.endswith(f"-{recording_id}"):
            continue  # folder names end with the id: skip reading unrelated manifests
        try:
            manifest = Manifest.read(manifest_path.parent)
        except ManifestError as exc:
            damaged = exc
            continue
        if manifest.id == recording_id:
            return manifest_path.parent, manifest
    if damaged is not None:
        raise damaged
    return None


def list_manifests(recordings_dir: Path, room_id: str) -> list[Manifest]:
    """Manifests of a room's recordings on disk, newest first; garbled ones are skipped."""
    manifests = []
    for manifest_path in sorted((recordings_dir / room_id).glob(f"*/{MANIFEST}"), reverse=True):
        try:
            manifests.append(Manifest.read(manifest_path.parent))
        except ManifestError as exc:
            # One damaged folder must not hide the room's other recordings.
            logger.warning("skipping %s", exc)
    return manifests

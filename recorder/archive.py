"""Recordings kept on disk: finished after a crash, found and listed by id and room.

``recover_recordings`` runs at start-up: every manifest still RECORDING or PAUSED belongs to a
session the server did not close; its part files are cut to their last complete fragment and
remuxed (``recover_part_file``), its chapters and timeline written, its state RECOVERED.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av

from recorder.fmp4 import RecoveryError, recover_part_file
from recorder.manifest import (
    ACTIVE,
    CHAPTERS,
    MANIFEST,
    TIMELINE_JSON,
    RecordingState,
    atomic_write_text,
    utc_now,
)
from recorder.timeline import Timeline

logger = logging.getLogger(__name__)


# -- recovery after a crash ----------------------------------------------------------------------
def recover_recordings(recordings_dir: Path) -> list[str]:
    """Every manifest still RECORDING/PAUSED: recover its tracks, write chapters, RECOVERED."""
    recovered = []
    for manifest_path in sorted(recordings_dir.glob(f"*/*/{MANIFEST}")):
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            logger.warning("skipping %s: unreadable manifest: %s", manifest_path, exc)
            continue
        if manifest.get("state") not in (s.value for s in ACTIVE):
            continue
        try:
            recover_session(manifest_path.parent, manifest)
        except OSError as exc:
            logger.error("could not recover %s: %s", manifest_path.parent, exc)
            continue
        recovered.append(str(manifest["id"]))
    return recovered


def recover_session(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    last_write = 0.0
    duration = 0.0
    for track in manifest.get("tracks", []):
        final = folder / str(track["file"])
        part = final.with_name(final.name + ".part")
        try:
            if part.exists():
                last_write = max(last_write, part.stat().st_mtime)
                if not final.exists():
                    recover_part_file(part)
                    track["recovered"] = True
            if final.exists():
                duration = max(duration, media_duration(final))
                track["size_bytes"] = final.stat().st_size
            else:
                track["error"] = track.get("error") or "no file: nothing was recorded"
        except RecoveryError as exc:
            track["error"] = str(exc)
            logger.warning("track %s of %s not recovered: %s", final.name, folder, exc)
    timeline = Timeline(folder)
    atomic_write_text(folder / CHAPTERS, timeline.to_webvtt_chapters(duration))
    atomic_write_text(folder / TIMELINE_JSON, timeline.to_json(
        recording=manifest.get("id"), room=manifest.get("room"), title=manifest.get("title"),
        duration=round(duration, 3),
    ))
    for pause in manifest.get("pauses", []):
        pause.pop("_mono", None)
    manifest.update(
        state=RecordingState.RECOVERED.value,
        recovered=True,
        duration=round(duration, 3),
        stopped_at=(datetime.fromtimestamp(last_write, UTC).isoformat(timespec="milliseconds")
                    if last_write else utc_now()),
    )
    atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=2))
    return manifest


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
def find_manifest(recordings_dir: Path, recording_id: str) -> tuple[Path, dict[str, Any]] | None:
    """The folder and manifest of a recording kept on disk (any state), or None."""
    for manifest_path in recordings_dir.glob(f"*/*/{MANIFEST}"):
        if not manifest_path.parent.name.endswith(f"-{recording_id}"):
            continue  # folder names end with the id: skip reading unrelated manifests
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if manifest.get("id") == recording_id:
            return manifest_path.parent, manifest
    return None


def list_manifests(recordings_dir: Path, room_id: str) -> list[dict[str, Any]]:
    """Manifests of a room's recordings on disk, newest first."""
    manifests = []
    for manifest_path in sorted((recordings_dir / room_id).glob(f"*/{MANIFEST}"), reverse=True):
        try:
            manifests.append(json.loads(manifest_path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            logger.warning("skipping %s: unreadable manifest: %s", manifest_path, exc)
    return manifests

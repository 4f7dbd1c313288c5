"""A recording's folder on disk: its file names, its states, and writes a crash cannot tear.

``manifest.json`` records a session's state at every transition; after a crash it tells which
sessions were cut short. Shared by the live recording and by the archive that recovers and
lists recordings.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

MANIFEST = "manifest.json"
CHAPTERS = "chapters.vtt"
TIMELINE_JSON = "timeline.json"


class RecordingState(str, Enum):
    RECORDING = "recording"
    PAUSED = "paused"
    STOPPED = "stopped"
    RECOVERED = "recovered"
    FAILED = "failed"


ACTIVE = (RecordingState.RECORDING, RecordingState.PAUSED)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``path`` so that a crash leaves either the old or the new content, never half."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``path`` so that a crash leaves either the old or the new content, never half."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

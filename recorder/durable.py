"""Writes a crash cannot tear: a file is replaced whole or not at all, and a rename survives.

A file's bytes are durable after ``fsync`` of the file; its *name* (a create, a rename) only
after ``fsync`` of the folder that holds it. The recorder and the publishing pipeline both
rename finished files into place, so both go through here.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def fsync_directory(folder: Path) -> None:
    """Make the names in ``folder`` (files created or renamed there) survive a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
    fsync_directory(path.parent)

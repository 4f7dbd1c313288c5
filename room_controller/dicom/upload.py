"""An uploaded series: files (and zips of files) written into a new folder, checked, or removed.

Uploads land under ``<data_dir>/uploads/dicom/<room>/<source>/<stamp>/``: written to a hidden
``.part`` folder, checked as a series (every slice decoded once, so a corrupt file is named now
and not mid-demonstration), then renamed. A folder that fails the check is deleted, and the
previous uploads of the same source are deleted once a new one is in use, so patient images do
not pile up on the room PC. Zips are unpacked flat (a CD export's DICOM/ST0/SE0/IM0 tree becomes
one folder) with limits on members and sizes, and no member can write outside the folder.
"""

from __future__ import annotations

import os
import secrets
import shutil
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from .series import DicomSeries, DicomSeriesError, load_series

MAX_FILES = 5000
MAX_TOTAL_BYTES = 4 * 1024**3
_CHUNK = 1024 * 1024


class UploadError(Exception):
    """The upload cannot become a series; the message names the file and says what to do."""


@dataclass(frozen=True)
class UploadedFile:
    name: str  # as the browser sent it
    stream: IO[bytes]


def upload_root(data_dir: Path, room_id: str, source_id: str) -> Path:
    return data_dir / "uploads" / "dicom" / room_id / source_id


def _uploaded_name(stored: Path) -> str:
    """The name a stored file had in the upload (without the running number)."""
    return stored.name[6:]


def _safe_name(name: str, index: int) -> str:
    """A flat, unique file name: the upload's own base name behind a running number."""
    base = Path(name.replace("\\", "/")).name or "file"
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in base)[:100].lstrip(".")
    return f"{index:05d}-{cleaned or 'file'}"


class _Budget:
    def __init__(self) -> None:
        self.files = 0
        self.bytes = 0

    def take(self, files: int, size: int, what: str) -> None:
        self.files += files
        self.bytes += size
        if self.files > MAX_FILES:
            raise UploadError(f"{what}: more than {MAX_FILES} files in one upload; upload one "
                              "series at a time")
        if self.bytes > MAX_TOTAL_BYTES:
            raise UploadError(f"{what}: the upload is larger than {MAX_TOTAL_BYTES // 1024**3} GiB")


def _copy(stream: IO[bytes], target: Path, budget: _Budget, what: str) -> None:
    with target.open("wb") as out:
        while chunk := stream.read(_CHUNK):
            budget.take(0, len(chunk), what)
            out.write(chunk)


def _unzip(path: Path, folder: Path, budget: _Budget, first_index: int) -> int:
    """Unpack every file member flat into `folder`; returns how many were written."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise UploadError(f"{_uploaded_name(path)}: not a valid zip file") from None
    written = 0
    with archive:
        for member in archive.infolist():
            if member.is_dir() or Path(member.filename).name.startswith(".") or \
                    member.filename.startswith("__MACOSX/"):
                continue
            budget.take(1, member.file_size, _uploaded_name(path))
            target = folder / _safe_name(member.filename, first_index + written)
            try:
                with archive.open(member) as stream:
                    _copy(stream, target, budget, _uploaded_name(path))
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
                raise UploadError(f"{_uploaded_name(path)}: cannot unpack {member.filename}: {exc}") from None
            written += 1
    path.unlink()
    return written


def write_upload(files: Iterable[UploadedFile], folder: Path) -> int:
    """Write the uploaded files (zips unpacked) into `folder`; returns the number of files."""
    folder.mkdir(parents=True)
    budget = _Budget()
    count = 0
    for upload in files:
        budget.take(1, 0, upload.name)
        target = folder / _safe_name(upload.name, count)
        _copy(upload.stream, target, budget, upload.name)
        count += 1
        if zipfile.is_zipfile(target):
            count += _unzip(target, folder, budget, count) - 1
    if count == 0:
        raise UploadError("no files in the upload: choose the series' .dcm files or a .zip")
    return count


def _original_name(message: str, folder: Path) -> str:
    """Speak of the file as it was uploaded, not as it was stored (folder and number off)."""
    text = message.replace(f"{folder}: ", "").replace(str(folder), "upload")
    for stored in sorted(folder.iterdir(), key=lambda p: -len(p.name)) if folder.exists() else []:
        if stored.name[:6].rstrip("-").isdigit():
            text = text.replace(stored.name, _uploaded_name(stored))
    return text


def store_series(
    files: Iterable[UploadedFile], root: Path, decode_workers: int = 2
) -> DicomSeries:
    """Write, check and keep one uploaded series under `root`; the old uploads are removed.

    Raises UploadError naming the offending file; nothing of the failed upload stays on disk.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
    part = root / f".{stamp}.part"
    final = root / stamp
    try:
        write_upload(files, part)
        series = load_series(part)
        series.decode_all(decode_workers)
    except (DicomSeriesError, UploadError, OSError) as exc:
        message = _original_name(str(exc), part)
        shutil.rmtree(part, ignore_errors=True)
        raise UploadError(message) from None
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        raise
    os.replace(part, final)
    return load_series(final, cache_bytes=series.cache_bytes)


def remove_other_uploads(root: Path, keep: Path) -> None:
    """Delete every upload of this source but `keep` (patient images do not pile up)."""
    if not root.is_dir():
        return
    for child in root.iterdir():
        if child != keep:
            shutil.rmtree(child, ignore_errors=True)

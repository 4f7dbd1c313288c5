"""An uploaded series: files (and zips of files) written into a new folder, checked, or removed.

Uploads land under ``<data_dir>/uploads/dicom/<room>/<source>/<stamp>/``: written to a hidden
``.part`` folder, checked as a series (every slice decoded once, so a corrupt file is named now
and not mid-demonstration), then renamed. A folder that fails the check is deleted, and the
previous uploads of the same source are deleted once a new one is in use, so patient images do
not pile up on the room PC. Zips are unpacked flat (a CD export's DICOM/ST0/SE0/IM0 tree becomes
one folder) and no member can write outside the folder. Limits (``UploadLimits``, from the
settings) are counted while the bytes stream, from the request and out of each zip, and a write
that would pass one is never made: a zip bomb stops at the limit and its folder is deleted.
"""

from __future__ import annotations

import os
import secrets
import shutil
import zipfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from config.settings import Settings

from .frames import DicomFileError, check_file, human_bytes
from .series import DicomSeries, DicomSeriesError, load_series

_CHUNK = 1024 * 1024


class UploadError(Exception):
    """The upload cannot become a series; the message names the file and says what to do."""


class UploadTooLarge(UploadError):
    """The upload passes one of the limits; the message names the limit and its setting."""


@dataclass(frozen=True)
class UploadLimits:
    """What one DICOM upload may cost, counted while it streams (settings ``upload_max_*``)."""

    max_upload_bytes: int = 1024**3
    """The request body, counted by the web layer as it arrives."""
    max_expanded_bytes: int = 2 * 1024**3
    """Everything written to disk, zips unpacked."""
    max_files: int = 5000
    """Files and zip members."""
    max_slice_bytes: int = 64 * 1024**2
    """One file on disk, and one frame decoded."""

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadLimits:
        return cls(settings.upload_max_bytes, settings.upload_max_expanded_bytes,
                   settings.upload_max_files, settings.upload_max_slice_bytes)

    def request_too_large(self) -> UploadTooLarge:
        return UploadTooLarge(
            f"the upload is larger than {human_bytes(self.max_upload_bytes)} "
            "(MEDROOM_UPLOAD_MAX_BYTES): upload one series at a time"
        )


@dataclass(frozen=True)
class UploadedFile:
    name: str  # as the browser sent it
    stream: IO[bytes]
    """Seekable (a spooled temporary file) for a zip to be unpacked from it in place."""


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
    """Files and bytes written so far, refused *before* a write would pass a limit."""

    def __init__(self, limits: UploadLimits) -> None:
        self.limits = limits
        self.files = 0
        self.bytes = 0

    def take_file(self, what: str) -> None:
        self.files += 1
        if self.files > self.limits.max_files:
            raise UploadTooLarge(
                f"{what}: more than {self.limits.max_files} files in one upload "
                "(MEDROOM_UPLOAD_MAX_FILES): upload one series at a time"
            )

    def take_bytes(self, size: int, file_bytes: int, what: str) -> None:
        self.bytes += size
        if file_bytes > self.limits.max_slice_bytes:
            raise UploadTooLarge(
                f"{what}: larger than {human_bytes(self.limits.max_slice_bytes)}, the most one DICOM "
                "file may be (MEDROOM_UPLOAD_MAX_SLICE_BYTES)"
            )
        if self.bytes > self.limits.max_expanded_bytes:
            raise UploadTooLarge(
                f"{what}: the upload unpacks to more than {human_bytes(self.limits.max_expanded_bytes)} "
                "(MEDROOM_UPLOAD_MAX_EXPANDED_BYTES): upload one series at a time"
            )


def _copy(stream: IO[bytes], target: Path, budget: _Budget, what: str) -> None:
    """Copy in chunks, counting each before it is written: a zip's declared sizes are never
    trusted, the bytes that come out of it are what is counted."""
    written = 0
    with target.open("wb") as out:
        while chunk := stream.read(_CHUNK):
            written += len(chunk)
            budget.take_bytes(len(chunk), written, what)
            out.write(chunk)


def _is_zip(stream: IO[bytes]) -> bool:
    if not stream.seekable():
        return False
    try:
        return zipfile.is_zipfile(stream)
    finally:
        stream.seek(0)


def _unzip(upload: UploadedFile, folder: Path, budget: _Budget, first_index: int) -> int:
    """Unpack every file member flat into `folder`, straight from the uploaded stream (no copy
    of the zip on disk); returns how many were written."""
    try:
        archive = zipfile.ZipFile(upload.stream)
    except zipfile.BadZipFile:
        raise UploadError(f"{upload.name}: not a valid zip file") from None
    written = 0
    with archive:
        for member in archive.infolist():
            if member.is_dir() or Path(member.filename).name.startswith(".") or \
                    member.filename.startswith("__MACOSX/"):
                continue
            what = f"{upload.name}: {member.filename}"
            budget.take_file(what)
            target = folder / _safe_name(member.filename, first_index + written)
            try:
                with archive.open(member) as stream:
                    _copy(stream, target, budget, what)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError) as exc:
                raise UploadError(f"{what}: cannot unpack it: {exc}") from None
            written += 1
    return written


def write_upload(
    files: Iterable[UploadedFile], folder: Path, limits: UploadLimits = UploadLimits()
) -> int:
    """Write the uploaded files (zips unpacked) into `folder`; returns the number of files.

    Raises UploadTooLarge before writing what passes a limit of ``limits``.
    """
    folder.mkdir(parents=True)
    budget = _Budget(limits)
    count = 0
    for upload in files:
        if _is_zip(upload.stream):
            count += _unzip(upload, folder, budget, count)
            continue
        budget.take_file(upload.name)
        _copy(upload.stream, folder / _safe_name(upload.name, count), budget, upload.name)
        count += 1
    if count == 0:
        raise UploadError("no files in the upload: choose the series' .dcm files or a .zip")
    return count


def _check_all(folder: Path, limits: UploadLimits, workers: int) -> None:
    paths = sorted(p for p in folder.iterdir() if p.is_file())

    def one(path: Path) -> str | None:
        try:
            check_file(path, limits.max_slice_bytes)
        except DicomFileError as exc:
            return str(exc)
        return None

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dicom-check") as pool:
        errors = [e for e in pool.map(one, paths) if e]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise UploadError(f"{errors[0]}{more}")


def receive_upload(
    files: Iterable[UploadedFile], folder: Path, limits: UploadLimits, workers: int = 2
) -> int:
    """Every DICOM upload's way in (a room source's series, a lesson's attachment): write the
    files into the new `folder` within ``limits``, then check each one (``check_file``: DICOM,
    complete, decodable, frames of bounded size). Returns the number of files.

    Raises UploadError (UploadTooLarge for a limit) speaking of the files by their uploaded
    names; the caller removes `folder`.
    """
    try:
        count = write_upload(files, folder, limits)
        _check_all(folder, limits, workers)
    except UploadError as exc:
        raise type(exc)(uploaded_names(str(exc), folder)) from None
    except OSError as exc:
        raise UploadError(uploaded_names(str(exc), folder)) from None
    return count


def uploaded_names(message: str, folder: Path) -> str:
    """Speak of the file as it was uploaded, not as it was stored (folder and number off)."""
    text = message.replace(f"{folder}: ", "").replace(str(folder), "upload")
    for stored in sorted(folder.iterdir(), key=lambda p: -len(p.name)) if folder.exists() else []:
        if stored.name[:6].rstrip("-").isdigit():
            text = text.replace(stored.name, _uploaded_name(stored))
    return text


def store_series(
    files: Iterable[UploadedFile], root: Path, decode_workers: int = 2, *,
    limits: UploadLimits = UploadLimits(),
) -> DicomSeries:
    """Write, check and keep one uploaded series under `root`; the old uploads are removed.

    Raises UploadError naming the offending file; nothing of the failed upload stays on disk.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
    part = root / f".{stamp}.part"
    final = root / stamp
    try:
        receive_upload(files, part, limits, decode_workers)
        series = load_series(part)
        series.decode_all(decode_workers)
    except UploadError:
        shutil.rmtree(part, ignore_errors=True)
        raise
    except (DicomSeriesError, OSError) as exc:
        message = uploaded_names(str(exc), part)
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

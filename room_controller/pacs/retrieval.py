"""A series retrieved from a PACS into the room's cache, with its progress, and the cache's
retention: patient images leave the room PC on their own.

A retrieval writes into a hidden ``.part`` folder under ``<data_dir>/pacs/<room>/``, loads the
result as a series (headers of every file, the first, middle and last slice decoded: a series
this machine cannot decode is refused now, with the reason, not mid-demonstration) and renames
it. Each kept series has a small ``<id>.json`` beside it saying when it may be deleted:

- while the room is live, never (``hold``);
- when the live session ends, ``retention`` later (``release``); a series retrieved while the
  room is idle gets the same deadline counted from its retrieval;
- a deadline that was never set (the server stopped while live) is set on the next start.

``sweep`` deletes what is due, and any ``.part`` left by a crash. Nothing here copies a series
anywhere else: the library takes DICOM only through its de-identification (uploads).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from ..dicom.series import DicomSeries, DicomSeriesError, Slice, load_series
from .dicomweb import Cancelled
from .model import PacsError
from .peers import PacsPeer, Protocol

log = logging.getLogger(__name__)


class RetrievalState(str, Enum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class Retrieval:
    """One series being fetched: read by the console while a worker thread fills it in."""

    id: str
    room_id: str
    pacs_id: str
    protocol: Protocol
    study_uid: str
    series_uid: str
    description: str
    source_id: str | None
    state: RetrievalState = RetrievalState.RUNNING
    received: int = 0
    total: int | None = None
    error: str = ""
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    seconds: float | None = None
    folder: Path | None = None
    slices: int = 0
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def progress(self, received: int, total: int | None) -> None:
        self.received = received
        if total is not None:
            self.total = total


class PacsCache:
    """Retrieved series of every room under ``<data_dir>/pacs``, and when each is due."""

    def __init__(self, data_dir: Path, retention_seconds: float) -> None:
        self.root = data_dir / "pacs"
        self.retention = retention_seconds
        self._lock = threading.Lock()

    def room_root(self, room_id: str) -> Path:
        return self.root / room_id

    def _meta(self, folder: Path) -> Path:
        return folder.with_name(folder.name + ".json")

    def _write(self, folder: Path, expires_at: float | None, **extra: object) -> None:
        meta = self._meta(folder)
        data = json.loads(meta.read_text()) if meta.exists() else {}
        data.update(extra, expires_at=expires_at)
        tmp = meta.with_name("." + meta.name + ".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, meta)

    def folders(self, room_id: str | None = None) -> list[Path]:
        rooms = [self.room_root(room_id)] if room_id else (
            sorted(p for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else [])
        return [f for room in rooms if room.is_dir() for f in sorted(room.iterdir())
                if f.is_dir() and not f.name.startswith(".")]

    def expires_at(self, folder: Path) -> float | None:
        try:
            value = json.loads(self._meta(folder).read_text()).get("expires_at")
        except (OSError, ValueError):
            return 0.0  # no readable deadline: due now
        return None if value is None else float(value)

    def keep(self, part: Path, room_live: bool, **about: object) -> Path:
        """Rename a complete ``.part`` folder into place with its deadline; returns the folder."""
        final = part.with_name(part.name.removeprefix(".").removesuffix(".part"))
        with self._lock:
            os.replace(part, final)
            self._write(final, None if room_live else time.time() + self.retention, **about)
        return final

    def hold(self, room_id: str) -> None:
        """The room went live: nothing of it is due while it is."""
        with self._lock:
            for folder in self.folders(room_id):
                self._write(folder, None)

    def release(self, room_id: str, now: float | None = None) -> None:
        """The live session ended: everything of the room is due ``retention`` from now."""
        due = (now or time.time()) + self.retention
        with self._lock:
            for folder in self.folders(room_id):
                self._write(folder, due)

    def settle_after_restart(self) -> None:
        """Deadlines never set (the server stopped while live) count from now."""
        due = time.time() + self.retention
        with self._lock:
            for folder in self.folders():
                if self.expires_at(folder) is None:
                    self._write(folder, due)

    def sweep(self, now: float | None = None) -> list[Path]:
        """Delete every series that is due and every ``.part`` folder not being written."""
        now = now or time.time()
        removed = []
        with self._lock:
            for folder in self.folders():
                due = self.expires_at(folder)
                if due is not None and due <= now:
                    shutil.rmtree(folder, ignore_errors=True)
                    self._meta(folder).unlink(missing_ok=True)
                    removed.append(folder)
        if removed:
            log.info("deleted %d retrieved series past their retention", len(removed))
        return removed

    def remove_stale_parts(self) -> None:
        """At start only: a ``.part`` folder is what a crash left mid-retrieval."""
        if not self.root.is_dir():
            return
        for room in self.root.iterdir():
            for part in room.glob(".*.part") if room.is_dir() else ():
                shutil.rmtree(part, ignore_errors=True)


def _check_series(folder: Path) -> DicomSeries:
    series = load_series(folder)
    for index in sorted({0, series.count // 2, series.count - 1}):
        series.stored(index)
    return series


def moved(series: DicomSeries, folder: Path) -> DicomSeries:
    """The same series after its folder was renamed: the headers are not read again (300 of
    them cost half a second)."""
    slices = tuple(Slice(dataclasses.replace(s.ref, path=folder / s.ref.path.name),
                         s.position_mm) for s in series.slices)
    return DicomSeries(folder=folder, slices=slices, series_uid=series.series_uid,
                       series_description=series.series_description, modality=series.modality,
                       cache_bytes=series.cache_bytes)


def run_retrieval(
    job: Retrieval, peer: PacsPeer, cache: PacsCache, max_instances: int, room_live: bool,
) -> DicomSeries:
    """Fetch the series of ``job`` into the cache, filling in its progress (blocking).

    Returns the loaded series; on failure the job says why and nothing stays on disk.
    """
    start = time.perf_counter()
    part = cache.room_root(job.room_id) / f".{time.strftime('%Y%m%d-%H%M%S')}-{job.id}.part"
    try:
        part.mkdir(parents=True)
        client = peer.via(job.protocol)
        if job.total is None:
            listed = [s for s in client.series(job.study_uid) if s.series_uid == job.series_uid]
            if not listed:
                raise PacsError(f"PACS '{peer.id}' has no series {job.series_uid} in study "
                                f"{job.study_uid}")
            job.total = listed[0].instances
        if job.total is not None and job.total > max_instances:
            raise PacsError(f"the series has {job.total} instances, more than "
                            f"{max_instances} (MEDROOM_PACS_MAX_SERIES_SLICES)")
        received = client.retrieve(job.study_uid, job.series_uid, part, job.progress,
                                   job.total, max_instances, job.cancel)
        if job.total is not None and received < job.total:
            # A multipart answer cut short can end without an error: count, do not trust.
            raise PacsError(f"PACS '{peer.id}' sent {received} of the {job.total} instances "
                            "of the series and stopped: try again")
        try:
            checked = _check_series(part)
        except DicomSeriesError as exc:
            message = str(exc).replace(f"{part}: ", "")
            raise PacsError(f"the retrieved series cannot be shown: {message}") from None
        final = cache.keep(part, room_live, pacs=peer.id, series_uid=job.series_uid,
                           retrieved_at=time.time())
        series = moved(checked, final)
    except Cancelled as exc:
        shutil.rmtree(part, ignore_errors=True)
        job.state, job.error = RetrievalState.CANCELLED, str(exc)
        raise
    except BaseException as exc:
        shutil.rmtree(part, ignore_errors=True)
        job.state, job.error = RetrievalState.FAILED, str(exc) or type(exc).__name__
        raise
    finally:
        job.finished_at = time.time()
        job.seconds = round(time.perf_counter() - start, 3)
    job.folder, job.slices, job.state = final, series.count, RetrievalState.DONE
    return series


def new_retrieval_id() -> str:
    return secrets.token_hex(6)

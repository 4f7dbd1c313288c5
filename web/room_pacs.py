"""The rooms' side of the PACS: retrievals running for each room, the patient context chosen
from the worklist, and the cache's retention kept in step with the rooms' live sessions.

``RoomPacs.start`` settles what an earlier run left (``.part`` folders, deadlines never set),
asks every PACS once in the background (a PACS that does not answer is logged with the reason
and shown in the console; the rooms start anyway: teaching goes on without the PACS), and runs
a watcher that holds a room's series while it is live, gives them their deadline when it ends,
and deletes what is due. A source showing a deleted series goes back to what it showed before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from config.settings import Settings
from library.pacs_export import ExportPlan, send_export
from recorder.dicom_export import PatientContext as ExportContext
from recorder.durable import atomic_write_text
from room_controller.dicom.series import DicomSeries, load_series
from room_controller.pacs import (
    PacsCache,
    PacsError,
    PacsPeer,
    PacsPeers,
    Protocol,
    Retrieval,
    RetrievalState,
    WorklistItem,
    run_retrieval,
)
from room_controller.pacs.retrieval import new_retrieval_id
from room_controller.room import RoomState
from room_controller.sources.dicom_source import DicomSeriesSource
from web.live import LiveRooms

log = logging.getLogger(__name__)

#: Retrievals listed per room (finished ones beyond this are forgotten, oldest first).
KEPT_RETRIEVALS = 20
#: Retrievals running at once in one room.
MAX_RUNNING = 4
WATCH_SECONDS = 5.0


class RetrievalRefused(Exception):
    """A retrieval that cannot start now; the message says why."""


@dataclass(frozen=True)
class PatientContext:
    """The worklist item a live procedure is for: what its exports to the PACS carry."""

    pacs_id: str
    item: WorklistItem
    chosen_by: str
    chosen_at: float


@dataclass
class ExportJob:
    """One export of a recording's parts to a PACS: each item's state, for the console."""

    id: str
    recording_id: str
    pacs_id: str
    plan: ExportPlan
    running: bool = True
    error: str = ""
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None


CONTEXT_FILE = "pacs-context.json"


def recording_context(folder: Path) -> ExportContext | None:
    """The patient context kept with a recording (written at its first export)."""
    try:
        data = json.loads((folder / CONTEXT_FILE).read_text())
        return ExportContext(**{k: v for k, v in data.items() if k != "region"})
    except (OSError, ValueError, TypeError):
        return None


def keep_context(folder: Path, context: ExportContext) -> None:
    atomic_write_text(folder / CONTEXT_FILE, json.dumps(asdict(context)))


def export_context(item: WorklistItem) -> ExportContext:
    return ExportContext(patient_name=item.patient_name, patient_id=item.patient_id,
                         birth_date=item.birth_date, sex=item.sex, accession=item.accession,
                         study_uid=item.study_uid, procedure=item.procedure)


class RoomPacs:
    def __init__(self, settings: Settings, live: LiveRooms) -> None:
        self.peers = PacsPeers(settings.pacs)
        self.cache = PacsCache(settings.data_dir, settings.pacs_retention_hours * 3600)
        self.max_instances = settings.pacs_max_series_slices
        self.live = live
        self.retrievals: dict[str, dict[str, Retrieval]] = {room: {} for room in live.rooms}
        self.contexts: dict[str, PatientContext] = {}
        self.exports: dict[str, dict[str, ExportJob]] = {room: {} for room in live.rooms}
        self._tasks: set[asyncio.Task[object]] = set()
        self._watcher: asyncio.Task[None] | None = None
        self._was_live: dict[str, bool] = {}
        #: What a source showed before its first PACS series: shown again when that is deleted.
        self._before: dict[tuple[str, str], Path] = {}

    # -- lifetime ------------------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self.cache.remove_stale_parts)
        await asyncio.to_thread(self.cache.settle_after_restart)
        await asyncio.to_thread(self.cache.sweep)
        if self.peers.peers:
            self._spawn(asyncio.to_thread(self.peers.check_all))
        self._watcher = asyncio.create_task(self._watch(), name="pacs-retention")

    async def stop(self) -> None:
        for jobs in self.retrievals.values():
            for job in jobs.values():
                job.cancel.set()
        tasks: list[asyncio.Task[Any]] = [*self._tasks, *([self._watcher] if self._watcher else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._watcher = None

    def _spawn(self, work: Awaitable[object]) -> asyncio.Task[object]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- retention -----------------------------------------------------------------------------

    def is_live(self, room_id: str) -> bool:
        return self.live.rooms[room_id].state is RoomState.LIVE

    async def _watch(self) -> None:
        while True:
            try:
                await self.settle()
            except Exception:
                log.exception("the PACS cache's retention check failed; trying again")
            await asyncio.sleep(WATCH_SECONDS)

    async def settle(self, now: float | None = None) -> list[Path]:
        """Hold the series of live rooms, give ended sessions their deadline, delete what is due."""
        for room_id in self.live.rooms:
            live = self.is_live(room_id)
            was = self._was_live.get(room_id)
            if live and was is not True:
                await asyncio.to_thread(self.cache.hold, room_id)
            elif not live and was is True:
                await asyncio.to_thread(self.cache.release, room_id)
            self._was_live[room_id] = live
        removed = await asyncio.to_thread(self.cache.sweep, now)
        if removed:
            await asyncio.to_thread(self._restore_sources, removed)
        return removed

    def _restore_sources(self, removed: list[Path]) -> None:
        gone = set(removed)
        for room_id, room in self.live.rooms.items():
            for source in room.sources.values():
                if not isinstance(source, DicomSeriesSource) or source.folder not in gone:
                    continue
                before = self._before.get((room_id, source.id))
                with source.replace_lock:
                    try:
                        if before is not None:
                            source.use_series(load_series(before))
                    except Exception as exc:  # noqa: BLE001 (the earlier folder may be gone too)
                        log.warning("source %s of room %s cannot go back to %s: %s",
                                    source.id, room_id, before, exc)
        for job in (j for jobs in self.retrievals.values() for j in jobs.values()):
            if job.folder in gone:
                job.folder = None

    async def delete_now(self, room_id: str, job: Retrieval) -> None:
        """The instructor removes a retrieved series from the room before its deadline."""
        if job.state is RetrievalState.RUNNING:
            job.cancel.set()
            return
        folder = job.folder
        if folder is not None:
            await asyncio.to_thread(self._delete_folder, folder)
            await asyncio.to_thread(self._restore_sources, [folder])
            job.folder = None
        self.retrievals[room_id].pop(job.id, None)

    def _delete_folder(self, folder: Path) -> None:
        self.cache._write(folder, 0.0)  # due now
        self.cache.sweep(time.time())

    # -- retrievals ----------------------------------------------------------------------------

    def start_retrieval(
        self, room_id: str, peer: PacsPeer, protocol: Protocol | None, study_uid: str,
        series_uid: str, description: str, source: DicomSeriesSource | None,
    ) -> Retrieval:
        jobs = self.retrievals[room_id]
        running = [j for j in jobs.values() if j.state is RetrievalState.RUNNING]
        if len(running) >= MAX_RUNNING:
            raise RetrievalRefused(f"{MAX_RUNNING} retrievals are running in room '{room_id}': "
                                   "wait for one to finish")
        if any(j.series_uid == series_uid for j in running):
            raise RetrievalRefused("this series is being retrieved already")
        try:
            chosen = protocol or peer.protocols[0]
            peer.via(chosen)
        except PacsError as exc:
            raise RetrievalRefused(str(exc)) from None
        job = Retrieval(id=new_retrieval_id(), room_id=room_id, pacs_id=peer.id,
                        protocol=chosen, study_uid=study_uid, series_uid=series_uid,
                        description=description[:200], source_id=source.id if source else None)
        jobs[job.id] = job
        self._forget_old(room_id)
        self._spawn(self._run(job, peer, source))
        return job

    def _forget_old(self, room_id: str) -> None:
        jobs = self.retrievals[room_id]
        finished = [j for j in jobs.values() if j.state is not RetrievalState.RUNNING]
        for job in finished[: max(0, len(jobs) - KEPT_RETRIEVALS)]:
            del jobs[job.id]

    async def _run(self, job: Retrieval, peer: PacsPeer, source: DicomSeriesSource | None) -> None:
        try:
            series = await asyncio.to_thread(run_retrieval, job, peer, self.cache,
                                             self.max_instances, self.is_live(job.room_id))
        except Exception as exc:  # noqa: BLE001 (the job carries the reason for the console)
            log.warning("retrieval %s in room %s failed: %s", job.id, job.room_id, exc)
            return
        if source is not None:
            await asyncio.to_thread(self.show, job.room_id, source, series)

    def show(self, room_id: str, source: DicomSeriesSource, series: DicomSeries) -> None:
        with source.replace_lock:
            key = (room_id, source.id)
            if key not in self._before and not source.folder.is_relative_to(self.cache.root):
                self._before[key] = source.folder
            source.use_series(series)

    # -- exports -------------------------------------------------------------------------------

    def start_export(self, room_id: str, peer: PacsPeer, protocol: Protocol | None,
                     recording_id: str, plan: ExportPlan) -> ExportJob:
        jobs = self.exports[room_id]
        if any(j.running and j.recording_id == recording_id for j in jobs.values()):
            raise RetrievalRefused(f"recording {recording_id} is being exported already")
        job = ExportJob(new_retrieval_id(), recording_id, peer.id, plan)
        jobs[job.id] = job
        for old in [j for j in jobs.values() if not j.running][: max(0, len(jobs) - KEPT_RETRIEVALS)]:
            del jobs[old.id]
        self._spawn(self._export(job, peer, protocol))
        return job

    async def _export(self, job: ExportJob, peer: PacsPeer, protocol: Protocol | None) -> None:
        try:
            await asyncio.to_thread(send_export, job.plan, peer, protocol)
        except Exception as exc:  # noqa: BLE001 (shown with the job)
            job.error = str(exc) or type(exc).__name__
            log.warning("export %s of recording %s failed: %s", job.id, job.recording_id, exc)
        finally:
            job.running, job.finished_at = False, time.time()

    def job(self, room_id: str, retrieval_id: str) -> Retrieval | None:
        return self.retrievals.get(room_id, {}).get(retrieval_id)

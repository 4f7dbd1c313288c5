"""PACS API of a room: which PACS answer, search, retrieve a series into the room (with
progress), the modality worklist and the patient context of a live procedure.

Only the room's instructors and admins (``Controller``) reach these routes; curators may also
send a recording's parts (``Exporter``), never search or fetch patient images. Every search,
retrieval, deletion, worklist query and context choice is written to the access log with who
asked, what they asked for and the reason they gave (``why``, required). Blocking PACS calls run
off the event loop.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import Response

from library.cme import audit
from library.i18n import LazyText, formats, lazy
from library.pacs_export import ExportPlan, plan_export
from library.users import Role
from recorder.archive import find_manifest
from recorder.dicom_export import ExportError
from recorder.manifest import ManifestError
from room_controller.dicom.series import DicomSeriesError, load_series
from room_controller.pacs import (
    PacsError,
    PacsPeer,
    PacsUnreachable,
    Protocol,
    QueryError,
    Retrieval,
    StudyMatch,
    StudyQuery,
    WorklistQuery,
)
from room_controller.pacs.dicomweb import DicomWebPacs
from room_controller.pacs.dimse import DimsePacs
from room_controller.sources.dicom_source import DicomSeriesSource
from web.auth import Controller, Principal, audit_actor, require_roles
from web.deps import DbDep, LiveDep, PacsDep, RecordingsDep, SettingsDep, room_or_404
from web.pacs_schemas import (
    ContextIn,
    ContextOut,
    ExportIn,
    ExportItemOut,
    ExportOut,
    PacsOut,
    ProtocolStatusOut,
    RetrievalOut,
    RetrieveIn,
    SearchOut,
    SeriesOut,
    ShowIn,
    StudyOut,
    Why,
    WorklistItemOut,
    WorklistOut,
)
from web.room_pacs import (
    ExportJob,
    PatientContext,
    RetrievalRefused,
    RoomPacs,
    export_context,
    keep_context,
    recording_context,
)
from web.routes.rooms import passed_on

router = APIRouter(prefix="/api/rooms/{room_id}/pacs", tags=["pacs"])
#: Sending a recording's parts to the patient's record is also a curator's work (issue 15).
Exporter = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.INSTRUCTOR,
                                                      Role.CURATOR))]

#: A status older than this is asked again when the console lists the PACS.
STATUS_MAX_AGE = 30.0
Text = Annotated[str, Query(max_length=64)]
WhyQuery = Annotated[str, Query(min_length=3, max_length=200,
                                description="Why (kept in the access log).")]


def _peer(pacs: RoomPacs, room_id: str, pacs_id: str) -> PacsPeer:
    peer = pacs.peers.get(room_id, pacs_id)
    if peer is None:
        known = ", ".join(p.id for p in pacs.peers.for_room(room_id)) or "none configured"
        raise HTTPException(status.HTTP_404_NOT_FOUND, lazy(
            "room '%(room)s' has no PACS '%(pacs)s' (PACS: %(known)s)", "unknown_pacs",
            room=room_id, pacs=pacs_id, known=known))
    return peer


def _pacs_failed(exc: PacsError) -> HTTPException:
    """The PACS's own reason: 503 when it did not answer, 502 when it refused or failed."""
    if isinstance(exc, PacsUnreachable):
        return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, lazy(
            "The PACS does not answer: %(reason)s", "pacs_unreachable", reason=passed_on(exc)))
    return HTTPException(status.HTTP_502_BAD_GATEWAY, lazy(
        "The PACS refused or failed the request: %(reason)s", "pacs_failed",
        reason=passed_on(exc)))


async def _log(db: Any, request: Request, principal: Principal, action: audit.Action,
               room_id: str, **detail: Any) -> None:
    await asyncio.to_thread(audit.record, db, audit_actor(request, principal), action,
                            target=audit.Target.ROOM, target_id=room_id, detail=detail)


def _pacs_out(pacs: RoomPacs, peer: PacsPeer) -> PacsOut:
    last = pacs.peers.last.get(peer.id)
    return PacsOut(
        id=peer.id, label=peer.server.label or peer.id, protocols=list(peer.protocols),
        answers=None if last is None else last.answers,
        checked_at=None if last is None else last.checked_at,
        status=[ProtocolStatusOut(**asdict(s)) for s in last.protocols] if last else [],
        worklist=peer.dimse is not None,
    )


@router.get("", response_model=list[PacsOut],
            summary="The PACS this room may use, and whether each answers now")
async def list_pacs(pacs: PacsDep, room_id: str, principal: Controller) -> list[PacsOut]:
    peers = pacs.peers.for_room(room_id)
    stale = [p for p in peers if (last := pacs.peers.last.get(p.id)) is None
             or time.time() - last.checked_at > STATUS_MAX_AGE]
    if stale:
        await asyncio.gather(*(asyncio.to_thread(pacs.peers.check, p.id) for p in stale))
    return [_pacs_out(pacs, p) for p in peers]


def _study_out(study: StudyMatch, series: list[SeriesOut]) -> StudyOut:
    return StudyOut(
        study_uid=study.study_uid, patient_name=study.patient_name, patient_id=study.patient_id,
        birth_date=study.birth_date, accession=study.accession, study_date=study.study_date,
        description=study.description, modalities=list(study.modalities), series=series)


def _search(client: DicomWebPacs | DimsePacs, query: StudyQuery) -> list[StudyOut]:
    studies = client.search(query)
    return [_study_out(s, [SeriesOut(**asdict(x)) for x in client.series(s.study_uid)])
            for s in studies]


@router.get("/{pacs_id}/studies", response_model=SearchOut,
            summary="Search the PACS: studies with their series and slice counts")
async def search_studies(
    request: Request, db: DbDep, pacs: PacsDep, room_id: str, pacs_id: str,
    principal: Controller, why: WhyQuery, patient_name: Text = "", patient_id: Text = "",
    accession: Annotated[str, Query(max_length=16)] = "", date_from: date | None = None,
    date_to: date | None = None, modality: Annotated[str, Query(max_length=16)] = "",
    protocol: Protocol | None = None, limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> SearchOut:
    peer = _peer(pacs, room_id, pacs_id)
    try:
        query = StudyQuery(patient_name=patient_name, patient_id=patient_id, accession=accession,
                           date_from=date_from, date_to=date_to, modality=modality, limit=limit)
        client = peer.via(protocol)
    except (QueryError, PacsError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, _bad_query(exc)) from None
    used = Protocol.DICOMWEB if isinstance(client, DicomWebPacs) else Protocol.DIMSE
    try:
        studies = await asyncio.to_thread(_search, client, query)
    except PacsError as exc:
        await _log(db, request, principal, audit.Action.PACS_SEARCH, room_id, pacs=pacs_id,
                   query=query.described(), why=why, failed=str(exc)[:300])
        raise _pacs_failed(exc) from None
    await _log(db, request, principal, audit.Action.PACS_SEARCH, room_id, pacs=pacs_id,
               protocol=used.value, query=query.described(), why=why, studies=len(studies))
    return SearchOut(pacs=pacs_id, protocol=used, studies=studies)


def _bad_query(exc: Exception) -> LazyText:
    return lazy("The search cannot be sent as it is: %(reason)s", "pacs_query_invalid",
                reason=passed_on(exc))


def _retrieval_out(job: Retrieval) -> RetrievalOut:
    return RetrievalOut(
        id=job.id, pacs=job.pacs_id, protocol=job.protocol, study_uid=job.study_uid,
        series_uid=job.series_uid, description=job.description, source_id=job.source_id,
        state=job.state.value, received=job.received, total=job.total, error=job.error,
        seconds=job.seconds, slices=job.slices, cached=job.folder is not None)


def _dicom_source(live: LiveDep, room_id: str, source_id: str) -> DicomSeriesSource:
    source = room_or_404(live, room_id).sources.get(source_id)
    if not isinstance(source, DicomSeriesSource):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, lazy(
            "'%(source)s' is not a DICOM source of room '%(room)s'", "not_a_dicom_source",
            source=source_id, room=room_id))
    return source


@router.post("/{pacs_id}/retrievals", response_model=RetrievalOut, status_code=202,
             summary="Retrieve a series into the room (progress: GET .../retrievals)")
async def start_retrieval(
    request: Request, db: DbDep, live: LiveDep, pacs: PacsDep, room_id: str, pacs_id: str,
    body: RetrieveIn, principal: Controller,
) -> RetrievalOut:
    peer = _peer(pacs, room_id, pacs_id)
    source = _dicom_source(live, room_id, body.source_id) if body.source_id else None
    try:
        job = pacs.start_retrieval(room_id, peer, body.protocol, body.study_uid, body.series_uid,
                                   body.description, source)
    except RetrievalRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, lazy(
            "The series cannot be retrieved now: %(reason)s", "retrieval_refused",
            reason=passed_on(exc))) from None
    await _log(db, request, principal, audit.Action.PACS_RETRIEVE, room_id, pacs=pacs_id,
               protocol=job.protocol.value, study_uid=body.study_uid,
               series_uid=body.series_uid, source=body.source_id, why=body.why,
               retrieval=job.id)
    return _retrieval_out(job)


@router.get("/retrievals", response_model=list[RetrievalOut],
            summary="The room's retrievals with their progress (slices received of total)")
async def list_retrievals(pacs: PacsDep, room_id: str, principal: Controller) -> list[RetrievalOut]:
    return [_retrieval_out(j) for j in reversed(pacs.retrievals.get(room_id, {}).values())]


def _job_or_404(pacs: RoomPacs, room_id: str, retrieval_id: str) -> Retrieval:
    job = pacs.job(room_id, retrieval_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, lazy(
            "room '%(room)s' has no retrieval '%(id)s'", "retrieval_not_found",
            room=room_id, id=retrieval_id))
    return job


@router.post("/retrievals/{retrieval_id}/show", response_model=RetrievalOut,
             summary="Show a retrieved series on a DICOM source of the room")
async def show_retrieval(
    live: LiveDep, pacs: PacsDep, room_id: str, retrieval_id: str, body: ShowIn,
    principal: Controller,
) -> RetrievalOut:
    job = _job_or_404(pacs, room_id, retrieval_id)
    source = _dicom_source(live, room_id, body.source_id)
    if job.folder is None:
        raise HTTPException(status.HTTP_409_CONFLICT, lazy(
            "retrieval '%(id)s' is %(state)s and its images are not in the room: %(reason)s",
            "retrieval_not_in_room", id=retrieval_id, state=job.state.value,
            reason=job.error) if job.error else lazy(
            "retrieval '%(id)s' is %(state)s and its images are not in the room",
            "retrieval_not_in_room", id=retrieval_id, state=job.state.value))
    folder = job.folder
    try:
        series = await asyncio.to_thread(load_series, folder)
    except DicomSeriesError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, lazy(
            "The retrieved series cannot be shown: %(reason)s", "series_unreadable",
            reason=passed_on(exc))) from None
    await asyncio.to_thread(pacs.show, room_id, source, series)
    job.source_id = source.id
    return _retrieval_out(job)


@router.delete("/retrievals/{retrieval_id}", status_code=204,
               summary="Cancel a retrieval, or delete its images from the room now")
async def delete_retrieval(
    request: Request, db: DbDep, pacs: PacsDep, room_id: str, retrieval_id: str,
    principal: Controller, why: WhyQuery = "removed by the instructor",
) -> Response:
    job = _job_or_404(pacs, room_id, retrieval_id)
    await pacs.delete_now(room_id, job)
    await _log(db, request, principal, audit.Action.PACS_DELETE, room_id, pacs=job.pacs_id,
               series_uid=job.series_uid, retrieval=job.id, why=why)
    return Response(status_code=204)


# -- worklist and patient context ----------------------------------------------------------------


def _item_out(item: Any) -> WorklistItemOut:
    return WorklistItemOut(**asdict(item))


@router.get("/{pacs_id}/worklist", response_model=WorklistOut,
            summary="Scheduled procedure steps of a day (modality worklist, C-FIND)")
async def worklist(
    request: Request, db: DbDep, pacs: PacsDep, room_id: str, pacs_id: str,
    principal: Controller, why: WhyQuery, day: date, patient_name: Text = "",
    modality: Annotated[str, Query(max_length=16)] = "",
    station_aet: Annotated[str, Query(max_length=16)] = "",
) -> WorklistOut:
    peer = _peer(pacs, room_id, pacs_id)
    try:
        query = WorklistQuery(day=day, patient_name=patient_name, modality=modality,
                              station_aet=station_aet)
        client = peer.worklist_client()
    except (QueryError, PacsError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, _bad_query(exc)) from None
    try:
        items = await asyncio.to_thread(client.worklist, query)
    except PacsError as exc:
        raise _pacs_failed(exc) from None
    await _log(db, request, principal, audit.Action.PACS_WORKLIST, room_id, pacs=pacs_id,
               day=day.isoformat(), patient_name=patient_name, why=why, items=len(items))
    return WorklistOut(pacs=pacs_id, items=[_item_out(i) for i in items])


def _keep_once(folder: Path, context: Any) -> None:
    if recording_context(folder) is None:
        keep_context(folder, context)


def _context_out(context: PatientContext | None) -> ContextOut:
    if context is None:
        return ContextOut(pacs=None, item=None, chosen_by=None)
    return ContextOut(pacs=context.pacs_id, item=_item_out(context.item),
                      chosen_by=context.chosen_by)


@router.get("/context", response_model=ContextOut,
            summary="The patient context of the room's procedure (none: a teaching session)")
async def get_context(pacs: PacsDep, room_id: str, principal: Controller) -> ContextOut:
    return _context_out(pacs.contexts.get(room_id))


@router.put("/context", response_model=ContextOut,
            summary="Take the patient context from a worklist item (asked again of the PACS)")
async def put_context(
    request: Request, db: DbDep, pacs: PacsDep, recordings: RecordingsDep, room_id: str,
    body: ContextIn, principal: Controller,
) -> ContextOut:
    peer = _peer(pacs, room_id, body.pacs_id)
    try:
        client = peer.worklist_client()
        day = date.fromisoformat(body.day)
        items = await asyncio.to_thread(client.worklist, WorklistQuery(day=day))
    except (ValueError, QueryError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, _bad_query(exc)) from None
    except PacsError as exc:
        raise _pacs_failed(exc) from None
    matching = [i for i in items if i.accession == body.accession]
    if not matching:
        raise HTTPException(status.HTTP_404_NOT_FOUND, lazy(
            "the worklist of %(day)s on PACS '%(pacs)s' has no item with accession number "
            "'%(accession)s'", "worklist_item_not_found",
            day=formats.format_date(day), pacs=body.pacs_id, accession=body.accession))
    context = PatientContext(body.pacs_id, matching[0], principal.subject, time.time())
    pacs.contexts[room_id] = context
    recording = recordings.recorder.active_in_room(room_id)
    if recording is not None:  # chosen mid-recording: the recording keeps it (its first one)
        await asyncio.to_thread(_keep_once, recording.folder, export_context(matching[0]))
    await _log(db, request, principal, audit.Action.PACS_CONTEXT, room_id, pacs=body.pacs_id,
               accession=body.accession, study_uid=matching[0].study_uid, why=body.why)
    return _context_out(context)


@router.delete("/context", status_code=204,
               summary="Drop the patient context: the session is a teaching session")
async def delete_context(
    request: Request, db: DbDep, pacs: PacsDep, room_id: str, principal: Controller,
) -> Response:
    if pacs.contexts.pop(room_id, None) is not None:
        await _log(db, request, principal, audit.Action.PACS_CONTEXT, room_id, cleared=True)
    return Response(status_code=204)


# -- export -------------------------------------------------------------------------------------


def _export_out(job: ExportJob) -> ExportOut:
    return ExportOut(
        id=job.id, recording_id=job.recording_id, pacs=job.pacs_id, running=job.running,
        error=job.error, study_uid=job.plan.context.study_uid, series_uid=job.plan.series_uid,
        items=[ExportItemOut(kind=i.kind, label=i.label, sop_uid=i.sop_uid, start=i.start,
                             end=i.end, state=i.state, reason=i.reason, frames=i.frames,
                             seconds=i.seconds) for i in job.plan.items])


def _plan(folder: Path, started_at: str, body: ExportIn,
          current: PatientContext | None) -> ExportPlan:
    """The recording's own patient context: the one kept with it (chosen while it recorded),
    or the room's, if that was chosen before the recording started and is still the same. A
    context chosen after the recording started belongs to another procedure: refused."""
    context = recording_context(folder)
    if context is None:
        if current is None:
            raise ExportError(lazy(
                "this recording has no patient context, so it is a teaching session and "
                "exports nothing: pick the patient from the worklist first", "no_patient_context"))
        started = _timestamp(started_at)
        if started is not None and current.chosen_at > started:
            raise ExportError(lazy(
                "the room's patient context was chosen after this recording started: it "
                "belongs to a later procedure, not to this recording", "patient_context_too_late"))
        context = export_context(current.item)
        keep_context(folder, context)
    return plan_export(folder, body.track, body.clip_markers, body.still_markers, context)


def _timestamp(iso: str) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp() if iso else None
    except ValueError:
        return None


@router.post("/{pacs_id}/exports", response_model=ExportOut, status_code=202,
             summary="Send marked clips and key images of a recording to the PACS")
async def start_export(
    request: Request, db: DbDep, settings: SettingsDep, pacs: PacsDep, room_id: str,
    pacs_id: str, body: ExportIn, principal: Exporter,
) -> ExportOut:
    peer = _peer(pacs, room_id, pacs_id)
    try:
        found = await asyncio.to_thread(find_manifest, settings.resolved_recordings_dir,
                                        body.recording_id)
    except ManifestError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, lazy(
            "recording %(id)s cannot be read: %(reason)s", "recording_unreadable",
            id=body.recording_id, reason=passed_on(exc))) from None
    if found is None or found[1].room != room_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, lazy(
            "room '%(room)s' has no recording '%(id)s'", "recording_not_found",
            room=room_id, id=body.recording_id))
    folder = found[0]
    try:
        plan = await asyncio.to_thread(_plan, folder, found[1].started_at, body,
                                       pacs.contexts.get(room_id))
        job = pacs.start_export(room_id, peer, body.protocol, body.recording_id, plan)
    except ExportError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, passed_on(exc)) from None
    except RetrievalRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, lazy(
            "The export cannot start now: %(reason)s", "export_refused",
            reason=passed_on(exc))) from None
    await _log(db, request, principal, audit.Action.PACS_EXPORT, room_id, pacs=pacs_id,
               recording=body.recording_id, track=body.track, clips=len(body.clip_markers),
               stills=len(body.still_markers), study_uid=plan.context.study_uid,
               accession=plan.context.accession, why=body.why, export=job.id)
    return _export_out(job)


@router.get("/exports", response_model=list[ExportOut],
            summary="The room's exports with each object's result")
async def list_exports(pacs: PacsDep, room_id: str, principal: Exporter) -> list[ExportOut]:
    return [_export_out(j) for j in reversed(pacs.exports.get(room_id, {}).values())]


__all__ = ["Why", "router"]

"""DICOM source API: the series shown, slice, cine, window, and uploading a new series.

Only instructors and admins control a source or upload to it. An uploaded series is written
under the data dir, checked (every slice decoded once) off the event loop, and replaces what
the source shows only when it is good; a bad upload is refused with 422 naming the file, and
the source goes on showing what it showed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, status

from library.i18n import LazyText, lazy
from room_controller.dicom import WINDOW_PRESETS, Window, WindowError
from room_controller.dicom.upload import (
    UploadedFile,
    UploadError,
    UploadLimits,
    remove_other_uploads,
    store_series,
    upload_root,
)
from room_controller.sources.dicom_source import CineError, DicomSeriesSource
from web.auth import Controller
from web.deps import LiveDep, SettingsDep, room_or_404
from web.live import LiveRooms
from web.routes.rooms import passed_on
from web.schemas import (
    DicomCineIn,
    DicomPresetOut,
    DicomSliceIn,
    DicomSourceOut,
    DicomWindowIn,
    DicomWindowOut,
)
from web.uploads import upload_body, upload_error, uploaded_files

router = APIRouter(prefix="/api/rooms/{room_id}/sources/{source_id}/dicom", tags=["dicom"])



def _source(live: LiveRooms, room_id: str, source_id: str) -> DicomSeriesSource:
    room = room_or_404(live, room_id)
    source = room.sources.get(source_id)
    if isinstance(source, DicomSeriesSource):
        return source
    dicom = [s.id for s in room.sources.values() if isinstance(s, DicomSeriesSource)]
    known = ", ".join(dicom) or "none"
    raise HTTPException(status.HTTP_404_NOT_FOUND, lazy(
        "room '%(room)s' has no source '%(source)s' (DICOM sources: %(known)s)",
        "unknown_source", room=room_id, source=source_id, known=known) if source is None else lazy(
        "'%(source)s' in room '%(room)s' is not a DICOM series source (DICOM sources: %(known)s)",
        "not_a_dicom_source", room=room_id, source=source_id, known=known))


def dicom_out(source: DicomSeriesSource) -> DicomSourceOut:
    view, health = source.view(), source.health()
    window = view.window
    return DicomSourceOut(
        source=source.id, state=health.state.value, error=health.error, loaded=view.loaded,
        count=view.count, rows=view.rows, cols=view.cols, files=view.files,
        modality=view.modality, index=view.index,
        position_mm=None if view.position_mm is None else round(view.position_mm, 2),
        playing=view.playing, speed=view.speed,
        window=DicomWindowOut(preset=window.preset, center=window.center, width=window.width,
                              label=window.label),
        presets=[DicomPresetOut(name=name, center=c, width=w)
                 for name, (c, w) in WINDOW_PRESETS.items()],
    )


def _unprocessable(exc: Exception) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, lazy(
        "The series cannot do that: %(reason)s", "dicom_refused", reason=passed_on(exc)))


@router.get("", response_model=DicomSourceOut, summary="The DICOM series shown by a source")
async def get_dicom(
    live: LiveDep, room_id: str, source_id: str, principal: Controller
) -> DicomSourceOut:
    return dicom_out(_source(live, room_id, source_id))


@router.put("/slice", response_model=DicomSourceOut,
            summary="Show a slice (absolute index or relative delta); pauses the cine")
async def put_slice(
    live: LiveDep, room_id: str, source_id: str, body: DicomSliceIn, principal: Controller
) -> DicomSourceOut:
    source = _source(live, room_id, source_id)
    if (body.index is None) == (body.delta is None):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, lazy(
            "give exactly one of 'index' (slice to show) or 'delta' (move by)",
            "slice_index_or_delta"))
    try:
        if body.index is not None:
            source.set_slice(body.index)
        else:
            source.step_slice(body.delta or 0)
    except CineError as exc:
        raise _unprocessable(exc) from None
    return dicom_out(source)


@router.put("/cine", response_model=DicomSourceOut, summary="Play or pause the cine, set its speed")
async def put_cine(
    live: LiveDep, room_id: str, source_id: str, body: DicomCineIn, principal: Controller
) -> DicomSourceOut:
    source = _source(live, room_id, source_id)
    try:
        source.set_cine(body.playing, body.speed)
    except CineError as exc:
        raise _unprocessable(exc) from None
    return dicom_out(source)


@router.put("/window", response_model=DicomSourceOut,
            summary="Window preset by name, or a free centre/width in HU")
async def put_window(
    live: LiveDep, room_id: str, source_id: str, body: DicomWindowIn, principal: Controller
) -> DicomSourceOut:
    source = _source(live, room_id, source_id)
    free = body.center is not None or body.width is not None
    try:
        if body.preset is not None and free:
            raise WindowError(lazy("give either 'preset' or 'center' and 'width', not both",
                                   "window_preset_or_values"))
        if body.preset is not None:
            window = Window.named(body.preset)
        elif body.center is not None and body.width is not None:
            window = Window(body.center, body.width)
        else:
            raise WindowError(lazy(
                "give 'preset' (e.g. 'brain'), or both 'center' and 'width' in HU",
                "window_missing"))
    except WindowError as exc:
        reason = passed_on(exc)
        raise (HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, reason)
               if isinstance(reason, LazyText) else _unprocessable(exc)) from None
    source.set_window(window)
    return dicom_out(source)


def _replace_series(source: DicomSeriesSource, uploads: list[UploadedFile], root: Path,
                    limits: UploadLimits) -> None:
    """Store and check the upload, show it, delete the previous one: one upload at a time."""
    with source.replace_lock:
        series = store_series(uploads, root, limits=limits)
        source.use_series(series)
        remove_other_uploads(root, series.folder)


@router.post(
    "", response_model=DicomSourceOut, status_code=201, openapi_extra=upload_body(
        "The series' DICOM files, or zip files of them (limits: MEDROOM_UPLOAD_MAX_*)."),
    summary="Upload a series (.dcm files or a .zip) to show on this source",
    responses={422: {"description": "Not one showable series; the message names the file."},
               413: {"description": "Over an upload limit; the message names its setting."}},
)
async def upload_series(
    request: Request, live: LiveDep, settings: SettingsDep, room_id: str, source_id: str,
    principal: Controller,
) -> DicomSourceOut:
    """The files become the source's series at once; the previous upload is deleted."""
    source = _source(live, room_id, source_id)
    limits = UploadLimits.from_settings(settings)
    async with uploaded_files(request, limits) as uploads:
        root = upload_root(settings.data_dir, room_id, source_id)
        try:
            await asyncio.to_thread(_replace_series, source, uploads, root, limits)
        except UploadError as exc:
            raise upload_error(exc) from None
    return dicom_out(source)

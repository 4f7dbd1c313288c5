"""The curation editor's API: the recording's media as the editor needs them, and saving the
on-the-picture edit (trim, chapters, hidden segments, masks, hidden classroom messages) without overwriting someone else's.

- ``GET /api/library/lessons/{id}/curation``: tracks (faststart copies with their keyframes),
  the waveform and thumbnail strip, the session's timeline events and the lesson's edit, with
  ``ETag: "v<version>"``. The media are made when the recording stops; an older recording gets
  them on first open (the request waits for it).
- ``GET /api/library/lessons/{id}/curation/files/{file}``: one of those files, with byte ranges
  (a seek fetches only what it needs) and a private cache lifetime.
- ``PUT /api/library/lessons/{id}/edit`` with ``If-Match``: saves the whole edit if the lesson
  is still at that version; 412 (with the current version) when someone else saved first, 428
  without ``If-Match``. Everything here is for the lesson's curators only.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from fastapi.responses import JSONResponse, Response

from library import courses, lessons
from library.i18n import lazy, shown
from library.lessons import (
    ChapterDraft,
    CurationEdit,
    LessonConflict,
    LessonError,
    LessonInfo,
    LessonNotFound,
    LessonVersionConflict,
    Mask,
    Segment,
)
from library.publishing.curation_media import CurationMedia
from library.publishing.errors import PublishError
from library.users import Role
from recorder.timeline import Timeline, event_to_dict
from web.auth import Principal, require_roles
from web.deps import IdPath
from web.library_schemas import (
    CurationEditIn,
    CurationOut,
    CurationStateOut,
    CurationTrackOut,
    EditSegmentIn,
    MaskIn,
)
from web.media_files import MediaFileResponse
from web.routes.library import said
from web.state import app_state

router = APIRouter(prefix="/api/library/lessons", tags=["curation"])
Staff = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.CURATOR, Role.INSTRUCTOR))]
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_CACHE_SECONDS = 3600
MEDIA_TYPES = {".mp4": "video/mp4", ".json": "application/json", ".jpg": "image/jpeg"}


async def _curated(request: Request, principal: Principal, lesson_id: int) -> LessonInfo:
    """The lesson if the caller curates it: curators, admins, the instructors of its courses."""
    db = app_state(request).db
    try:
        lesson = await asyncio.to_thread(lessons.get_lesson, db, lesson_id)
    except LessonNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, said(exc)) from None
    access = await asyncio.to_thread(courses.access_for, db, principal.user_id, principal.role)
    if not access.may_curate(set(lesson.course_ids)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, lazy(
            "you do not curate lesson %(id)s: only curators and the instructors of its courses "
            "may edit it", "not_curator", id=lesson_id))
    return lesson


async def _media(request: Request, lesson: LessonInfo) -> CurationMedia:
    recordings = app_state(request).recordings
    folder = recordings.recorder.recordings_dir / lesson.recording_folder
    if not folder.is_dir():
        raise HTTPException(status.HTTP_404_NOT_FOUND, lazy(
            "the recording of lesson %(id)s is no longer on this server", "recording_gone",
            id=lesson.id))
    try:
        return await recordings.editor_media.ensure(folder)
    except PublishError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, said(exc)) from None


def etag(version: int) -> str:
    return f'"v{version}"'


def _if_match(value: str | None) -> int:
    if value is None:
        raise HTTPException(status.HTTP_428_PRECONDITION_REQUIRED, lazy(
            "send the version you edited in If-Match (the ETag of GET .../curation), so that "
            "nobody's changes are overwritten", "version_required"))
    match = re.fullmatch(r'\s*(?:W/)?"v(\d{1,12})"\s*', value)
    if match is None:
        raise HTTPException(status.HTTP_412_PRECONDITION_FAILED, lazy(
            "If-Match %(value)s is not a version of this lesson", "bad_version",
            value=repr(value[:40])))
    return int(match.group(1))


def state_out(lesson: LessonInfo) -> CurationStateOut:
    return CurationStateOut(
        version=lesson.version, status=lesson.status.value, trim_start=lesson.trim_start,
        trim_end=lesson.trim_end, chapters=list(lesson.chapters),
        hidden=[EditSegmentIn(start=s.start, end=s.end) for s in lesson.hidden_segments],
        masks=[MaskIn(**vars(m)) for m in lesson.masks],
        hidden_messages=list(lesson.hidden_messages))


def _file_url(lesson_id: int, name: str) -> str:
    return f"/api/library/lessons/{lesson_id}/curation/files/{name}"


@router.get("/{lesson_id}/curation", response_model=CurationOut,
            summary="The editor's view of a lesson: tracks, keyframes, waveform, thumbnails, "
                    "timeline, and the edit (ETag: its version)")
async def curation(request: Request, lesson_id: IdPath, principal: Staff) -> Response:
    lesson = await _curated(request, principal, lesson_id)
    media = await _media(request, lesson)
    folder = media.folder.parent
    events = await asyncio.to_thread(
        lambda: [event_to_dict(e) for e in Timeline(folder).events()])
    out = CurationOut(
        edit=state_out(lesson), recording_duration=lesson.recording_duration or media.duration,
        tracks=[CurationTrackOut(name=t.name, kind=t.kind, source_id=t.source_id,
                                 url=_file_url(lesson_id, t.file), offset=t.offset,
                                 duration=t.duration, width=t.width, height=t.height,
                                 keyframes=list(t.keyframes), fps=t.fps)
                for t in media.tracks],
        thumbnails={**media.thumbnails, "url": _file_url(lesson_id, media.thumbnails["file"])},
        waveform_url=_file_url(lesson_id, media.waveform) if media.waveform else None,
        events=events)
    return JSONResponse(out.model_dump(mode="json"),
                        headers={"ETag": etag(lesson.version), "Cache-Control": "no-store"})


@router.head("/{lesson_id}/curation/files/{file}", include_in_schema=False)
@router.get("/{lesson_id}/curation/files/{file}", response_class=Response,
            summary="One of the editor's files (byte ranges supported)",
            responses={206: {"description": "Partial content"},
                       416: {"description": "Range not satisfiable"}})
async def curation_file(request: Request, lesson_id: IdPath, file: str,
                        principal: Staff) -> Response:
    if not FILE_NAME.match(file):
        raise HTTPException(status.HTTP_404_NOT_FOUND, lazy(
            "no editor file %(file)s", "file_not_found", file=repr(file[:100])))
    lesson = await _curated(request, principal, lesson_id)
    media = await _media(request, lesson)
    if file not in media.files():
        raise HTTPException(status.HTTP_404_NOT_FOUND, lazy(
            "lesson %(id)s has no editor file %(file)s", "file_not_found", id=lesson_id,
            file=repr(file)))
    path = media.folder / file
    stat = await asyncio.to_thread(path.stat)
    kind = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    return MediaFileResponse(path, media_type=kind, stat_result=stat, headers={
        "Cache-Control": f"private, max-age={MAX_CACHE_SECONDS}",
        "X-Content-Type-Options": "nosniff"})


@router.put("/{lesson_id}/edit", response_model=CurationStateOut,
            summary="Save the editor's trim, chapters, hidden segments and masks at once "
                    "(If-Match: the version edited; 412 if someone saved first)",
            responses={412: {"description": "Changed by someone else: reload"},
                       428: {"description": "If-Match missing"}})
async def save_edit(request: Request, lesson_id: IdPath, body: CurationEditIn,
                    principal: Staff,
                    if_match: Annotated[str | None, Header(max_length=64)] = None) -> Response:
    await _curated(request, principal, lesson_id)  # who asks, before what they send
    version = _if_match(if_match)
    edit = CurationEdit(
        trim_start=body.trim_start, trim_end=body.trim_end,
        chapters=[ChapterDraft(c.title, c.start, c.id) for c in body.chapters],
        hidden=[Segment(s.start, s.end) for s in body.hidden],
        masks=[Mask(**m.model_dump()) for m in body.masks],
        hidden_messages=list(body.hidden_messages))
    try:
        lesson = await asyncio.to_thread(lessons.save_edit, app_state(request).db, lesson_id,
                                         version, edit)
    except LessonVersionConflict as exc:
        return JSONResponse({"detail": shown(said(exc)), "code": "lesson_version_conflict",
                             "current_version": exc.current},
                            status_code=status.HTTP_412_PRECONDITION_FAILED,
                            headers={"ETag": etag(exc.current)})
    except LessonNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, said(exc)) from None
    except LessonConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, said(exc)) from None
    except LessonError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, said(exc)) from None
    return JSONResponse(state_out(lesson).model_dump(mode="json"),
                        headers={"ETag": etag(lesson.version)})

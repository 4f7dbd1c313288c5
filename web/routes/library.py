"""Library API (``/api/library``): courses and members, lessons and their curation, publishing.

Who may do what: curators and admins everything; an instructor curates the lessons of the
courses they teach (and creates lessons only in them); a student sees published lessons of the
courses they are enrolled in, and gets 403 for anything else. Confirming patient consent and
de-identification (the privacy gate) is a curator's (or admin's) act.

Domain errors map to HTTP here, once: bad input 422, a closed gate or a running recording 409,
an unknown lesson or job 404.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request, status

from library import courses, lessons
from library.courses import CourseAccess, CourseError, CourseInfo, CourseNotFound
from library.db import Database
from library.i18n import LazyText, gettext, lazy, shown
from library.lessons import (
    ChapterDraft,
    LessonConflict,
    LessonError,
    LessonInfo,
    LessonNotFound,
    LessonStatus,
    MetadataEdit,
    NoteInfo,
    Segment,
)
from library.publishing import attachments, jobs
from library.publishing.deidentify import DeidentificationError
from library.publishing.jobs import JobInfo, JobNotFound
from library.users import Role
from recorder.archive import find_manifest, list_manifests
from recorder.manifest import ManifestError
from recorder.timeline import Timeline
from room_controller.dicom.upload import UploadError, UploadLimits
from web.auth import Principal, Viewer, require_roles
from web.deps import IdPath, IdQuery
from web.library_schemas import (
    AttachmentOut,
    ChapterIn,
    CourseIn,
    LessonCreateIn,
    LessonEditIn,
    LessonOut,
    MemberIn,
    MemberOut,
    NoteIn,
    PrivacyIn,
    RecordingEntryOut,
    SegmentIn,
    TrimIn,
)
from web.state import AppState, app_state
from web.uploads import upload_body, upload_error, uploaded_files

router = APIRouter(prefix="/api/library", tags=["library"])
T = TypeVar("T")

CURATOR_ROLES = (Role.ADMIN, Role.CURATOR)
Staff = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.CURATOR, Role.INSTRUCTOR))]
Curator = Annotated[Principal, Depends(require_roles(*CURATOR_ROLES))]


def _state(request: Request) -> AppState:
    return app_state(request)


def _db(request: Request) -> Database:
    return app_state(request).db


def said(exc: BaseException) -> str:
    """What a domain error says, as raised: a ``lazy`` message stays one, so the error handler
    shows it in the request's language with its code (``str(exc)`` would be the English)."""
    first = exc.args[0] if len(exc.args) == 1 else None
    return first if isinstance(first, LazyText) else str(exc)


async def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking domain code off the loop; its errors become HTTP errors."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except (LessonNotFound, CourseNotFound, JobNotFound) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, said(exc)) from None
    except LessonConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, said(exc)) from None
    except (LessonError, CourseError, DeidentificationError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, said(exc)) from None


async def _access(request: Request, principal: Principal) -> CourseAccess:
    return await asyncio.to_thread(courses.access_for, _db(request), principal.user_id,
                                   principal.role)


def _forbidden(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail)


async def _lesson(request: Request, principal: Principal, lesson_id: int, *,
                  curate: bool) -> LessonInfo:
    """The lesson if the caller may see it (``curate``: change it); 403 otherwise."""
    lesson = await _call(lessons.get_lesson, _db(request), lesson_id)
    access = await _access(request, principal)
    if access.may_curate(set(lesson.course_ids)):
        return lesson
    if curate:
        raise _forbidden(lazy("you do not curate lesson %(id)s: only curators and the "
                              "instructors of its courses may change it", "not_curator",
                              id=lesson_id))
    if lesson.status is LessonStatus.PUBLISHED and access.enrolled & set(lesson.course_ids):
        return lesson
    raise _forbidden(lazy("lesson %(id)s is not in a course you are enrolled in", "not_enrolled",
                          id=lesson_id))


def lesson_out(lesson: LessonInfo, job: JobInfo | None = None, *, staff: bool = True
               ) -> LessonOut:
    return LessonOut(
        id=lesson.id, recording_id=lesson.recording_id, room_id=lesson.room_id,
        status=lesson.status.value, title=lesson.title, specialty=lesson.specialty,
        procedure=lesson.procedure, language=lesson.language, description=lesson.description,
        tags=list(lesson.tags), instructors=list(lesson.instructors),
        course_ids=list(lesson.course_ids), recording_duration=lesson.recording_duration,
        trim_start=lesson.trim_start, trim_end=lesson.trim_end,
        hidden_segments=[SegmentIn(start=s.start, end=s.end) for s in lesson.hidden_segments],
        chapters=list(lesson.chapters),
        notes=list(lesson.notes),
        consent_confirmed=lesson.consent_confirmed,
        deidentification_confirmed=lesson.deidentification_confirmed,
        privacy_confirmed_by=lesson.privacy_confirmed_by if staff else None,
        privacy_confirmed_at=lesson.privacy_confirmed_at,
        privacy_problem=shown(lesson.privacy_problem) if lesson.privacy_problem else None,
        duration=lesson.duration,
        published_start=lesson.published_start, published_at=lesson.published_at,
        technical=lesson.technical, job=job,
    )


async def _lesson_out(request: Request, lesson: LessonInfo, principal: Principal) -> LessonOut:
    staff = principal.role is not Role.STUDENT
    # Students see the lesson, not the publishing work behind it (errors name files).
    job = await asyncio.to_thread(jobs.latest_job, _db(request), lesson.id) if staff else None
    return lesson_out(lesson, job, staff=staff)


# -- courses -------------------------------------------------------------------------------------
@router.get("/courses", response_model=list[CourseInfo], summary="Courses the caller reaches")
async def list_courses(request: Request, principal: Viewer) -> list[CourseInfo]:
    access = await _access(request, principal)
    only = None if access.everything else access.teaches | access.enrolled
    found = await _call(courses.list_courses, _db(request), only)
    return found


@router.post("/courses", status_code=201, response_model=CourseInfo, summary="Create a course")
async def create_course(request: Request, body: CourseIn, principal: Curator) -> CourseInfo:
    course = await _call(courses.create_course, _db(request), slug=body.slug, title=body.title,
                         specialty=body.specialty, description=body.description)
    return course


async def _course_staff(request: Request, principal: Principal, course_id: int) -> None:
    access = await _access(request, principal)
    if not access.may_curate({course_id}):
        raise _forbidden(lazy("you do not teach course %(id)s", "not_teacher", id=course_id))


@router.get("/courses/{course_id}/members", response_model=list[MemberOut],
            summary="A course's instructors and students")
async def list_members(request: Request, course_id: IdPath, principal: Staff) -> list[MemberOut]:
    await _course_staff(request, principal, course_id)
    members = await _call(courses.list_members, _db(request), course_id)
    return [MemberOut(user_id=m.user_id, username=m.username, display_name=m.display_name,
                      role=m.role.value) for m in members]


@router.put("/courses/{course_id}/members/{user_id}", response_model=MemberOut,
            summary="Enrol a student or add an instructor (or change their role)")
async def set_member(request: Request, course_id: IdPath, user_id: IdPath, body: MemberIn,
                     principal: Curator) -> MemberOut:
    m = await _call(courses.set_member, _db(request), course_id, user_id, body.role)
    return MemberOut(user_id=m.user_id, username=m.username, display_name=m.display_name,
                     role=m.role.value)


@router.delete("/courses/{course_id}/members/{user_id}", status_code=204,
               summary="Remove a member from a course")
async def remove_member(request: Request, course_id: IdPath, user_id: IdPath,
                        principal: Curator) -> None:
    await _call(courses.remove_member, _db(request), course_id, user_id)


# -- recordings waiting for curation ------------------------------------------------------------
@router.get("/recordings", response_model=list[RecordingEntryOut],
            summary="Every room's recordings with their lesson, newest first")
async def list_recordings(request: Request, principal: Staff) -> list[RecordingEntryOut]:
    state = _state(request)
    recordings_dir = state.recordings.recorder.recordings_dir

    def gather() -> list[RecordingEntryOut]:
        out = []
        for room_id in state.live.rooms:
            if not principal.may_use_room(room_id):
                continue
            for manifest in list_manifests(recordings_dir, room_id):
                lesson = lessons.lesson_for_recording(state.db, manifest.id)
                out.append(RecordingEntryOut(
                    id=manifest.id, room=manifest.room, title=manifest.title,
                    state=manifest.state.value, started_at=manifest.started_at,
                    duration=manifest.duration,
                    lesson_id=lesson.id if lesson else None,
                    lesson_status=lesson.status.value if lesson else None))
        out.sort(key=lambda r: r.started_at, reverse=True)
        return out

    return await asyncio.to_thread(gather)


# -- lessons ---------------------------------------------------------------------------------------
@router.post("/lessons", status_code=201, response_model=LessonOut,
             summary="Make a draft lesson of a finished recording")
async def create_lesson(request: Request, body: LessonCreateIn, principal: Staff) -> LessonOut:
    access = await _access(request, principal)
    if not access.everything and (not body.course_ids
                                  or not set(body.course_ids) <= access.teaches):
        raise _forbidden(lazy("instructors make lessons only in courses they teach: choose one "
                              "of your courses", "not_teacher"))
    recordings_dir = _state(request).recordings.recorder.recordings_dir
    try:
        found = await asyncio.to_thread(find_manifest, recordings_dir, body.recording_id)
    except ManifestError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, lazy(
            "recording %(id)s cannot be read: %(reason)s", "recording_unreadable",
            id=body.recording_id, reason=str(exc))) from None
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, lazy(
            "no recording with id '%(id)s'", "recording_not_found", id=body.recording_id))
    folder, manifest = found
    if not principal.may_use_room(manifest.room):
        raise _forbidden(lazy("this token is not valid for room '%(room)s'", "wrong_room",
                              room=manifest.room))
    markers = await asyncio.to_thread(lambda: Timeline(folder).markers())
    lesson = await _call(
        lessons.create_lesson, _db(request), recording_id=body.recording_id,
        room_id=manifest.room, recording_folder=str(folder.relative_to(recordings_dir)),
        title=body.title or manifest.title or gettext("Untitled recording"),
        recording_duration=manifest.duration, markers=markers,
        course_ids=body.course_ids, instructors=[principal.display_name or principal.subject]
        if principal.role is Role.INSTRUCTOR else [], created_by=principal.user_id)
    return await _lesson_out(request, lesson, principal)


@router.get("/lessons", response_model=list[LessonOut],
            summary="Lessons the caller may see (students: published, enrolled courses)")
async def list_lessons(request: Request, principal: Viewer,
                       course_id: IdQuery = None) -> list[LessonOut]:
    access = await _access(request, principal)
    db = _db(request)
    wanted = None if course_id is None else frozenset({course_id})
    if access.everything:
        found = await _call(lessons.list_lessons, db, course_ids=wanted)
    else:
        curated = await _call(lessons.list_lessons, db, course_ids=access.teaches)
        watched = await _call(lessons.list_lessons, db, course_ids=access.enrolled,
                              statuses=[LessonStatus.PUBLISHED])
        seen: dict[int, LessonInfo] = {x.id: x for x in [*watched, *curated]}
        found = sorted(seen.values(), key=lambda x: (x.created_at, x.id), reverse=True)
        if wanted is not None:
            found = [x for x in found if course_id in x.course_ids]
    return [await _lesson_out(request, x, principal) for x in found]


@router.get("/lessons/{lesson_id}", response_model=LessonOut, summary="One lesson")
async def get_lesson(request: Request, lesson_id: IdPath, principal: Viewer) -> LessonOut:
    lesson = await _lesson(request, principal, lesson_id, curate=False)
    return await _lesson_out(request, lesson, principal)


@router.patch("/lessons/{lesson_id}", response_model=LessonOut,
              summary="Change title, metadata or courses")
async def edit_lesson(request: Request, lesson_id: IdPath, body: LessonEditIn,
                      principal: Staff) -> LessonOut:
    await _lesson(request, principal, lesson_id, curate=True)
    access = await _access(request, principal)
    if body.course_ids is not None and not access.everything and not (
            set(body.course_ids) and set(body.course_ids) <= access.teaches):
        raise _forbidden(lazy("instructors may place a lesson only in courses they teach",
                              "not_teacher"))
    edit = MetadataEdit(**body.model_dump(exclude={"course_ids"}))
    lesson = await _call(lessons.update_metadata, _db(request), lesson_id, edit,
                         body.course_ids)
    return await _lesson_out(request, lesson, principal)


@router.delete("/lessons/{lesson_id}", status_code=204,
               summary="Delete a lesson that is not in the library (the recording stays)")
async def delete_lesson(request: Request, lesson_id: IdPath, principal: Staff) -> None:
    await _lesson(request, principal, lesson_id, curate=True)
    await _call(lessons.delete_lesson, _db(request), lesson_id)


@router.put("/lessons/{lesson_id}/trim", response_model=LessonOut,
            summary="Trim start and end (session seconds; cut at the keyframe before start)")
async def set_trim(request: Request, lesson_id: IdPath, body: TrimIn,
                   principal: Staff) -> LessonOut:
    await _lesson(request, principal, lesson_id, curate=True)
    lesson = await _call(lessons.set_trim, _db(request), lesson_id, body.start, body.end)
    return await _lesson_out(request, lesson, principal)


@router.put("/lessons/{lesson_id}/chapters", response_model=LessonOut,
            summary="Replace the chapter list: rename, move, reorder, add, drop")
async def set_chapters(request: Request, lesson_id: IdPath, body: list[ChapterIn],
                       principal: Staff) -> LessonOut:
    await _lesson(request, principal, lesson_id, curate=True)
    drafts = [ChapterDraft(c.title, c.start, c.id) for c in body]
    lesson = await _call(lessons.set_chapters, _db(request), lesson_id, drafts)
    return await _lesson_out(request, lesson, principal)


@router.put("/lessons/{lesson_id}/hidden", response_model=LessonOut,
            summary="Segments the published lesson skips (session seconds)")
async def set_hidden(request: Request, lesson_id: IdPath, body: list[SegmentIn],
                     principal: Staff) -> LessonOut:
    await _lesson(request, principal, lesson_id, curate=True)
    segments = [Segment(s.start, s.end) for s in body]
    lesson = await _call(lessons.set_hidden_segments, _db(request), lesson_id, segments)
    return await _lesson_out(request, lesson, principal)


@router.post("/lessons/{lesson_id}/notes", status_code=201, response_model=NoteInfo,
             summary="Add a note at a time of the recording")
async def add_note(request: Request, lesson_id: IdPath, body: NoteIn, principal: Staff) -> NoteInfo:
    await _lesson(request, principal, lesson_id, curate=True)
    note = await _call(lessons.add_note, _db(request), lesson_id, body.at, body.text,
                       principal.display_name or principal.subject)
    return note


@router.delete("/lessons/{lesson_id}/notes/{note_id}", status_code=204,
               summary="Delete a note")
async def delete_note(request: Request, lesson_id: IdPath, note_id: IdPath,
                      principal: Staff) -> None:
    await _lesson(request, principal, lesson_id, curate=True)
    await _call(lessons.delete_note, _db(request), lesson_id, note_id)


@router.put("/lessons/{lesson_id}/privacy", response_model=LessonOut,
            summary="Confirm (or withdraw) patient consent and de-identification")
async def set_privacy(request: Request, lesson_id: IdPath, body: PrivacyIn,
                      principal: Curator) -> LessonOut:
    lesson = await _call(lessons.confirm_privacy, _db(request), lesson_id,
                         consent=body.consent, deidentified=body.deidentified,
                         user_id=principal.user_id)
    return await _lesson_out(request, lesson, principal)


# -- publishing ------------------------------------------------------------------------------------
@router.post("/lessons/{lesson_id}/publish", status_code=202, response_model=JobInfo,
             summary="Queue publishing (409 until consent and de-identification are confirmed)")
async def publish(request: Request, lesson_id: IdPath, principal: Staff) -> JobInfo:
    await _lesson(request, principal, lesson_id, curate=True)
    state = _state(request)
    job = await _call(jobs.request_publish, state.db, lesson_id,
                      state.recordings.recorder.recordings_dir, principal.user_id)
    state.publisher.wake()
    return job


@router.post("/lessons/{lesson_id}/unpublish", response_model=LessonOut,
             summary="Take a published lesson out of the library")
async def unpublish(request: Request, lesson_id: IdPath, principal: Staff) -> LessonOut:
    await _lesson(request, principal, lesson_id, curate=True)
    state = _state(request)
    lesson = await _call(jobs.unpublish, state.db, lesson_id, state.settings.resolved_library_dir)
    return await _lesson_out(request, lesson, principal)


@router.get("/lessons/{lesson_id}/job", response_model=JobInfo,
            summary="The lesson's latest publishing job: state, step, percent, error")
async def lesson_job(request: Request, lesson_id: IdPath, principal: Staff) -> JobInfo:
    await _lesson(request, principal, lesson_id, curate=True)
    job = await asyncio.to_thread(jobs.latest_job, _db(request), lesson_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, lazy(
            "lesson %(id)s was never published", "never_published", id=lesson_id))
    return job


@router.get("/jobs/{job_id}", response_model=JobInfo, summary="A publishing job")
async def get_job(request: Request, job_id: IdPath, principal: Staff) -> JobInfo:
    job = await _call(jobs.get_job, _db(request), job_id)
    await _lesson(request, principal, job.lesson_id, curate=True)
    return job


@router.post("/jobs/{job_id}/retry", status_code=202, response_model=JobInfo,
             summary="Queue a failed publishing job again")
async def retry_job(request: Request, job_id: IdPath, principal: Staff) -> JobInfo:
    state = _state(request)
    job = await _call(jobs.get_job, state.db, job_id)
    await _lesson(request, principal, job.lesson_id, curate=True)
    job = await _call(jobs.retry_job, state.db, job_id, state.recordings.recorder.recordings_dir)
    state.publisher.wake()
    return job


# -- attachments -----------------------------------------------------------------------------------
@router.post("/lessons/{lesson_id}/attachments", status_code=201, response_model=AttachmentOut,
             summary="Attach DICOM files: de-identified (PS3.15 Annex E) before they are stored",
             openapi_extra=upload_body("DICOM files, or zip files of them (limits: "
                                       "MEDROOM_UPLOAD_MAX_*)."))
async def attach(request: Request, lesson_id: IdPath, principal: Staff) -> AttachmentOut:
    await _lesson(request, principal, lesson_id, curate=True)
    state = _state(request)
    limits = UploadLimits.from_settings(state.settings)
    async with uploaded_files(request, limits) as files:
        try:
            attachment = await _call(
                attachments.attach_dicom, state.db, lesson_id, files,
                state.settings.resolved_library_dir, limits=limits,
                secret=attachments.deidentification_secret(state.settings.resolve_secret_key()),
                user_id=principal.user_id)
        except UploadError as exc:
            raise upload_error(exc) from None
    return AttachmentOut(**{k: v for k, v in asdict(attachment).items()
                            if k in AttachmentOut.model_fields})


@router.get("/lessons/{lesson_id}/attachments", response_model=list[AttachmentOut],
            summary="The lesson's de-identified attachments")
async def list_attachments(request: Request, lesson_id: IdPath,
                           principal: Staff) -> list[AttachmentOut]:
    await _lesson(request, principal, lesson_id, curate=True)
    found = await asyncio.to_thread(attachments.list_attachments, _db(request), lesson_id)
    return [AttachmentOut(**{k: v for k, v in asdict(a).items() if k in AttachmentOut.model_fields})
            for a in found]

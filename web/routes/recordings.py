"""Recording API: start, pause, resume, stop a room's recording; markers; state and chapters."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, HTTPException, Request, status
from fastapi.responses import Response

from library.i18n import LazyText, lazy
from library.users import Role
from recorder.archive import find_manifest, list_manifests
from recorder.manifest import CHAPTERS, Manifest, ManifestError
from recorder.recording import (
    Recording,
    RecordingError,
    UnknownRecordingError,
)
from recorder.timeline import Timeline, TimelineError
from web.auth import CONTROL_ROLES, Controller, Principal, Viewer, require_roles
from web.live import RoomNotFound
from web.room_recordings import RoomRecordings
from web.routes.rooms import passed_on
from web.schemas import (
    ChatIn,
    MarkerIn,
    MarkerOut,
    MarkerRenameIn,
    NoteIn,
    RecordingOut,
    RecordingStartIn,
    RecordingTrackOut,
    StrokeIn,
    TimelineEventOut,
)
from web.state import app_state

router = APIRouter(prefix="/api", tags=["recordings"])
E = TypeVar("E")

# Curators review recordings; instructors and admins make them.
Reviewer = Annotated[Principal, Depends(require_roles(*CONTROL_ROLES, Role.CURATOR))]


def _recordings(request: Request) -> RoomRecordings:
    return app_state(request).recordings


def recording_out(manifest: Manifest, folder: Path) -> RecordingOut:
    tracks = [
        RecordingTrackOut(
            name=t.name, kind=t.kind, source_id=t.source_id, file=t.file,
            width=t.width, height=t.height, fps=t.fps, size_bytes=t.size_bytes, error=t.error,
        )
        for t in manifest.tracks
    ]
    markers = [
        MarkerOut(id=m.id, title=m.title, at=round(m.at, 3), author=m.author)
        for m in Timeline(folder).markers()
    ] if folder.exists() else []
    return RecordingOut(
        id=manifest.id, room=manifest.room, title=manifest.title,
        state=manifest.state.value, started_at=manifest.started_at,
        stopped_at=manifest.stopped_at, duration=manifest.duration,
        size_bytes=manifest.size_bytes, error=manifest.error,
        stop_reason=manifest.stop_reason,
        tracks=tracks, markers=markers,
    )


def _check_room(principal: Principal, room_id: str) -> None:
    if not principal.may_use_room(room_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, lazy(
            "this token is not valid for room '%(room)s'", "wrong_room", room=room_id))


def _active(request: Request, recording_id: str, principal: Principal) -> Recording:
    try:
        recording = _recordings(request).recorder.get(recording_id)
        _check_room(principal, recording.room)
        return recording
    except UnknownRecordingError:
        pass
    if _stored(request, recording_id) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, lazy(
            "recording %(id)s has ended: it cannot change now", "recording_ended", id=recording_id))
    raise HTTPException(status.HTTP_404_NOT_FOUND, _no_recording(recording_id))


def _no_recording(recording_id: str) -> LazyText:
    return lazy("no recording with id '%(id)s'", "recording_not_found", id=recording_id)


def _stored(request: Request, recording_id: str) -> tuple[Path, Manifest] | None:
    recorder = _recordings(request).recorder
    try:
        return find_manifest(recorder.recordings_dir, recording_id)
    except ManifestError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, lazy(
            "recording %(id)s cannot be read: %(reason)s", "recording_unreadable",
            id=recording_id, reason=passed_on(exc))) from None


def _out(request: Request, recording_id: str, principal: Principal) -> RecordingOut:
    try:
        recording = _recordings(request).recorder.get(recording_id)
        _check_room(principal, recording.room)
        return recording_out(recording.manifest(), recording.folder)
    except UnknownRecordingError:
        stored = _stored(request, recording_id)
        if stored is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, _no_recording(recording_id)) from None
        folder, manifest = stored
        _check_room(principal, manifest.room)
        return recording_out(manifest, folder)


def _conflict(exc: Exception) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, lazy(
        "The recording cannot do that now: %(reason)s", "recording_refused", reason=passed_on(exc)))


async def _added(action: Awaitable[E]) -> E:
    """Add a timeline event: bad content is 422 with the reason, an ended recording 409."""
    try:
        return await action
    except TimelineError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, lazy(
            "The recording's timeline refused this: %(reason)s", "timeline_refused",
            reason=passed_on(exc))) from None
    except RecordingError as exc:
        raise _conflict(exc) from None


@router.post("/rooms/{room_id}/recordings", status_code=201, response_model=RecordingOut,
             summary="Start recording the room (program and every source)")
async def start_recording(
    request: Request, room_id: str, principal: Controller,
    body: Annotated[RecordingStartIn | None, Body()] = None,
) -> RecordingOut:
    live = app_state(request).live
    try:
        room = live.room(room_id)
    except RoomNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, passed_on(exc)) from None
    title = (body.title if body else "").strip() or f"{room.name} recording"
    try:
        recording = await _recordings(request).record(room_id, title)
    except RecordingError as exc:
        raise _conflict(exc) from None
    return recording_out(recording.manifest(), recording.folder)


@router.get("/rooms/{room_id}/recordings", response_model=list[RecordingOut],
            summary="A room's recordings, newest first")
async def list_recordings(request: Request, room_id: str, principal: Reviewer) -> list[RecordingOut]:
    recorder = _recordings(request).recorder
    out = []
    for manifest in list_manifests(recorder.recordings_dir, room_id):
        out.append(_out(request, manifest.id, principal))
    return out


@router.get("/recordings/{recording_id}", response_model=RecordingOut,
            summary="A recording's state, duration, tracks, size and markers")
async def get_recording(request: Request, recording_id: str, principal: Reviewer) -> RecordingOut:
    return _out(request, recording_id, principal)


@router.post("/recordings/{recording_id}/markers", status_code=201, response_model=MarkerOut,
             summary="Add a chapter marker at the current media time")
async def add_marker(
    request: Request, recording_id: str, body: MarkerIn, principal: Controller
) -> MarkerOut:
    recording = _active(request, recording_id, principal)
    marker = await _added(recording.add_marker(body.title, author=principal.subject))
    return MarkerOut(id=marker.id, title=marker.title, at=round(marker.at, 3),
                     author=marker.author)


@router.patch("/recordings/{recording_id}/markers/{marker_id}", response_model=MarkerOut,
              summary="Rename a marker")
async def rename_marker(
    request: Request, recording_id: str, marker_id: str, body: MarkerRenameIn,
    principal: Controller,
) -> MarkerOut:
    recording = _active(request, recording_id, principal)
    try:
        marker = await recording.rename_marker(marker_id, body.title, author=principal.subject)
    except TimelineError as exc:
        code = 404 if "no marker" in str(exc) else 422
        raise HTTPException(code, lazy("The marker cannot be renamed: %(reason)s",
                                       "marker_refused", reason=passed_on(exc))) from None
    return MarkerOut(id=marker.id, title=marker.title, at=round(marker.at, 3),
                     author=marker.author)


@router.get("/recordings/{recording_id}/chapters.vtt", summary="WebVTT chapters",
            responses={200: {"content": {"text/vtt": {}}}})
async def chapters(request: Request, recording_id: str, principal: Reviewer) -> Response:
    out = _out(request, recording_id, principal)
    stored = _stored(request, recording_id)
    if stored is None or not (stored[0] / CHAPTERS).exists():
        raise HTTPException(status.HTTP_409_CONFLICT, lazy(
            "recording %(id)s is %(state)s: chapters are written when it ends",
            "chapters_not_ready", id=out.id, state=out.state))
    return Response((stored[0] / CHAPTERS).read_text(encoding="utf-8"), media_type="text/vtt")


def event_out(event: Any) -> TimelineEventOut:
    fields = {k: v for k, v in asdict(event).items() if k not in ("id", "type", "at", "author")}
    return TimelineEventOut(id=event.id, type=event.type, at=round(event.at, 3),
                            author=event.author, data=fields)


@router.post("/recordings/{recording_id}/notes", status_code=201, response_model=TimelineEventOut,
             summary="Add a note at the current media time")
async def add_note(
    request: Request, recording_id: str, body: NoteIn, principal: Controller
) -> TimelineEventOut:
    recording = _active(request, recording_id, principal)
    return event_out(await _added(recording.add_note(body.text, author=principal.subject)))


@router.post("/recordings/{recording_id}/strokes", status_code=201,
             response_model=TimelineEventOut, summary="Add a drawing made over the video")
async def add_stroke(
    request: Request, recording_id: str, body: StrokeIn, principal: Controller
) -> TimelineEventOut:
    recording = _active(request, recording_id, principal)
    ended = recording.media_time()
    return event_out(await _added(recording.add_stroke(
        body.points, body.colour, body.width, started_at=max(0.0, ended - body.duration_seconds),
        ended_at=ended, author=principal.subject,
    )))


@router.post("/recordings/{recording_id}/chat", status_code=201, response_model=TimelineEventOut,
             summary="Add a chat line to the recording's timeline")
async def add_chat(
    request: Request, recording_id: str, body: ChatIn, principal: Viewer
) -> TimelineEventOut:
    recording = _active(request, recording_id, principal)
    return event_out(await _added(recording.add_chat(principal.subject, body.text)))


@router.get("/recordings/{recording_id}/timeline", response_model=list[TimelineEventOut],
            summary="Every timeline event, in media-time order")
async def timeline(
    request: Request, recording_id: str, principal: Reviewer
) -> list[TimelineEventOut]:
    out = _out(request, recording_id, principal)
    stored = _stored(request, recording_id)
    if stored is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, _no_recording(out.id))
    return [event_out(e) for e in Timeline(stored[0]).events()]


# Declared last: "/recordings/{id}/markers" above must win over "{action}".
@router.post("/recordings/{recording_id}/{action}", response_model=RecordingOut,
             summary="pause, resume or stop a recording")
async def control_recording(
    request: Request, recording_id: str, action: str, principal: Controller
) -> RecordingOut:
    if action not in ("pause", "resume", "stop"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, lazy(
            "unknown action '%(action)s': use pause, resume or stop", "unknown_action",
            action=action))
    recording = _active(request, recording_id, principal)
    try:
        if action == "pause":
            await recording.pause()
        elif action == "resume":
            await recording.resume()
        else:
            await recording.stop()
    except RecordingError as exc:
        raise _conflict(exc) from None
    return _out(request, recording_id, principal)

"""Room API: state, program selection, going live and ending, source thumbnails."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, Request, status
from fastapi.responses import Response

from recorder.storage import StorageStatus
from room_controller.room import InvalidTransitionError, Room, UnknownSourceError
from web.auth import CONTROL_ROLES, Controller, Viewer
from web.live import GoLiveFailed, LiveRooms, RoomNotFound
from web.schemas import (
    EncoderOut,
    GoLiveIn,
    ProgramIn,
    RoomOut,
    SourceHealthOut,
    SourceOut,
    StorageOut,
    TokenOut,
    ViewerOut,
)

router = APIRouter(prefix="/api/rooms", tags=["rooms"])
VIEWER_TOKEN_TTL = 3600


def _live(request: Request) -> LiveRooms:
    return request.app.state.medroom.live  # type: ignore[no-any-return]


def room_or_404(request: Request, room_id: str) -> Room:
    """The room, or 404 (every room route starts here)."""
    try:
        return _live(request).room(room_id)
    except RoomNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


def room_out(
    live: LiveRooms, room: Room, full: bool, storage: StorageStatus | None = None
) -> RoomOut:
    viewers = live.streaming.viewers.in_room(room.id)
    output = live.sessions.get(room.id)
    encoder = None
    if output is not None and full:
        stats = output.on_air.program.encoder.stats()
        elapsed = max(1e-3, time.monotonic() - output.started_monotonic)
        encoder = EncoderOut(
            frames_encoded=stats.frames_encoded, keyframes=stats.keyframes,
            forced_keyframes=stats.forced_keyframes,
            bitrate_kbps=round(stats.bytes_out * 8 / 1000 / elapsed, 1),
            encode_ms_avg=round(stats.encode_ms_avg, 2),
        )
    return RoomOut(
        id=room.id,
        name=room.name,
        state=room.state.value,
        live_since=room.live_since,
        session_title=output.title if output is not None else None,
        program_source=room.program_source,
        sources=[
            SourceOut(
                id=s.id, label=s.label, kind=s.kind,
                health=SourceHealthOut(
                    state=s.health.state.value, fps=round(s.health.fps, 1),
                    width=s.health.width, height=s.health.height,
                    last_frame_age=None if s.health.last_frame_age is None
                    else round(s.health.last_frame_age, 2),
                    error=s.health.error, note=s.health.note,
                ),
            )
            for s in room.source_views()
        ],
        viewer_count=len(viewers),
        viewers=[
            ViewerOut(id=v.id, subject=v.subject, role=v.role, joined_at=v.joined_at,
                      connection_state=v.connection_state)
            for v in viewers
        ] if full else None,
        encoder=encoder,
        storage=StorageOut(free_bytes=storage.free_bytes, level=storage.level.value,
                           message=storage.message) if storage is not None and full else None,
    )


@router.get("", response_model=list[RoomOut], summary="Rooms this caller may see")
async def list_rooms(request: Request, principal: Viewer) -> list[RoomOut]:
    live = _live(request)
    full = principal.role in CONTROL_ROLES
    return [room_out(live, r, full) for r in live.rooms.values() if principal.may_use_room(r.id)]


@router.get("/{room_id}", response_model=RoomOut, summary="A room's state")
async def get_room(request: Request, room_id: str, principal: Viewer) -> RoomOut:
    storage = request.app.state.medroom.recordings.storage.status
    return room_out(_live(request), room_or_404(request, room_id), principal.role in CONTROL_ROLES,
                    storage)


@router.post("/{room_id}/program", response_model=RoomOut, summary="Put a source on program")
async def select_program(
    request: Request, room_id: str, body: ProgramIn, principal: Controller
) -> RoomOut:
    room = room_or_404(request, room_id)
    try:
        room.select_program(body.source)
    except UnknownSourceError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return room_out(_live(request), room, True)


@router.post("/{room_id}/live", response_model=RoomOut, status_code=201, summary="Go live")
async def go_live(
    request: Request, room_id: str, principal: Controller,
    body: Annotated[GoLiveIn | None, Body()] = None,
) -> RoomOut:
    room = room_or_404(request, room_id)
    title = (body.title if body else "").strip() or f"{room.name} live"
    try:
        await _live(request).go_live(room_id, title, principal.user_id)
    except InvalidTransitionError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except GoLiveFailed as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    return room_out(_live(request), room, True)


@router.delete("/{room_id}/live", response_model=RoomOut, summary="End the live session")
async def end_live(request: Request, room_id: str, principal: Controller) -> RoomOut:
    room = room_or_404(request, room_id)
    try:
        await _live(request).end(room_id)
    except InvalidTransitionError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return room_out(_live(request), room, True)


@router.get(
    "/{room_id}/sources/{source_id}/thumbnail.jpg",
    summary="A small JPEG of a source's latest frame ('program': the composed program)",
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def thumbnail(
    request: Request, room_id: str, source_id: str, principal: Controller,
    width: Annotated[int, Query(ge=64, le=1280, description="Width in pixels")] = 320,
) -> Response:
    room = room_or_404(request, room_id)
    try:
        data = await asyncio.to_thread(room.thumbnail_jpeg, source_id, width)
    except UnknownSourceError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post("/{room_id}/token", response_model=TokenOut, summary="A bearer token for WHEP")
async def viewer_token(request: Request, room_id: str, principal: Viewer) -> TokenOut:
    """A logged-in page asks for a short-lived token to join the room's stream by WHEP."""
    room_or_404(request, room_id)
    token = request.app.state.medroom.tokens.issue(
        subject=principal.subject, role=principal.role, room=room_id,
        ttl_seconds=VIEWER_TOKEN_TTL, user_id=principal.user_id,
    )
    return TokenOut(token=token, room=room_id, role=principal.role.value,
                    expires_in=VIEWER_TOKEN_TTL)

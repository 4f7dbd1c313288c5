"""Room API: state, program selection, going live and ending, source thumbnails."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, Request, status
from fastapi.responses import Response

from library.i18n import LazyText, lazy
from room_controller.room import InvalidTransitionError, UnknownSourceError
from web.auth import Controller, Viewer, controls_room, token_expiry
from web.deps import LiveDep, RecordingsDep, StateDep, room_or_404
from web.live import GoLiveFailed
from web.room_views import room_out
from web.schemas import GoLiveIn, ProgramIn, RoomOut, TokenOut

router = APIRouter(prefix="/api/rooms", tags=["rooms"])
VIEWER_TOKEN_TTL = 3600


def passed_on(exc: BaseException) -> str:
    """A library error's reason as the API sends it: still a ``LazyText`` (rendered in the
    caller's language, with its code) when the library phrased it with ``lazy``, else its text."""
    reason = exc.args[0] if len(exc.args) == 1 else None
    return reason if isinstance(reason, LazyText) else str(exc)


def no_source(room_id: str, source_id: str, known: Iterable[str]) -> LazyText:
    return lazy("room '%(room)s' has no source '%(source)s' (sources: %(sources)s)",
                "unknown_source", room=room_id, source=source_id, sources=", ".join(known))


@router.get("", response_model=list[RoomOut], summary="Rooms this caller may see")
async def list_rooms(request: Request, live: LiveDep, principal: Viewer) -> list[RoomOut]:
    return [room_out(live, r, controls_room(request, principal, r.id))
            for r in live.rooms.values() if principal.may_use_room(r.id)]


@router.get("/{room_id}", response_model=RoomOut, summary="A room's state")
async def get_room(request: Request, live: LiveDep, recordings: RecordingsDep, room_id: str,
                   principal: Viewer) -> RoomOut:
    room = room_or_404(live, room_id)
    return room_out(live, room, controls_room(request, principal, room_id),
                    recordings.storage.status)


@router.post("/{room_id}/program", response_model=RoomOut, summary="Put a source on program")
async def select_program(
    live: LiveDep, room_id: str, body: ProgramIn, principal: Controller
) -> RoomOut:
    room = room_or_404(live, room_id)
    try:
        room.select_program(body.source)
    except UnknownSourceError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            no_source(room_id, body.source, room.sources)) from None
    return room_out(live, room, True)


@router.post("/{room_id}/live", response_model=RoomOut, status_code=201, summary="Go live")
async def go_live(
    live: LiveDep, room_id: str, principal: Controller,
    body: Annotated[GoLiveIn | None, Body()] = None,
) -> RoomOut:
    room = room_or_404(live, room_id)
    title = (body.title if body else "").strip() or f"{room.name} live"
    try:
        await live.go_live(room_id, title, principal.user_id)
    except InvalidTransitionError:
        raise HTTPException(status.HTTP_409_CONFLICT, lazy(
            "room '%(room)s' cannot go live: it is already live", "already_live", room=room_id)) from None
    except GoLiveFailed as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, passed_on(exc)) from None
    return room_out(live, room, True)


@router.delete("/{room_id}/live", response_model=RoomOut, summary="End the live session")
async def end_live(live: LiveDep, room_id: str, principal: Controller) -> RoomOut:
    room = room_or_404(live, room_id)
    try:
        await live.end(room_id)
    except InvalidTransitionError:
        raise HTTPException(status.HTTP_409_CONFLICT, lazy(
            "room '%(room)s' cannot end: it is not live", "not_live", room=room_id)) from None
    return room_out(live, room, True)


@router.get(
    "/{room_id}/sources/{source_id}/thumbnail.jpg",
    summary="A small JPEG of a source's latest frame ('program': the composed program)",
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def thumbnail(
    live: LiveDep, room_id: str, source_id: str, principal: Controller,
    width: Annotated[int, Query(ge=64, le=1280, description="Width in pixels")] = 320,
) -> Response:
    room = room_or_404(live, room_id)
    try:
        data = await asyncio.to_thread(room.thumbnail_jpeg, source_id, width)
    except UnknownSourceError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, passed_on(exc)) from None
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post("/{room_id}/token", response_model=TokenOut, summary="A bearer token for WHEP")
async def viewer_token(state: StateDep, room_id: str, principal: Viewer) -> TokenOut:
    """A logged-in page asks for a short-lived token to join the room's stream by WHEP. A token
    asked for with a token ends when its parent does: no credential renews itself."""
    room_or_404(state.live, room_id)
    expires = token_expiry(VIEWER_TOKEN_TTL, principal.expires_at)
    token = state.tokens.issue(
        subject=principal.subject, role=principal.role, room=room_id,
        ttl_seconds=VIEWER_TOKEN_TTL, user_id=principal.user_id,
        generation=principal.generation, not_after=expires,
    )
    return TokenOut(token=token, room=room_id, role=principal.role.value,
                    expires_in=max(0, int(expires - time.time())))

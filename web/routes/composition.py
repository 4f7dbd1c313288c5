"""Program composition API: layout, privacy masks, title and clock."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from library.i18n import lazy
from room_controller.composition import (
    CompositionError,
    Layout,
    PrivacyMask,
    TitleLine,
)
from room_controller.room import UnknownSourceError
from web.auth import Controller
from web.deps import LiveDep, room_or_404
from web.room_views import composition_out
from web.routes.rooms import passed_on
from web.schemas import CompositionOut, LayoutBody, MasksBody, ProgramRectIn, TitleBody

router = APIRouter(prefix="/api/rooms", tags=["composition"])



def _invalid(exc: Exception) -> HTTPException:
    # The composer's reason is technical (slot counts, fractions): it follows a sentence the
    # instructor reads in their own language.
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, lazy(
        "The program cannot be composed that way: %(reason)s", "composition_refused",
        reason=passed_on(exc)))


@router.get("/{room_id}/composition", response_model=CompositionOut,
            summary="The program's layout, privacy masks and title")
async def get_composition(live: LiveDep, room_id: str, principal: Controller) -> CompositionOut:
    return composition_out(room_or_404(live, room_id))


@router.put("/{room_id}/layout", response_model=CompositionOut, summary="Change the layout")
async def put_layout(
    live: LiveDep, room_id: str, body: LayoutBody, principal: Controller
) -> CompositionOut:
    room = room_or_404(live, room_id)
    try:
        room.set_layout(Layout(body.kind, tuple(body.sources), pip_corner=body.pip_corner,  # type: ignore[arg-type]
                               pip_size=body.pip_size))
    except (CompositionError, UnknownSourceError) as exc:
        raise _invalid(exc) from None
    return composition_out(room)


@router.put("/{room_id}/masks", response_model=CompositionOut,
            summary="Replace the privacy masks (fractions of each source's picture)")
async def put_masks(
    live: LiveDep, room_id: str, body: MasksBody, principal: Controller
) -> CompositionOut:
    room = room_or_404(live, room_id)
    try:
        room.set_masks(tuple(PrivacyMask(m.x, m.y, m.w, m.h, source=m.source) for m in body.masks))
    except (CompositionError, UnknownSourceError) as exc:
        raise _invalid(exc) from None
    return composition_out(room)


@router.post("/{room_id}/masks", response_model=CompositionOut, status_code=201,
             summary="Add a mask drawn on the program picture; it sticks to the source under it")
async def add_mask_from_program(
    live: LiveDep, room_id: str, body: ProgramRectIn, principal: Controller
) -> CompositionOut:
    room = room_or_404(live, room_id)
    try:
        mask = room.mask_from_program_rect(body.x, body.y, body.w, body.h)
        room.set_masks((*room.overlays.masks, mask))
    except (CompositionError, UnknownSourceError) as exc:
        raise _invalid(exc) from None
    return composition_out(room)


@router.put("/{room_id}/title", response_model=CompositionOut, summary="Title band and clock")
async def put_title(
    live: LiveDep, room_id: str, body: TitleBody, principal: Controller
) -> CompositionOut:
    room = room_or_404(live, room_id)
    room.set_title(TitleLine(body.procedure, body.presenter, body.institution), body.clock)
    return composition_out(room)

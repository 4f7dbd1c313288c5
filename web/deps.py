"""What the routes share: typed dependencies on the application state, and the HTTP pieces
more than one router needs (``*_or_404``, the organiser roles, reading an SDP offer, the
lesson a caller may watch), and the bounded number types every route declares its ids and
counts with.

Route modules import from here, never from one another. A route takes what it needs as a
parameter (``db: DbDep``, ``live: LiveDep``...) instead of reaching into ``request.app.state``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from pydantic import Field

from config.settings import Settings
from library.cme import audit
from library.cme.rights import ORGANISER_ROLES, may_organise
from library.cme.store import ProgrammeInfo, get_programme
from library.cme.vault import CnpVault
from library.db import Database
from library.i18n import lazy
from library.lessons import LessonInfo
from library.media_links import MediaLinkSigner
from library.viewing import Watcher, WatchError, watchable_lesson
from room_controller.room import Room
from web.auth import Principal, require_roles
from web.classroom_kit import ClassroomKit
from web.live import LiveRooms, RoomNotFound
from web.room_pacs import RoomPacs
from web.room_recordings import RoomRecordings
from web.state import AppState, app_state

# -- the application state, typed ------------------------------------------------------------

StateDep = Annotated[AppState, Depends(app_state)]


def local_path(next_url: str | None) -> str:
    """Where a form may send someone back to: a path on this site only (a link must never send
    a person to another site after logging in or changing the language)."""
    if next_url and next_url.startswith("/") and not next_url.startswith("//"):
        return next_url[:2000]
    return "/"


def _db(state: StateDep) -> Database:
    return state.db


def _live(state: StateDep) -> LiveRooms:
    return state.live


def _settings(state: StateDep) -> Settings:
    return state.settings


def _pacs(state: StateDep) -> RoomPacs:
    if state.pacs is None:
        raise RuntimeError("the PACS service is not running: the app has not started")
    return state.pacs


def _recordings(state: StateDep) -> RoomRecordings:
    return state.recordings


def _vault(state: StateDep) -> CnpVault:
    return state.cnp_vault


def _media_links(state: StateDep) -> MediaLinkSigner:
    return state.media_links


def _classroom_kit(state: StateDep) -> ClassroomKit:
    return state.classrooms


DbDep = Annotated[Database, Depends(_db)]
LiveDep = Annotated[LiveRooms, Depends(_live)]
SettingsDep = Annotated[Settings, Depends(_settings)]
RecordingsDep = Annotated[RoomRecordings, Depends(_recordings)]
PacsDep = Annotated[RoomPacs, Depends(_pacs)]
VaultDep = Annotated[CnpVault, Depends(_vault)]
MediaLinksDep = Annotated[MediaLinkSigner, Depends(_media_links)]
ClassroomKitDep = Annotated[ClassroomKit, Depends(_classroom_kit)]

# -- numbers at the edge ---------------------------------------------------------------------
# A number that does not fit the database's 64-bit INTEGER/BIGINT used to reach the driver and
# come back as a 500 (OverflowError). Every id and count a request carries is one of these
# types, so it is refused before any route code runs; tests/web/test_number_bounds.py fails
# when a route declares an integer path or query parameter without both bounds.

MAX_ID = 2**63 - 1
# Rows are numbered from 1 by both databases: 0 and below name nothing either.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# An id in a path: out of range is "no such resource", 404 (see ``validation_status``).
IdPath = Annotated[int, PathParam(ge=1, le=MAX_ID)]
# An optional id filter in a query string: out of range is a bad request, 422.
IdQuery = Annotated[Id | None, Query()]
# Paging: a page or offset past a billion rows is a mistake, not a request to honour.
MAX_OFFSET = 10**9
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
PageNumber = Annotated[int, Query(ge=1, le=MAX_OFFSET)]


def validation_status(exc: RequestValidationError) -> int:
    """404 when only the path was wrong (``/lessons/99999999999999999999`` names no lesson),
    422 when the query or body was."""
    locations = {error["loc"][0] for error in exc.errors() if error.get("loc")}
    return status.HTTP_404_NOT_FOUND if locations == {"path"} else status.HTTP_422_UNPROCESSABLE_CONTENT


# -- rooms -----------------------------------------------------------------------------------


def room_or_404(live: LiveRooms, room_id: str) -> Room:
    """The room, or 404 (every room route starts here)."""
    try:
        return live.room(room_id)
    except RoomNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, exc.args[0]) from None


MAX_OFFER_BYTES = 64 * 1024

SDP_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/sdp": {"schema": {"type": "string"}}},
    }
}


async def read_sdp_body(request: Request, media_type: str, what: str) -> str:
    """The request's SDP text (an offer, or a trickle fragment): 415 unless ``media_type``, 413
    past ``MAX_OFFER_BYTES`` (counted while it arrives, never held whole), 400 unless UTF-8."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != media_type:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            lazy("send the %(what)s as %(media_type)s (got '%(got)s')", "wrong_media_type",
                 what=what, media_type=media_type, got=content_type or "nothing"),
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_OFFER_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                                lazy("SDP %(what)s is too large", "sdp_too_large", what=what))
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST,
                            lazy("SDP %(what)s is not UTF-8 text", "sdp_not_utf8", what=what)
                            ) from None


async def read_sdp_offer(request: Request) -> str:
    """A WHEP/WHIP offer: ``application/sdp``."""
    return await read_sdp_body(request, "application/sdp", "offer")


# -- CME -------------------------------------------------------------------------------------

# The organising roles may create programmes; acting on one takes being its organiser
# (``library.cme.rights``), which ``OrganiserOf`` checks for the routes under a programme.
Organiser = Annotated[Principal, Depends(require_roles(*ORGANISER_ROLES))]


async def programme_or_404(db: Database, programme_id: int) -> ProgrammeInfo:
    info = await asyncio.to_thread(get_programme, db, programme_id)
    if info is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, lazy(
            "no CME programme %(id)s", "programme_not_found", id=programme_id))
    return info


def must_organise(principal: Principal, info: ProgrammeInfo) -> None:
    """403 unless ``principal`` organises the programme (pages ask this too)."""
    if not may_organise(principal, info):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            lazy("you do not organise programme '%(ref)s': only its organisers (the account "
                 "that created it and those it names) and admins act on it",
                 "not_organiser", ref=info.ref),
        )


@dataclass(frozen=True)
class Organising:
    """The caller, and the programme they organise."""

    principal: Principal
    info: ProgrammeInfo


async def organiser_of_programme(db: DbDep, principal: Organiser, programme_id: IdPath) -> Organising:
    info = await programme_or_404(db, programme_id)
    must_organise(principal, info)
    return Organising(principal, info)


OrganiserOf = Annotated[Organising, Depends(organiser_of_programme)]


async def log_programme_action(
    db: Database, actor: audit.Actor, action: audit.Action, info: ProgrammeInfo, **detail: Any,
) -> None:
    """One line in the access log for an action on programme ``info``."""
    await asyncio.to_thread(
        audit.record, db, actor, action, target=audit.Target.PROGRAMME, target_id=info.id,
        programme_id=info.id, detail={"ref": info.ref, **detail},
    )


# -- lessons ---------------------------------------------------------------------------------


def watcher(principal: Principal) -> Watcher:
    return Watcher(principal.user_id, principal.subject, principal.role)


async def lesson_for(db: Database, principal: Principal, lesson_id: int) -> LessonInfo:
    """The lesson if the caller may watch it (off the event loop); HTTP errors otherwise."""
    try:
        return await asyncio.to_thread(watchable_lesson, db, lesson_id, watcher(principal))
    except WatchError as exc:
        raise HTTPException(exc.status, exc.args[0]) from None  # a LazyText stays one


def lesson_folder(settings: Settings, media_path: str) -> Path:
    """Where a published lesson's files are."""
    return Path(settings.resolved_library_dir) / media_path

"""CME participants: a doctor's profile and credits, a programme's participant list and its
exports, and revealing a CNP.

Anyone logged in keeps their own profile (``/api/cme/me/profile``) and sees their five-year
score (``/api/cme/me/score``): the programmes' credits and the art. 29 titles, each with its
explanation. A programme's organisers (``library.cme.rights``) and admins see its list with
CNPs masked, and may export the full CNPs or reveal one; every such export or reveal goes to the CME access log (``library.cme.audit``) before the CNP leaves the server.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from library.cme import audit
from library.cme.errors import ProgrammeError
from library.cme.participant_list import (
    filename,
    participant_list,
    to_csv,
    to_pdf,
    to_xlsx,
)
from library.cme.participants import (
    Grade,
    ParticipantConflict,
    ParticipantError,
    ProfileInput,
    get_profile,
    reveal_cnp,
    save_profile,
)
from library.cme.titles import Title, TitleKind
from library.i18n import known_locale, lazy, use
from web.auth import Principal, Viewer, audit_actor
from web.cme_views import (
    ParticipantListOut,
    ProfileOut,
    ScoreOut,
    five_year_titles,
    list_out,
    profile_out,
    score,
)
from web.deps import (
    DbDep,
    IdPath,
    OrganiserOf,
    VaultDep,
)

router = APIRouter(tags=["cme participants"])

EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


# -- schemas -------------------------------------------------------------------------------


class TitleIn(BaseModel):
    kind: TitleKind
    obtained_on: date
    subject: str = ""
    years: list[int] = Field(default_factory=list, description="university teaching only")


class ProfileIn(BaseModel):
    """The participant list's columns (art. 6 alin. (5)) and the titles of art. 29."""

    full_name: str = Field(..., max_length=200)
    cnp: str | None = Field(
        None, description="13 digits; leave out on an update to keep the stored one"
    )
    specialty: str = Field(..., max_length=200)
    grade: Grade
    workplace: str = Field(..., max_length=300)
    titles: list[TitleIn] = []


class CnpOut(BaseModel):
    person_id: str
    cnp: str


# -- helpers -------------------------------------------------------------------------------


def _account(principal: Principal) -> int:
    if principal.user_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "a CME profile belongs to a logged-in account, not to a script token")
    return principal.user_id


# -- a doctor's own ------------------------------------------------------------------------


@router.get("/api/cme/me/profile", response_model=ProfileOut,
            summary="My participant profile (CNP masked), with my titles' credits")
async def my_profile(db: DbDep, vault: VaultDep, principal: Viewer) -> ProfileOut:
    user_id = _account(principal)
    profile = await asyncio.to_thread(get_profile, db, vault, user_id)
    if profile is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            "no CME profile yet: PUT /api/cme/me/profile to create it")
    return profile_out(profile, five_year_titles(profile))


@router.put("/api/cme/me/profile", response_model=ProfileOut,
            summary="Create or update my participant profile (the CNP is validated)")
async def put_my_profile(request: Request, db: DbDep, vault: VaultDep, body: ProfileIn,
                         principal: Viewer) -> ProfileOut:
    user_id = _account(principal)
    try:
        titles = tuple(Title(t.kind, t.obtained_on, t.subject, tuple(t.years))
                       for t in body.titles)
        data = ProfileInput(body.full_name, body.cnp, body.specialty, body.grade,
                            body.workplace, titles)
        profile = await asyncio.to_thread(
            save_profile, db, vault, user_id, data
        )
    except ParticipantConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except (ParticipantError, ProgrammeError) as exc:
        raise HTTPException(422, str(exc)) from None
    await asyncio.to_thread(
        audit.record, db, audit_actor(request, principal),
        audit.Action.PARTICIPANT_EDIT, target=audit.Target.PARTICIPANT, target_id=user_id,
        detail={"cnp_changed": body.cnp is not None, "titles": len(titles)},
    )
    return profile_out(profile, five_year_titles(profile))


@router.get("/api/cme/me/score", response_model=ScoreOut,
            summary="My five-year score: programme credits plus art. 29 titles, explained")
async def my_score(db: DbDep, vault: VaultDep, principal: Viewer) -> ScoreOut:
    _account(principal)
    return await asyncio.to_thread(score, db, vault, principal.subject, principal.user_id)


# -- a programme's list --------------------------------------------------------------------


@router.get("/api/cme/programmes/{programme_id}/participants", response_model=ParticipantListOut,
            summary="The participant list (art. 6 alin. (5)), CNPs masked")
async def participants(request: Request, db: DbDep, vault: VaultDep, programme_id: IdPath,
                       org: OrganiserOf) -> ParticipantListOut:
    plist = await asyncio.to_thread(participant_list, db, vault, org.info)
    await asyncio.to_thread(
        audit.record, db, audit_actor(request, org.principal), audit.Action.LIST_VIEW,
        target=audit.Target.LIST, target_id=programme_id, programme_id=programme_id,
    )
    return list_out(plist, True)


@router.get("/api/cme/programmes/{programme_id}/participants.{fmt}",
            summary="The participant list as CSV, xlsx or printable PDF")
async def export_participants(
    request: Request, db: DbDep, vault: VaultDep, programme_id: IdPath, fmt: str,
    org: OrganiserOf,
    cnp: Annotated[Literal["masked", "full"], Query(
        description="full: the CNPs as the College needs them (logged)")] = "masked",
    lang: Annotated[str | None, Query(
        description="the list's language (ro for the College's copy); default: the viewer's")
    ] = None,
) -> Response:
    if fmt not in EXPORT_TYPES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, lazy(
            "no export as '%(format)s': use .csv, .xlsx or .pdf", "unknown_export_format",
            format=fmt))
    locale = known_locale(lang)
    if lang and locale is None:
        raise HTTPException(422, lazy("unknown language %(value)s", "unknown_language",
                                      value=lang))
    info = org.info
    reveal = cnp == "full"
    # Logged before the file is built: a CNP never leaves without its log line.
    await asyncio.to_thread(
        audit.record, db, audit_actor(request, org.principal), audit.Action.LIST_EXPORT,
        target=audit.Target.LIST, target_id=programme_id, programme_id=programme_id,
        detail={"format": fmt, "cnp": cnp},
    )
    writer = {"csv": to_csv, "xlsx": to_xlsx, "pdf": to_pdf}[fmt]

    def build() -> tuple[bytes, str]:
        # In the viewer's language, or the one asked for (the College's copy in Romanian).
        with use(locale):
            plist = participant_list(db, vault, info, reveal=reveal)
            return writer(plist), filename(plist, fmt)

    body, name = await asyncio.to_thread(build)
    disposition = "inline" if fmt == "pdf" else "attachment"
    return Response(
        body, media_type=EXPORT_TYPES[fmt],
        headers={"Content-Disposition": f'{disposition}; filename="{name}"',
                 "Cache-Control": "no-store"},
    )


@router.post("/api/cme/programmes/{programme_id}/participants/{person_id}/cnp",
             response_model=CnpOut, summary="Reveal one participant's CNP (logged)")
async def reveal(request: Request, db: DbDep, vault: VaultDep, programme_id: IdPath, person_id: str,
                 org: OrganiserOf) -> Response:
    info = org.info
    plist = await asyncio.to_thread(participant_list, db, vault, info)
    row = next((r for r in plist.rows if r.person_id == person_id), None)
    if row is None or row.user_id is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"{person_id!r} is not a participant of programme {info.ref!r} with a profile",
        )
    await asyncio.to_thread(
        audit.record, db, audit_actor(request, org.principal), audit.Action.CNP_REVEAL,
        target=audit.Target.PARTICIPANT, target_id=row.user_id, programme_id=programme_id,
        detail={"person_id": person_id},
    )
    plain = await asyncio.to_thread(reveal_cnp, db, vault, [row.user_id])
    out = CnpOut(person_id=person_id, cnp=plain[row.user_id])
    return Response(out.model_dump_json(), media_type="application/json",
                    headers={"Cache-Control": "no-store"})

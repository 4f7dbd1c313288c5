"""CME participants: a doctor's profile and credits, a programme's participant list and its
exports, and revealing a CNP.

Anyone logged in keeps their own profile (``/api/cme/me/profile``) and sees their five-year
score (``/api/cme/me/score``): the programmes' credits and the art. 29 titles, each with its
explanation. Organisers see a programme's list with CNPs masked; only an admin or the organiser
who created the programme may export the full CNPs or reveal one, and every such export or
reveal goes to the CME access log (``library.cme.audit``) before the CNP leaves the server.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from library.cme import audit
from library.cme.certificates import Certificate, certificates_of_user
from library.cme.errors import ProgrammeError
from library.cme.participant_list import (
    ParticipantList,
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
    Profile,
    ProfileInput,
    get_profile,
    reveal_cnp,
    save_profile,
)
from library.cme.store import ProgrammeInfo
from library.cme.titles import Title, TitleKind, TitlesTotal, title_credits
from library.cme.vault import CnpVault
from library.users import Role
from web.auth import Principal, Viewer
from web.routes.cme import (
    MyCreditsOut,
    Organiser,
    StepOut,
    _five_years_before,
    _steps,
    database,
    my_credits,
    programme_or_404,
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


class TitleOut(BaseModel):
    kind: str
    label: str
    obtained_on: date
    subject: str
    years: list[int]
    credits: int
    counted: bool
    steps: list[StepOut]


class ProfileOut(BaseModel):
    username: str
    full_name: str
    cnp_masked: str
    specialty: str
    grade: str
    grade_label: str
    workplace: str
    titles: list[TitleOut]


class CertificateOut(BaseModel):
    number: str
    kind: str
    programme_id: int
    programme_title: str
    starts_on: date
    ends_on: date
    credits: int
    valid: bool
    download: str
    verify: str


class ScoreOut(BaseModel):
    """A doctor's five-year score: programmes plus titles (art. 29 alin. (1))."""

    since: date
    until: date
    programme_credits: int
    title_credits: int
    total: int
    explain: list[str]
    credits: MyCreditsOut
    profile: ProfileOut | None
    certificates: list[CertificateOut]


class ParticipantOut(BaseModel):
    person_id: str
    has_profile: bool
    full_name: str
    cnp: str
    specialty: str
    grade: str
    workplace: str
    credits: int
    qualified: bool
    test_passed: bool | None
    note: str
    explanation: str


class ParticipantListOut(BaseModel):
    programme_id: int
    programme_credits: int
    cnp_revealed: bool
    may_reveal: bool
    missing_profiles: list[str]
    participants: list[ParticipantOut]


class CnpOut(BaseModel):
    person_id: str
    cnp: str


# -- helpers -------------------------------------------------------------------------------


def vault(request: Request) -> CnpVault:
    v: CnpVault = request.app.state.medroom.cnp_vault
    return v


def actor(principal: Principal, request: Request) -> audit.Actor:
    client = request.client.host if request.client else ""
    return audit.Actor(principal.subject, principal.role.value, principal.user_id, client)


def may_handle_cnps(principal: Principal, info: ProgrammeInfo) -> bool:
    """An admin, or the organiser who created the programme (whose list it is to send)."""
    if principal.role is Role.ADMIN:
        return True
    return principal.user_id is not None and principal.user_id == info.created_by


def titles_out(profile: Profile, total: TitlesTotal) -> list[TitleOut]:
    return [
        TitleOut(kind=i.title.kind.value, label=i.title.kind.label,
                 obtained_on=i.title.obtained_on, subject=i.title.subject,
                 years=list(i.title.years), credits=i.credits, counted=i.counted,
                 steps=_steps(i.steps))
        for i in total.items
    ]


def profile_out(profile: Profile, total: TitlesTotal) -> ProfileOut:
    return ProfileOut(
        username=profile.username, full_name=profile.full_name, cnp_masked=profile.cnp_masked,
        specialty=profile.specialty, grade=profile.grade.value, grade_label=profile.grade.label,
        workplace=profile.workplace, titles=titles_out(profile, total),
    )


def certificate_out(cert: Certificate) -> CertificateOut:
    return CertificateOut(
        number=cert.number, kind=cert.kind.value, programme_id=cert.programme_id,
        programme_title=cert.programme_title, starts_on=cert.starts_on, ends_on=cert.ends_on,
        credits=cert.credits, valid=cert.valid,
        download=f"/api/cme/certificates/{cert.number}.pdf", verify=f"/verify/{cert.number}",
    )


def score(request: Request, principal: Principal, today: date | None = None) -> ScoreOut:
    """Sync: programmes (five years, art. 5 lit. i, 11 lit. c) + art. 29 titles, once."""
    db = database(request)
    until = today or date.today()
    since = _five_years_before(until)
    credits = my_credits(db, principal.subject, until)
    profile = get_profile(db, vault(request), principal.user_id) if principal.user_id else None
    titles = title_credits(profile.titles if profile else (), since=since, until=until)
    programmes = (
        f"art. 29 alin. (1): {credits.total} credits of the programmes counted since {since}"
        " (art. 5 lit. i, art. 11 lit. c applied)"
    )
    explain = [programmes]
    explain += [str(step) for item in titles.items if item.counted for step in item.steps]
    explain.append(
        f"art. 29 alin. (1): total {credits.total} + {titles.credits} for professional titles"
        f" = {credits.total + titles.credits}"
    )
    certs = certificates_of_user(db, principal.user_id) if principal.user_id else []
    return ScoreOut(
        since=since, until=until, programme_credits=credits.total,
        title_credits=titles.credits, total=credits.total + titles.credits, explain=explain,
        credits=credits, profile=profile_out(profile, titles) if profile else None,
        certificates=[certificate_out(c) for c in certs],
    )


def _account(principal: Principal) -> int:
    if principal.user_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "a CME profile belongs to a logged-in account, not to a script token")
    return principal.user_id


def list_out(plist: ParticipantList, may_reveal: bool) -> ParticipantListOut:
    return ParticipantListOut(
        programme_id=plist.info.id, programme_credits=plist.programme_credits,
        cnp_revealed=plist.revealed, may_reveal=may_reveal,
        missing_profiles=list(plist.missing_profiles),
        participants=[
            ParticipantOut(
                person_id=r.person_id, has_profile=r.user_id is not None, full_name=r.full_name,
                cnp=r.cnp, specialty=r.specialty, grade=r.grade, workplace=r.workplace,
                credits=r.credits, qualified=r.qualified, test_passed=r.test_passed,
                note=r.note, explanation=r.explanation,
            )
            for r in plist.rows
        ],
    )


# -- a doctor's own ------------------------------------------------------------------------


@router.get("/api/cme/me/profile", response_model=ProfileOut,
            summary="My participant profile (CNP masked), with my titles' credits")
async def my_profile(request: Request, principal: Viewer) -> ProfileOut:
    user_id = _account(principal)
    profile = await asyncio.to_thread(get_profile, database(request), vault(request), user_id)
    if profile is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            "no CME profile yet: PUT /api/cme/me/profile to create it")
    until = date.today()
    total = title_credits(profile.titles, since=_five_years_before(until), until=until)
    return profile_out(profile, total)


@router.put("/api/cme/me/profile", response_model=ProfileOut,
            summary="Create or update my participant profile (the CNP is validated)")
async def put_my_profile(request: Request, body: ProfileIn, principal: Viewer) -> ProfileOut:
    user_id = _account(principal)
    try:
        titles = tuple(Title(t.kind, t.obtained_on, t.subject, tuple(t.years))
                       for t in body.titles)
        data = ProfileInput(body.full_name, body.cnp, body.specialty, body.grade,
                            body.workplace, titles)
        profile = await asyncio.to_thread(
            save_profile, database(request), vault(request), user_id, data
        )
    except ParticipantConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except (ParticipantError, ProgrammeError) as exc:
        raise HTTPException(422, str(exc)) from None
    await asyncio.to_thread(
        audit.record, database(request), actor(principal, request),
        audit.Action.PARTICIPANT_EDIT, target=audit.Target.PARTICIPANT, target_id=user_id,
        detail={"cnp_changed": body.cnp is not None, "titles": len(titles)},
    )
    until = date.today()
    return profile_out(profile, title_credits(profile.titles, since=_five_years_before(until),
                                              until=until))


@router.get("/api/cme/me/score", response_model=ScoreOut,
            summary="My five-year score: programme credits plus art. 29 titles, explained")
async def my_score(request: Request, principal: Viewer) -> ScoreOut:
    _account(principal)
    return await asyncio.to_thread(score, request, principal)


# -- a programme's list --------------------------------------------------------------------


@router.get("/api/cme/programmes/{programme_id}/participants", response_model=ParticipantListOut,
            summary="The participant list (art. 6 alin. (5)), CNPs masked")
async def participants(request: Request, programme_id: int,
                       principal: Organiser) -> ParticipantListOut:
    info = await programme_or_404(request, programme_id)
    plist = await asyncio.to_thread(participant_list, database(request), vault(request), info)
    await asyncio.to_thread(
        audit.record, database(request), actor(principal, request), audit.Action.LIST_VIEW,
        target=audit.Target.LIST, target_id=programme_id, programme_id=programme_id,
    )
    return list_out(plist, may_handle_cnps(principal, info))


@router.get("/api/cme/programmes/{programme_id}/participants.{fmt}",
            summary="The participant list as CSV, xlsx or printable PDF")
async def export_participants(
    request: Request, programme_id: int, fmt: str, principal: Organiser,
    cnp: Annotated[Literal["masked", "full"], Query(
        description="full: the CNPs as the College needs them (admin or the programme's"
                    " organiser; logged)")] = "masked",
) -> Response:
    if fmt not in EXPORT_TYPES:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"no export as {fmt!r}: use .csv, .xlsx or .pdf")
    info = await programme_or_404(request, programme_id)
    reveal = cnp == "full"
    if reveal and not may_handle_cnps(principal, info):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "only an admin or the organiser who created this programme may export the full"
            " CNPs; export with cnp=masked",
        )
    db = database(request)
    # Logged before the file is built: a CNP never leaves without its log line.
    await asyncio.to_thread(
        audit.record, db, actor(principal, request), audit.Action.LIST_EXPORT,
        target=audit.Target.LIST, target_id=programme_id, programme_id=programme_id,
        detail={"format": fmt, "cnp": cnp},
    )
    plist = await asyncio.to_thread(participant_list, db, vault(request), info, reveal=reveal)
    writer = {"csv": to_csv, "xlsx": to_xlsx, "pdf": to_pdf}[fmt]
    body = await asyncio.to_thread(writer, plist)
    disposition = "inline" if fmt == "pdf" else "attachment"
    return Response(
        body, media_type=EXPORT_TYPES[fmt],
        headers={"Content-Disposition": f'{disposition}; filename="{filename(plist, fmt)}"',
                 "Cache-Control": "no-store"},
    )


@router.post("/api/cme/programmes/{programme_id}/participants/{person_id}/cnp",
             response_model=CnpOut, summary="Reveal one participant's CNP (logged)")
async def reveal(request: Request, programme_id: int, person_id: str,
                 principal: Organiser) -> Response:
    info = await programme_or_404(request, programme_id)
    if not may_handle_cnps(principal, info):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "only an admin or the organiser who created this programme may reveal a CNP",
        )
    db = database(request)
    plist = await asyncio.to_thread(participant_list, db, vault(request), info)
    row = next((r for r in plist.rows if r.person_id == person_id), None)
    if row is None or row.user_id is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"{person_id!r} is not a participant of programme {info.ref!r} with a profile",
        )
    await asyncio.to_thread(
        audit.record, db, actor(principal, request), audit.Action.CNP_REVEAL,
        target=audit.Target.PARTICIPANT, target_id=row.user_id, programme_id=programme_id,
        detail={"person_id": person_id},
    )
    plain = await asyncio.to_thread(reveal_cnp, db, vault(request), [row.user_id])
    out = CnpOut(person_id=person_id, cnp=plain[row.user_id])
    return Response(out.model_dump_json(), media_type="application/json",
                    headers={"Cache-Control": "no-store"})

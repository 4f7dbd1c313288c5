"""CME API and pages: programmes, the checker's findings, credits, attendance, a doctor's credits.

The organising roles (admin, instructor, curator) create programmes; a programme's organisers
(its creator and the accounts it names) and admins edit, check and submit it and see its
attendees (``library.cme.rights``); anyone logged in sees their own credits (``/api/cme/me``, the ``/cme`` page). The
body of a programme is the engine's model as JSON (``library.cme.codec``);
whatever the engine refuses comes back as 422 with the engine's message.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from library.cme import (
    CreditResult,
    Finding,
    ItemKind,
    Level,
    Programme,
    ProgrammeError,
    ProgrammeKind,
    audit,
    check_programme,
    creditable_hours,
    programme_credits,
)
from library.cme.codec import programme_from_json, programme_to_json
from library.cme.programme import ContributorRole, OrganiserKind
from library.cme.quiz_store import bank_size
from library.cme.rights import may_create_programme, may_organise
from library.cme.store import (
    DEFAULT_TIMEZONE,
    CmeStoreError,
    LinkRefused,
    ProgrammeConflict,
    ProgrammeInfo,
    ProgrammeNotFound,
    create_programme,
    list_programmes,
    submit_programme,
    update_programme,
)
from web.auth import Viewer, audit_actor
from web.cme_views import (
    AttendanceOut,
    CheckOut,
    MyCreditsOut,
    StepOut,
    attendance_out,
    findings_out,
    my_credits,
    num,
    steps_out,
)
from web.deps import (
    DbDep,
    IdPath,
    IdQuery,
    Organiser,
    OrganiserOf,
    log_programme_action,
    must_organise,
    programme_or_404,
)

router = APIRouter(tags=["cme"])


# -- schemas -------------------------------------------------------------------------------

Number = float | str  # hours and ratios: 1.5, "3/2"


class SpeakerIn(BaseModel):
    name: str
    title: str = ""
    person_id: str | None = Field(None, description="username, for lecturer credits")
    represents_sponsor: str | None = None


class AgendaItemIn(BaseModel):
    ref: str
    kind: ItemKind
    day: date
    start: time
    end: time
    title: str = ""
    speaker: SpeakerIn | None = None
    session: str | None = None
    track: str = "main"
    live_session_id: int | None = Field(None, description="the MedRoom live session carrying it")


class OrganiserIn(BaseModel):
    name: str
    kind: OrganiserKind = OrganiserKind.ACCREDITED_PROVIDER
    scope: Level = Level.NATIONAL


class NameIn(BaseModel):
    name: str


class LessonIn(BaseModel):
    lesson_id: str
    title: str = ""
    duration_seconds: int


class MaterialIn(BaseModel):
    pages: int
    characters_per_page: int
    max_figures_per_page: int = 0


class FinalTestIn(BaseModel):
    question_count: int
    pass_ratio: Number = "3/4"
    max_attempts: int = 2
    time_limit_minutes: int = 30


class PaperIn(BaseModel):
    ref: str
    title: str = ""
    first_author_id: str
    co_author_ids: list[str] = []


class ContributorIn(BaseModel):
    person_id: str
    role: ContributorRole
    learning_hours: Number


class ProgrammeIn(BaseModel):
    """A CME programme as the organiser declares it (art. 6 alin. (1), art. 16 alin. (1))."""

    ref: str = Field(..., description="unique, e.g. the provider's registration number")
    title: str
    kind: ProgrammeKind
    level: Level
    starts_on: date
    ends_on: date
    venue: str = ""
    organisers: list[OrganiserIn] = Field(..., description="the first is the main provider")
    sponsors: list[NameIn] = []
    agenda: list[AgendaItemIn] = []
    lessons: list[LessonIn] = []
    learning_hours: Number | None = None
    material: MaterialIn | None = None
    final_test: FinalTestIn | None = None
    papers: list[PaperIn] = []
    contributors: list[ContributorIn] = []
    foreign_credits: int | None = None
    request_filed_on: date | None = None
    final_programme_filed_on: date | None = None
    presence_check_percent: int = Field(
        0, ge=0, le=100,
        description="the share (%) of each live session's presence checks (polls flagged as"
                    " such) an attendee who watched it on their own device must answer for its"
                    " credits; 0, the default, asks for none")

    @field_validator("presence_check_percent", mode="before")
    @classmethod
    def _whole_percent(cls, value: Any) -> Any:
        # Said in the organiser's words before pydantic's own "less than or equal to 100".
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            raise PydanticCustomError(
                "whole_percent", "presence checks to answer: {value} must be a whole percentage"
                " from 0 (not required) to 100 (every presence check)", {"value": repr(value)})
        return value

    timezone: str = Field(DEFAULT_TIMEZONE, description="of the agenda's hours")
    drop_tolerance_seconds: int = Field(
        0, ge=0, description="absence forgiven per live session; 0 is the strict art. 5 lit. a"
    )
    organiser_usernames: list[str] | None = Field(
        None, description="MedRoom accounts that organise it with its creator (admins,"
                          " instructors, curators); left out on an update, kept")


class ProgrammeSummaryOut(BaseModel):
    id: int
    ref: str
    title: str
    kind: str
    level: str
    starts_on: date
    ends_on: date
    organiser: str
    status: str
    live_session_ids: list[int]
    credits: int
    may_organise: bool = Field(description="the caller organises it (or is an admin)")


class ProgrammeOut(ProgrammeSummaryOut):
    organiser_usernames: list[str]
    timezone: str
    drop_tolerance_seconds: int
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    programme: dict[str, Any]


class CreditsOut(BaseModel):
    programme_id: int
    credits: int
    exact: float
    uncapped: float
    creditable_hours: float
    steps: list[StepOut]
    explain: str


# -- computing (sync, run in a worker thread) ----------------------------------------------


def _summary(info: ProgrammeInfo, credits: int, may: bool) -> dict[str, Any]:
    return {
        "id": info.id, "ref": info.ref, "title": info.title, "kind": info.kind.value,
        "level": info.level.value, "starts_on": info.starts_on, "ends_on": info.ends_on,
        "organiser": info.organiser, "status": info.status.value,
        "live_session_ids": list(info.live_session_ids), "credits": credits,
        "may_organise": may,
    }


def programme_out(info: ProgrammeInfo) -> ProgrammeOut:
    return ProgrammeOut(
        **_summary(info, programme_credits(info.programme).credits, True),
        organiser_usernames=list(info.organiser_usernames), timezone=info.timezone, drop_tolerance_seconds=info.drop_tolerance_seconds,
        created_at=info.created_at, updated_at=info.updated_at, submitted_at=info.submitted_at,
        programme=programme_to_json(info.programme),
    )


def credits_out(programme_id: int, programme: Programme, result: CreditResult) -> CreditsOut:
    return CreditsOut(
        programme_id=programme_id, credits=result.credits, exact=num(result.exact),
        uncapped=num(result.uncapped), creditable_hours=num(creditable_hours(programme)),
        steps=steps_out(result.steps), explain=result.explain(),
    )


def _programme(body: ProgrammeIn) -> Programme:
    data = body.model_dump(
        mode="json", exclude={"timezone", "drop_tolerance_seconds", "organiser_usernames"})
    try:
        return programme_from_json(data)
    except ProgrammeError as exc:
        raise HTTPException(422, str(exc)) from None


def _store_error(exc: CmeStoreError) -> HTTPException:
    if isinstance(exc, ProgrammeNotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, LinkRefused):
        return HTTPException(status.HTTP_403_FORBIDDEN, str(exc))
    if isinstance(exc, ProgrammeConflict):
        return HTTPException(status.HTTP_409_CONFLICT, str(exc))
    return HTTPException(422, str(exc))


@router.post("/api/cme/programmes", status_code=201, response_model=ProgrammeOut,
             summary="Create a draft CME programme")
async def create(request: Request, db: DbDep,
                 body: ProgrammeIn, principal: Organiser) -> ProgrammeOut:
    if not may_create_programme(principal):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "a programme is organised by an account: log in, or use an admin"
                            " token (a script token names nobody to organise it)")
    programme = _programme(body)
    try:
        info = await asyncio.to_thread(
            create_programme, db, programme, by=principal,
            organisers=body.organiser_usernames or (), timezone=body.timezone,
            drop_tolerance_seconds=body.drop_tolerance_seconds,
        )
    except CmeStoreError as exc:
        raise _store_error(exc) from None
    await log_programme_action(
        db, audit_actor(request, principal), audit.Action.PROGRAMME_CREATE, info)
    return programme_out(info)


@router.get("/api/cme/programmes", response_model=list[ProgrammeSummaryOut],
            summary="CME programmes, the latest first")
async def list_all(request: Request, db: DbDep, principal: Organiser) -> list[ProgrammeSummaryOut]:
    infos = await asyncio.to_thread(list_programmes, db)
    return [ProgrammeSummaryOut(**_summary(i, programme_credits(i.programme).credits,
                                           may_organise(principal, i)))
            for i in infos]


@router.get("/api/cme/programmes/{programme_id}", response_model=ProgrammeOut,
            summary="One programme, with its full model")
async def read(request: Request, db: DbDep, programme_id: IdPath, org: OrganiserOf) -> ProgrammeOut:
    return programme_out(org.info)


@router.put("/api/cme/programmes/{programme_id}", response_model=ProgrammeOut,
            summary="Replace a draft programme")
async def update(
    request: Request, db: DbDep, programme_id: IdPath, body: ProgrammeIn, org: OrganiserOf
) -> ProgrammeOut:
    programme = _programme(body)
    try:
        info = await asyncio.to_thread(
            update_programme, db, programme_id, programme, by=org.principal,
            organisers=body.organiser_usernames, timezone=body.timezone,
            drop_tolerance_seconds=body.drop_tolerance_seconds,
        )
    except CmeStoreError as exc:
        raise _store_error(exc) from None
    await log_programme_action(
        db, audit_actor(request, org.principal), audit.Action.PROGRAMME_EDIT, info,
        items=len(info.programme.agenda))
    return programme_out(info)


@router.post("/api/cme/programmes/{programme_id}/submit", response_model=ProgrammeOut,
             summary="Submit a draft; refused (409) while the checker finds errors")
async def submit(request: Request, db: DbDep, programme_id: IdPath, org: OrganiserOf) -> ProgrammeOut:
    try:
        info = await asyncio.to_thread(submit_programme, db, programme_id)
    except CmeStoreError as exc:
        raise _store_error(exc) from None
    await log_programme_action(
        db, audit_actor(request, org.principal), audit.Action.PROGRAMME_SUBMIT, info)
    return programme_out(info)


@router.get("/api/cme/programmes/{programme_id}/check", response_model=CheckOut,
            summary="What the programme breaks, each finding with its article")
async def check(request: Request, db: DbDep, programme_id: IdPath, org: OrganiserOf) -> CheckOut:
    info = org.info
    questions = await asyncio.to_thread(bank_size, db, programme_id)
    return findings_out(
        info.id, await asyncio.to_thread(check_programme, info.programme, bank_size=questions)
    )


@router.get("/api/cme/programmes/{programme_id}/credits", response_model=CreditsOut,
            summary="The credits a full participant earns, with how they were computed")
async def credits(request: Request, db: DbDep, programme_id: IdPath, org: OrganiserOf) -> CreditsOut:
    info = org.info
    return credits_out(
        info.id, info.programme, await asyncio.to_thread(programme_credits, info.programme)
    )


@router.get("/api/cme/programmes/{programme_id}/attendance", response_model=AttendanceOut,
            summary="Each viewer's presence and credits, from the recorded viewer sessions")
async def attendance(request: Request, db: DbDep,
                     programme_id: IdPath, org: OrganiserOf) -> AttendanceOut:
    info = org.info
    result = await asyncio.to_thread(attendance_out, db, info)
    await log_programme_action(
        db, audit_actor(request, org.principal), audit.Action.ATTENDANCE_VIEW, info,
        attendees=len(result.attendees))
    return result


class PreviewOut(BaseModel):
    check: CheckOut
    credits: CreditsOut


@router.post("/api/cme/preview", response_model=PreviewOut,
             summary="Check a programme and compute its credits without saving it")
async def preview(request: Request, db: DbDep, body: ProgrammeIn, principal: Organiser,
                  programme_id: IdQuery = None) -> PreviewOut:
    """What the programme editor shows beside the form while the organiser types."""
    programme = _programme(body)
    questions = None
    if programme_id is not None:
        must_organise(principal, await programme_or_404(db, programme_id))
        questions = await asyncio.to_thread(bank_size, db, programme_id)

    def compute() -> tuple[list[Finding], CreditResult]:
        return check_programme(programme, bank_size=questions), programme_credits(programme)

    found, result = await asyncio.to_thread(compute)
    return PreviewOut(check=findings_out(programme_id or 0, found),
                      credits=credits_out(programme_id or 0, programme, result))


@router.get("/api/cme/me", response_model=MyCreditsOut,
            summary="My credits per programme and my five-year total")
async def me(request: Request, db: DbDep, principal: Viewer) -> MyCreditsOut:
    if principal.user_id is None:
        # A script token names any subject it was given: credits belong to a real account.
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "credits are shown to a logged-in account, not to a script token")
    return await asyncio.to_thread(my_credits, db, principal.subject)

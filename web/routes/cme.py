"""CME API and pages: programmes, the checker's findings, credits, attendance, a doctor's credits.

Organisers (admin, instructor, curator) create, edit, check and submit programmes and see every
attendee; anyone logged in sees their own credits (``/api/cme/me``, the ``/cme`` page). The
body of a programme is the engine's model as JSON (``library.cme.codec``);
whatever the engine refuses comes back as 422 with the engine's message.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time
from fractions import Fraction
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field

from library.cme import (
    AttendeeCredits,
    CreditResult,
    Finding,
    ItemKind,
    Level,
    Programme,
    ProgrammeError,
    ProgrammeKind,
    Severity,
    Step,
    attendee_credits,
    audit,
    check_programme,
    creditable_hours,
    programme_credits,
)
from library.cme.codec import programme_from_json, programme_to_json
from library.cme.programme import ContributorRole, OrganiserKind
from library.cme.quiz_store import bank_size
from library.cme.store import (
    DEFAULT_TIMEZONE,
    CmeStoreError,
    ProgrammeConflict,
    ProgrammeInfo,
    ProgrammeNotFound,
    ProgrammeStatus,
    create_programme,
    get_programme,
    list_programmes,
    live_session_titles,
    presence_for,
    programmes_attended_by,
    submit_programme,
    update_programme,
)
from library.cme.totals import Award, total_credits
from library.db import Database
from library.users import Role
from web.auth import Principal, Viewer, audit_actor, require_roles

ORGANISER_ROLES = (Role.ADMIN, Role.INSTRUCTOR, Role.CURATOR)
Organiser = Annotated[Principal, Depends(require_roles(*ORGANISER_ROLES))]
TOTAL_YEARS = 5  # the credits a doctor gathers are counted over five years (art. 29)

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
    timezone: str = Field(DEFAULT_TIMEZONE, description="of the agenda's hours")
    drop_tolerance_seconds: int = Field(
        0, ge=0, description="absence forgiven per live session; 0 is the strict art. 5 lit. a"
    )


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


class ProgrammeOut(ProgrammeSummaryOut):
    timezone: str
    drop_tolerance_seconds: int
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    programme: dict[str, Any]


class FindingOut(BaseModel):
    severity: str
    article: str
    message: str
    item_ref: str | None


class CheckOut(BaseModel):
    programme_id: int
    errors: int
    warnings: int
    findings: list[FindingOut]


class StepOut(BaseModel):
    article: str
    description: str
    value: float
    text: str


class CreditsOut(BaseModel):
    programme_id: int
    credits: int
    exact: float
    uncapped: float
    creditable_hours: float
    steps: list[StepOut]
    explain: str


class AbsenceOut(BaseModel):
    start: datetime
    end: datetime
    seconds: int


class GapOut(BaseModel):
    unit: str
    label: str
    required_seconds: int
    present_seconds: int
    missing_seconds: int
    absences: list[AbsenceOut]


class AttendeeOut(BaseModel):
    person_id: str
    display_name: str
    role: str
    connections: int
    qualified: bool
    credits: int
    gaps: list[GapOut]
    steps: list[StepOut]


class AttendanceOut(BaseModel):
    programme_id: int
    programme_credits: int
    drop_tolerance_seconds: int
    qualified: int
    attendees: list[AttendeeOut]


class MyProgrammeOut(BaseModel):
    id: int
    ref: str
    title: str
    kind: str
    starts_on: date
    ends_on: date
    status: str
    credits: int
    qualified: bool
    counted: bool
    note: str
    steps: list[StepOut]


class ExclusionOut(BaseModel):
    programme_ref: str
    article: str
    reason: str


class MyCreditsOut(BaseModel):
    person_id: str
    since: date
    total: int
    programmes: list[MyProgrammeOut]
    excluded: list[ExclusionOut]


# -- computing (sync, run in a worker thread) ----------------------------------------------


def _num(value: Fraction) -> float:
    return round(float(value), 2)


def _steps(steps: tuple[Step, ...]) -> list[StepOut]:
    return [StepOut(article=s.article, description=s.description, value=_num(s.value),
                    text=str(s)) for s in steps]


def _summary(info: ProgrammeInfo, credits: int) -> dict[str, Any]:
    return {
        "id": info.id, "ref": info.ref, "title": info.title, "kind": info.kind.value,
        "level": info.level.value, "starts_on": info.starts_on, "ends_on": info.ends_on,
        "organiser": info.organiser, "status": info.status.value,
        "live_session_ids": list(info.live_session_ids), "credits": credits,
    }


def programme_out(info: ProgrammeInfo) -> ProgrammeOut:
    return ProgrammeOut(
        **_summary(info, programme_credits(info.programme).credits),
        timezone=info.timezone, drop_tolerance_seconds=info.drop_tolerance_seconds,
        created_at=info.created_at, updated_at=info.updated_at, submitted_at=info.submitted_at,
        programme=programme_to_json(info.programme),
    )


def findings_out(programme_id: int, findings: list[Finding]) -> CheckOut:
    return CheckOut(
        programme_id=programme_id,
        errors=sum(f.severity is Severity.ERROR for f in findings),
        warnings=sum(f.severity is Severity.WARNING for f in findings),
        findings=[FindingOut(severity=f.severity.value, article=f.article, message=f.message,
                             item_ref=f.item_ref) for f in findings],
    )


def credits_out(programme_id: int, programme: Programme, result: CreditResult) -> CreditsOut:
    return CreditsOut(
        programme_id=programme_id, credits=result.credits, exact=_num(result.exact),
        uncapped=_num(result.uncapped), creditable_hours=_num(creditable_hours(programme)),
        steps=_steps(result.steps), explain=result.explain(),
    )


def _unit_label(programme: Programme, unit: str, titles: dict[int, str]) -> str:
    if unit.isdigit() and int(unit) in titles:
        return f"live session {unit} · {titles[int(unit)]}"
    for item in programme.agenda:
        if item.ref == unit:
            return f"{item.title or item.kind.value} ({item.day} {item.start:%H:%M}, on site)"
    for lesson in programme.lessons:
        if lesson.lesson_id == unit:
            return f"lesson {lesson.title or unit}"
    return unit


def attendance_out(db: Database, info: ProgrammeInfo) -> AttendanceOut:
    presence = presence_for(db, info)
    results = attendee_credits(
        info.programme, [p.record for p in presence],
        tolerance_seconds=info.drop_tolerance_seconds,
    )
    titles = live_session_titles(db, info.live_session_ids)
    attendees = []
    for p in presence:
        result = results[p.person_id]
        gaps = [
            GapOut(
                unit=g.unit, label=_unit_label(info.programme, g.unit, titles),
                required_seconds=g.required_seconds, present_seconds=g.present_seconds,
                missing_seconds=g.missing_seconds,
                absences=[AbsenceOut(start=a.start, end=a.end, seconds=a.seconds)
                          for a in p.absences if str(a.live_session_id) == g.unit],
            )
            for g in result.gaps
        ]
        attendees.append(AttendeeOut(
            person_id=p.person_id, display_name=p.display_name, role=p.role,
            connections=p.connections, qualified=result.qualified, credits=result.credits,
            gaps=gaps, steps=_steps(result.steps),
        ))
    attendees.sort(key=lambda a: (not a.qualified, a.display_name.casefold()))
    return AttendanceOut(
        programme_id=info.id, programme_credits=programme_credits(info.programme).credits,
        drop_tolerance_seconds=info.drop_tolerance_seconds,
        qualified=sum(a.qualified for a in attendees), attendees=attendees,
    )


def _five_years_before(day: date) -> date:
    try:
        return day.replace(year=day.year - TOTAL_YEARS)
    except ValueError:  # 29 February
        return day.replace(year=day.year - TOTAL_YEARS, day=28)


def my_credits(db: Database, person_id: str, today: date | None = None) -> MyCreditsOut:
    """A doctor's credits per programme and the five-year total (art. 5 lit. i, 11 lit. c)."""
    since = _five_years_before(today or date.today())
    rows: list[tuple[ProgrammeInfo, AttendeeCredits]] = []
    for info in programmes_attended_by(db, person_id):
        mine = [p.record for p in presence_for(db, info) if p.person_id == person_id]
        result = attendee_credits(
            info.programme, mine, tolerance_seconds=info.drop_tolerance_seconds
        )[person_id]
        rows.append((info, result))
    awards = [
        Award(info.ref, info.kind, info.starts_on, info.ends_on, result.credits)
        for info, result in rows
        if info.status is ProgrammeStatus.SUBMITTED and info.ends_on >= since
        and result.credits > 0
    ]
    total = total_credits(awards)
    excluded = {e.programme_ref: e for e in total.excluded}
    programmes = []
    for info, result in rows:
        if info.status is not ProgrammeStatus.SUBMITTED:
            note = "draft: not yet submitted to the College, not counted"
        elif info.ends_on < since:
            note = f"held before {since}: outside the five years"
        elif info.ref in excluded:
            note = f"{excluded[info.ref].article}: {excluded[info.ref].reason}"
        elif result.credits == 0:
            note = "no credits: " + ("; ".join(s.description for s in result.steps[:-1])
                                      or "nothing credited")
        else:
            note = "counted"
        programmes.append(MyProgrammeOut(
            id=info.id, ref=info.ref, title=info.title, kind=info.kind.value,
            starts_on=info.starts_on, ends_on=info.ends_on, status=info.status.value,
            credits=result.credits, qualified=result.qualified,
            counted=info.ref in total.counted, note=note, steps=_steps(result.steps),
        ))
    return MyCreditsOut(
        person_id=person_id, since=since, total=total.credits, programmes=programmes,
        excluded=[ExclusionOut(programme_ref=e.programme_ref, article=e.article, reason=e.reason)
                  for e in total.excluded],
    )


# -- API -----------------------------------------------------------------------------------


def database(request: Request) -> Database:
    db: Database = request.app.state.medroom.db
    return db


def _programme(body: ProgrammeIn) -> Programme:
    data = body.model_dump(mode="json", exclude={"timezone", "drop_tolerance_seconds"})
    try:
        return programme_from_json(data)
    except ProgrammeError as exc:
        raise HTTPException(422, str(exc)) from None


def _store_error(exc: CmeStoreError) -> HTTPException:
    if isinstance(exc, ProgrammeNotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, ProgrammeConflict):
        return HTTPException(status.HTTP_409_CONFLICT, str(exc))
    return HTTPException(422, str(exc))


async def log_action(
    request: Request, principal: Principal, action: audit.Action, info: ProgrammeInfo,
    **detail: Any,
) -> None:
    """One line in the access log for an action on programme ``info``."""
    await asyncio.to_thread(
        audit.record, database(request), audit_actor(request, principal), action,
        target=audit.Target.PROGRAMME, target_id=info.id, programme_id=info.id,
        detail={"ref": info.ref, **detail},
    )


async def programme_or_404(request: Request, programme_id: int) -> ProgrammeInfo:
    info = await asyncio.to_thread(get_programme, database(request), programme_id)
    if info is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no CME programme {programme_id}")
    return info


@router.post("/api/cme/programmes", status_code=201, response_model=ProgrammeOut,
             summary="Create a draft CME programme")
async def create(request: Request, body: ProgrammeIn, principal: Organiser) -> ProgrammeOut:
    programme = _programme(body)
    try:
        info = await asyncio.to_thread(
            create_programme, database(request), programme, timezone=body.timezone,
            drop_tolerance_seconds=body.drop_tolerance_seconds, created_by=principal.user_id,
        )
    except CmeStoreError as exc:
        raise _store_error(exc) from None
    await log_action(request, principal, audit.Action.PROGRAMME_CREATE, info)
    return programme_out(info)


@router.get("/api/cme/programmes", response_model=list[ProgrammeSummaryOut],
            summary="CME programmes, the latest first")
async def list_all(request: Request, principal: Organiser) -> list[ProgrammeSummaryOut]:
    infos = await asyncio.to_thread(list_programmes, database(request))
    return [ProgrammeSummaryOut(**_summary(i, programme_credits(i.programme).credits))
            for i in infos]


@router.get("/api/cme/programmes/{programme_id}", response_model=ProgrammeOut,
            summary="One programme, with its full model")
async def read(request: Request, programme_id: int, principal: Organiser) -> ProgrammeOut:
    return programme_out(await programme_or_404(request, programme_id))


@router.put("/api/cme/programmes/{programme_id}", response_model=ProgrammeOut,
            summary="Replace a draft programme")
async def update(
    request: Request, programme_id: int, body: ProgrammeIn, principal: Organiser
) -> ProgrammeOut:
    programme = _programme(body)
    try:
        info = await asyncio.to_thread(
            update_programme, database(request), programme_id, programme, timezone=body.timezone,
            drop_tolerance_seconds=body.drop_tolerance_seconds,
        )
    except CmeStoreError as exc:
        raise _store_error(exc) from None
    await log_action(request, principal, audit.Action.PROGRAMME_EDIT, info,
                     items=len(info.programme.agenda))
    return programme_out(info)


@router.post("/api/cme/programmes/{programme_id}/submit", response_model=ProgrammeOut,
             summary="Submit a draft; refused (409) while the checker finds errors")
async def submit(request: Request, programme_id: int, principal: Organiser) -> ProgrammeOut:
    try:
        info = await asyncio.to_thread(submit_programme, database(request), programme_id)
    except CmeStoreError as exc:
        raise _store_error(exc) from None
    await log_action(request, principal, audit.Action.PROGRAMME_SUBMIT, info)
    return programme_out(info)


@router.get("/api/cme/programmes/{programme_id}/check", response_model=CheckOut,
            summary="What the programme breaks, each finding with its article")
async def check(request: Request, programme_id: int, principal: Organiser) -> CheckOut:
    info = await programme_or_404(request, programme_id)
    questions = await asyncio.to_thread(bank_size, database(request), programme_id)
    return findings_out(
        info.id, await asyncio.to_thread(check_programme, info.programme, bank_size=questions)
    )


@router.get("/api/cme/programmes/{programme_id}/credits", response_model=CreditsOut,
            summary="The credits a full participant earns, with how they were computed")
async def credits(request: Request, programme_id: int, principal: Organiser) -> CreditsOut:
    info = await programme_or_404(request, programme_id)
    return credits_out(
        info.id, info.programme, await asyncio.to_thread(programme_credits, info.programme)
    )


@router.get("/api/cme/programmes/{programme_id}/attendance", response_model=AttendanceOut,
            summary="Each viewer's presence and credits, from the recorded viewer sessions")
async def attendance(request: Request, programme_id: int, principal: Organiser) -> AttendanceOut:
    info = await programme_or_404(request, programme_id)
    result = await asyncio.to_thread(attendance_out, database(request), info)
    await log_action(request, principal, audit.Action.ATTENDANCE_VIEW, info,
                     attendees=len(result.attendees))
    return result


class PreviewOut(BaseModel):
    check: CheckOut
    credits: CreditsOut


@router.post("/api/cme/preview", response_model=PreviewOut,
             summary="Check a programme and compute its credits without saving it")
async def preview(request: Request, body: ProgrammeIn, principal: Organiser,
                  programme_id: int | None = None) -> PreviewOut:
    """What the programme editor shows beside the form while the organiser types."""
    programme = _programme(body)
    questions = None
    if programme_id is not None:
        questions = await asyncio.to_thread(bank_size, database(request), programme_id)

    def compute() -> tuple[list[Finding], CreditResult]:
        return check_programme(programme, bank_size=questions), programme_credits(programme)

    found, result = await asyncio.to_thread(compute)
    return PreviewOut(check=findings_out(programme_id or 0, found),
                      credits=credits_out(programme_id or 0, programme, result))


@router.get("/api/cme/me", response_model=MyCreditsOut,
            summary="My credits per programme and my five-year total")
async def me(request: Request, principal: Viewer) -> MyCreditsOut:
    if principal.user_id is None:
        # A script token names any subject it was given: credits belong to a real account.
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "credits are shown to a logged-in account, not to a script token")
    return await asyncio.to_thread(my_credits, database(request), principal.subject)

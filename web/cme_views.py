"""What the CME API and pages show: the schemas and builders more than one CME router uses.

Findings, attendance, a doctor's credits and score, profiles, certificates and participant
lists, built from the library's results (sync: call them in a worker thread). The rules live
in ``library.cme``; this module only shapes their results for HTTP and the pages.
"""

from __future__ import annotations

from datetime import date, datetime
from fractions import Fraction

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from library.cme import Finding, Programme, ProgrammeKind, Severity, Step, attendee_credits
from library.cme.certificates import Certificate, certificates_of_user
from library.cme.credits import programme_credits
from library.cme.participant_list import ParticipantList, SessionParticipation
from library.cme.participants import Grade, Profile, get_profile
from library.cme.participation import describe
from library.cme.rights import ORGANISER_ROLES
from library.cme.score import Attended, five_year_credits, five_years_before, score_explanation
from library.cme.store import (
    ProgrammeInfo,
    ProgrammeStatus,
    live_session_titles,
    presence_for,
    programmes_attended_by,
)
from library.cme.titles import TitleKind, TitlesTotal, title_credits
from library.cme.vault import CnpVault
from library.db import Database
from library.i18n import formats, gettext
from web.auth import Principal, csrf_token
from web.cme_labels import PROGRAMME_KINDS, labels
from web.cme_quiz_views import tests_of
from web.templates import templates

# How pages and lists name the kinds of programme.
KIND_LABELS = {kind: PROGRAMME_KINDS[kind.value] for kind in ProgrammeKind}


# -- schemas -------------------------------------------------------------------------------


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


class SessionParticipationOut(BaseModel):
    """What one attendee did in one live session's classroom."""

    live_session_id: int
    questions: int
    poll_answers: int
    checks_asked: int = Field(description="presence checks that were theirs to answer (0 when"
                              " they were there only on a classroom's shared screen)")
    checks_answered: int
    talkback_seconds: int
    checks_met: bool | None = Field(description="against the programme's presence-check share;"
                                    " null when nothing was required")
    summary: str
    activity: str = Field(description="questions, poll answers and talkback, in words")


class AttendeeOut(BaseModel):
    person_id: str
    display_name: str
    role: str
    connections: int
    qualified: bool
    credits: int
    gaps: list[GapOut]
    steps: list[StepOut]
    participation: list[SessionParticipationOut] = []


class AttendanceOut(BaseModel):
    programme_id: int
    programme_credits: int
    drop_tolerance_seconds: int
    qualified: int
    attendees: list[AttendeeOut]
    presence_check_percent: int = Field(0, description="the share of each live session's"
                                        " presence checks an attendee must answer; 0: none")


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


# Not the library's ParticipantRow served as it is: the API says whether a participant has a
# profile (has_profile) and does not hand out the internal user id the row carries.
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
    proof: str = Field("", description="How presence was proven: 'own device', or 'in Hall "
                       "A, Pleven with 3 of 4 checks' (classroom check-ins)")
    participation: list[SessionParticipationOut] = Field(
        [], description="per live session: questions, poll answers, presence checks, talkback")


class ParticipantListOut(BaseModel):
    programme_id: int
    programme_credits: int
    presence_check_percent: int = Field(0, description="the share of each live session's"
                                        " presence checks an attendee must answer; 0: none")
    cnp_revealed: bool
    may_reveal: bool
    missing_profiles: list[str]
    participants: list[ParticipantOut]


# -- builders ------------------------------------------------------------------------------


def num(value: Fraction) -> float:
    return round(float(value), 2)


def steps_out(steps: tuple[Step, ...]) -> list[StepOut]:
    return [StepOut(article=s.article, description=s.description, value=num(s.value),
                    text=str(s)) for s in steps]


def findings_out(programme_id: int, findings: list[Finding]) -> CheckOut:
    return CheckOut(
        programme_id=programme_id,
        errors=sum(f.severity is Severity.ERROR for f in findings),
        warnings=sum(f.severity is Severity.WARNING for f in findings),
        findings=[FindingOut(severity=f.severity.value, article=f.article, message=f.message,
                             item_ref=f.item_ref) for f in findings],
    )


def _unit_label(programme: Programme, unit: str, titles: dict[int, str]) -> str:
    if unit.isascii() and unit.isdigit() and int(unit) in titles:  # not '²': int() refuses it
        return gettext("live session %(id)s · %(title)s", id=unit, title=titles[int(unit)])
    for item in programme.agenda:
        if item.ref == unit:
            return gettext("%(item)s (%(day)s %(start)s, on site)",
                           item=item.title or item.kind.value,
                           day=formats.format_date(item.day), start=f"{item.start:%H:%M}")
    for lesson in programme.lessons:
        if lesson.lesson_id == unit:
            return gettext("lesson %(title)s", title=lesson.title or unit)
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
            gaps=gaps, steps=steps_out(result.steps),
            participation=[
                session_out(SessionParticipation(
                    int(live), done, info.programme.presence_check_percent))
                for live, done in sorted(p.record.participation.items(),
                                         key=lambda kv: int(kv[0]))],
        ))
    attendees.sort(key=lambda a: (not a.qualified, a.display_name.casefold()))
    return AttendanceOut(
        programme_id=info.id, programme_credits=programme_credits(info.programme).credits,
        drop_tolerance_seconds=info.drop_tolerance_seconds,
        qualified=sum(a.qualified for a in attendees), attendees=attendees,
        presence_check_percent=info.programme.presence_check_percent,
    )


def my_credits(db: Database, person_id: str, today: date | None = None) -> MyCreditsOut:
    """A doctor's credits per programme and the five-year total (art. 5 lit. i, 11 lit. c)."""
    infos = programmes_attended_by(db, person_id)
    attended = []
    for info in infos:
        mine = [p.record for p in presence_for(db, info) if p.person_id == person_id]
        result = attendee_credits(
            info.programme, mine, tolerance_seconds=info.drop_tolerance_seconds
        )[person_id]
        attended.append(Attended(info.ref, info.kind, info.starts_on, info.ends_on,
                                 info.status is ProgrammeStatus.SUBMITTED, result))
    five = five_year_credits(attended, today or date.today())
    return MyCreditsOut(
        person_id=person_id, since=five.since, total=five.credits,
        programmes=[
            MyProgrammeOut(
                id=info.id, ref=info.ref, title=info.title, kind=info.kind.value,
                starts_on=info.starts_on, ends_on=info.ends_on, status=info.status.value,
                credits=t.attended.result.credits, qualified=t.attended.result.qualified,
                counted=t.counted, note=t.note, steps=steps_out(t.attended.result.steps),
            )
            for info, t in zip(infos, five.programmes, strict=True)
        ],
        excluded=[ExclusionOut(programme_ref=e.programme_ref, article=e.article, reason=e.reason)
                  for e in five.excluded],
    )


def titles_out(profile: Profile, total: TitlesTotal) -> list[TitleOut]:
    return [
        TitleOut(kind=i.title.kind.value, label=i.title.kind.label,
                 obtained_on=i.title.obtained_on, subject=i.title.subject,
                 years=list(i.title.years), credits=i.credits, counted=i.counted,
                 steps=steps_out(i.steps))
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


def score(db: Database, vault: CnpVault, person_id: str, user_id: int | None,
          today: date | None = None) -> ScoreOut:
    """Programmes (five years, art. 5 lit. i, 11 lit. c) + art. 29 titles, once."""
    until = today or date.today()
    since = five_years_before(until)
    credits = my_credits(db, person_id, until)
    profile = get_profile(db, vault, user_id) if user_id else None
    titles = title_credits(profile.titles if profile else (), since=since, until=until)
    certs = certificates_of_user(db, user_id) if user_id else []
    return ScoreOut(
        since=since, until=until, programme_credits=credits.total,
        title_credits=titles.credits, total=credits.total + titles.credits,
        explain=list(score_explanation(credits.total, since, titles)),
        credits=credits, profile=profile_out(profile, titles) if profile else None,
        certificates=[certificate_out(c) for c in certs],
    )


def five_year_titles(profile: Profile, today: date | None = None) -> TitlesTotal:
    """What a profile's titles add to the five years up to ``today``."""
    until = today or date.today()
    return title_credits(profile.titles, since=five_years_before(until), until=until)


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
                note=str(r.note), explanation=r.explanation, proof=r.proof,
                participation=[session_out(x) for x in r.sessions],
            )
            for r in plist.rows
        ],
        presence_check_percent=plist.info.programme.presence_check_percent,
    )


def session_out(x: SessionParticipation) -> SessionParticipationOut:
    done = x.done
    return SessionParticipationOut(
        live_session_id=x.live_session_id, questions=done.questions,
        poll_answers=done.poll_answers, checks_asked=done.checks_asked,
        checks_answered=done.checks_answered, talkback_seconds=done.talkback_seconds,
        checks_met=x.checks_met, summary=x.summary(),
        activity=describe(done, checks=False))


def doctor_page(request: Request, user: Principal, db: Database, vault: CnpVault) -> Response:
    """A doctor's own page: profile, five-year score, final tests, certificates (at ``/cme``
    and ``/cme/me``). Blocking: call it in a worker thread."""
    data = score(db, vault, user.subject, user.user_id)
    tests = tests_of(db, [p.id for p in data.credits.programmes], user.subject)
    return templates.TemplateResponse(request, "cme_me.html", {
        "tests": tests,
        "user": user, "csrf": csrf_token(request), "is_organiser": user.role in ORGANISER_ROLES,
        "s": data, "L": labels(),
        "grades": list(Grade), "title_kinds": list(TitleKind),
    })

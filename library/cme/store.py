"""CME programmes in the database, and attendance built from the viewer sessions.

The programme is the engine's ``Programme``, kept as JSON in one column (``library.cme.codec``,
the one JSON form, also used by the HTTP API), with the columns a
list or a filter needs beside it. The live sessions that carry the agenda are derived from the
agenda on every save, so the link table and the agenda can never disagree, and a live session
that carried a programme cannot be deleted (foreign key, RESTRICT).

Attendance: the agenda's hours are local times of the programme's time zone; a viewer is
present in an item while one of their connections to the item's live session is open.
Connections of one person (tabs, devices, reconnects) are merged, so nothing is counted twice,
and a drop-and-rejoin leaves a gap that is absence (art. 5 lit. a: presence for the whole
programme); the programme's ``drop_tolerance_seconds`` (default 0, the strict rule) is what the
engine then forgives per live session.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from enum import Enum
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from library.checkins import CheckInRecord, check_ins_of, checks_in
from library.classroom_models import CheckIn
from library.classrooms import SCREEN_ROLE
from library.cme.attendance import AttendeeRecord
from library.cme.checker import Severity, check_programme
from library.cme.classroom_presence import Answer, CheckMoment, proven_intervals
from library.cme.codec import programme_from_json, programme_to_json
from library.cme.organisers import accounts, named, refused_links, replace_named
from library.cme.participation import participation_in
from library.cme.programme import (
    Level,
    Programme,
    ProgrammeKind,
)
from library.cme.quiz_store import attempts_by_person, programmes_tested_by
from library.cme.rights import Person
from library.cme_models import CmeProgramme, CmeProgrammeLiveSession, CmeQuestion
from library.db import Database
from library.models import LiveSession, User, ViewerSession, utcnow

E = TypeVar("E", bound=Enum)

DEFAULT_TIMEZONE = "Europe/Bucharest"
MAX_DROP_TOLERANCE_SECONDS = 3600


class CmeStoreError(ValueError):
    """A programme cannot be stored as asked; the message says why and what to do."""


class ProgrammeNotFound(CmeStoreError):
    pass


class ProgrammeConflict(CmeStoreError):
    """The request clashes with the stored state (a reused ref, a submitted programme)."""


class LinkRefused(CmeStoreError):
    """The agenda links a live session its author has no right over (``library.cme.rights``)."""


class ProgrammeStatus(str, Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


@dataclass(frozen=True)
class ProgrammeInfo:
    id: int
    ref: str
    title: str
    kind: ProgrammeKind
    level: Level
    starts_on: date
    ends_on: date
    organiser: str
    status: ProgrammeStatus
    timezone: str
    drop_tolerance_seconds: int
    live_session_ids: tuple[int, ...]
    programme: Programme
    created_by: int | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    organiser_ids: tuple[int, ...] = ()
    """The accounts the programme names as organisers, besides ``created_by``."""
    organiser_usernames: tuple[str, ...] = ()


OWN_DEVICE = "own device"


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        return max(0, int((self.end - self.start).total_seconds()))


@dataclass(frozen=True)
class Connection:
    """One viewer session, as attendance needs it."""

    live_session_id: int
    person_id: str
    joined_at: datetime
    left_at: datetime | None
    display_name: str = ""
    role: str = ""
    via: str = OWN_DEVICE
    """How this presence was proven: the person's own device, or a classroom's check-ins."""


@dataclass(frozen=True)
class Absence:
    """Programme time of one live session during which the person was not connected."""

    live_session_id: int
    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


@dataclass(frozen=True)
class Presence:
    """One attendee: the engine's record, and the absences behind its gaps."""

    person_id: str
    display_name: str
    role: str
    record: AttendeeRecord
    absences: tuple[Absence, ...]
    connections: int
    proof: tuple[str, ...] = ()
    """How presence was proven: "own device", "in Hall A, Pleven with 3 of 4 checks"."""


# -- storing -------------------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CmeStoreError(
            f"time zone {name!r} is unknown; use an IANA name such as 'Europe/Bucharest'"
        ) from None


def _tolerance(seconds: int) -> int:
    if not 0 <= seconds <= MAX_DROP_TOLERANCE_SECONDS:
        raise CmeStoreError(
            f"drop tolerance {seconds} s must be between 0 (the strict rule of art. 5 lit. a)"
            f" and {MAX_DROP_TOLERANCE_SECONDS} s"
        )
    return seconds


def _links(session: Session, programme_id: int) -> tuple[int, ...]:
    return tuple(
        session.scalars(
            select(CmeProgrammeLiveSession.live_session_id)
            .where(CmeProgrammeLiveSession.programme_id == programme_id)
            .order_by(CmeProgrammeLiveSession.live_session_id)
        )
    )


def _info(session: Session, row: CmeProgramme) -> ProgrammeInfo:
    organisers = named(session, row.id)
    return ProgrammeInfo(
        id=row.id, ref=row.ref, title=row.title, kind=ProgrammeKind(row.kind),
        level=Level(row.level), starts_on=row.starts_on, ends_on=row.ends_on,
        organiser=row.organiser, status=ProgrammeStatus(row.status), timezone=row.timezone,
        drop_tolerance_seconds=row.drop_tolerance_seconds,
        live_session_ids=_links(session, row.id),
        programme=programme_from_json(row.programme), created_by=row.created_by,
        created_at=row.created_at, updated_at=row.updated_at, submitted_at=row.submitted_at,
        organiser_ids=tuple(i for i, _ in organisers),
        organiser_usernames=tuple(name for _, name in organisers),
    )


def _agenda_live_ids(programme: Programme) -> set[int]:
    return {int(i.live_session_id) for i in programme.agenda if i.live_session_id is not None}


def _write(
    session: Session, row: CmeProgramme, programme: Programme, by: Person,
    organisers: Sequence[str] | None = None,
) -> None:
    """Copy the programme into the row and derive the live-session links from its agenda.

    A link the programme did not have yet needs ``by``'s right over that live session: its
    viewers' attendance (names, CNPs on the list) would otherwise flow into a programme of
    someone who could not see them. Links it had stay: they were checked when made.
    ``organisers`` (usernames) replaces the accounts the programme names; None keeps them.
    """
    clash = session.scalar(
        select(CmeProgramme.id).where(CmeProgramme.ref == programme.ref, CmeProgramme.id != row.id)
        if row.id is not None
        else select(CmeProgramme.id).where(CmeProgramme.ref == programme.ref)
    )
    if clash is not None:
        raise ProgrammeConflict(
            f"programme ref {programme.ref!r} is already used by programme {clash}; refs are"
            " unique (e.g. the provider's registration number)"
        )
    wanted = _agenda_live_ids(programme)
    if wanted:
        found = set(session.scalars(select(LiveSession.id).where(LiveSession.id.in_(wanted))))
        missing = sorted(wanted - found)
        if missing:
            raise CmeStoreError(
                f"the agenda names live session(s) {', '.join(map(str, missing))}, which do not"
                " exist; use the ids of the room's live sessions (GET /api/rooms/.../sessions)"
            )
        linked = set(_links(session, row.id)) if row.id is not None else set()
        refused = refused_links(session, by, wanted - linked)
        if refused:
            raise LinkRefused(
                f"live session(s) {', '.join(map(str, refused))} were started by someone else:"
                " only the instructor who started a live session, or an admin, may link it"
                " into a programme (its viewers' attendance and CNPs would follow it)"
            )
    named_ids: list[int] | None = None
    if organisers is not None:
        named_ids, problems = accounts(session, organisers)
        if problems:
            raise CmeStoreError(f"organiser_usernames: {'; '.join(problems)}")
    provider = programme.main_provider
    row.ref = programme.ref
    row.title = programme.title
    row.kind = programme.kind.value
    row.level = programme.level.value
    row.starts_on = programme.starts_on
    row.ends_on = programme.ends_on
    row.organiser = provider.name if provider else ""
    row.programme = programme_to_json(programme)
    row.updated_at = utcnow()
    if row.id is None:
        session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise ProgrammeConflict(
            f"programme {programme.ref!r} could not be saved: {exc.orig}"
        ) from None
    session.execute(
        delete(CmeProgrammeLiveSession).where(CmeProgrammeLiveSession.programme_id == row.id)
    )
    session.add_all(
        CmeProgrammeLiveSession(programme_id=row.id, live_session_id=live_id)
        for live_id in sorted(wanted)
    )
    if named_ids is not None:
        replace_named(session, row.id, named_ids)
    session.flush()


def create_programme(
    db: Database,
    programme: Programme,
    *,
    by: Person,
    organisers: Sequence[str] = (),
    timezone: str = DEFAULT_TIMEZONE,
    drop_tolerance_seconds: int = 0,
) -> ProgrammeInfo:
    """Store a new draft programme created by ``by`` (its first organiser), naming the
    accounts ``organisers`` as the others; the agenda's live sessions are linked to it."""
    _zone(timezone)
    now = utcnow()
    row = CmeProgramme(
        status=ProgrammeStatus.DRAFT.value, timezone=timezone,
        drop_tolerance_seconds=_tolerance(drop_tolerance_seconds), created_by=by.user_id,
        created_at=now,
    )
    with db.session() as session:
        _write(session, row, programme, by, organisers)
        return _info(session, row)


def _row(session: Session, programme_id: int) -> CmeProgramme:
    row = session.get(CmeProgramme, programme_id)
    if row is None:
        raise ProgrammeNotFound(f"no CME programme {programme_id}")
    return row


def _draft(row: CmeProgramme) -> None:
    if row.status != ProgrammeStatus.DRAFT.value:
        raise ProgrammeConflict(
            f"programme {row.ref!r} was submitted on {row.submitted_at:%Y-%m-%d}; a submitted"
            " programme is what the College received and cannot be edited"
        )


def update_programme(
    db: Database,
    programme_id: int,
    programme: Programme,
    *,
    by: Person,
    organisers: Sequence[str] | None = None,
    timezone: str | None = None,
    drop_tolerance_seconds: int | None = None,
) -> ProgrammeInfo:
    """Replace a draft programme (the whole model) as ``by``; a submitted one is refused.
    ``organisers`` replaces the named organisers (None keeps them)."""
    with db.session() as session:
        row = _row(session, programme_id)
        _draft(row)
        if timezone is not None:
            _zone(timezone)
            row.timezone = timezone
        if drop_tolerance_seconds is not None:
            row.drop_tolerance_seconds = _tolerance(drop_tolerance_seconds)
        _write(session, row, programme, by, organisers)
        return _info(session, row)


def get_programme(db: Database, programme_id: int) -> ProgrammeInfo | None:
    with db.session() as session:
        row = session.get(CmeProgramme, programme_id)
        return None if row is None else _info(session, row)


def list_programmes(db: Database, status: ProgrammeStatus | None = None) -> list[ProgrammeInfo]:
    """Programmes, the latest first."""
    query = select(CmeProgramme).order_by(CmeProgramme.starts_on.desc(), CmeProgramme.id.desc())
    if status is not None:
        query = query.where(CmeProgramme.status == status.value)
    with db.session() as session:
        return [_info(session, row) for row in session.scalars(query)]


def link_live_session(
    db: Database, programme_id: int, live_session_id: int, item_refs: Iterable[str], *,
    by: Person,
) -> ProgrammeInfo:
    """Say which agenda items live session ``live_session_id`` carried (a draft only)."""
    refs = list(item_refs)
    if not refs:
        raise CmeStoreError("name the agenda items the live session carried")
    with db.session() as session:
        row = _row(session, programme_id)
        _draft(row)
        programme = programme_from_json(row.programme)
        known = {i.ref for i in programme.agenda}
        unknown = [r for r in refs if r not in known]
        if unknown:
            raise CmeStoreError(
                f"programme {row.ref!r} has no agenda item {', '.join(map(repr, unknown))}"
            )
        agenda = tuple(
            replace(i, live_session_id=str(live_session_id)) if i.ref in refs else i
            for i in programme.agenda
        )
        _write(session, row, replace(programme, agenda=agenda), by)
        return _info(session, row)


def _bank_size(session: Session, programme_id: int) -> int:
    count = session.scalar(
        select(func.count()).select_from(CmeQuestion).where(CmeQuestion.programme_id == programme_id)
    )
    return int(count or 0)


def submit_programme(db: Database, programme_id: int) -> ProgrammeInfo:
    """Mark a draft as submitted; refused while the checker finds an error."""
    with db.session() as session:
        row = _row(session, programme_id)
        _draft(row)
        errors = [
            f for f in check_programme(
                programme_from_json(row.programme), bank_size=_bank_size(session, row.id)
            )
            if f.severity is Severity.ERROR
        ]
        if errors:
            listed = "; ".join(f"{f.article}: {f.message}" for f in errors)
            raise ProgrammeConflict(
                f"programme {row.ref!r} has {len(errors)} error(s) to fix before it is"
                f" submitted: {listed}"
            )
        row.status = ProgrammeStatus.SUBMITTED.value
        row.submitted_at = utcnow()
        session.flush()
        return _info(session, row)


def live_session_titles(db: Database, ids: Iterable[int]) -> dict[int, str]:
    wanted = list(ids)
    if not wanted:
        return {}
    with db.session() as session:
        rows = session.execute(
            select(LiveSession.id, LiveSession.title).where(LiveSession.id.in_(wanted))
        )
        return {live_id: title for live_id, title in rows}


# -- attendance ----------------------------------------------------------------------------


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for iv in sorted(intervals, key=lambda i: (i.start, i.end)):
        if iv.end <= iv.start:
            continue
        if merged and iv.start <= merged[-1].end:
            if iv.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, iv.end)
        else:
            merged.append(iv)
    return merged


def _overlap(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """The parts of merged ``a`` inside merged ``b``."""
    out = []
    for x in a:
        for y in b:
            start, end = max(x.start, y.start), min(x.end, y.end)
            if start < end:
                out.append(Interval(start, end))
    return out


def _minus(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """The parts of merged ``a`` outside merged ``b``."""
    out = []
    for x in a:
        cursor = x.start
        for y in b:
            if y.end <= cursor or y.start >= x.end:
                continue
            if y.start > cursor:
                out.append(Interval(cursor, y.start))
            cursor = max(cursor, y.end)
        if cursor < x.end:
            out.append(Interval(cursor, x.end))
    return out


def programme_windows(programme: Programme, zone: ZoneInfo) -> dict[int, list[Interval]]:
    """Per live session, the programme time (UTC) it carries: the items a participant must
    attend (art. 5 lit. a), breaks and satellite symposia left out."""
    windows: dict[int, list[Interval]] = defaultdict(list)
    for item in programme.agenda:
        if item.live_session_id is None or not item.kind.is_programme_time:
            continue
        windows[int(item.live_session_id)].append(
            Interval(
                item.starts_at.replace(tzinfo=zone).astimezone(UTC),
                item.ends_at.replace(tzinfo=zone).astimezone(UTC),
            )
        )
    return {live_id: _merge(ivs) for live_id, ivs in windows.items()}


def presence_from_connections(
    programme: Programme, zone: ZoneInfo, connections: Iterable[Connection], *, now: datetime,
    also: Iterable[str] = (),
) -> list[Presence]:
    """Each connected person's seconds present per live session, inside programme time.

    A person's connections to one live session are merged first (two tabs count once); what
    remains of the programme time outside them is absence. Open connections count until ``now``.
    """
    windows = programme_windows(programme, zone)
    by_person: dict[str, list[Connection]] = defaultdict(list)
    for c in connections:
        by_person[c.person_id].append(c)
    for person in also:  # took the test without watching: absent from every live session
        by_person.setdefault(person, [])
    result = []
    for person in sorted(by_person):
        conns = by_person[person]
        per_live: dict[int, list[Interval]] = defaultdict(list)
        for c in conns:
            per_live[c.live_session_id].append(Interval(c.joined_at, c.left_at or now))
        seconds: dict[str, int] = {}
        absences: list[Absence] = []
        for live_id, window in sorted(windows.items()):
            merged = _merge(per_live.get(live_id, ()))
            seconds[str(live_id)] = sum(iv.seconds for iv in _overlap(merged, window))
            absences += [Absence(live_id, iv.start, iv.end) for iv in _minus(window, merged)]
        latest = max(conns, key=lambda c: c.joined_at, default=None)
        result.append(
            Presence(
                person_id=person,
                display_name=next((c.display_name for c in conns if c.display_name), person),
                role=latest.role if latest else "",
                record=AttendeeRecord(person, seconds),
                absences=tuple(absences),
                connections=len(conns),
                proof=tuple(sorted({c.via for c in conns}, key=lambda v: (v != OWN_DEVICE, v))),
            )
        )
    return result


def _connections(session: Session, live_ids: Sequence[int], *,
                 now: datetime | None = None) -> list[Connection]:
    """Everything that proves presence in the live sessions: each viewer session of a person's
    own device, and the stretches their classroom check-ins prove (``classroom_presence``).
    A classroom screen's own video connection is not a person and is left out."""
    if not live_ids:
        return []
    rows = session.execute(
        select(ViewerSession, User.display_name)
        .outerjoin(User, User.id == ViewerSession.user_id)
        .where(ViewerSession.live_session_id.in_(live_ids),
               ViewerSession.role != SCREEN_ROLE)
        .order_by(ViewerSession.joined_at, ViewerSession.id)
    )
    own = [
        Connection(
            live_session_id=v.live_session_id, person_id=v.subject, joined_at=v.joined_at,
            left_at=v.left_at, display_name=name or "", role=v.role,
        )
        for v, name in rows
    ]
    return own + _classroom_connections(session, list(live_ids), now=now or utcnow())


def _classroom_connections(session: Session, live_ids: list[int], *,
                           now: datetime) -> list[Connection]:
    checks = checks_in(session, live_ids)
    total = sum(len(c) for c in checks.values())
    ends = dict(session.execute(select(LiveSession.id, LiveSession.ended_at)
                                .where(LiveSession.id.in_(live_ids))).all())
    # person -> place -> live session -> answers
    answers: dict[str, dict[str, dict[int, list[CheckInRecord]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list)))
    for c in check_ins_of(session, live_ids):
        answers[c.subject][c.place_label][c.live_session_id].append(c)
    out = []
    for person, places in answers.items():
        for place, by_live in places.items():
            answered = sum(len(a) for a in by_live.values())
            via = f"in {place} with {answered} of {total} checks"
            for live_id, mine in by_live.items():
                moments = [CheckMoment(c.id, c.opened_at) for c in checks.get(live_id, [])]
                end = ends.get(live_id) or now
                for iv in proven_intervals(moments, [Answer(a.check_id, a.at) for a in mine],
                                           end):
                    out.append(Connection(
                        live_session_id=live_id, person_id=person, joined_at=iv.start,
                        left_at=iv.end, display_name=mine[0].display_name, role=mine[0].role,
                        via=via))
    return out


def presence_for(
    db: Database, info: ProgrammeInfo, *, now: datetime | None = None
) -> list[Presence]:
    """Everyone who watched a live session of the programme, with their presence.

    A person is the viewer session's subject (the username, or a guest token's subject), the
    same id agenda speakers and paper authors use (``person_id``).
    """
    now = now or utcnow()
    with db.session() as session:
        connections = _connections(session, info.live_session_ids, now=now)
        people = {c.person_id for c in connections}
        counts = participation_in(session, info.live_session_ids, now=now, people=people)
    tests = attempts_by_person(db, info.id, now=now)
    presence = presence_from_connections(
        info.programme, _zone(info.timezone), connections, now=now, also=tests
    )
    # Presence checks are polls on a person's own page: they are that person's to answer in a
    # live session they followed on their own device. Someone who was there only on a
    # classroom's shared screen proves presence by the classroom's check-ins instead.
    own = {(c.person_id, c.live_session_id) for c in connections if c.via == OWN_DEVICE}
    # The final test's counted attempts feed the credit engine (art. 10 lit. c, e; 26 (2)).
    return [
        replace(p, record=replace(
            p.record, test_attempts=tests.get(p.person_id, ()),
            participation={
                str(live_id): done.to_participation((p.person_id, live_id) in own)
                for live_id, done in counts.get(p.person_id, {}).items()
            }))
        for p in presence
    ]


def attendance_for(
    db: Database, info: ProgrammeInfo, *, now: datetime | None = None
) -> list[AttendeeRecord]:
    """The engine's attendance records of the programme, built from the viewer sessions."""
    return [p.record for p in presence_for(db, info, now=now)]


def programmes_attended_by(db: Database, person_id: str) -> list[ProgrammeInfo]:
    """Programmes carried by a live session that ``person_id`` watched, the latest first."""
    tested = programmes_tested_by(db, person_id)
    with db.session() as session:
        ids = session.scalars(
            select(CmeProgrammeLiveSession.programme_id)
            .join(
                ViewerSession,
                ViewerSession.live_session_id == CmeProgrammeLiveSession.live_session_id,
            )
            .where(ViewerSession.subject == person_id)
            .distinct()
        ).all()
        checked_in = session.scalars(
            select(CmeProgrammeLiveSession.programme_id)
            .join(CheckIn, CheckIn.live_session_id == CmeProgrammeLiveSession.live_session_id)
            .where(CheckIn.subject == person_id)
            .distinct()
        ).all()
        wanted = set(ids) | set(checked_in) | tested
        if not wanted:
            return []
        rows = session.scalars(
            select(CmeProgramme)
            .where(CmeProgramme.id.in_(wanted))
            .order_by(CmeProgramme.starts_on.desc(), CmeProgramme.id.desc())
        )
        return [_info(session, row) for row in rows]

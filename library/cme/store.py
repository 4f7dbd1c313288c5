"""CME programmes in the database, and attendance built from the viewer sessions.

The programme is the engine's ``Programme``, kept as JSON in one column (``programme_to_json``
and ``programme_from_json`` are the one codec, also used by the HTTP API), with the columns a
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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from enum import Enum
from fractions import Fraction
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from library.cme.attendance import AttendeeRecord
from library.cme.checker import Severity, check_programme
from library.cme.errors import ProgrammeError
from library.cme.programme import (
    MAIN_TRACK,
    AgendaItem,
    Contributor,
    ContributorRole,
    DistanceMaterial,
    FinalTest,
    ItemKind,
    Lesson,
    Level,
    Organiser,
    OrganiserKind,
    Paper,
    Programme,
    ProgrammeKind,
    Speaker,
    Sponsor,
)
from library.db import Database
from library.models import (
    CmeProgramme,
    CmeProgrammeLiveSession,
    LiveSession,
    User,
    ViewerSession,
    utcnow,
)

E = TypeVar("E", bound=Enum)

DEFAULT_TIMEZONE = "Europe/Bucharest"
MAX_DROP_TOLERANCE_SECONDS = 3600


class CmeStoreError(ValueError):
    """A programme cannot be stored as asked; the message says why and what to do."""


class ProgrammeNotFound(CmeStoreError):
    pass


class ProgrammeConflict(CmeStoreError):
    """The request clashes with the stored state (a reused ref, a submitted programme)."""


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


# -- the codec ---------------------------------------------------------------------------


def _fraction_out(value: Fraction | None) -> str | None:
    return None if value is None else str(value)


def _fraction_in(value: Any, what: str) -> Fraction | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ProgrammeError(f"{what}: {value!r} is not a number")
    try:
        return Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        raise ProgrammeError(
            f"{what}: {value!r} is not a number (write 1.5 or 3/2)"
        ) from None


def programme_to_json(programme: Programme) -> dict[str, Any]:
    """The programme as plain JSON values (dates ISO, times HH:MM, fractions "3/2")."""

    def speaker(s: Speaker | None) -> dict[str, Any] | None:
        if s is None:
            return None
        return {"name": s.name, "title": s.title, "person_id": s.person_id,
                "represents_sponsor": s.represents_sponsor}

    def clock(t: time) -> str:
        return t.strftime("%H:%M:%S" if t.second else "%H:%M")

    test = programme.final_test
    material = programme.material
    return {
        "ref": programme.ref,
        "title": programme.title,
        "kind": programme.kind.value,
        "level": programme.level.value,
        "starts_on": programme.starts_on.isoformat(),
        "ends_on": programme.ends_on.isoformat(),
        "venue": programme.venue,
        "organisers": [
            {"name": o.name, "kind": o.kind.value, "scope": o.scope.value}
            for o in programme.organisers
        ],
        "sponsors": [{"name": s.name} for s in programme.sponsors],
        "agenda": [
            {
                "ref": i.ref, "kind": i.kind.value, "day": i.day.isoformat(),
                "start": clock(i.start), "end": clock(i.end), "title": i.title,
                "speaker": speaker(i.speaker), "session": i.session, "track": i.track,
                "live_session_id": None if i.live_session_id is None else int(i.live_session_id),
            }
            for i in programme.agenda
        ],
        "lessons": [
            {"lesson_id": lesson.lesson_id, "title": lesson.title,
             "duration_seconds": lesson.duration_seconds}
            for lesson in programme.lessons
        ],
        "learning_hours": _fraction_out(programme.learning_hours),
        "material": None if material is None else {
            "pages": material.pages, "characters_per_page": material.characters_per_page,
            "max_figures_per_page": material.max_figures_per_page,
        },
        "final_test": None if test is None else {
            "question_count": test.question_count, "pass_ratio": str(test.pass_ratio),
            "max_attempts": test.max_attempts,
        },
        "papers": [
            {"ref": p.ref, "title": p.title, "first_author_id": p.first_author_id,
             "co_author_ids": list(p.co_author_ids)}
            for p in programme.papers
        ],
        "contributors": [
            {"person_id": c.person_id, "role": c.role.value,
             "learning_hours": str(c.learning_hours)}
            for c in programme.contributors
        ],
        "foreign_credits": programme.foreign_credits,
        "request_filed_on": _iso(programme.request_filed_on),
        "final_programme_filed_on": _iso(programme.final_programme_filed_on),
    }


def programme_from_json(data: Mapping[str, Any]) -> Programme:
    """Build the engine's programme; ``ProgrammeError`` names the field or item that is wrong."""
    try:
        return _programme_from_json(data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ProgrammeError(f"programme JSON is missing or mistypes a field: {exc}") from None


def _programme_from_json(data: Mapping[str, Any]) -> Programme:
    def speaker(s: Mapping[str, Any] | None) -> Speaker | None:
        if not s:
            return None
        return Speaker(
            name=str(s["name"]), title=str(s.get("title") or ""),
            person_id=s.get("person_id") or None,
            represents_sponsor=s.get("represents_sponsor") or None,
        )

    def item(i: Mapping[str, Any]) -> AgendaItem:
        live = i.get("live_session_id")
        return AgendaItem(
            ref=str(i["ref"]),
            kind=_enum(ItemKind, i["kind"], f"agenda item {i.get('ref')!r}: kind"),
            day=_date(i["day"], f"agenda item {i.get('ref')!r}: day"),
            start=_time(i["start"], f"agenda item {i.get('ref')!r}: start"),
            end=_time(i["end"], f"agenda item {i.get('ref')!r}: end"),
            title=str(i.get("title") or ""),
            speaker=speaker(i.get("speaker")),
            session=i.get("session") or None,
            track=str(i.get("track") or MAIN_TRACK),
            live_session_id=None if live is None else str(_live_id(live, i.get("ref"))),
        )

    test = data.get("final_test")
    material = data.get("material")
    learning = _fraction_in(data.get("learning_hours"), "learning_hours")
    return Programme(
        ref=_text(data["ref"], "ref", 64),
        title=_text(data["title"], "title", 300),
        kind=_enum(ProgrammeKind, data["kind"], "kind"),
        level=_enum(Level, data["level"], "level"),
        starts_on=_date(data["starts_on"], "starts_on"),
        ends_on=_date(data["ends_on"], "ends_on"),
        venue=str(data.get("venue") or ""),
        organisers=tuple(
            Organiser(
                name=_text(o["name"], "organiser name", 300),
                kind=_enum(OrganiserKind, o.get("kind", "accredited_provider"), "organiser kind"),
                scope=_enum(Level, o.get("scope", "national"), "organiser scope"),
            )
            for o in data.get("organisers") or ()
        ),
        sponsors=tuple(Sponsor(str(s["name"])) for s in data.get("sponsors") or ()),
        agenda=tuple(item(i) for i in data.get("agenda") or ()),
        lessons=tuple(
            Lesson(str(x["lesson_id"]), str(x.get("title") or ""), int(x["duration_seconds"]))
            for x in data.get("lessons") or ()
        ),
        learning_hours=learning,
        material=None if not material else DistanceMaterial(
            pages=int(material["pages"]),
            characters_per_page=int(material["characters_per_page"]),
            max_figures_per_page=int(material.get("max_figures_per_page") or 0),
        ),
        final_test=None if not test else FinalTest(
            question_count=int(test["question_count"]),
            pass_ratio=_fraction_in(test.get("pass_ratio", "3/4"), "final_test.pass_ratio")
            or Fraction(0),
            max_attempts=int(test.get("max_attempts", 2)),
        ),
        papers=tuple(
            Paper(str(p["ref"]), str(p.get("title") or ""), str(p["first_author_id"]),
                  tuple(str(c) for c in p.get("co_author_ids") or ()))
            for p in data.get("papers") or ()
        ),
        contributors=tuple(
            Contributor(
                str(c["person_id"]),
                _enum(ContributorRole, c["role"], "contributor role"),
                _fraction_in(c["learning_hours"], "contributor learning_hours") or Fraction(0),
            )
            for c in data.get("contributors") or ()
        ),
        foreign_credits=None if data.get("foreign_credits") is None
        else int(data["foreign_credits"]),
        request_filed_on=_optional_date(data.get("request_filed_on"), "request_filed_on"),
        final_programme_filed_on=_optional_date(
            data.get("final_programme_filed_on"), "final_programme_filed_on"
        ),
    )


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _text(value: Any, what: str, limit: int) -> str:
    text = str(value).strip()
    if not text:
        raise ProgrammeError(f"{what} is empty")
    if len(text) > limit:
        raise ProgrammeError(f"{what} is longer than {limit} characters")
    return text


def _enum(cls: type[E], value: Any, what: str) -> E:
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in cls)
        raise ProgrammeError(f"{what}: {value!r} is not one of {allowed}") from None


def _date(value: Any, what: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ProgrammeError(f"{what}: {value!r} is not a date (YYYY-MM-DD)") from None


def _optional_date(value: Any, what: str) -> date | None:
    return None if value in (None, "") else _date(value, what)


def _time(value: Any, what: str) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise ProgrammeError(f"{what}: {value!r} is not a time (HH:MM)") from None


def _live_id(value: Any, ref: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number <= 0 or isinstance(value, bool):
        raise ProgrammeError(
            f"agenda item {ref!r}: live_session_id {value!r} must be a MedRoom live session id"
            " (a positive whole number)"
        )
    return number


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
    return ProgrammeInfo(
        id=row.id, ref=row.ref, title=row.title, kind=ProgrammeKind(row.kind),
        level=Level(row.level), starts_on=row.starts_on, ends_on=row.ends_on,
        organiser=row.organiser, status=ProgrammeStatus(row.status), timezone=row.timezone,
        drop_tolerance_seconds=row.drop_tolerance_seconds,
        live_session_ids=_links(session, row.id),
        programme=programme_from_json(row.programme), created_by=row.created_by,
        created_at=row.created_at, updated_at=row.updated_at, submitted_at=row.submitted_at,
    )


def _agenda_live_ids(programme: Programme) -> set[int]:
    return {int(i.live_session_id) for i in programme.agenda if i.live_session_id is not None}


def _write(session: Session, row: CmeProgramme, programme: Programme) -> None:
    """Copy the programme into the row and derive the live-session links from its agenda."""
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
    session.flush()


def create_programme(
    db: Database,
    programme: Programme,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    drop_tolerance_seconds: int = 0,
    created_by: int | None = None,
) -> ProgrammeInfo:
    """Store a new draft programme; the agenda's live sessions are linked to it."""
    _zone(timezone)
    now = utcnow()
    row = CmeProgramme(
        status=ProgrammeStatus.DRAFT.value, timezone=timezone,
        drop_tolerance_seconds=_tolerance(drop_tolerance_seconds), created_by=created_by,
        created_at=now,
    )
    with db.session() as session:
        _write(session, row, programme)
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
    timezone: str | None = None,
    drop_tolerance_seconds: int | None = None,
) -> ProgrammeInfo:
    """Replace a draft programme (the whole model); a submitted one is refused."""
    with db.session() as session:
        row = _row(session, programme_id)
        _draft(row)
        if timezone is not None:
            _zone(timezone)
            row.timezone = timezone
        if drop_tolerance_seconds is not None:
            row.drop_tolerance_seconds = _tolerance(drop_tolerance_seconds)
        _write(session, row, programme)
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
    db: Database, programme_id: int, live_session_id: int, item_refs: Iterable[str]
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
        _write(session, row, replace(programme, agenda=agenda))
        return _info(session, row)


def submit_programme(db: Database, programme_id: int) -> ProgrammeInfo:
    """Mark a draft as submitted; refused while the checker finds an error."""
    with db.session() as session:
        row = _row(session, programme_id)
        _draft(row)
        errors = [
            f for f in check_programme(programme_from_json(row.programme))
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
    programme: Programme, zone: ZoneInfo, connections: Iterable[Connection], *, now: datetime
) -> list[Presence]:
    """Each connected person's seconds present per live session, inside programme time.

    A person's connections to one live session are merged first (two tabs count once); what
    remains of the programme time outside them is absence. Open connections count until ``now``.
    """
    windows = programme_windows(programme, zone)
    by_person: dict[str, list[Connection]] = defaultdict(list)
    for c in connections:
        by_person[c.person_id].append(c)
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
        latest = max(conns, key=lambda c: c.joined_at)
        result.append(
            Presence(
                person_id=person,
                display_name=next((c.display_name for c in conns if c.display_name), person),
                role=latest.role,
                record=AttendeeRecord(person, seconds),
                absences=tuple(absences),
                connections=len(conns),
            )
        )
    return result


def _connections(session: Session, live_ids: Sequence[int]) -> list[Connection]:
    if not live_ids:
        return []
    rows = session.execute(
        select(ViewerSession, User.display_name)
        .outerjoin(User, User.id == ViewerSession.user_id)
        .where(ViewerSession.live_session_id.in_(live_ids))
        .order_by(ViewerSession.joined_at, ViewerSession.id)
    )
    return [
        Connection(
            live_session_id=v.live_session_id, person_id=v.subject, joined_at=v.joined_at,
            left_at=v.left_at, display_name=name or "", role=v.role,
        )
        for v, name in rows
    ]


def presence_for(
    db: Database, info: ProgrammeInfo, *, now: datetime | None = None
) -> list[Presence]:
    """Everyone who watched a live session of the programme, with their presence.

    A person is the viewer session's subject (the username, or a guest token's subject), the
    same id agenda speakers and paper authors use (``person_id``).
    """
    with db.session() as session:
        connections = _connections(session, info.live_session_ids)
    return presence_from_connections(
        info.programme, _zone(info.timezone), connections, now=now or utcnow()
    )


def attendance_for(
    db: Database, info: ProgrammeInfo, *, now: datetime | None = None
) -> list[AttendeeRecord]:
    """The engine's attendance records of the programme, built from the viewer sessions."""
    return [p.record for p in presence_for(db, info, now=now)]


def programmes_attended_by(db: Database, person_id: str) -> list[ProgrammeInfo]:
    """Programmes carried by a live session that ``person_id`` watched, the latest first."""
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
        if not ids:
            return []
        rows = session.scalars(
            select(CmeProgramme)
            .where(CmeProgramme.id.in_(ids))
            .order_by(CmeProgramme.starts_on.desc(), CmeProgramme.id.desc())
        )
        return [_info(session, row) for row in rows]

"""The one JSON form of a CME programme: what the database keeps and what the HTTP API speaks.

``programme_from_json`` checks every field and says which one is wrong (``ProgrammeError``),
so a programme from a request and one from the database are read the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time
from enum import Enum
from fractions import Fraction
from typing import Any, TypeVar

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

E = TypeVar("E", bound=Enum)


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
            "max_attempts": test.max_attempts, "time_limit_minutes": test.time_limit_minutes,
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
        "presence_check_percent": programme.presence_check_percent,
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
            time_limit_minutes=int(test.get("time_limit_minutes") or 30),
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
        presence_check_percent=_percent(data.get("presence_check_percent")),
    )


def _percent(value: Any) -> int:
    """A whole percentage; absent (programmes stored before the setting) is 0, not asked."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ProgrammeError(f"presence_check_percent: {value!r} is not a whole number")
    try:
        number = Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError):
        raise ProgrammeError(
            f"presence_check_percent: {value!r} is not a whole number from 0 to 100"
        ) from None
    if number.denominator != 1:
        raise ProgrammeError(
            f"presence_check_percent: {value!r} must be a whole percentage (0 to 100)"
        )
    return int(number)  # the range is Programme's to check, with its message


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

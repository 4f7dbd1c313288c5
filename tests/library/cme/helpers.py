"""Small builders for CME programmes, so each test shows only what it is about."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

from library.cme import (
    AgendaItem,
    FinalTest,
    Finding,
    ItemKind,
    Level,
    Organiser,
    OrganiserKind,
    Programme,
    ProgrammeKind,
    Speaker,
    check_programme,
)

DAY = date(2025, 3, 10)  # a Monday
SPEAKER = Speaker("Ana Popescu", "Prof. dr.", person_id="ana")
ORGANISERS = (
    Organiser("UMF Iasi", OrganiserKind.UNIVERSITY),
    Organiser("Colegiul Medicilor Iasi", OrganiserKind.TERRITORIAL_COLLEGE, Level.LOCAL),
)


def at(hhmm: str) -> time:
    hours, minutes = hhmm.split(":")
    return time(int(hours), int(minutes))


def item(
    ref: str, kind: ItemKind, start: str, end: str, *, day: date = DAY, **kw: Any
) -> AgendaItem:
    if kind is ItemKind.LECTURE:
        kw.setdefault("speaker", SPEAKER)
        kw.setdefault("title", f"Lecture {ref}")
    return AgendaItem(ref, kind, day, at(start), at(end), **kw)


def lecture(ref: str, start: str, end: str, **kw: Any) -> AgendaItem:
    return item(ref, ItemKind.LECTURE, start, end, **kw)


def pause(ref: str, start: str, end: str, **kw: Any) -> AgendaItem:
    return item(ref, ItemKind.BREAK, start, end, **kw)


def full_day(prefix: str = "", day: date = DAY, **kw: Any) -> tuple[AgendaItem, ...]:
    """Six effective hours that respect every rule of art. 5 lit. d.

    09:00-11:00 lecture (2 h, the maximum), 11:00-11:15 break (15 min, the minimum),
    11:15-12:45 lecture + 12:45-13:15 discussion (30 min of a 2 h session: exactly a quarter),
    13:15-14:00 lunch, 14:00-16:00 lecture.
    """
    return (
        lecture(f"{prefix}l1", "09:00", "11:00", day=day, **kw),
        pause(f"{prefix}b1", "11:00", "11:15", day=day),
        lecture(f"{prefix}l2", "11:15", "12:45", day=day, session=f"{prefix}s2", **kw),
        item(
            f"{prefix}d2",
            ItemKind.DISCUSSION,
            "12:45",
            "13:15",
            day=day,
            session=f"{prefix}s2",
            **kw,
        ),
        pause(f"{prefix}lunch", "13:15", "14:00", day=day),
        lecture(f"{prefix}l3", "14:00", "16:00", day=day, **kw),
    )


def programme(
    *agenda: AgendaItem,
    kind: ProgrammeKind = ProgrammeKind.SCIENTIFIC_EVENT,
    level: Level = Level.NATIONAL,
    **kw: Any,
) -> Programme:
    """A programme around ``agenda`` that is otherwise in order: dates from the agenda,
    request filed 60 days and the final programme 10 days ahead, a venue, organisers with the
    territorial college, a final test for courses."""
    days = [i.day for i in agenda] or [DAY]
    starts_on: date = kw.pop("starts_on", min(days))
    kw.setdefault("ends_on", max(days + [starts_on]))
    kw.setdefault("request_filed_on", starts_on - timedelta(days=60))
    kw.setdefault("final_programme_filed_on", starts_on - timedelta(days=10))
    kw.setdefault("venue", "Iasi, Aula UMF")
    kw.setdefault("organisers", ORGANISERS)
    if kind.is_course or kind.is_distance:
        kw.setdefault("final_test", FinalTest(question_count=30))
    return Programme(
        ref="p1",
        title="Neurochirurgie endoscopica",
        kind=kind,
        level=level,
        starts_on=starts_on,
        agenda=tuple(agenda),
        **kw,
    )


def findings(prog: Programme, article: str | None = None, **kw: Any) -> list[Finding]:
    found = check_programme(prog, **kw)
    return [f for f in found if article is None or f.article == article]

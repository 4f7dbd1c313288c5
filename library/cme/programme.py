"""A CME programme (program de EMC) as the organiser declares it to the College of Physicians.

The model follows the procedure's own categories: the kind of programme (art. 2-4, 9), its
level (art. 13 lit. a, art. 14 lit. e), the detailed programme by the hour that must go with
every request (art. 6 alin. (1), art. 16 alin. (1)), organisers and sponsors, and the MedRoom
live sessions and library lessons it is made of.

Construction refuses data that cannot describe a real programme (``ProgrammeError``); whether a
well-formed programme respects the procedure is the checker's business, so an organiser can
still see the credits and every finding of a draft that breaks the rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import Enum
from fractions import Fraction
from itertools import pairwise

from library.cme.errors import ProgrammeError
from library.cme.limits import MIN_PASS_RATIO
from library.i18n import LazyText, gettext, lazy, shown

MAIN_TRACK = "main"


class ProgrammeKind(Enum):
    """Forms of EMC the procedure credits from attendance."""

    POSTGRADUATE_COURSE = "postgraduate_course"
    """Curs de învățământ postuniversitar (art. 2 lit. a)."""
    CONTINUING_EDUCATION_COURSE = "continuing_education_course"
    """Curs de educație permanentă / formare continuă, atelier, stagiu practic (art. 3)."""
    SCIENTIFIC_EVENT = "scientific_event"
    """Manifestare științifică: congress, conference, symposium, round table (art. 4 lit. a)."""
    DISTANCE_BY_POST = "distance_by_post"
    """EMCD prin poștă: printed or e-mailed material, here journal articles (art. 9 lit. a)."""
    DISTANCE_ONLINE = "distance_online"
    """EMCD prin internet: online, interactive, secured final test (art. 9 lit. b)."""

    @property
    def is_course(self) -> bool:
        """Credited under art. 7-8 (the forms of art. 2 lit. a and art. 3)."""
        return self in (
            ProgrammeKind.POSTGRADUATE_COURSE,
            ProgrammeKind.CONTINUING_EDUCATION_COURSE,
        )

    @property
    def is_distance(self) -> bool:
        """Credited under art. 9-12 (EMC la distanță, EMCD)."""
        return self in (ProgrammeKind.DISTANCE_BY_POST, ProgrammeKind.DISTANCE_ONLINE)


class Level(Enum):
    """Nivelul de desfășurare (art. 13 lit. a); international per art. 8 lit. g-h, 14 lit. e-f."""

    LOCAL = "local"
    REGIONAL = "regional"
    NATIONAL = "national"
    INTERNATIONAL = "international"
    """Held abroad or credited by a European, American or international body."""


class ItemKind(Enum):
    """What happens in one slot of the programme by the hour."""

    LECTURE = "lecture"
    """Prelegere, conferință, comunicare orală: at most 2 h (art. 5 lit. d)."""
    DISCUSSION = "discussion"
    """Discuții: at most a quarter of their session (art. 5 lit. d)."""
    PRACTICAL_DEMONSTRATION = "practical_demonstration"
    """Demonstrație practică by the teacher: counts as theory (art. 8 lit. a)."""
    PRACTICAL_STAGE = "practical_stage"
    """Stagiu practic: participants practise (art. 8 lit. c-d)."""
    GROUP_METHOD = "group_method"
    """Metode de dinamică de grup de tip Balint: 75% of their duration (art. 8 lit. b)."""
    BREAK = "break"
    """Pauză (art. 5 lit. d)."""
    OPENING = "opening"
    """Deschiderea: never by a sponsor's representative (art. 17 alin. (1))."""
    CLOSING = "closing"
    """Închiderea: never by a sponsor's representative (art. 17 alin. (1))."""
    ANNOUNCEMENT = "announcement"
    """Organisational announcement (meals, transport): the only thing a sponsor may say."""
    SATELLITE_SYMPOSIUM = "satellite_symposium"
    """Simpozion-satelit: never credited on top of the main programme (art. 5 lit. f)."""

    @property
    def is_effective(self) -> bool:
        """Counts towards the effective duration (durata efectivă) of the programme.

        Ceremonies and announcements are programme time but not teaching, and satellite
        symposia are excluded by art. 5 lit. f; breaks are pauses.
        """
        return self in _EFFECTIVE

    @property
    def is_programme_time(self) -> bool:
        """Part of the programme a participant must attend (art. 5 lit. a); not a pause."""
        return self not in (ItemKind.BREAK, ItemKind.SATELLITE_SYMPOSIUM)


_EFFECTIVE = frozenset(
    {
        ItemKind.LECTURE,
        ItemKind.DISCUSSION,
        ItemKind.PRACTICAL_DEMONSTRATION,
        ItemKind.PRACTICAL_STAGE,
        ItemKind.GROUP_METHOD,
    }
)


def _item_kind_names() -> dict[ItemKind, LazyText]:
    return {
        ItemKind.LECTURE: lazy("lecture"),
        ItemKind.DISCUSSION: lazy("discussion"),
        ItemKind.PRACTICAL_DEMONSTRATION: lazy("practical demonstration"),
        ItemKind.PRACTICAL_STAGE: lazy("practical stage"),
        ItemKind.GROUP_METHOD: lazy("group method (Balint)"),
        ItemKind.BREAK: lazy("break"),
        ItemKind.OPENING: lazy("opening"),
        ItemKind.CLOSING: lazy("closing"),
        ItemKind.ANNOUNCEMENT: lazy("announcement"),
        ItemKind.SATELLITE_SYMPOSIUM: lazy("satellite symposium"),
    }


#: How messages name an item's kind, in the reader's language.
ITEM_KIND_NAMES = _item_kind_names()
#: How messages name a level (the value stays the API's).
LEVEL_NAMES: dict[Level, LazyText] = {
    Level.LOCAL: lazy("local"),
    Level.REGIONAL: lazy("regional"),
    Level.NATIONAL: lazy("national"),
    Level.INTERNATIONAL: lazy("international"),
}


class OrganiserKind(Enum):
    ACCREDITED_PROVIDER = "accredited_provider"
    """Furnizor de EMC acreditat de Colegiul Medicilor din România."""
    TERRITORIAL_COLLEGE = "territorial_college"
    """Colegiul teritorial al medicilor (endorses or partners non-national forms, art. 24)."""
    UNIVERSITY = "university"
    """Instituție de învățământ superior medical (art. 6 alin. (3))."""
    OTHER = "other"


@dataclass(frozen=True)
class Organiser:
    """An organiser; the first one of a programme is its main provider (furnizorul principal).

    ``scope`` is the level the provider is accredited for: a local or regional provider may not
    hold a national event (art. 14 lit. b).
    """

    name: str
    kind: OrganiserKind = OrganiserKind.ACCREDITED_PROVIDER
    scope: Level = Level.NATIONAL


@dataclass(frozen=True)
class Sponsor:
    name: str


@dataclass(frozen=True)
class Speaker:
    """A speaker as the printed programme shows them (art. 16 alin. (1)).

    ``title`` is the scientific or professional title ("Prof. dr.", "medic primar").
    ``person_id`` links the speaker to a MedRoom user for the lecturer credits (art. 8 lit. e,
    art. 14 lit. c); ``represents_sponsor`` names the sponsor they speak for (art. 17).
    """

    name: str
    title: str = ""
    person_id: str | None = None
    represents_sponsor: str | None = None


@dataclass(frozen=True)
class AgendaItem:
    """One slot of the detailed programme by the hour (programul detaliat pe ore).

    Items in the same ``session`` form a session (sesiune) for the discussion rule; items on
    different ``track``s (rooms, sections) that overlap in time are parallel sessions
    (art. 5 lit. g). ``live_session_id`` is the MedRoom live session that carries the item.
    """

    ref: str
    kind: ItemKind
    day: date
    start: time
    end: time
    title: str = ""
    speaker: Speaker | None = None
    session: str | None = None
    track: str = MAIN_TRACK
    live_session_id: str | None = None

    def __post_init__(self) -> None:
        if not self.ref:
            raise ProgrammeError("an agenda item needs a ref (any id unique in the programme)")
        if self.end <= self.start:
            raise ProgrammeError(
                f"agenda item {self.ref!r} on {self.day}: ends at {self.end:%H:%M}, not after"
                f" its start at {self.start:%H:%M}; give an end later than the start (items"
                " cannot cross midnight: split them at 24:00)"
            )

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.day, self.start)

    @property
    def ends_at(self) -> datetime:
        return datetime.combine(self.day, self.end)

    @property
    def minutes(self) -> Fraction:
        return Fraction(self.seconds, 60)

    @property
    def seconds(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds())

    def label(self) -> str:
        """How messages name the item: its kind, ref, title, day and hours (in the current
        language: "lecture 'l1' 'Rinoplastie' on 2025-03-10 09:00-10:00")."""
        title = f" {self.title!r}" if self.title else ""
        kind = ITEM_KIND_NAMES.get(self.kind)
        return gettext("%(kind)s %(ref)s%(title)s on %(day)s %(start)s-%(end)s",
                       kind=shown(kind) if kind is not None else self.kind.value,
                       ref=repr(self.ref), title=title, day=self.day,
                       start=f"{self.start:%H:%M}", end=f"{self.end:%H:%M}")


def overlapping_groups(items: Iterable[AgendaItem]) -> list[list[AgendaItem]]:
    """Items grouped where they overlap in time, in start order; a chain of overlaps (A with
    B, B with C) is one group. Items that only touch (one ends as the next starts) do not."""
    groups: list[list[AgendaItem]] = []
    end: datetime | None = None
    for item in sorted(items, key=lambda i: (i.starts_at, i.ends_at)):
        if groups and end is not None and item.starts_at < end:
            groups[-1].append(item)
            end = max(end, item.ends_at)
        else:
            groups.append([item])
            end = item.ends_at
    return groups


@dataclass(frozen=True)
class Lesson:
    """A MedRoom library lesson (recorded material) that is part of the programme."""

    lesson_id: str
    title: str
    duration_seconds: int

    def __post_init__(self) -> None:
        if self.duration_seconds <= 0:
            raise ProgrammeError(
                f"lesson {self.lesson_id!r}: duration {self.duration_seconds} s must be positive"
            )


@dataclass(frozen=True)
class DistanceMaterial:
    """The written support of a distance programme, as art. 10 lit. b and d measure it."""

    pages: int
    characters_per_page: int
    max_figures_per_page: int = 0

    def __post_init__(self) -> None:
        if self.pages <= 0 or self.characters_per_page <= 0 or self.max_figures_per_page < 0:
            raise ProgrammeError(
                f"distance material: pages ({self.pages}) and characters per page"
                f" ({self.characters_per_page}) must be positive, figures per page"
                f" ({self.max_figures_per_page}) not negative"
            )


@dataclass(frozen=True)
class FinalTest:
    """The final evaluation (testul de evaluare, proba de evaluare finală)."""

    question_count: int
    pass_ratio: Fraction = MIN_PASS_RATIO
    max_attempts: int = 2
    time_limit_minutes: int = 30
    """How long an attempt may take, counted on the server from the moment it starts."""

    def __post_init__(self) -> None:
        if not 1 <= self.time_limit_minutes <= 600:
            raise ProgrammeError(
                f"final test: time limit {self.time_limit_minutes} min must be 1 to 600 minutes"
            )
        if self.question_count <= 0 or self.max_attempts <= 0:
            raise ProgrammeError(
                f"final test: {self.question_count} questions and {self.max_attempts} attempts;"
                " both must be positive"
            )
        if not 0 < self.pass_ratio <= 1:
            raise ProgrammeError(f"final test: pass ratio {self.pass_ratio} must be in (0, 1]")


@dataclass(frozen=True)
class Paper:
    """A paper, poster or oral communication accepted at a scientific event (art. 14 lit. d)."""

    ref: str
    title: str
    first_author_id: str
    co_author_ids: tuple[str, ...] = ()


class ContributorRole(Enum):
    """Art. 11 lit. e: coordonatori, autori și tutori de programe de EMCD."""

    COORDINATOR = "coordinator"
    AUTHOR = "author"
    TUTOR = "tutor"


@dataclass(frozen=True)
class Contributor:
    """Someone who made a distance programme; ``learning_hours`` is the part that is theirs."""

    person_id: str
    role: ContributorRole
    learning_hours: Fraction

    def __post_init__(self) -> None:
        if self.learning_hours < 0:
            raise ProgrammeError(
                f"contributor {self.person_id!r}: learning hours {self.learning_hours} are negative"
            )


@dataclass(frozen=True)
class Programme:
    """A CME programme as submitted for crediting.

    ``request_filed_on`` and ``final_programme_filed_on`` are the dates the crediting request
    (cererea-tip) and the final scientific programme were (or will be) filed; art. 6 alin. (2)
    and art. 12 alin. (1) count days from them to ``starts_on``. ``learning_hours`` is the
    learning time of a distance programme as assessed on a pilot group (art. 10 lit. a).
    ``foreign_credits`` are the credits conferred by a European or international body
    (art. 8 lit. g, art. 11 lit. d, art. 14 lit. e), if any.
    """

    ref: str
    title: str
    kind: ProgrammeKind
    level: Level
    starts_on: date
    ends_on: date
    organisers: tuple[Organiser, ...]
    agenda: tuple[AgendaItem, ...] = ()
    sponsors: tuple[Sponsor, ...] = ()
    venue: str = ""
    lessons: tuple[Lesson, ...] = ()
    learning_hours: Fraction | None = None
    material: DistanceMaterial | None = None
    final_test: FinalTest | None = None
    papers: tuple[Paper, ...] = ()
    contributors: tuple[Contributor, ...] = ()
    foreign_credits: int | None = None
    request_filed_on: date | None = None
    final_programme_filed_on: date | None = None
    presence_check_percent: int = 0
    """The organiser's choice: the share (in %) of a live session's presence checks (polls
    flagged as such) an attendee who watched it must answer for its credits; 0 asks for none."""

    def __post_init__(self) -> None:
        if (isinstance(self.presence_check_percent, bool)
                or not isinstance(self.presence_check_percent, int)
                or not 0 <= self.presence_check_percent <= 100):
            raise ProgrammeError(
                f"presence checks to answer: {self.presence_check_percent!r} must be a whole"
                " percentage from 0 (not required) to 100 (every presence check)"
            )
        if self.ends_on < self.starts_on:
            raise ProgrammeError(
                f"programme {self.ref!r}: ends on {self.ends_on}, before it starts on"
                f" {self.starts_on}"
            )
        _unique("agenda item", [item.ref for item in self.agenda], self.ref)
        _unique("lesson", [lesson.lesson_id for lesson in self.lessons], self.ref)
        _unique("paper", [paper.ref for paper in self.papers], self.ref)
        for item in self.agenda:
            if not self.starts_on <= item.day <= self.ends_on:
                raise ProgrammeError(
                    f"programme {self.ref!r}: {item.label()} lies outside the programme's dates"
                    f" {self.starts_on}..{self.ends_on}"
                )
        _refuse_overlaps(self.agenda, self.ref)
        if self.kind.is_distance:
            if self.learning_hours is None or self.learning_hours <= 0:
                raise ProgrammeError(
                    f"distance programme {self.ref!r}: learning_hours must be the positive"
                    " learning time assessed on a pilot group (art. 10 lit. a), got"
                    f" {self.learning_hours}"
                )
        elif self.learning_hours is not None and self.learning_hours < 0:
            raise ProgrammeError(f"programme {self.ref!r}: learning hours are negative")
        if self.foreign_credits is not None and self.foreign_credits < 0:
            raise ProgrammeError(
                f"programme {self.ref!r}: foreign credits {self.foreign_credits} are negative"
            )

    @property
    def main_provider(self) -> Organiser | None:
        return self.organisers[0] if self.organisers else None

    @property
    def days(self) -> int:
        """Calendar days from the first to the last day, both included."""
        return (self.ends_on - self.starts_on).days + 1

    def item(self, ref: str) -> AgendaItem:
        for item in self.agenda:
            if item.ref == ref:
                return item
        raise ProgrammeError(f"programme {self.ref!r} has no agenda item {ref!r}")


def _unique(what: str, refs: list[str], programme_ref: str) -> None:
    seen: set[str] = set()
    for ref in refs:
        if ref in seen:
            raise ProgrammeError(
                f"programme {programme_ref!r}: {what} ref {ref!r} is used twice; refs must be"
                " unique"
            )
        seen.add(ref)


def _refuse_overlaps(agenda: tuple[AgendaItem, ...], programme_ref: str) -> None:
    """Two items of one track at the same time cannot both happen in the same room.

    Parallel sessions belong on separate tracks; a satellite symposium is held apart from the
    main programme, so it is allowed to overlap (art. 5 lit. f then keeps it uncredited).
    """
    by_track: dict[tuple[date, str], list[AgendaItem]] = defaultdict(list)
    for item in agenda:
        if item.kind is not ItemKind.SATELLITE_SYMPOSIUM:
            by_track[(item.day, item.track)].append(item)
    for (day, track), items in by_track.items():
        items.sort(key=lambda i: (i.start, i.end))
        for before, after in pairwise(items):
            if after.start < before.end:
                raise ProgrammeError(
                    f"programme {programme_ref!r}: on {day}, track {track!r}, {before.label()}"
                    f" overlaps {after.label()}; move one, or put parallel sessions on their"
                    " own track"
                )

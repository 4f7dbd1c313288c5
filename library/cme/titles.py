"""Professional titles that art. 29 adds, once, to the credits of a doctor's five-year assessment.

Art. 29 alin. (1): the professional score is the total of the EMC credits, to which are added,
once, credits for professional titles obtained within the five years counted. Lit. a-h give a
fixed number per title; lit. i gives university teaching staff 40 credits per year of confirmed
activity. Alin. (3): a master's degree and a complementary-studies certificate that the
Ministry of Health approved as equivalent (e.g. health services management) count once, the
larger. The titles are what the doctor declares; the College checks them against the documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from fractions import Fraction

from library.cme.credits import Step
from library.cme.errors import ProgrammeError
from library.i18n import gettext, lazy, ngettext, shown


class TitleKind(Enum):
    """Art. 29 alin. (1) lit. a-i, with the credits each earns."""

    RESIDENT = "resident"
    SPECIALIST = "specialist"
    COMPLEMENTARY_STUDIES = "complementary_studies"
    PRIMAR = "primar"
    DOCTORATE = "doctorate"
    MASTER = "master"
    TRAINER = "trainer"
    TRAINER_OF_TRAINERS = "trainer_of_trainers"
    UNIVERSITY_TEACHING = "university_teaching"

    @property
    def article(self) -> str:
        return f"art. 29 alin. (1) lit. {_LETTER[self]}"

    @property
    def credits(self) -> int:
        """Credits of the title; for university teaching, per year of activity."""
        return _CREDITS[self]

    @property
    def label(self) -> str:
        return shown(_LABEL[self])

    @property
    def per_year(self) -> bool:
        return self is TitleKind.UNIVERSITY_TEACHING


_LETTER = dict(zip(TitleKind, "abcdefghi", strict=True))
_CREDITS = {
    TitleKind.RESIDENT: 50,
    TitleKind.SPECIALIST: 200,
    TitleKind.COMPLEMENTARY_STUDIES: 75,
    TitleKind.PRIMAR: 250,
    TitleKind.DOCTORATE: 300,
    TitleKind.MASTER: 100,
    TitleKind.TRAINER: 75,
    TitleKind.TRAINER_OF_TRAINERS: 100,
    TitleKind.UNIVERSITY_TEACHING: 40,
}
_LABEL = {
    TitleKind.RESIDENT: lazy("medic rezident (residency competition passed)"),
    TitleKind.SPECIALIST: lazy("medic specialist (also a further specialty)"),
    TitleKind.COMPLEMENTARY_STUDIES: lazy("atestat de studii complementare"),
    TitleKind.PRIMAR: lazy("medic primar (also a second specialty)"),
    TitleKind.DOCTORATE: lazy("doctor în medicină (PhD)"),
    TitleKind.MASTER: lazy("master's degree in a medical field"),
    TitleKind.TRAINER: lazy("formator acreditat (Ministry of Health)"),
    TitleKind.TRAINER_OF_TRAINERS: lazy("formator de formatori (Ministry of Health)"),
    TitleKind.UNIVERSITY_TEACHING: lazy("university teaching staff, per year of confirmed"
                                        " activity"),
}


@dataclass(frozen=True)
class Title:
    """A title as the doctor declares it.

    ``subject`` says which one (the specialty, the certificate's field, the thesis domain);
    two titles of one kind with the same subject are the same title, counted once. For
    university teaching, ``years`` are the calendar years of confirmed activity and
    ``obtained_on`` the date the first appointment started.
    """

    kind: TitleKind
    obtained_on: date
    subject: str = ""
    years: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind.per_year:
            if not self.years:
                raise ProgrammeError(
                    "university teaching (art. 29 lit. i) earns credits per year: list the"
                    " years of activity the university confirmed"
                )
            wrong = [y for y in self.years if y < self.obtained_on.year]
            if wrong:
                raise ProgrammeError(
                    f"university teaching: year(s) {', '.join(map(str, wrong))} come before the"
                    f" appointment on {self.obtained_on}"
                )
        elif self.years:
            raise ProgrammeError(
                f"{self.kind.label}: only university teaching is credited per year; leave"
                " the years empty"
            )

    @property
    def identity(self) -> tuple[TitleKind, str]:
        return self.kind, " ".join(self.subject.casefold().split())


@dataclass(frozen=True)
class TitleCredit:
    title: Title
    credits: int
    counted: bool
    steps: tuple[Step, ...]

    def explain(self) -> str:
        return "\n".join(str(s) for s in self.steps)


@dataclass(frozen=True)
class TitlesTotal:
    credits: int
    items: tuple[TitleCredit, ...]


def title_credits(titles: Sequence[Title], *, since: date, until: date) -> TitlesTotal:
    """What each title adds to the assessment of the window ``since``..``until``, once."""
    items: list[TitleCredit] = []
    seen: set[tuple[TitleKind, str]] = set()
    for title in sorted(titles, key=lambda t: (t.obtained_on, t.kind.value, t.subject)):
        items.append(_one(title, since, until, seen))
    items = _equivalent_master(items)
    return TitlesTotal(sum(i.credits for i in items if i.counted), tuple(items))


def _one(
    title: Title, since: date, until: date, seen: set[tuple[TitleKind, str]]
) -> TitleCredit:
    kind = title.kind
    what = f"{kind.label}{f' ({title.subject})' if title.subject else ''}"
    if title.identity in seen:
        return _not_counted(title, "art. 29 alin. (1)",
                            gettext("%(title)s already counted: once only", title=what))
    seen.add(title.identity)
    if kind.per_year:
        years = _years_in_window(title.years, since, until)
        if not years:
            return _not_counted(
                title, kind.article,
                gettext("%(title)s: no year of activity inside the five years"
                        " %(since)s..%(until)s", title=what, since=since, until=until),
            )
        credits = kind.credits * len(years)
        step = Step(
            kind.article,
            ngettext("%(title)s: %(num)s credit x %(count)s year(s) (%(years)s)",
                     "%(title)s: %(num)s credits x %(count)s year(s) (%(years)s)", kind.credits,
                     title=what, count=len(years), years=", ".join(map(str, years))),
            Fraction(credits),
        )
        return TitleCredit(title, credits, True, (step,))
    if not since <= title.obtained_on <= until:
        return _not_counted(
            title, kind.article,
            gettext("%(title)s obtained on %(date)s, outside the five years %(since)s..%(until)s",
                    title=what, date=title.obtained_on, since=since, until=until),
        )
    step = Step(
        kind.article,
        ngettext("%(title)s obtained on %(date)s: %(num)s credit, added once",
                 "%(title)s obtained on %(date)s: %(num)s credits, added once", kind.credits,
                 title=what, date=title.obtained_on),
        Fraction(kind.credits),
    )
    return TitleCredit(title, kind.credits, True, (step,))


def _years_in_window(years: Iterable[int], since: date, until: date) -> list[int]:
    """Calendar years wholly after the window opens, up to the current one: at most five."""
    return sorted({y for y in years if since.year < y <= until.year})


def _not_counted(title: Title, article: str, reason: str) -> TitleCredit:
    return TitleCredit(title, 0, False, (Step(article, reason, Fraction(0)),))


def _equivalent_master(items: list[TitleCredit]) -> list[TitleCredit]:
    """Art. 29 alin. (3): an equivalent master and certificate count once, the larger."""
    by_subject: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        if item.counted and item.title.kind in (
            TitleKind.MASTER, TitleKind.COMPLEMENTARY_STUDIES
        ) and item.title.subject:
            by_subject.setdefault(item.title.identity[1], []).append(index)
    for indexes in by_subject.values():
        kinds = {items[i].title.kind for i in indexes}
        if len(kinds) < 2:
            continue
        keep = max(indexes, key=lambda i: items[i].credits)
        for i in indexes:
            if i == keep:
                continue
            dropped = items[i]
            items[i] = TitleCredit(dropped.title, 0, False, dropped.steps + (
                Step(
                    "art. 29 alin. (3)",
                    gettext("equivalent to the %(title)s in '%(subject)s': only the larger score"
                            " counts", title=items[keep].title.kind.label,
                            subject=items[keep].title.subject),
                    Fraction(0),
                ),
            ))
    return items

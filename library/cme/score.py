"""A doctor's five-year score: which programmes count, why the others do not, and the total.

Pure functions over what the credit engine already gave the doctor per programme. The credits
are gathered over five years (art. 29 alin. (1)); inside them, drafts not yet submitted to the
College and programmes with no credits are left out, and ``totals`` decides what may be added
together (art. 5 lit. i, art. 11 lit. c). Each programme gets a note saying why it counts or
not, and the score adds the art. 29 titles once (``titles``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from library.cme.credits import AttendeeCredits
from library.cme.programme import ProgrammeKind
from library.cme.titles import TitlesTotal
from library.cme.totals import Award, Exclusion, total_credits
from library.i18n import gettext

TOTAL_YEARS = 5  # the credits a doctor gathers are counted over five years (art. 29)


def five_years_before(day: date) -> date:
    """The first day of the five years that end on ``day`` (29 February: the 28th)."""
    try:
        return day.replace(year=day.year - TOTAL_YEARS)
    except ValueError:  # 29 February
        return day.replace(year=day.year - TOTAL_YEARS, day=28)


@dataclass(frozen=True)
class Attended:
    """A programme the doctor attended, and what the engine gave them for it."""

    programme_ref: str
    kind: ProgrammeKind
    starts_on: date
    ends_on: date
    submitted: bool
    """Submitted to the College; a draft's credits are not counted yet."""
    result: AttendeeCredits


@dataclass(frozen=True)
class Tally:
    """One attended programme in the score: whether it counts, and why (``note``)."""

    attended: Attended
    counted: bool
    note: str


@dataclass(frozen=True)
class FiveYearCredits:
    since: date
    until: date
    credits: int
    programmes: tuple[Tally, ...]
    """In the order given."""
    excluded: tuple[Exclusion, ...]


def five_year_credits(attended: Sequence[Attended], until: date) -> FiveYearCredits:
    """The credits of the five years up to ``until`` (art. 5 lit. i, art. 11 lit. c, art. 29)."""
    since = five_years_before(until)
    awards = [
        Award(a.programme_ref, a.kind, a.starts_on, a.ends_on, a.result.credits)
        for a in attended
        if a.submitted and a.ends_on >= since and a.result.credits > 0
    ]
    total = total_credits(awards)
    excluded = {e.programme_ref: e for e in total.excluded}
    tallies = tuple(
        Tally(a, a.programme_ref in total.counted, _note(a, since, excluded.get(a.programme_ref)))
        for a in attended
    )
    return FiveYearCredits(since, until, total.credits, tallies, total.excluded)


def _note(attended: Attended, since: date, excluded: Exclusion | None) -> str:
    if not attended.submitted:
        return gettext("draft: not yet submitted to the College, not counted")
    if attended.ends_on < since:
        return gettext("held before %(since)s: outside the five years", since=since)
    if excluded is not None:
        return f"{excluded.article}: {excluded.reason}"
    if attended.result.credits == 0:
        # The last step is the total; the ones before it say what took the credits away.
        return gettext("no credits: %(why)s", why="; ".join(
            s.description for s in attended.result.steps[:-1]) or gettext("nothing credited"))
    return gettext("counted")


def score_explanation(programme_credits: int, since: date, titles: TitlesTotal) -> tuple[str, ...]:
    """How the score adds up: the programmes, each counted title, the total (art. 29 alin. (1))."""
    counted = "art. 29 alin. (1): " + gettext(
        "%(credits)s credits of the programmes counted since %(since)s (art. 5 lit. i, art. 11"
        " lit. c applied)", credits=programme_credits, since=since)
    lines = [counted]
    lines += [str(step) for item in titles.items if item.counted for step in item.steps]
    lines.append(
        "art. 29 alin. (1): " + gettext(
            "total %(programmes)s + %(titles)s for professional titles = %(total)s",
            programmes=programme_credits, titles=titles.credits,
            total=programme_credits + titles.credits)
    )
    return tuple(lines)

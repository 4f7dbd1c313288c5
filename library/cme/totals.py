"""A doctor's credits across programmes: what may be added together (art. 5 lit. i, 11 lit. c).

Pure function over the credits already awarded per programme. Programmes held in the same
period are not added (art. 5 lit. i), and of two online distance programmes closer than 30 days
only the one with more credits counts (art. 11 lit. c). Both keep the larger award, so awards
are taken largest first. Art. 5 lit. i is applied between programmes held on dates (courses,
events); a distance programme runs over weeks alongside them, so only art. 11 lit. c limits it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from library.cme.errors import ProgrammeError
from library.cme.limits import DISTANCE_MIN_DAYS_APART
from library.cme.programme import ProgrammeKind
from library.i18n import gettext


@dataclass(frozen=True)
class Award:
    programme_ref: str
    kind: ProgrammeKind
    starts_on: date
    ends_on: date
    credits: int

    def __post_init__(self) -> None:
        if self.ends_on < self.starts_on or self.credits < 0:
            raise ProgrammeError(
                f"award for {self.programme_ref!r}: ends {self.ends_on} before it starts"
                f" {self.starts_on}, or negative credits {self.credits}"
            )


@dataclass(frozen=True)
class Exclusion:
    programme_ref: str
    article: str
    reason: str


@dataclass(frozen=True)
class Total:
    credits: int
    counted: tuple[str, ...]
    excluded: tuple[Exclusion, ...]


def total_credits(awards: Sequence[Award]) -> Total:
    counted: list[Award] = []
    excluded: list[Exclusion] = []
    ordered = sorted(awards, key=lambda a: (-a.credits, a.starts_on, a.programme_ref))
    for award in ordered:
        clash = _clash(award, counted)
        if clash is None:
            counted.append(award)
        else:
            excluded.append(clash)
    counted.sort(key=lambda a: (a.starts_on, a.programme_ref))
    return Total(
        sum(a.credits for a in counted),
        tuple(a.programme_ref for a in counted),
        tuple(excluded),
    )


def _clash(award: Award, counted: list[Award]) -> Exclusion | None:
    online = ProgrammeKind.DISTANCE_ONLINE
    for other in counted:
        if award.kind is online and other.kind is online:
            if abs((award.starts_on - other.starts_on).days) < DISTANCE_MIN_DAYS_APART:
                return Exclusion(
                    award.programme_ref,
                    "art. 11 lit. c",
                    gettext("online programme less than 30 days from '%(ref)s', which earns"
                            " more credits", ref=other.programme_ref),
                )
        elif _dated(award, other) and _overlap(award, other):
            return Exclusion(
                award.programme_ref,
                "art. 5 lit. i",
                gettext("held in the same period as '%(ref)s', which earns more credits",
                        ref=other.programme_ref),
            )
    return None


def _dated(a: Award, b: Award) -> bool:
    return not a.kind.is_distance and not b.kind.is_distance


def _overlap(a: Award, b: Award) -> bool:
    return a.starts_on <= b.ends_on and b.starts_on <= a.ends_on

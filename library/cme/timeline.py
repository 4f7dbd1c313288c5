"""The creditable time of a programme, day by day (art. 5 lit. b, d, f, g).

Both the checker and the credit engine read this one computation, so a finding and the credits
it explains can never disagree. The order follows the text: effective time of the agenda,
parallel sessions counted once at the longest (lit. g), at most 6 creditable hours a day, minus
15 minutes for every two of those hours when the day lacks its breaks (lit. d), and at most
6 credited days in any 7 consecutive days (lit. b). Times are exact fractions of minutes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction

from library.cme.limits import (
    BREAK_PENALTY_BLOCK_MINUTES,
    BREAK_PENALTY_MINUTES,
    MAX_CREDITABLE_MINUTES_PER_DAY,
    MAX_DAYS_PER_WEEK,
    MAX_MINUTES_WITHOUT_BREAK,
    MIN_BREAK_MINUTES,
    WEEK_DAYS,
)
from library.cme.programme import (
    MAIN_TRACK,
    AgendaItem,
    ItemKind,
    Programme,
    overlapping_groups,
)


@dataclass(frozen=True)
class Split:
    """Minutes by the kind of work, because art. 8 credits each kind differently."""

    theory: Fraction = Fraction(0)
    group_method: Fraction = Fraction(0)
    practical: Fraction = Fraction(0)

    @property
    def total(self) -> Fraction:
        return self.theory + self.group_method + self.practical

    def plus(self, item: AgendaItem) -> Split:
        if item.kind is ItemKind.GROUP_METHOD:
            return Split(self.theory, self.group_method + item.minutes, self.practical)
        if item.kind is ItemKind.PRACTICAL_STAGE:
            return Split(self.theory, self.group_method, self.practical + item.minutes)
        return Split(self.theory + item.minutes, self.group_method, self.practical)

    def add(self, other: Split) -> Split:
        return Split(
            self.theory + other.theory,
            self.group_method + other.group_method,
            self.practical + other.practical,
        )

    def scaled(self, factor: Fraction) -> Split:
        return Split(self.theory * factor, self.group_method * factor, self.practical * factor)


@dataclass(frozen=True)
class ParallelBlock:
    """Items that run at the same time on different tracks (sesiuni paralele, art. 5 lit. g)."""

    day: date
    starts_at: datetime
    ends_at: datetime
    item_refs: tuple[str, ...]
    tracks: tuple[str, ...]
    counted_track: str
    counted_minutes: Fraction
    declared_minutes: Fraction


@dataclass(frozen=True)
class Stretch:
    """Programme time with no pause of 15 minutes or more in it."""

    starts_at: datetime
    ends_at: datetime

    @property
    def minutes(self) -> Fraction:
        return Fraction(int((self.ends_at - self.starts_at).total_seconds()), 60)


@dataclass(frozen=True)
class DayTime:
    """One day of the programme and how much of it is creditable."""

    day: date
    effective: Split
    """Effective time with parallel sessions counted once (art. 5 lit. g)."""
    capped_minutes: Fraction
    """At most 6 hours (art. 5 lit. d)."""
    long_stretches: tuple[Stretch, ...]
    """Stretches longer than 2 hours without a 15-minute break (art. 5 lit. d)."""
    break_penalty_minutes: Fraction
    credited: bool
    """False for a 7th day in 7 consecutive days (art. 5 lit. b)."""
    creditable: Split
    """What the day finally contributes, split by kind of work."""
    blocks: tuple[ParallelBlock, ...]
    uncredited_refs: tuple[str, ...]
    """Effective items left out: before the opening or after the closing (art. 5 lit. f)."""


def day_times(programme: Programme) -> tuple[DayTime, ...]:
    """Every programme day with effective time or programme items, in date order."""
    by_day: dict[date, list[AgendaItem]] = defaultdict(list)
    for item in programme.agenda:
        by_day[item.day].append(item)
    window = _opening_closing_window(programme.agenda)
    drafts = [_day(day, by_day[day], window) for day in sorted(by_day)]
    credited_days = _credited_days([d.day for d in drafts if d.capped_minutes > 0])
    result = []
    for draft in drafts:
        credited = draft.day in credited_days
        final = max(Fraction(0), draft.capped_minutes - draft.break_penalty_minutes)
        if not credited:
            final = Fraction(0)
        total = draft.effective.total
        creditable = draft.effective.scaled(final / total) if total else Split()
        result.append(
            DayTime(
                day=draft.day,
                effective=draft.effective,
                capped_minutes=draft.capped_minutes,
                long_stretches=draft.long_stretches,
                break_penalty_minutes=draft.break_penalty_minutes,
                credited=credited,
                creditable=creditable,
                blocks=draft.blocks,
                uncredited_refs=draft.uncredited_refs,
            )
        )
    return tuple(result)


def stretches(items: Iterable[AgendaItem]) -> list[tuple[Stretch, list[AgendaItem]]]:
    """Group programme-time items into stretches separated by pauses of at least 15 minutes.

    A gap in the agenda (lunch not written down) is as much a pause as a break item; a break
    shorter than 15 minutes does not count as the pause art. 5 lit. d asks for, so the stretch
    runs on through it.
    """
    timed = sorted(
        (i for i in items if i.kind.is_programme_time), key=lambda i: (i.starts_at, i.ends_at)
    )
    groups: list[tuple[Stretch, list[AgendaItem]]] = []
    min_gap = timedelta(minutes=MIN_BREAK_MINUTES)
    for item in timed:
        if groups and item.starts_at - groups[-1][0].ends_at < min_gap:
            stretch, members = groups[-1]
            members.append(item)
            groups[-1] = (Stretch(stretch.starts_at, max(stretch.ends_at, item.ends_at)), members)
        else:
            groups.append((Stretch(item.starts_at, item.ends_at), [item]))
    return groups


@dataclass(frozen=True)
class _Draft:
    day: date
    effective: Split
    capped_minutes: Fraction
    long_stretches: tuple[Stretch, ...]
    break_penalty_minutes: Fraction
    blocks: tuple[ParallelBlock, ...]
    uncredited_refs: tuple[str, ...]


def _opening_closing_window(
    agenda: Sequence[AgendaItem],
) -> tuple[datetime | None, datetime | None]:
    openings = [i.starts_at for i in agenda if i.kind is ItemKind.OPENING]
    closings = [i.ends_at for i in agenda if i.kind is ItemKind.CLOSING]
    return (min(openings) if openings else None, max(closings) if closings else None)


def _day(
    day: date, items: list[AgendaItem], window: tuple[datetime | None, datetime | None]
) -> _Draft:
    opening, closing = window
    effective_items: list[AgendaItem] = []
    outside: list[str] = []
    for item in items:
        if not item.kind.is_effective:
            continue
        if (opening is not None and item.starts_at < opening) or (
            closing is not None and item.ends_at > closing
        ):
            outside.append(item.ref)
        else:
            effective_items.append(item)
    effective, blocks = _count_parallel_once(day, effective_items)
    capped = min(effective.total, Fraction(MAX_CREDITABLE_MINUTES_PER_DAY))
    long_stretches = tuple(s for s, _ in stretches(items) if s.minutes > MAX_MINUTES_WITHOUT_BREAK)
    # art. 5 lit. d: 15 minutes for every (whole) two hours of the at most 6 creditable hours.
    penalty = (
        Fraction(BREAK_PENALTY_MINUTES * int(capped // BREAK_PENALTY_BLOCK_MINUTES))
        if long_stretches
        else Fraction(0)
    )
    return _Draft(day, effective, capped, long_stretches, penalty, tuple(blocks), tuple(outside))


def _count_parallel_once(day: date, items: list[AgendaItem]) -> tuple[Split, list[ParallelBlock]]:
    """Sum the day's effective time, counting overlapping tracks once at the longest track."""
    total = Split()
    blocks: list[ParallelBlock] = []
    for component in overlapping_groups(items):
        per_track: dict[str, Split] = defaultdict(Split)
        for item in component:
            per_track[item.track] = per_track[item.track].plus(item)
        if len(per_track) == 1:
            total = total.add(next(iter(per_track.values())))
            continue
        # Ties go to the main track, then by name, so the result does not depend on order.
        tracks = sorted(per_track, key=lambda t: (t != MAIN_TRACK, t))
        counted = max(tracks, key=lambda t: (per_track[t].total, -tracks.index(t)))
        total = total.add(per_track[counted])
        blocks.append(
            ParallelBlock(
                day=day,
                starts_at=component[0].starts_at,
                ends_at=max(i.ends_at for i in component),
                item_refs=tuple(i.ref for i in component),
                tracks=tuple(tracks),
                counted_track=counted,
                counted_minutes=per_track[counted].total,
                declared_minutes=sum((s.total for s in per_track.values()), Fraction(0)),
            )
        )
    return total, blocks


def _credited_days(days: list[date]) -> set[date]:
    """At most 6 credited days in any 7 consecutive calendar days (art. 5 lit. b).

    Read as a rolling week, not a Monday-Sunday one, so a programme running Wednesday to the
    next Tuesday is limited too; the later day of a full week is the one left out.
    """
    credited: list[date] = []
    for day in sorted(days):
        window_start = day - timedelta(days=WEEK_DAYS - 1)
        if sum(1 for d in credited if d >= window_start) < MAX_DAYS_PER_WEEK:
            credited.append(day)
    return set(credited)

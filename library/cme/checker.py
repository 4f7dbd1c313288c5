"""The programme checker: every rule of the procedure that can be read off a programme.

An error is something the procedure forbids or that gets the request rejected; a warning is
something the procedure allows but credits less for (a cap, a reduction, a day or item left
out), or a date still to be met. Each finding cites the article as the text numbers it
("art. 5 lit. d", "art. 6 alin. (2)") and names the day or item, so the organiser can fix the
programme before submitting it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum
from fractions import Fraction
from math import ceil

from library.cme.credits import creditable_hours, programme_credits
from library.cme.limits import (
    DISTANCE_REQUEST_DAYS_BEFORE_START,
    FINAL_PROGRAMME_DAYS_BEFORE_START,
    JOURNAL_MAX_CREDITS_PER_ISSUE,
    JOURNAL_MAX_PAGES,
    JOURNAL_MIN_PAGES,
    MAX_CREDITABLE_MINUTES_PER_DAY,
    MAX_CREDITS_PER_PROGRAMME,
    MAX_DISCUSSION_SHARE,
    MAX_DISTANCE_HOURS,
    MAX_FIGURES_PER_PAGE,
    MAX_LECTURE_MINUTES,
    MAX_NATIONAL_EVENTS_PER_PROVIDER_YEAR,
    MAX_TEST_ATTEMPTS,
    MIN_PASS_RATIO,
    MIN_TEST_QUESTIONS,
    ONLINE_CHARACTERS_PER_PAGE,
    ONLINE_MAX_PAGES_PER_HOUR,
    ONLINE_MIN_PAGES_PER_HOUR,
    REQUEST_DAYS_BEFORE_START,
    TEST_QUESTIONS_HOURS,
)
from library.cme.programme import (
    LEVEL_NAMES,
    AgendaItem,
    ItemKind,
    Level,
    OrganiserKind,
    Programme,
    ProgrammeKind,
)
from library.cme.timeline import day_times, stretches
from library.i18n import LazyText, gettext, lazy, shown


def level_name(level: Level) -> str:
    return shown(LEVEL_NAMES[level])


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    article: str
    message: str
    item_ref: str | None = None


def check_programme(
    programme: Programme, *, provider_national_events_in_year: int = 0,
    bank_size: int | None = None,
) -> list[Finding]:
    """Every finding for ``programme``, errors first, in agenda order within each rule.

    ``provider_national_events_in_year`` is how many other nationally credited events the main
    provider holds in the programme's year (art. 14 lit. b allows two a year); the programme
    alone cannot know it.
    """
    findings: list[Finding] = []
    findings += _detailed_programme(programme)
    findings += _announced_details(programme)
    findings += _sponsors(programme)
    findings += _level(programme, provider_national_events_in_year)
    findings += _deadlines(programme)
    if programme.kind.is_distance:
        findings += _distance(programme)
    else:
        findings += _lectures(programme)
        findings += _discussions(programme)
        findings += _days(programme)
        findings += _satellites(programme)
        findings += _course(programme)
    findings += _bank(programme, bank_size)
    findings += _credit_cap(programme)
    return sorted(findings, key=lambda f: f.severity is not Severity.ERROR)


def _error(article: str, message: str, item: AgendaItem | None = None) -> Finding:
    return Finding(Severity.ERROR, article, message, item.ref if item else None)


def _warning(article: str, message: str, item: AgendaItem | None = None) -> Finding:
    return Finding(Severity.WARNING, article, message, item.ref if item else None)


def _hours(minutes: Fraction) -> str:
    hours = minutes / 60
    return str(hours.numerator) if hours.denominator == 1 else f"{float(hours):.2f}"


def _detailed_programme(programme: Programme) -> list[Finding]:
    if programme.kind.is_distance or any(i.kind.is_effective for i in programme.agenda):
        return []
    return [
        _error(
            "art. 6 alin. (1)",
            gettext("the request must come with the detailed programme by the hour; the agenda"
                    " has no lecture, discussion, demonstration or practical item"),
        )
    ]


def _announced_details(programme: Programme) -> list[Finding]:
    """Art. 16 alin. (1): organisers, place, speakers with their titles, exact titles."""
    article = "art. 16 alin. (1)"
    findings = []
    if not programme.organisers:
        findings.append(_error(article, gettext("the programme must name its organisers")))
    if not programme.kind.is_distance and not programme.venue.strip():
        findings.append(_error(article, gettext("the programme must state the place (venue)")))
    for item in programme.agenda:
        if item.kind is ItemKind.LECTURE:
            speaker = item.speaker
            if speaker is None or not speaker.name.strip():
                findings.append(_error(article, gettext("%(item)s has no speaker", item=item.label()), item))
            elif not speaker.title.strip():
                findings.append(
                    _error(
                        article,
                        gettext("%(item)s: speaker '%(speaker)s' has no scientific or"
                                " professional title", item=item.label(), speaker=speaker.name),
                        item,
                    )
                )
            if not item.title.strip():
                findings.append(_error(article, gettext("%(item)s has no exact title", item=item.label()), item))
        elif item.kind is ItemKind.SATELLITE_SYMPOSIUM and not item.title.strip():
            findings.append(
                _error(article, gettext("%(item)s: satellite symposia need exact data",
                                       item=item.label()), item)
            )
    return findings


def _sponsors(programme: Programme) -> list[Finding]:
    """Art. 17 alin. (1): a sponsor's representative never opens or closes the programme and
    may only make non-scientific announcements; art. 16 alin. (1): sponsors are named."""
    sponsors = {s.name.casefold() for s in programme.sponsors}
    findings = []
    for item in programme.agenda:
        sponsor = item.speaker.represents_sponsor if item.speaker else None
        if sponsor is None:
            continue
        if sponsor.casefold() not in sponsors:
            findings.append(
                _error(
                    "art. 16 alin. (1)",
                    gettext("%(item)s: speaker represents '%(sponsor)s', which the programme"
                            " does not list among its sponsors", item=item.label(),
                            sponsor=sponsor),
                    item,
                )
            )
        if item.kind in (ItemKind.OPENING, ItemKind.CLOSING):
            findings.append(
                _error(
                    "art. 17 alin. (1)",
                    gettext("%(item)s: a representative of sponsor '%(sponsor)s' may not open"
                            " the programme", item=item.label(), sponsor=sponsor)
                    if item.kind is ItemKind.OPENING else
                    gettext("%(item)s: a representative of sponsor '%(sponsor)s' may not close"
                            " the programme", item=item.label(), sponsor=sponsor),
                    item,
                )
            )
        elif item.kind not in (ItemKind.ANNOUNCEMENT, ItemKind.SATELLITE_SYMPOSIUM):
            findings.append(
                _error(
                    "art. 17 alin. (1)",
                    gettext("%(item)s: a representative of sponsor '%(sponsor)s' may only make"
                            " non-scientific announcements (meals, transport, festivities)",
                            item=item.label(), sponsor=sponsor),
                    item,
                )
            )
    return findings


def _level(programme: Programme, other_national_events: int) -> list[Finding]:
    findings = []
    provider = programme.main_provider
    is_event = programme.kind is ProgrammeKind.SCIENTIFIC_EVENT
    if is_event and programme.level is Level.NATIONAL:
        if provider is not None and provider.scope in (Level.LOCAL, Level.REGIONAL):
            findings.append(
                _error(
                    "art. 14 lit. b",
                    gettext("provider '%(name)s' is %(scope)s: its events cannot be national",
                            name=provider.name, scope=level_name(provider.scope)),
                )
            )
        if other_national_events >= MAX_NATIONAL_EVENTS_PER_PROVIDER_YEAR:
            findings.append(
                _error(
                    "art. 14 lit. b",
                    gettext("the provider already holds %(count)s national events in %(year)s;"
                            " at most 2 a year are credited nationally",
                            count=other_national_events, year=programme.starts_on.year),
                )
            )
    if (
        programme.level in (Level.LOCAL, Level.REGIONAL)
        and not programme.kind.is_distance
        and not any(o.kind is OrganiserKind.TERRITORIAL_COLLEGE for o in programme.organisers)
    ):
        findings.append(
            _error(
                "art. 24 alin. (4)",
                gettext("a %(level)s programme needs the endorsement or partnership of the"
                        " territorial college of physicians: add it as an organiser",
                        level=level_name(programme.level)),
            )
        )
    return findings


def _deadlines(programme: Programme) -> list[Finding]:
    findings = []
    start = programme.starts_on
    if programme.kind.is_distance:
        article, days = "art. 12 alin. (1)", DISTANCE_REQUEST_DAYS_BEFORE_START
    else:
        article, days = "art. 6 alin. (2)", REQUEST_DAYS_BEFORE_START
    findings += _deadline(article, lazy("crediting request"), programme.request_filed_on, start,
                          days)
    if not programme.kind.is_distance:
        findings += _deadline(
            "art. 6 alin. (2)",
            lazy("final scientific programme"),
            programme.final_programme_filed_on,
            start,
            FINAL_PROGRAMME_DAYS_BEFORE_START,
        )
    return findings


def _deadline(article: str, what: LazyText, filed: date | None, start: date,
              days: int) -> list[Finding]:
    last_day = start - timedelta(days=days)
    if filed is None:
        return [
            _warning(article, gettext("%(what)s not filed yet: file it by %(last_day)s"
                                      " (%(days)s days before)", what=shown(what),
                                      last_day=last_day, days=days))
        ]
    if filed > last_day:
        return [
            _error(
                article,
                gettext("%(what)s filed on %(filed)s, %(before)s days before the start on"
                        " %(start)s; it must be filed at least %(days)s days before (by"
                        " %(last_day)s)", what=shown(what), filed=filed,
                        before=(start - filed).days, start=start, days=days,
                        last_day=last_day),
            )
        ]
    return []


def _lectures(programme: Programme) -> list[Finding]:
    return [
        _error(
            "art. 5 lit. d",
            gettext("%(item)s lasts %(hours)s h; a single lecture lasts at most 2 h",
                    item=item.label(), hours=_hours(item.minutes)),
            item,
        )
        for item in programme.agenda
        if item.kind is ItemKind.LECTURE and item.minutes > MAX_LECTURE_MINUTES
    ]


def _discussions(programme: Programme) -> list[Finding]:
    """Discussions take at most a quarter of their session (art. 5 lit. d).

    A session is the items sharing a ``session`` label on a day; unlabelled items form a
    session per track with the stretch between two pauses of 15 minutes or more.
    """
    sessions: dict[tuple[date, str], list[AgendaItem]] = defaultdict(list)
    unlabelled: dict[tuple[date, str], list[AgendaItem]] = defaultdict(list)
    for item in programme.agenda:
        if item.session is not None:
            sessions[(item.day, item.session)].append(item)
        else:
            unlabelled[(item.day, item.track)].append(item)
    groups: list[tuple[str, list[AgendaItem]]] = [
        (gettext("session '%(name)s' on %(day)s", name=name, day=day), items)
        for (day, name), items in sessions.items()
    ]
    for (day, track), items in unlabelled.items():
        for stretch, members in stretches(items):
            groups.append((gettext("the session %(start)s-%(end)s on %(day)s, track '%(track)s'",
                                   start=f"{stretch.starts_at:%H:%M}",
                                   end=f"{stretch.ends_at:%H:%M}", day=day, track=track),
                           members))
    findings = []
    for name, items in groups:
        discussion = sum((i.minutes for i in items if i.kind is ItemKind.DISCUSSION), Fraction(0))
        if not discussion:
            continue
        span = Fraction(
            int((max(i.ends_at for i in items) - min(i.starts_at for i in items)).total_seconds()),
            60,
        )
        if discussion > MAX_DISCUSSION_SHARE * span:
            first = next(i for i in items if i.kind is ItemKind.DISCUSSION)
            findings.append(
                _error(
                    "art. 5 lit. d",
                    gettext("discussions take %(hours)s h of %(session)s, which lasts %(span)s h;"
                            " at most a quarter (%(quarter)s h) is allowed",
                            hours=_hours(discussion), session=name, span=_hours(span),
                            quarter=_hours(span / 4)),
                    first,
                )
            )
    return findings


def _days(programme: Programme) -> list[Finding]:
    findings = []
    for day in day_times(programme):
        for block in day.blocks:
            findings.append(
                _warning(
                    "art. 5 lit. g",
                    gettext("%(day)s %(start)s-%(end)s: parallel sessions on tracks %(tracks)s"
                            " are credited once, at the longest (%(track)s, %(counted)s h of"
                            " %(declared)s h declared)", day=day.day,
                            start=f"{block.starts_at:%H:%M}", end=f"{block.ends_at:%H:%M}",
                            tracks=", ".join(block.tracks), track=block.counted_track,
                            counted=_hours(block.counted_minutes),
                            declared=_hours(block.declared_minutes)),
                )
            )
        if day.effective.total > MAX_CREDITABLE_MINUTES_PER_DAY:
            findings.append(
                _warning(
                    "art. 5 lit. d",
                    gettext("%(day)s: %(hours)s effective hours; at most 6 a day are credited",
                            day=day.day, hours=_hours(day.effective.total)),
                )
            )
        for stretch in day.long_stretches:
            findings.append(
                _warning(
                    "art. 5 lit. d",
                    gettext("%(day)s: %(start)s-%(end)s runs %(hours)s h without a break of at"
                            " least 15 minutes (one is needed every 2 h); the day's credited"
                            " time is reduced by %(penalty)s minutes (15 per 2 creditable"
                            " hours)", day=day.day, start=f"{stretch.starts_at:%H:%M}",
                            end=f"{stretch.ends_at:%H:%M}", hours=_hours(stretch.minutes),
                            penalty=int(day.break_penalty_minutes)),
                )
            )
        if not day.credited:
            findings.append(
                _warning(
                    "art. 5 lit. b",
                    gettext("%(day)s is the 7th programme day in 7 consecutive days; a week is"
                            " credited for at most 6 days, so this day earns no credits",
                            day=day.day),
                )
            )
    return findings


def _satellites(programme: Programme) -> list[Finding]:
    findings = [
        _warning(
            "art. 5 lit. f",
            gettext("%(item)s: satellite symposia are not credited on top of the main"
                    " programme", item=item.label()),
            item,
        )
        for item in programme.agenda
        if item.kind is ItemKind.SATELLITE_SYMPOSIUM
    ]
    for day in day_times(programme):
        for ref in day.uncredited_refs:
            item = programme.item(ref)
            findings.append(
                _warning(
                    "art. 5 lit. f",
                    gettext("%(item)s lies outside the opening and closing of the programme"
                            " and is not credited", item=item.label()),
                    item,
                )
            )
    return findings


def _course(programme: Programme) -> list[Finding]:
    findings = []
    if programme.kind.is_course and programme.final_test is None:
        findings.append(
            _warning(
                "art. 26 alin. (2)",
                gettext("the completion certificate of a course states that the final"
                        " evaluation was passed; the course has no final test"),
            )
        )
    if (
        programme.kind.is_course
        and programme.level is Level.INTERNATIONAL
        and programme.foreign_credits is None
    ):
        effective = [i for i in programme.agenda if i.kind.is_effective]
        if effective and all(i.kind is ItemKind.PRACTICAL_STAGE for i in effective):
            findings.append(
                _warning(
                    "art. 8 lit. i",
                    gettext("a practical stage abroad without international credits is not"
                            " credited"),
                )
            )
    return findings


def _distance(programme: Programme) -> list[Finding]:
    assert programme.learning_hours is not None
    findings = []
    hours = programme.learning_hours
    online = programme.kind is ProgrammeKind.DISTANCE_ONLINE
    if hours > MAX_DISTANCE_HOURS:
        findings.append(
            _error(
                "art. 10 lit. a",
                gettext("the assessed learning time is %(hours)s h; a distance programme must"
                        " fit in at most 18 h", hours=_hours(hours * 60)),
            )
        )
    material = programme.material
    if material is not None:
        article = "art. 10 lit. d" if online else "art. 10 lit. b"
        if material.max_figures_per_page > MAX_FIGURES_PER_PAGE:
            findings.append(
                _error(
                    article,
                    gettext("%(count)s figures or tables on a page; at most 2",
                            count=material.max_figures_per_page),
                )
            )
        if online:
            pages = Fraction(
                material.pages * material.characters_per_page, ONLINE_CHARACTERS_PER_PAGE
            )
            per_hour = pages / hours
            if not ONLINE_MIN_PAGES_PER_HOUR <= per_hour <= ONLINE_MAX_PAGES_PER_HOUR:
                findings.append(
                    _error(
                        article,
                        gettext("%(pages)s pages of 2,500 characters for %(hours)s h of"
                                " learning is %(rate)s pages an hour; one hour is 5-8 such"
                                " pages", pages=_hours(pages * 60), hours=_hours(hours * 60),
                                rate=_hours(per_hour * 60)),
                    )
                )
        elif not JOURNAL_MIN_PAGES <= material.pages <= JOURNAL_MAX_PAGES:
            findings.append(
                _error(
                    article,
                    gettext("a journal article of %(pages)s printed pages; 5-8 pages make the"
                            " two effective hours", pages=material.pages),
                )
            )
    if not online and hours > JOURNAL_MAX_CREDITS_PER_ISSUE:
        findings.append(
            _warning(
                "art. 11 lit. a",
                gettext("%(hours)s h of learning, but a journal issue earns at most 2 credits",
                        hours=_hours(hours * 60)),
            )
        )
    if online and hours > MAX_DISTANCE_HOURS:
        findings.append(
            _warning("art. 11 lit. b",
                     gettext("credits are limited to 18 for an online programme"))
        )
    findings += _distance_test(programme)
    return findings


def _distance_test(programme: Programme) -> list[Finding]:
    online = programme.kind is ProgrammeKind.DISTANCE_ONLINE
    test = programme.final_test
    if test is None:
        return [
            _error(
                "art. 9 lit. b" if online else "art. 9 lit. a",
                gettext("a distance programme needs a final test"),
            )
        ]
    article = "art. 10 lit. e" if online else "art. 10 lit. c"
    findings = []
    needed, why = MIN_TEST_QUESTIONS, ""
    if online:
        # "at least 10 questions for every 6 effective hours", read as a rate rounded up:
        # 18 h -> 30, 7 h -> 12; never fewer than 10.
        hours = creditable_hours(programme)
        needed = max(needed, ceil(MIN_TEST_QUESTIONS * hours / TEST_QUESTIONS_HOURS))
        why = gettext(" (10 per 6 effective hours, %(hours)s h)", hours=_hours(hours * 60))
    if test.question_count < needed:
        findings.append(
            _error(
                article,
                gettext("the final test has %(count)s questions; it needs at least"
                        " %(needed)s%(why)s", count=test.question_count, needed=needed,
                        why=why),
            )
        )
    if test.pass_ratio < MIN_PASS_RATIO:
        findings.append(
            _error(
                article,
                gettext("the pass mark is %(percent)s%% correct; it must be at least 75%%",
                        percent=f"{float(test.pass_ratio) * 100:.0f}"),
            )
        )
    if online and test.max_attempts > MAX_TEST_ATTEMPTS:
        findings.append(_error(article, gettext("the test allows %(count)s attempts; at most 2",
                                               count=test.max_attempts)))
    return findings


def _bank(programme: Programme, bank_size: int | None) -> list[Finding]:
    test = programme.final_test
    if test is None or bank_size is None or bank_size >= test.question_count:
        return []
    article = {
        ProgrammeKind.DISTANCE_ONLINE: "art. 10 lit. e",
        ProgrammeKind.DISTANCE_BY_POST: "art. 10 lit. c",
    }.get(programme.kind, "art. 26 alin. (2)")
    return [
        _error(
            article,
            gettext("the final test draws %(count)s questions but its bank holds %(bank)s: add"
                    " %(missing)s question(s) to the bank", count=test.question_count,
                    bank=bank_size, missing=test.question_count - bank_size),
        )
    ]


def _credit_cap(programme: Programme) -> list[Finding]:
    result = programme_credits(programme)
    if result.uncapped <= MAX_CREDITS_PER_PROGRAMME:
        return []
    return [
        _warning(
            "art. 5 lit. c",
            gettext("the programme computes to %(credits)s credits; a programme earns at most 60",
                    credits=f"{float(result.uncapped):.2f}"),
        )
    ]

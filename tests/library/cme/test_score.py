"""A doctor's five-year score: the window, what counts, and why the rest does not."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from library.cme import AttendeeCredits, ProgrammeKind, Step
from library.cme.score import Attended, five_year_credits, five_years_before, score_explanation
from library.cme.titles import Title, TitleKind, title_credits

EVENT = ProgrammeKind.SCIENTIFIC_EVENT
TODAY = date(2026, 6, 15)


def result(credits: int, *reasons: str) -> AttendeeCredits:
    """What the engine gave one attendee: the steps, then the total as the last step."""
    steps = tuple(Step("art. 5 lit. a", r, Fraction(0)) for r in reasons)
    steps += (Step("art. 5 lit. h", "whole credits, rounded at .50", Fraction(credits)),)
    return AttendeeCredits("dr.ana", credits, Fraction(credits), credits > 0, (), steps)


def attended(ref: str, start: date, credits: int, *, submitted: bool = True,
             end: date | None = None, reasons: tuple[str, ...] = ()) -> Attended:
    return Attended(ref, EVENT, start, end or start, submitted, result(credits, *reasons))


def test_the_five_years_end_today_and_a_leap_day_starts_on_the_28th() -> None:
    assert five_years_before(date(2026, 6, 15)) == date(2021, 6, 15)
    assert five_years_before(date(2028, 2, 29)) == date(2023, 2, 28)


def test_each_programme_says_whether_it_counts_and_why_not() -> None:
    """Of six programmes only the two submitted, credited, separate ones inside the five years
    count: 12 + 6 = 18. The others each carry the reason a doctor reads beside them."""
    five = five_year_credits([
        attended("counted", date(2025, 3, 10), 12),
        attended("draft", date(2025, 4, 1), 9, submitted=False),
        attended("old", date(2020, 5, 2), 20),
        attended("same-days", date(2025, 3, 10), 8, end=date(2025, 3, 11)),
        attended("absent", date(2025, 9, 1), 0, reasons=("left for 40 min of session 3",)),
        attended("later", date(2026, 1, 20), 6),
    ], TODAY)
    notes = {t.attended.programme_ref: (t.counted, t.note) for t in five.programmes}
    assert (five.since, five.until, five.credits) == (date(2021, 6, 15), TODAY, 18)
    assert notes == {
        "counted": (True, "counted"),
        "draft": (False, "draft: not yet submitted to the College, not counted"),
        "old": (False, "held before 2021-06-15: outside the five years"),
        "same-days": (False, ("art. 5 lit. i: held in the same period as 'counted', which earns"
                             " more credits")),
        "absent": (False, "no credits: left for 40 min of session 3"),
        "later": (True, "counted"),
    }
    assert [e.programme_ref for e in five.excluded] == ["same-days"]


def test_a_programme_ending_on_the_first_day_of_the_window_still_counts() -> None:
    five = five_year_credits([attended("edge", date(2021, 6, 15), 5)], TODAY)
    assert (five.credits, five.programmes[0].note) == (5, "counted")


def test_the_explanation_adds_the_counted_titles_once() -> None:
    """18 programme credits + a specialist title inside the five years (200) = 218; a title
    from before the window is not in the sum."""
    titles = title_credits(
        [Title(TitleKind.SPECIALIST, date(2024, 6, 1), "ORL"),
         Title(TitleKind.RESIDENT, date(2015, 1, 15), "ORL")],
        since=five_years_before(TODAY), until=TODAY,
    )
    lines = score_explanation(18, five_years_before(TODAY), titles)
    assert lines[0].startswith("art. 29 alin. (1): 18 credits of the programmes counted since"
                               " 2021-06-15")
    assert len(lines) == 3  # programmes, the one counted title, the total
    assert "200 credits, added once" in lines[1]
    assert lines[-1] == "art. 29 alin. (1): total 18 + 200 for professional titles = 218"

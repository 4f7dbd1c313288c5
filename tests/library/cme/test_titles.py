"""Art. 29: professional titles added once to the five-year score, each figure explained."""

from __future__ import annotations

from datetime import date

import pytest

from library.cme.errors import ProgrammeError
from library.cme.titles import Title, TitleKind, title_credits

SINCE, UNTIL = date(2021, 11, 23), date(2026, 11, 23)


def total(*titles: Title) -> int:
    return title_credits(titles, since=SINCE, until=UNTIL).credits


@pytest.mark.parametrize(
    ("kind", "credits", "letter"),
    [
        (TitleKind.RESIDENT, 50, "a"), (TitleKind.SPECIALIST, 200, "b"),
        (TitleKind.COMPLEMENTARY_STUDIES, 75, "c"), (TitleKind.PRIMAR, 250, "d"),
        (TitleKind.DOCTORATE, 300, "e"), (TitleKind.MASTER, 100, "f"),
        (TitleKind.TRAINER, 75, "g"), (TitleKind.TRAINER_OF_TRAINERS, 100, "h"),
    ],
)
def test_art_29_1_each_title_earns_its_credits(kind: TitleKind, credits: int, letter: str) -> None:
    result = title_credits([Title(kind, date(2024, 5, 2), "x")], since=SINCE, until=UNTIL)
    [item] = result.items
    assert (result.credits, item.counted) == (credits, True)
    assert item.steps[0].article == f"art. 29 alin. (1) lit. {letter}"
    assert "obtained on 2024-05-02" in item.explain() and "added once" in item.explain()


def test_art_29_1_only_titles_obtained_within_the_five_years() -> None:
    """A specialist in 2024 (200) and a primar in 2026 (250) count; a PhD of 2019 does not."""
    result = title_credits(
        [Title(TitleKind.SPECIALIST, date(2024, 6, 1), "ORL"),
         Title(TitleKind.DOCTORATE, date(2019, 10, 1), "rinologie"),
         Title(TitleKind.PRIMAR, date(2026, 3, 1), "ORL")],
        since=SINCE, until=UNTIL,
    )
    assert result.credits == 450
    phd = next(i for i in result.items if i.title.kind is TitleKind.DOCTORATE)
    assert not phd.counted and "outside the five years 2021-11-23..2026-11-23" in phd.explain()
    # The window's edges are inside it.
    assert total(Title(TitleKind.RESIDENT, SINCE)) == 50
    assert total(Title(TitleKind.RESIDENT, UNTIL)) == 50


def test_art_29_1_a_title_declared_twice_is_added_once() -> None:
    twice = [Title(TitleKind.SPECIALIST, date(2023, 1, 1), "Neurochirurgie"),
             Title(TitleKind.SPECIALIST, date(2023, 1, 1), "neurochirurgie ")]
    result = title_credits(twice, since=SINCE, until=UNTIL)
    assert result.credits == 200
    assert "already counted: once only" in result.items[1].explain()


def test_art_29_1_b_a_further_specialty_is_a_title_of_its_own() -> None:
    assert total(Title(TitleKind.SPECIALIST, date(2022, 1, 1), "ORL"),
                 Title(TitleKind.SPECIALIST, date(2025, 1, 1), "chirurgie oro-maxilo-facială")) == 400


def test_art_29_1_i_university_teaching_40_per_year_inside_the_window() -> None:
    teaching = Title(TitleKind.UNIVERSITY_TEACHING, date(2015, 10, 1), "UMF Iași",
                     years=(2019, 2020, 2021, 2022, 2023, 2024, 2025, 2026))
    result = title_credits([teaching], since=SINCE, until=UNTIL)
    # 2022..2026: the five years of the window (2021 is where it opens, not a year of it).
    assert result.credits == 5 * 40
    assert "40 credits x 5 year(s) (2022, 2023, 2024, 2025, 2026)" in result.items[0].explain()


def test_art_29_1_i_teaching_needs_years_and_others_must_not_have_them() -> None:
    with pytest.raises(ProgrammeError, match="per year: list the years"):
        Title(TitleKind.UNIVERSITY_TEACHING, date(2020, 1, 1))
    with pytest.raises(ProgrammeError, match="only university teaching is credited per year"):
        Title(TitleKind.MASTER, date(2020, 1, 1), years=(2021,))
    with pytest.raises(ProgrammeError, match="come before the appointment"):
        Title(TitleKind.UNIVERSITY_TEACHING, date(2020, 1, 1), years=(2019,))


def test_art_29_3_equivalent_master_and_certificate_count_once_the_larger() -> None:
    """Health services management as a master (100) and as a certificate (75): 100."""
    subject = "Managementul serviciilor de sănătate"
    result = title_credits(
        [Title(TitleKind.COMPLEMENTARY_STUDIES, date(2022, 2, 1), subject),
         Title(TitleKind.MASTER, date(2023, 7, 1), subject)],
        since=SINCE, until=UNTIL,
    )
    assert result.credits == 100
    certificate = result.items[0]
    assert not certificate.counted and certificate.steps[-1].article == "art. 29 alin. (3)"
    # Different fields are different titles: both count.
    assert total(Title(TitleKind.COMPLEMENTARY_STUDIES, date(2022, 2, 1), "ecografie"),
                 Title(TitleKind.MASTER, date(2023, 7, 1), subject)) == 175

"""Credits across programmes (art. 5 lit. i, art. 11 lit. c)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from library.cme import ProgrammeError, ProgrammeKind
from library.cme.totals import Award, total_credits

EVENT = ProgrammeKind.SCIENTIFIC_EVENT
ONLINE = ProgrammeKind.DISTANCE_ONLINE
D = date(2025, 3, 10)


def award(ref: str, kind: ProgrammeKind, start: int, end: int, credits: int) -> Award:
    return Award(ref, kind, D + timedelta(days=start), D + timedelta(days=end), credits)


def test_programmes_in_the_same_period_are_not_added() -> None:
    """art. 5 lit. i: events on days 0-2 (12) and 2-3 (8) overlap -> only 12; day 4 (6) adds:
    12 + 6 = 18."""
    total = total_credits(
        [award("a", EVENT, 0, 2, 12), award("b", EVENT, 2, 3, 8), award("c", EVENT, 4, 4, 6)]
    )
    assert (total.credits, total.counted) == (18, ("a", "c"))
    [excluded] = total.excluded
    assert (excluded.programme_ref, excluded.article) == ("b", "art. 5 lit. i")


def test_online_programmes_thirty_days_apart() -> None:
    """art. 11 lit. c: online 10 credits on day 0, 14 on day 29 -> only 14; 8 on day 59
    (30 days after day 29) adds: 14 + 8 = 22. An event in the same weeks still counts."""
    total = total_credits(
        [
            award("o1", ONLINE, 0, 20, 10),
            award("o2", ONLINE, 29, 50, 14),
            award("o3", ONLINE, 59, 80, 8),
            award("ev", EVENT, 30, 30, 6),
        ]
    )
    assert total.credits == 28
    assert [e.programme_ref for e in total.excluded] == ["o1"]
    assert total.excluded[0].article == "art. 11 lit. c"


def test_bad_award() -> None:
    with pytest.raises(ProgrammeError, match="award for 'x'"):
        award("x", EVENT, 2, 1, 5)

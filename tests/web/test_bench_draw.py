"""``medroom bench draw``: how its report pairs what was drawn with what was shown, and its
bounds. It runs end to end at small scale in tests/e2e/test_drawing.py (one server, one
browser for both)."""

from __future__ import annotations

import argparse

import pytest

from web.bench.draw import report, run_from_args


def test_the_report_pairs_points_by_coordinates_and_counts_early_frames() -> None:
    drawn = [{"x": 0.1, "y": 0.5, "f": 1000, "at": 100.0},
             {"x": 0.2, "y": 0.5, "f": 4000, "at": 133.0}]
    shown = [{"x": 0.1, "y": 0.5, "f": 1000, "ticks": 1000, "arrived": 120.0, "at": 150.0},
             {"x": 0.2, "y": 0.5, "f": 4000, "ticks": 3000, "arrived": 150.0, "at": 160.0},
             {"x": 0.1, "y": 0.5, "f": 1000, "ticks": 9000, "arrived": 120.0, "at": 300.0}]
    result = report(drawn, shown)
    assert result["latency"]["count"] == 2 and result["latency"]["max_ms"] == 50.0
    assert result["transit"]["p50_ms"] == pytest.approx(18.5)
    assert result["shown_before_frame"] == 1 and result["meets_target"] is False
    assert result["points_shown"] == 2


@pytest.mark.parametrize(("strokes", "moves", "interval"), [(0, 5, 33.0), (2, 501, 33.0),
                                                             (2, 5, 1.0)])
def test_bad_arguments_are_refused(strokes: int, moves: int, interval: float,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(strokes=strokes, moves=moves, interval_ms=interval)
    assert run_from_args(args) == 2
    assert "medroom bench draw:" in capsys.readouterr().err

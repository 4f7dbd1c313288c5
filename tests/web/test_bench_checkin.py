"""``medroom bench checkin`` runs against a real server and reports every phone (small scale:
the full 60-phone run is the benchmark's, not the suite's)."""

from __future__ import annotations

import argparse
import json

import pytest

from web.bench import run_bench
from web.bench.checkin import format_table, passed, run_checkin


def test_a_few_phones_check_in_and_none_is_lost() -> None:
    report = run_checkin(phones=5, spread=1.0, fresh_window=False)
    assert report["bench"] == "checkin"
    assert (report["accepted"], report["lost"], report["statuses"]) == (5, 0, [200])
    assert report["screen_counted"] == 5  # the screen's own count: all five in the database
    assert 0 < report["p50_ms"] <= report["p95_ms"] <= report["max_ms"]
    assert "accepted 5, lost 0" in format_table(report)
    json.dumps(report)
    assert passed(report) == (report["p95_ms"] <= 200)


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_bench(argparse.Namespace(bench="checkin", phones=0, spread=1.0)) == 2
    assert "--phones" in capsys.readouterr().err
    assert run_bench(argparse.Namespace(bench="checkin", phones=5, spread=40.0)) == 2
    assert "--spread" in capsys.readouterr().err

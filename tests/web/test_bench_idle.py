"""``medroom bench idle`` end to end: a real demo server, idle, live, and with one viewer."""

from __future__ import annotations

import argparse
import json
import multiprocessing

import pytest

from web.bench import run_bench
from web.bench.idle import IDLE, LIVE, VIEWER


def test_idle_bench_reports_cores_in_three_states(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(bench="idle", seconds=1.0, settle=0.5)

    assert run_bench(args) == 0

    out = capsys.readouterr().out
    report = json.loads(out.strip().splitlines()[-1])
    assert report["bench"] == "idle"
    assert list(report["cores"]) == [IDLE, LIVE, VIEWER]
    # Even idle, the server runs (sources, sound, the camera head): a figure of 0 would mean
    # the wrong process was read.
    assert all(0 < cores < 4 for cores in report["cores"].values()), report
    # The viewer was really watching while its state was measured.
    assert report["viewer_fps"] > 10, report
    assert len(report["load_average"]) == 3
    assert "live, one viewer" in out and "cores" in out  # the readable table came first
    assert multiprocessing.active_children() == []


def test_idle_bench_refuses_bad_durations(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(bench="idle", seconds=0.1, settle=0.5)
    assert run_bench(args) == 2
    assert "--seconds" in capsys.readouterr().err

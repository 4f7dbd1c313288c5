"""``medroom bench curate`` runs end to end (a tiny recording, one editor open, a few seeks, a
masked publish) and prints its figures as JSON."""

from __future__ import annotations

import argparse
import json

import pytest

from web.bench.curate import run_from_args


def test_curate_bench_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(minutes=0.2, loads=1, seeks=3, height=360, reencode_sample=4.0)
    assert run_from_args(args) == 0
    out = capsys.readouterr().out
    report = json.loads(out.strip().splitlines()[-1])
    assert report["bench"] == "curate" and report["minutes"] == 0.17  # 10 s clip, repeated
    assert report["first_picture_ms"]["p50"] > 0 and report["strip_ms"]["p50"] > 0
    assert len([report["seek_ms"]]) == 1 and report["seek_ms"]["max"] > 0
    masked = report["masked_publish"]
    assert masked["reencoded_seconds"] > 0 and masked["full_reencode_s_estimated"] > 0
    assert "seek to frame" in out and "re-encoding the whole view" in out


def test_curate_bench_refuses_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(minutes=0.01, loads=1, seeks=3, height=360, reencode_sample=4.0)
    assert run_from_args(args) == 2
    assert "--minutes" in capsys.readouterr().err

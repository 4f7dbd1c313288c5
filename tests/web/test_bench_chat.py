"""``medroom bench chat`` end to end at a small scale: it runs and reports (not its timing)."""

from __future__ import annotations

import argparse
import json

import pytest

from web.bench import run_bench


def test_chat_bench_reports_delivery_and_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(bench="chat", participants=10, messages=10, rate=20.0, seconds=1.0)

    assert run_bench(args) == 0

    out = capsys.readouterr().out
    report = json.loads(out.strip().splitlines()[-1])
    assert report["bench"] == "chat" and report["participants"] == 10
    for figures in (report["delivery_to_all_ms"], report["delivery_each_ms"]):
        assert 0 < figures["p50"] <= figures["p95"] <= figures["max"]
    assert report["delivery_each_ms"]["max"] <= report["delivery_to_all_ms"]["max"]
    assert all(0 < cores < 4 for cores in report["server_cores"].values()), report
    assert report["refused"] == 0  # ten senders in turn stay inside the rate limits
    assert "line reaches everyone" in out and "ms/s per participant" in out


def test_chat_bench_refuses_bad_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(bench="chat", participants=0, messages=10, rate=20.0, seconds=1.0)
    assert run_bench(args) == 2
    assert "--participants" in capsys.readouterr().err

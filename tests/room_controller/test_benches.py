"""``medroom bench dicom`` and ``medroom bench composition`` run and print their figures."""

from __future__ import annotations

import json

import pytest

from web.cli import main


def last_json(out: str) -> dict[str, object]:
    report: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return report


def test_bench_dicom_prints_slice_and_load_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "dicom", "--slices", "20", "--iterations", "5", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    report = last_json(out)
    assert report["bench"] == "dicom"
    for size in ("1280x720", "1920x1080"):
        row = report["slice"][size]  # type: ignore[index]
        assert 0 < row["ms_p50"] <= row["ms_p95"] and row["naive_ms_p50"] > 0
        assert row["ratio"] > 0 and row["target_ms"] == 5.0
    load = report["load"]  # type: ignore[index]
    assert load["slices"] == 20 and load["ready_s"] > 0 and load["naive_s"] > 0
    assert "slice -> frame" in out and "naive/ours" in out and "all slices decoded" in out


def test_bench_composition_prints_1080p_targets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "composition", "--seconds", "0.1"]) == 0
    out = capsys.readouterr().out
    report = last_json(out)
    assert report["bench"] == "composition" and report["target_cores"] == 0.5
    rows = {(r["output"], r["layout"]): r for r in report["results"]}  # type: ignore[union-attr]
    for layout in ("pip", "grid-2x2 (3 sources)"):
        row = rows[("1920x1080", layout)]
        assert row["cores"] > 0 and row["naive_cores"] > row["cores"] and "meets_target" in row
    assert "1080p30 pip:" in out and "1080p30 grid-2x2 (3 sources):" in out


def test_bench_arguments_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "dicom", "--slices", "1"]) == 2
    assert main(["bench", "composition", "--seconds", "0"]) == 2
    assert "needs" in capsys.readouterr().out

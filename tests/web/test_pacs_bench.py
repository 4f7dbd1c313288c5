"""``medroom bench pacs`` runs against a loopback Orthanc and prints its figures."""

from __future__ import annotations

import json

import pytest

from tests.pacs_peer import require_orthanc
from web.cli import main


def test_bench_pacs_prints_retrieval_and_export_figures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    require_orthanc()
    assert main(["bench", "pacs", "--slices", "6", "--size", "16", "--repeats", "1",
                 "--clip-seconds", "2"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out.strip().splitlines()[-1])
    assert report["bench"] == "pacs"
    for protocol in ("dicomweb", "dimse"):
        assert report["retrieval"][protocol]["ready_s_median"] > 0
        assert report["export"][protocol]["frames"] == 60
    assert report["retrieval"]["plain_dicomweb_s"] > 0 and report["export"]["plain_reencode_s"] > 0
    assert "ready to show" in out and "no re-encode" in out and "plain/ours" in out

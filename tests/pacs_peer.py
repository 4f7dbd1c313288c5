"""The tests' PACS: Debian's Orthanc on loopback (``web/bench/orthanc.py``, shared with
``medroom bench pacs``); a test that needs it skips, naming the command, when it is missing."""

from __future__ import annotations

import pytest

from web.bench.orthanc import (
    INSTALL,
    MEDROOM_AET,
    ORTHANC_AET,
    PASSWORD,
    USER,
    OrthancMissing,
    OrthancPeer,
    Study,
    check_orthanc,
    ct_series,
    free_port,
    worklist_item,
)

__all__ = ["INSTALL", "MEDROOM_AET", "ORTHANC_AET", "PASSWORD", "USER", "OrthancPeer", "Study",
           "ct_series", "free_port", "require_orthanc", "worklist_item"]


def require_orthanc() -> None:
    """Skip the calling test, naming what to install, when Debian's Orthanc is not here."""
    try:
        check_orthanc()
    except OrthancMissing as exc:
        pytest.skip(str(exc))

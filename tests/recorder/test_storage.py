from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from recorder.storage import StorageGuard, StorageLevel, StorageStatus, storage_status


def test_levels_follow_the_thresholds(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    assert storage_status(tmp_path, warn_bytes=1, stop_bytes=0).level is StorageLevel.OK
    low = storage_status(tmp_path, warn_bytes=free * 2, stop_bytes=0)
    assert low.level is StorageLevel.LOW and "GB free" in (low.message or "")
    critical = storage_status(tmp_path / "not" / "yet", warn_bytes=free * 2, stop_bytes=free * 2)
    assert critical.level is StorageLevel.CRITICAL and "recording stopped" in (critical.message or "")


async def test_guard_calls_back_while_critical_and_stops_cleanly(tmp_path: Path) -> None:
    calls: list[StorageStatus] = []

    async def on_critical(status: StorageStatus) -> None:
        calls.append(status)

    huge = shutil.disk_usage(tmp_path).total * 2
    guard = StorageGuard(tmp_path, warn_bytes=huge, stop_bytes=huge, on_critical=on_critical,
                         interval=0.05)
    guard.start()
    await asyncio.sleep(0.3)
    await guard.stop()
    assert len(calls) >= 2 and calls[0].level is StorageLevel.CRITICAL
    count = len(calls)
    await asyncio.sleep(0.15)
    assert len(calls) == count  # stopped means stopped


def test_thresholds_must_be_ordered(tmp_path: Path) -> None:
    async def nothing(status: StorageStatus) -> None:
        return None

    with pytest.raises(ValueError, match="must not be above"):
        StorageGuard(tmp_path, warn_bytes=1, stop_bytes=2, on_critical=nothing)

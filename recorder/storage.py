"""The storage guard: watch free disk space under the recordings folder.

Below the warning threshold the console says so; below the stop threshold every active
recording is stopped cleanly (its files closed and playable) before the disk is actually full,
and the instructor is told why. Checking every couple of seconds costs one ``statvfs``.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

logger = logging.getLogger(__name__)


class StorageLevel(str, Enum):
    OK = "ok"
    LOW = "low"  # warn the instructor
    CRITICAL = "critical"  # recordings are being stopped


@dataclass(frozen=True)
class StorageStatus:
    path: str
    free_bytes: int
    total_bytes: int
    level: StorageLevel
    message: str | None


def storage_status(path: Path, warn_bytes: int, stop_bytes: int) -> StorageStatus:
    """Free space where recordings go, judged against the two thresholds."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent  # the folder may not exist yet: ask its nearest existing parent
    usage = shutil.disk_usage(probe)
    free_gb = usage.free / 1e9
    if usage.free < stop_bytes:
        level, message = StorageLevel.CRITICAL, (
            f"disk almost full ({free_gb:.1f} GB free): recording stopped to keep what was "
            "recorded playable; free space before recording again"
        )
    elif usage.free < warn_bytes:
        level, message = StorageLevel.LOW, (
            f"disk space low: {free_gb:.1f} GB free for recordings"
        )
    else:
        level, message = StorageLevel.OK, None
    return StorageStatus(str(path), usage.free, usage.total, level, message)


class StorageGuard:
    """Checks free space periodically; calls ``on_critical`` while below the stop threshold."""

    def __init__(
        self,
        path: Path,
        *,
        warn_bytes: int,
        stop_bytes: int,
        on_critical: Callable[[StorageStatus], Awaitable[None]],
        interval: float = 2.0,
    ) -> None:
        if stop_bytes > warn_bytes:
            raise ValueError("the stop threshold must not be above the warning threshold")
        self.path = path
        self.warn_bytes = warn_bytes
        self.stop_bytes = stop_bytes
        self.interval = interval
        self._on_critical = on_critical
        self._task: asyncio.Task[None] | None = None
        self.status = storage_status(path, warn_bytes, stop_bytes)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="storage-guard")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def check(self) -> StorageStatus:
        self.status = storage_status(self.path, self.warn_bytes, self.stop_bytes)
        return self.status

    async def _run(self) -> None:
        while True:
            try:
                status = await asyncio.to_thread(self.check)
                if status.level is StorageLevel.CRITICAL:
                    await self._on_critical(status)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The guard must outlive a failing check (e.g. an unmounted disk).
                logger.exception("storage check of %s failed", self.path)
            await asyncio.sleep(self.interval)

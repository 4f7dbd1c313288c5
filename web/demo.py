"""Demo data: the CT phantom the demo room shows, written once under the data folder; the demo
library's lessons, made in the background on first start."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from config.rooms import DicomSeriesSpec, RoomSpec
from library.db import Database
from library.demo_library import ensure_demo_library
from room_controller.dicom import ensure_head_phantom

logger = logging.getLogger(__name__)


def prepare_demo_media(specs: list[RoomSpec], data_dir: Path) -> None:
    """Write a synthetic head CT for every DICOM source that asks for one and has none."""
    for spec in specs:
        for source in spec.sources:
            if isinstance(source, DicomSeriesSpec) and source.demo_phantom:
                folder = source.path if source.path.is_absolute() else data_dir / source.path
                ensure_head_phantom(folder)


class DemoLibrary:
    """Makes the demo library off the event loop while the server already serves; ``stop``
    asks it to stop after the lesson in hand and waits for that."""

    def __init__(self, db: Database, recordings_dir: Path, wake_publisher: Callable[[], None]
                 ) -> None:
        self.db = db
        self.recordings_dir = recordings_dir
        self.wake_publisher = wake_publisher
        self._stopping = threading.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="demo-library")

    async def _run(self) -> None:
        started = time.monotonic()
        try:
            queued = await asyncio.to_thread(ensure_demo_library, self.db, self.recordings_dir,
                                             should_stop=self._stopping.is_set)
        except Exception:  # the demo's lessons are a convenience: never take the server down
            logger.exception("the demo library could not be made")
            return
        if queued:
            logger.info("demo library: %d lessons recorded in %.1f s, publishing now",
                        len(queued), time.monotonic() - started)
            self.wake_publisher()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        await asyncio.gather(task, return_exceptions=True)

"""The curation editor's media (``library/publishing/curation_media.py``), made once per
recording: right after it stops, or the first time the editor asks for an older one.

One build per folder at a time: a second caller waits for the first build and reads its result.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from library.publishing.curation_media import CurationMedia, load_curation, prepare_curation

logger = logging.getLogger(__name__)


class EditorMedia:
    def __init__(self) -> None:
        self._locks: dict[Path, asyncio.Lock] = {}

    async def ensure(self, folder: Path) -> CurationMedia:
        """The folder's editor media, built now if missing; ``PublishError`` if it cannot be."""
        found = await asyncio.to_thread(load_curation, folder)
        if found is not None:
            return found
        lock = self._locks.setdefault(folder, asyncio.Lock())
        try:
            async with lock:
                return await asyncio.to_thread(prepare_curation, folder)
        finally:
            if not lock.locked() and self._locks.get(folder) is lock:
                del self._locks[folder]

    async def after_recording(self, folder: Path) -> None:
        """Build in the background after a recording stopped; a failure only costs the editor
        a wait later (it builds again on open), so it is logged, not raised."""
        try:
            await self.ensure(folder)
        except Exception as exc:  # noqa: BLE001 - a recording that cannot be prepared stays a recording
            logger.warning("editor media of %s not made: %s", folder.name, exc)

"""A task of the server that runs ``tick()`` every ``interval`` seconds while the server runs.

One round that fails (a database hiccup, a file gone) is logged and the next one runs anyway:
what a ticker keeps up (planned recordings, random presence checks) must not stop for one error.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod

logger = logging.getLogger(__name__)


class Ticker(ABC):
    """Subclasses give ``name`` and ``tick``; ``start``/``stop`` fit ``web.startup.running``."""

    name = "ticker"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    @abstractmethod
    async def tick(self) -> None:
        """One round of the ticker's work."""

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("%s: this round failed; the next one runs anyway", self.name)
            await asyncio.sleep(self.interval)

"""The random presence checks' timer: every few seconds, opens the checks that are due
(``library.random_checks`` decides which), and writes each to the access log."""

from __future__ import annotations

import asyncio
import logging

from library.cme import audit
from library.db import Database
from library.random_checks import open_due_checks

logger = logging.getLogger(__name__)
SYSTEM_ACTOR = audit.Actor("medroom", "admin")


class PresenceTimer:
    def __init__(self, db: Database, secret: bytes, interval: float = 10.0) -> None:
        self.db = db
        self.secret = secret
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="presence-timer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # a database hiccup must not end the timer
                logger.exception("random presence checks: this round failed")
            await asyncio.sleep(self.interval)

    async def tick(self) -> None:
        for check in await asyncio.to_thread(open_due_checks, self.db, self.secret):
            logger.info("random presence check %d opened in live session %d", check.seq,
                        check.live_session_id)
            await asyncio.to_thread(
                audit.record, self.db, SYSTEM_ACTOR, audit.Action.PRESENCE_CHECK,
                target=audit.Target.LIVE_SESSION, target_id=check.live_session_id,
                detail={"check": check.seq, "kind": "random"})

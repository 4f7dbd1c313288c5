"""The random presence checks' timer: every few seconds, opens the checks that are due
(``library.random_checks`` decides which), and writes each to the access log."""

from __future__ import annotations

import asyncio
import logging

from library.cme import audit
from library.db import Database
from library.random_checks import open_due_checks
from web.ticker import Ticker

logger = logging.getLogger(__name__)
SYSTEM_ACTOR = audit.Actor("medroom", "admin")


class PresenceTimer(Ticker):
    name = "presence-timer"

    def __init__(self, db: Database, secret: bytes, interval: float = 10.0) -> None:
        super().__init__(interval)
        self.db = db
        self.secret = secret

    async def tick(self) -> None:
        for check in await asyncio.to_thread(open_due_checks, self.db, self.secret):
            logger.info("random presence check %d opened in live session %d", check.seq,
                        check.live_session_id)
            await asyncio.to_thread(
                audit.record, self.db, SYSTEM_ACTOR, audit.Action.PRESENCE_CHECK,
                target=audit.Target.LIVE_SESSION, target_id=check.live_session_id,
                detail={"check": check.seq, "kind": "random"})

"""The publishing runner: works the queue of publishing jobs, one at a time, off the event loop.

Owned by the app's lifespan (``start()``/``stop()``). On start, jobs a crash or a stop left
running go back to the queue and are redone from scratch. ``wake()`` starts the next job at
once after a request queues one; otherwise the queue is polled every ``interval`` seconds.
Stopping asks the job in hand to give up at its next progress report (its staging folder is
removed, the job stays queued for the next start) and waits for the thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from library.db import Database
from library.publishing import jobs

logger = logging.getLogger(__name__)


class PublishRunner:
    def __init__(self, db: Database, recordings_dir: Path, media_dir: Path,
                 interval: float = 2.0) -> None:
        self.db = db
        self.recordings_dir = recordings_dir
        self.media_dir = media_dir
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = threading.Event()

    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="publish-runner")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        requeued = await asyncio.to_thread(jobs.requeue_interrupted, self.db)
        if requeued:
            logger.warning("publishing jobs %s were interrupted: redoing them", requeued)
        while True:
            try:
                while await self._work_one():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("publishing runner failed; trying again")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except TimeoutError:
                pass

    async def _work_one(self) -> bool:
        job = await asyncio.to_thread(jobs.claim_next, self.db)
        if job is None:
            return False
        logger.info("publishing lesson %s (job %s, attempt %s)", job.lesson_id, job.id,
                    job.attempts)
        work = asyncio.ensure_future(asyncio.to_thread(
            jobs.run_job, self.db, job, self.recordings_dir, self.media_dir,
            self._stopping.is_set))
        try:
            # Shielded: a cancelled runner still waits for the thread, which stops at its next
            # progress report; the thread must not outlive the database it writes to.
            done = await asyncio.shield(work)
        except asyncio.CancelledError:
            await asyncio.gather(work, return_exceptions=True)
            await asyncio.to_thread(jobs.requeue_interrupted, self.db)
            raise
        except jobs.JobCancelled:
            await asyncio.to_thread(jobs.requeue_interrupted, self.db)
            return False
        logger.info("publishing job %s: %s %s", done.id, done.state, done.error or "")
        return True

"""The schedule runner: records planned sessions on time, whether a console is open or not.

Once a second it reads the open sessions from the database and acts on ``due_actions``:
start a recording when a window opens (or again after a restart mid-window), stop it when the
window closes, and mark windows that passed while the server was down as missed. A recording
that ends early (stopped by hand, the failsafe, a full disk) closes its session: the schedule
never restarts what a person stopped.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from library import schedule
from library.db import Database
from library.models import utcnow
from library.schedule import Action, ScheduleState
from recorder.manifest import RecordingState
from recorder.recording import Recording, RecordingError
from web.live import RoomNotFound
from web.room_recordings import RoomRecordings
from web.ticker import Ticker

logger = logging.getLogger(__name__)
ACTIVE = (RecordingState.RECORDING, RecordingState.PAUSED)


class ScheduleRunner(Ticker):
    name = "schedule-runner"

    def __init__(self, db: Database, recordings: RoomRecordings, interval: float = 1.0) -> None:
        super().__init__(interval)
        self.db = db
        self.recordings = recordings
        self._running: dict[int, Recording] = {}  # scheduled session id -> its recording

    async def tick(self, now: datetime | None = None) -> None:
        now = now or utcnow()
        await self._close_ended_early(now)
        sessions = await asyncio.to_thread(schedule.open_sessions, self.db)
        for action, session in schedule.due_actions(sessions, now, set(self._running)):
            if action is Action.START:
                await self._start(session)
            elif action is Action.STOP:
                await self._stop(session)
            else:
                await self._update(session.id, ScheduleState.MISSED,
                                   message="the server was not running during the planned time")

    async def _start(self, session: schedule.ScheduledInfo) -> None:
        try:
            recording = await self.recordings.record(session.room_id, session.title)
        except (RecordingError, RoomNotFound) as exc:
            logger.error("scheduled session %s could not record: %s", session.id, exc)
            await self._update(session.id, ScheduleState.FAILED, message=str(exc))
            return
        self._running[session.id] = recording
        resumed = session.state is ScheduleState.RECORDING
        await self._update(
            session.id, ScheduleState.RECORDING, add_recording=recording.id,
            message="resumed after a restart" if resumed else None,
        )
        logger.info("scheduled session %s recording as %s", session.id, recording.id)

    async def _stop(self, session: schedule.ScheduledInfo) -> None:
        recording = self._running.pop(session.id, None)
        if recording is not None and recording.state in ACTIVE:
            try:
                await recording.stop(reason="scheduled end")
            except RecordingError as exc:
                logger.warning("scheduled stop of %s: %s", recording.id, exc)
        await self._update(session.id, ScheduleState.DONE)

    async def _close_ended_early(self, now: datetime) -> None:
        for session_id, recording in list(self._running.items()):
            if recording.state in ACTIVE:
                continue
            del self._running[session_id]
            why = recording.stop_reason or recording.error or "stopped from the console"
            await self._update(session_id, ScheduleState.DONE,
                               message=f"recording ended before the planned end: {why}")

    async def _update(self, session_id: int, state: ScheduleState, **kw: str | None) -> None:
        await asyncio.to_thread(schedule.update_session, self.db, session_id, state, **kw)

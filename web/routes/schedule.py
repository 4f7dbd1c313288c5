"""Schedule API: plan a room's sessions ahead; the room records them on time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, HTTPException, status

from library import schedule
from library.models import utcnow
from library.schedule import ScheduledInfo, ScheduleError
from web.auth import Controller
from web.deps import DbDep, IdPath, StateDep
from web.schemas import ScheduledOut, ScheduleIn

router = APIRouter(prefix="/api", tags=["schedule"])


def scheduled_out(s: ScheduledInfo) -> ScheduledOut:
    return ScheduledOut(
        id=s.id, room=s.room_id, title=s.title, course=s.course, starts_at=s.starts_at,
        ends_at=s.ends_at, state=s.state.value, recording_ids=list(s.recording_ids),
        message=s.message,
    )


@router.post("/rooms/{room_id}/schedule", status_code=201, response_model=ScheduledOut,
             summary="Plan a session: the room records it from start to end")
async def plan(state: StateDep, room_id: str, body: ScheduleIn,
               principal: Controller) -> ScheduledOut:
    try:
        info = await asyncio.to_thread(
            schedule.plan_session, state.db, room_id=room_id, title=body.title,
            course=body.course, starts_at=body.starts_at, ends_at=body.ends_at,
            created_by=principal.user_id, max_seconds=state.settings.recording_max_seconds,
        )
    except ScheduleError as exc:
        code = status.HTTP_409_CONFLICT if "already has" in str(exc) else 422
        raise HTTPException(code, str(exc)) from None
    return scheduled_out(info)


@router.get("/rooms/{room_id}/schedule", response_model=list[ScheduledOut],
            summary="The room's sessions from yesterday on")
async def list_planned(db: DbDep, room_id: str, principal: Controller) -> list[ScheduledOut]:
    since = utcnow() - timedelta(days=1)
    sessions = await asyncio.to_thread(schedule.list_sessions, db, room_id, since)
    return [scheduled_out(s) for s in sessions]


@router.delete("/schedule/{session_id}", response_model=ScheduledOut,
               summary="Cancel a planned session")
async def cancel(db: DbDep, session_id: IdPath, principal: Controller) -> ScheduledOut:
    info = await asyncio.to_thread(schedule.get_session, db, session_id)
    if info is None or not principal.may_use_room(info.room_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no scheduled session {session_id}")
    try:
        return scheduled_out(await asyncio.to_thread(schedule.cancel_session, db, session_id))
    except ScheduleError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None

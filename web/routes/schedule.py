"""Schedule API: plan a room's sessions ahead; the room records them on time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, HTTPException, status

from library import schedule
from library.i18n import LazyText, formats, lazy
from library.models import utcnow
from library.schedule import OPEN_STATES, ScheduledInfo, ScheduleError
from web.auth import Controller
from web.deps import DbDep, IdPath, StateDep
from web.routes.rooms import passed_on
from web.schemas import ScheduledOut, ScheduleIn
from web.state import AppState

router = APIRouter(prefix="/api", tags=["schedule"])


def scheduled_out(s: ScheduledInfo) -> ScheduledOut:
    return ScheduledOut(
        id=s.id, room=s.room_id, title=s.title, course=s.course, starts_at=s.starts_at,
        ends_at=s.ends_at, state=s.state.value, recording_ids=list(s.recording_ids),
        message=s.message,
    )


def _refusal(exc: ScheduleError, state: AppState, room_id: str, body: ScheduleIn,
             max_seconds: float | None) -> LazyText | str:
    """Why a session cannot be planned, in the planner's language and with times on their
    clock (the library says it in English and in UTC)."""
    text = str(exc)
    fixed = {
        "a scheduled session needs a title":
            lazy("a scheduled session needs a title", "schedule_title_missing"),
        "the title is longer than 200 characters":
            lazy("the title is longer than 200 characters", "schedule_title_too_long"),
        "the session must end after it starts":
            lazy("the session must end after it starts", "schedule_ends_before_start"),
        "the session is already over: its end is in the past":
            lazy("the session is already over: its end is in the past", "schedule_in_the_past"),
    }
    if text in fixed:
        return fixed[text]
    if "recording limit" in text and max_seconds is not None:
        return lazy("the session is longer than the recording limit of %(limit)s",
                    "schedule_too_long", limit=formats.format_duration(max_seconds))
    if "already has" in text:
        clash = next((s for s in schedule.list_sessions(state.db, room_id)
                      if s.state in OPEN_STATES and s.starts_at < body.ends_at
                      and s.ends_at > body.starts_at), None)
        if clash is not None:
            return lazy("room '%(room)s' already has '%(title)s' planned from %(start)s to %(end)s",
                        "schedule_clash", room=room_id, title=clash.title,
                        start=formats.format_datetime(clash.starts_at, "short"),
                        end=formats.format_time(clash.ends_at, with_zone=True))
    return passed_on(exc)


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
        reason = await asyncio.to_thread(_refusal, exc, state, room_id, body,
                                         state.settings.recording_max_seconds)
        raise HTTPException(code, reason) from None
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
        raise HTTPException(status.HTTP_404_NOT_FOUND, lazy(
            "no scheduled session %(id)s", "scheduled_session_not_found", id=session_id))
    try:
        return scheduled_out(await asyncio.to_thread(schedule.cancel_session, db, session_id))
    except ScheduleError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, lazy(
            "this session can no longer be cancelled: %(reason)s", "schedule_not_cancellable",
            reason=passed_on(exc))) from None

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from library.db import Database
from library.schedule import (
    Action,
    ScheduleError,
    ScheduleState,
    cancel_session,
    due_actions,
    list_sessions,
    plan_session,
    update_session,
)

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def plan(db: Database, start_min: int, end_min: int, room: str = "demo", **kw):  # type: ignore[no-untyped-def]
    return plan_session(
        db, room_id=room, title=kw.pop("title", "Septoplasty"),
        starts_at=NOW + timedelta(minutes=start_min), ends_at=NOW + timedelta(minutes=end_min),
        now=NOW, **kw,
    )


def test_plan_list_and_cancel(db: Database) -> None:
    s = plan(db, 10, 70, course="ENT")
    assert s.state is ScheduleState.PLANNED and s.course == "ENT"
    assert s.starts_at == NOW + timedelta(minutes=10)  # timezone-aware on every backend
    assert [x.id for x in list_sessions(db, "demo")] == [s.id]
    assert cancel_session(db, s.id).state is ScheduleState.CANCELLED
    with pytest.raises(ScheduleError, match="only a planned session"):
        cancel_session(db, s.id)
    # Cancelled sessions leave the time free again.
    assert plan(db, 10, 70).state is ScheduleState.PLANNED


@pytest.mark.parametrize(
    "start, end, kw, message",
    [
        (10, 5, {}, "end after it starts"),
        (-60, -5, {}, "already over"),
        (10, 20, {"title": "  "}, "needs a title"),
        (10, 20, {"title": "x" * 201}, "longer than 200"),
        (0, 300, {"max_seconds": 4 * 3600}, "longer than the recording limit of 4 h"),
    ],
)
def test_bad_plans_are_refused_with_a_reason(db: Database, start, end, kw, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ScheduleError, match=message):
        plan(db, start, end, **kw)


def test_overlapping_sessions_in_one_room_are_refused(db: Database) -> None:
    plan(db, 10, 70, title="Morning list")
    with pytest.raises(ScheduleError, match="already has 'Morning list' planned"):
        plan(db, 60, 90)
    plan(db, 70, 90)  # back to back is fine
    plan(db, 10, 70, room="or-2")  # another room is fine


def test_naive_times_are_refused(db: Database) -> None:
    with pytest.raises(ScheduleError, match="time zone"):
        plan_session(db, room_id="demo", title="x", starts_at=datetime(2026, 11, 24, 9),
                     ends_at=datetime(2026, 11, 24, 10), now=NOW)


def test_due_actions(db: Database) -> None:
    soon = plan(db, 1, 2)
    later = plan(db, 5, 6)
    past = plan(db, -5, 0 + 1)
    assert due_actions([soon, later], NOW, set()) == []
    at = NOW + timedelta(minutes=1)
    assert due_actions([soon, later], at, set()) == [(Action.START, soon)]
    running = update_session(db, soon.id, ScheduleState.RECORDING, add_recording="r1")
    assert running.recording_ids == ("r1",)
    assert due_actions([running], at, {soon.id}) == []
    # After a restart nothing runs although the session is recording: resume it.
    assert due_actions([running], at, set()) == [(Action.START, running)]
    assert due_actions([running], NOW + timedelta(minutes=2), {soon.id}) == [(Action.STOP, running)]
    assert due_actions([past], NOW + timedelta(minutes=3), set()) == [(Action.MISS, past)]

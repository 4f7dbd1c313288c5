from __future__ import annotations

import uuid
from datetime import UTC, timedelta

import pytest

from library.attendance import (
    AttendanceError,
    close_dangling,
    end_live_session,
    get_live_session,
    list_live_sessions,
    list_viewer_sessions,
    start_live_session,
    viewer_joined,
    viewer_left,
)
from library.db import Database
from library.users import Role, create_user


def _vid() -> str:
    return str(uuid.uuid4())


def test_attendance_flow(db: Database) -> None:
    teacher = create_user(db, "ana", "password1", Role.INSTRUCTOR)
    student = create_user(db, "marko", "password1", Role.STUDENT)
    live = start_live_session(db, "or-1", "Endoscopic sinus surgery", teacher.id)
    info = get_live_session(db, live)
    assert info is not None and info.ended_at is None and info.started_by == teacher.id
    assert info.started_at.tzinfo is not None

    v1, v2, v3 = _vid(), _vid(), _vid()
    viewer_joined(db, live, "or-1", v1, student.id, "marko", "student")
    viewer_joined(db, live, "or-1", v2, None, "guest:abc", "student")
    viewer_joined(db, live, "or-1", v3, teacher.id, "ana", "instructor")
    viewer_left(db, v1, "closed")
    viewer_left(db, v1, "timeout")  # second leave keeps the first time and reason
    end_live_session(db, live)
    end_live_session(db, live)  # idempotent

    records = {r.id: r for r in list_viewer_sessions(db, live)}
    assert set(records) == {v1, v2, v3}
    assert records[v1].left_reason == "closed"
    assert records[v1].user_id == student.id and records[v1].subject == "marko"
    assert records[v2].left_reason == "session ended" and records[v2].user_id is None
    assert records[v3].left_reason == "session ended"
    ended = get_live_session(db, live)
    assert ended is not None and ended.ended_at is not None
    for r in records.values():
        assert r.room_id == "or-1" and r.live_session_id == live
        assert r.joined_at.tzinfo is not None and r.joined_at.utcoffset() == timedelta(0)
        assert r.left_at is not None and r.left_at.tzinfo is not None
        assert r.joined_at <= r.left_at <= ended.ended_at
    left = records[v1].left_at
    assert left is not None and left.tzinfo == UTC


def test_close_dangling_after_crash(db: Database) -> None:
    crashed = start_live_session(db, "or-1", "crashed", None)
    other = start_live_session(db, "or-2", "also crashed", None)
    done = start_live_session(db, "or-3", "ended cleanly", None)
    a, b, c = _vid(), _vid(), _vid()
    viewer_joined(db, crashed, "or-1", a, None, "guest:a", "student")
    viewer_joined(db, crashed, "or-1", b, None, "guest:b", "student")
    viewer_joined(db, done, "or-3", c, None, "guest:c", "student")
    viewer_left(db, b, "closed")
    end_live_session(db, done)

    # Open before the "restart": live sessions crashed + other, viewer a.
    assert close_dangling(db) == 3
    assert close_dangling(db) == 0

    records = {r.id: r for r in list_viewer_sessions(db, crashed)}
    assert records[a].left_reason == "server restart" and records[a].left_at is not None
    assert records[b].left_reason == "closed"
    assert list_viewer_sessions(db, done)[0].left_reason == "session ended"
    assert all(s.ended_at is not None for s in list_live_sessions(db))
    # The room can go live again after recovery.
    assert start_live_session(db, "or-1", "again", None) != crashed
    assert [s.room_id for s in list_live_sessions(db, "or-2")] == ["or-2"]
    assert get_live_session(db, other) is not None


def test_refused_events(db: Database) -> None:
    live = start_live_session(db, "or-1", "demo", None)
    with pytest.raises(AttendanceError, match="already has live session"):
        start_live_session(db, "or-1", "second", None)
    with pytest.raises(AttendanceError, match="no user with id 999"):
        start_live_session(db, "or-2", "ghost", 999)
    with pytest.raises(AttendanceError, match="not a UUID"):
        viewer_joined(db, live, "or-1", "viewer-1", None, "guest", "student")
    with pytest.raises(AttendanceError, match="belongs to room 'or-1'"):
        viewer_joined(db, live, "or-9", _vid(), None, "guest", "student")
    with pytest.raises(AttendanceError, match="no live session with id 12345"):
        viewer_joined(db, 12345, "or-1", _vid(), None, "guest", "student")
    vid = _vid()
    viewer_joined(db, live, "or-1", vid, None, "guest", "student")
    with pytest.raises(AttendanceError, match="already joined"):
        viewer_joined(db, live, "or-1", vid, None, "guest", "student")
    with pytest.raises(AttendanceError, match="no viewer session"):
        viewer_left(db, _vid(), "closed")
    with pytest.raises(AttendanceError, match="no live session"):
        end_live_session(db, 12345)
    end_live_session(db, live)
    with pytest.raises(AttendanceError, match="has already ended"):
        viewer_joined(db, live, "or-1", _vid(), None, "guest", "student")
    assert len(list_viewer_sessions(db, live)) == 1


def test_viewer_id_forms_are_the_same_viewer(db: Database) -> None:
    live = start_live_session(db, "or-1", "demo", None)
    vid = uuid.uuid4()
    viewer_joined(db, live, "or-1", vid.hex, None, "guest", "student")  # as streaming makes it
    viewer_left(db, str(vid), "closed")
    [record] = list_viewer_sessions(db, live)
    assert record.id == str(vid) and record.left_reason == "closed"

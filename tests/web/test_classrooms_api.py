"""Classrooms against a real server: pairing a screen, checking in from phones, unpairing.

Issue 18: a pairing code works once and for minutes; a check-in code is bound to its classroom
and its 30 s window; replays, other classrooms' codes, expired codes and a shared phone are
refused with a message the phone shows; every check-in is in the access log; unpairing stops
the screen's video at once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiortc import RTCSessionDescription
from sqlalchemy import update

from library.checkin_codes import CodeBook, classroom_place, window_of
from library.classroom_models import ClassroomScreen
from library.cme import audit
from library.db import Database
from library.users import Role
from tests.conftest import Server, start_server
from tests.peers import client_pc
from tests.web.classroom_helpers import (
    add_users,
    ask,
    interaction_socket,
    login,
    next_message,
    open_screen,
    paired_screen,
    register,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    for server in start_server(tmp_path_factory.mktemp("classrooms")):
        add_users(server, ("root", Role.ADMIN), ("ana", Role.STUDENT), ("ion", Role.STUDENT),
                  ("vera", Role.STUDENT), ("zoe", Role.STUDENT))
        yield server


def _db(server: Server) -> Database:
    return Database(f"sqlite:///{server.data_dir / 'medroom.db'}")


def _code(screen: httpx.Client) -> dict[str, Any]:
    state = screen.get("/api/screen/state")
    assert state.status_code == 200, state.text
    checkin: dict[str, Any] = state.json()["checkin"]
    assert checkin, state.json()
    return checkin


def test_pairing_code_works_once_and_expires(server: Server) -> None:
    admin = login(server, "root")
    room = register(admin, "Amphitheatre 1")
    screen = open_screen(server)
    assert screen.client.get("/api/screen/state").status_code == 401  # not paired yet
    wrong = admin.post(f"/api/classrooms/{room}/screens", json={"code": "2345-6789"})
    assert wrong.status_code == 404 and "no screen shows this code" in wrong.json()["detail"]
    short = admin.post(f"/api/classrooms/{room}/screens", json={"code": "12"})
    assert short.status_code == 400 and "8 letters and digits" in short.json()["detail"]
    ok = admin.post(f"/api/classrooms/{room}/screens", json={"code": screen.code.lower()})
    assert ok.status_code == 201, ok.text
    again = admin.post(f"/api/classrooms/{room}/screens", json={"code": screen.code})
    assert again.status_code == 404 and "used already" in again.json()["detail"]
    state = screen.client.get("/api/screen/state").json()
    assert state["paired"] and state["classroom"]["name"] == "Amphitheatre 1"
    assert "ana" not in str(state) and "root" not in str(state)  # no personal data
    # An expired code: the screen waited too long.
    late = open_screen(server)
    db = _db(server)
    try:
        with db.session() as session:
            session.execute(update(ClassroomScreen).where(ClassroomScreen.paired_at.is_(None))
                            .values(code_expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    finally:
        db.dispose()
    expired = admin.post(f"/api/classrooms/{room}/screens", json={"code": late.code})
    assert expired.status_code == 410 and "expired" in expired.json()["detail"]
    # An admin renames it; a bad time zone or room is refused by name.
    moved = admin.patch(f"/api/classrooms/{room}", json={"name": "Amphitheatre 1A"})
    assert moved.status_code == 200 and moved.json()["name"] == "Amphitheatre 1A"
    assert screen.client.get("/api/screen/state").json()["classroom"]["name"] == "Amphitheatre 1A"
    zone = admin.patch(f"/api/classrooms/{room}", json={"timezone": "Mars/Olympus"})
    assert zone.status_code == 400 and "IANA" in zone.json()["detail"]
    nowhere = admin.patch(f"/api/classrooms/{room}", json={"room_id": "nowhere"})
    assert nowhere.status_code == 400 and "no room 'nowhere'" in nowhere.json()["detail"]
    # Only admins pair or register.
    student = login(server, "ana")
    assert student.post(f"/api/classrooms/{room}/screens",
                        json={"code": late.code}).status_code == 403
    assert student.get("/api/classrooms").status_code == 403
    assert student.patch(f"/api/classrooms/{room}", json={"city": "X"}).status_code == 403


def test_check_in_accepts_the_current_code_and_refuses_the_rest(server: Server) -> None:
    admin, instructor = login(server, "root"), login(server, "dr-ana")
    hall_a, hall_b = register(admin, "Hall A", "Pleven"), register(admin, "Hall B", "Smederevo")
    screen_a = paired_screen(server, admin, hall_a)
    screen_b = paired_screen(server, admin, hall_b)
    assert screen_a.client.get("/api/screen/state").json()["checkin"] is None  # not live
    live = instructor.post("/api/rooms/demo/live", json={"title": "Septoplasty"})
    assert live.status_code in (200, 201), live.text
    try:
        ana, ion, vera = login(server, "ana"), login(server, "ion"), login(server, "vera")
        shown_a, shown_b = _code(screen_a.client), _code(screen_b.client)
        assert shown_a["code"] != shown_b["code"] and shown_a["qr"].startswith("data:image/svg")
        first = ana.post("/api/checkin", json={"code": shown_a["code"], "at": hall_a})
        assert first.status_code == 200, first.text
        assert first.json()["place"] == "Hall A, Pleven" and first.json()["check"] == 1
        replay = ana.post("/api/checkin", json={"code": shown_a["code"], "at": hall_a})
        assert replay.status_code == 409 and "already checked in" in replay.json()["detail"]
        # Hall B's code with Hall A's page (a code sent from the other hall).
        other = ion.post("/api/checkin", json={"code": shown_b["code"], "at": hall_a})
        assert other.status_code == 409, other.text
        assert "from Hall B, Smederevo, not from Hall A, Pleven" in other.json()["detail"]
        # Ana is in Hall A: Hall B's code (typed, no page) is a second place.
        twice = ana.post("/api/checkin", json={"code": shown_b["code"]})
        assert twice.status_code == 409 and "One person is in one place" in twice.json()["detail"]
        # An expired code: Hall A's code of three windows ago, made with the server's secret.
        book = CodeBook(server.env["MEDROOM_SECRET_KEY"])
        check_id = _check_id(server)
        old = book.code(classroom_place(hall_a), check_id, window_of(datetime.now(UTC)) - 3)
        expired = ion.post("/api/checkin", json={"code": old})
        assert expired.status_code == 410 and "expired" in expired.json()["detail"]
        # One phone, one account: Vera on the phone Ana used.
        vera.cookies.set("medroom_phone", ana.cookies.get("medroom_phone") or "",
                         domain="127.0.0.1")
        shared = vera.post("/api/checkin", json={"code": _code(screen_a.client)["code"]})
        assert shared.status_code == 409 and "one phone checks in one account" in \
            shared.json()["detail"]
        bad = ion.post("/api/checkin", json={"code": "no such thing"})
        assert bad.status_code == 400 and "8 letters and digits" in bad.json()["detail"]
        unknown = ion.post("/api/checkin", json={"code": "2345-6789"})
        assert unknown.status_code == 404 and "not a check-in code" in unknown.json()["detail"]
        ok = ion.post("/api/checkin", json={"code": _code(screen_b.client)["code"]})
        assert ok.status_code == 200 and ok.json()["place"] == "Hall B, Smederevo"
        assert _code(screen_a.client)["present_now"] == 1
        # The instructor opens a presence check: new codes; the old ones are refused. (The
        # first check is dated back: a new one needs the previous one to be a minute old.)
        _age_checks(server, seconds=61)
        check = instructor.post("/api/rooms/demo/presence-checks")
        assert check.status_code == 201 and check.json()["check"] == 2, check.text
        stale = ana.post("/api/checkin", json={"code": shown_a["code"], "at": hall_a})
        assert stale.status_code == 410 and "earlier presence check" in stale.json()["detail"]
        fresh = _code(screen_a.client)
        assert fresh["check"] == 2 and fresh["present_now"] == 0
        assert ana.post("/api/checkin", json={"code": fresh["code"]}).status_code == 200
        too_soon = instructor.post("/api/rooms/demo/presence-checks")
        assert too_soon.status_code == 409 and "at least 60 s" in too_soon.json()["detail"]
        # Every check-in, accepted or refused, is in the access log.
        db = _db(server)
        try:
            accepted = audit.entries(db, audit.Filter(action=audit.Action.CHECK_IN.value))
            refused = audit.entries(db, audit.Filter(action=audit.Action.CHECK_IN_REFUSED.value))
        finally:
            db.dispose()
        assert [e.actor for e in accepted] == ["ana", "ion", "ana"]
        assert {e.detail["reason"] for e in refused} >= {
            "replay", "other classroom", "expired", "shared phone", "malformed", "unknown",
            "earlier check"}
        console = instructor.get("/api/rooms/demo/presence").json()
        assert console["live"] and console["check"] == 2
        assert {c["name"]: c["present_session"] for c in console["classrooms"]}["Hall A"] == 1
    finally:
        instructor.delete("/api/rooms/demo/live")


def _age_checks(server: Server, seconds: int) -> None:
    from library.classroom_models import PresenceCheck

    db = _db(server)
    try:
        with db.session() as session:
            session.execute(update(PresenceCheck).values(
                opened_at=datetime.now(UTC) - timedelta(seconds=seconds)))
    finally:
        db.dispose()


def _check_id(server: Server) -> int:
    from sqlalchemy import select

    from library.classroom_models import PresenceCheck

    db = _db(server)
    try:
        with db.session() as session:
            return int(session.scalars(select(PresenceCheck.id)
                                       .order_by(PresenceCheck.id.desc())).first() or 0)
    finally:
        db.dispose()


def test_check_in_attempts_are_limited(server: Server) -> None:
    student = login(server, "zoe")
    answers = [student.post("/api/checkin", json={"code": "2345-6789"}).status_code
               for _ in range(11)]
    assert answers[:10] == [404] * 10 and answers[10] == 429


async def _screen_joins(server: Server, screen_cookies: httpx.Cookies, token: str):  # type: ignore[no-untyped-def]
    pc = client_pc()
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    async with httpx.AsyncClient(base_url=server.url, cookies=screen_cookies) as http:
        answer = await http.post("/api/screen/whep", content=pc.localDescription.sdp,
                                 headers={"Content-Type": "application/sdp",
                                          "X-Screen-Token": token})
    assert answer.status_code == 201, answer.text
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.text, type="answer"))
    for _ in range(100):
        if pc.connectionState == "connected":
            break
        await asyncio.sleep(0.1)
    assert pc.connectionState == "connected"
    return pc


def test_unpairing_stops_the_screen_at_once(server: Server) -> None:
    admin, instructor = login(server, "root"), login(server, "dr-ana")
    hall = register(admin, "Auditorium", "Craiova")
    screen = paired_screen(server, admin, hall)
    forged = screen.client.post("/api/screen/whep", content=b"v=0\r\n",
                                headers={"Content-Type": "application/sdp"})
    assert forged.status_code == 403  # no screen token: not from the screen's page
    assert instructor.post("/api/rooms/demo/live", json={"title": "Unpair"}).status_code in (
        200, 201)
    try:
        async def scenario() -> None:
            pc = await _screen_joins(server, screen.client.cookies, screen.token)
            try:
                viewers = instructor.get("/api/rooms/demo/viewers").json()
                assert [v["classroom"] for v in viewers if v["role"] == "classroom"] == [
                    "Auditorium, Craiova"]
                [screen_id] = [s["id"] for s in admin.get(
                    f"/api/classrooms/{hall}/screens").json()]
                gone = admin.delete(f"/api/classrooms/{hall}/screens/{screen_id}")
                assert gone.status_code == 200 and gone.json()["closed_video_sessions"] == 1
                assert not [v for v in instructor.get("/api/rooms/demo/viewers").json()
                            if v["role"] == "classroom"]
                for _ in range(100):
                    if pc.connectionState in ("closed", "failed"):
                        break
                    await asyncio.sleep(0.1)
                assert pc.connectionState in ("closed", "failed")
            finally:
                await pc.close()

        asyncio.run(scenario())
        assert screen.client.get("/api/screen/state").status_code == 401
        again = screen.client.post("/api/screen/whep", content=b"v=0\r\n",
                                   headers={"Content-Type": "application/sdp",
                                            "X-Screen-Token": screen.token})
        assert again.status_code == 401
        # The page itself goes back to pairing, with a new key and code.
        page = screen.client.get("/screen")
        assert 'class="pair-code"' in page.text
    finally:
        instructor.delete("/api/rooms/demo/live")


def test_the_screen_shows_the_questions_the_instructor_takes_without_names(
        server: Server) -> None:
    """The hall follows the discussion: approved questions on its screen, the one being
    answered first, then by votes; a pending or dismissed one never; no one's name."""
    admin, instructor = login(server, "root"), login(server, "dr-ana")
    student = login(server, "zoe")
    hall = register(admin, "Questions hall", "Pleven")
    screen = paired_screen(server, admin, hall)
    assert instructor.post("/api/rooms/demo/live", json={"title": "Questions"}).status_code in (
        200, 201)
    try:
        with interaction_socket(server, instructor) as moderator:
            ids = [ask(server, student, moderator, text) for text in (
                "Why irrigate now?", "Which side first?", "Off topic, dismiss me")]
            for question_id, status in zip(ids, ("approved", "answering", "dismissed")):
                moderator.send(json.dumps({"type": "question.status", "id": question_id,
                                           "status": status}))
            next_message(moderator, lambda m: m["type"] == "question"
                         and m["question"]["id"] == ids[2]
                         and m["question"]["status"] == "dismissed")
        state = screen.client.get("/api/screen/state").json()
        assert [(q["text"], q["status"]) for q in state["questions"]] == [
            ("Which side first?", "answering"), ("Why irrigate now?", "approved")]
        assert "zoe" not in json.dumps(state) and "author" not in json.dumps(state["questions"])
    finally:
        instructor.delete("/api/rooms/demo/live")
    assert screen.client.get("/api/screen/state").json()["questions"] == []

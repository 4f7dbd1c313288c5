"""The classroom websocket against a real `medroom serve`: who may join, who moderates, limits,
names from the account, rejoining since a number, a flood that slows no one else, and what is
kept (database timeline, access log, recording timeline)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from library import attendance, interactions
from library.cme import audit
from library.db import Database
from tests.conftest import Server, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("classroom"))


def url(server: Server, token: str | None, room: str = "demo", since: int | None = None) -> str:
    query = [f"token={token}"] if token else []
    if since is not None:
        query.append(f"since={since}")
    base = server.url.replace("http://", "ws://") + f"/api/rooms/{room}/interaction"
    return base + ("?" + "&".join(query) if query else "")


async def refused(address: str) -> tuple[int, str]:
    async with connect(address) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


class Client:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seq = 0

    async def send(self, **message: Any) -> None:
        await self.ws.send(json.dumps(message))

    async def next(self, kind: str | None = None, timeout: float = 10) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            self.seq = max(self.seq, int(message.get("seq", 0)))
            if kind is None or message["type"] == kind:
                return message

    async def until(self, kind: str, check: Any) -> dict[str, Any]:
        while True:
            message = await self.next(kind)
            if check(message):
                return message


@asynccontextmanager
async def joined(server: Server, token: str, since: int | None = None) -> AsyncIterator[Client]:
    async with connect(url(server, token, since=since), max_size=2**22) as ws:
        client = Client(ws)
        welcome = await client.next()
        assert welcome["type"] == "welcome"
        yield client


async def test_classroom_join_rights_and_live_session(server: Server) -> None:
    student = server.token("student", subject="marko")
    assert (await refused(url(server, None)))[0] == 4401
    assert (await refused(url(server, "forged.token")))[0] == 4401
    assert (await refused(url(server, student, room="nowhere")))[0] == 4404
    other_room = server.token("student", room="or-9", subject="marko")
    code, reason = await refused(url(server, other_room))
    assert code == 4403 and "only for room" in reason or "not valid for room" in reason
    code, reason = await refused(url(server, student))
    assert code == 4409 and "not live" in reason
    teacher = server.token("instructor", subject="dr-ana")
    async with httpx.AsyncClient(base_url=server.url,
                                 headers={"Authorization": f"Bearer {teacher}"}) as http:
        assert (await http.post("/api/rooms/demo/live", json={"title": "Class"})).status_code == 201
    # A student token for this room only is good for its classroom; watchers join, only the
    # room's controllers moderate.
    for role, moderates in (("student", False), ("curator", False), ("instructor", True),
                            ("admin", True)):
        token = server.token(role, room="demo", subject=f"a-{role}")
        async with connect(url(server, token)) as ws:
            welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert welcome["type"] == "welcome" and welcome["you"]["moderator"] is moderates
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "snapshot"


@pytest.fixture
def live(server: Server) -> str:
    teacher = server.token("instructor", subject="dr-ana")
    r = httpx.post(f"{server.url}/api/rooms/demo/live", json={"title": "Class"},
                   headers={"Authorization": f"Bearer {teacher}"})
    assert r.status_code in (201, 409), r.text
    return teacher


async def test_moderation_names_limits_and_what_is_kept(server: Server, live: str) -> None:
    async with joined(server, live) as teacher, \
            joined(server, server.token("student", subject="marko")) as marko, \
            joined(server, server.token("student", subject="ioana")) as ioana:
        await marko.send(type="chat", text="<img src=x onerror=alert(1)>", name="Dr. Fake",
                         author={"key": "dr-ana", "name": "Dr. Ana"})
        seen = (await ioana.next("chat"))["message"]
        assert seen["author"] == {"key": "marko", "name": "marko"}  # the account, not the claim
        assert seen["text"] == "<img src=x onerror=alert(1)>"  # text, as sent
        message_id = seen["id"]
        await marko.send(type="chat.delete", id=message_id, ref="d1")
        error = await marko.next("error")
        assert error["code"] == "forbidden" and error["ref"] == "d1"
        await teacher.send(type="chat.delete", id=message_id)
        assert (await ioana.next("chat.deleted"))["id"] == message_id
        await marko.send(type="chat", text="x" * 501)
        assert "limit is 500" in (await marko.next("error"))["message"]
        await marko.send(type="chat", text="y" * 5000)
        assert "at most 4096" in (await marko.next("error"))["message"]
        async with joined(server, server.token("student", subject="big")) as big:
            await big.ws.send("z" * 70_000)  # past the server's frame bound: closed at the edge
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await big.next(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        await marko.ws.send("not json")
        assert (await marko.next("error"))["message"] == "a message must be JSON"
        await ioana.send(type="question", text="Why this angle?", anonymous=True)
        asked = (await teacher.next("question"))["question"]
        assert asked["author"]["key"] == "ioana" and asked["status"] == "pending"
        await teacher.send(type="question.status", id=asked["id"], status="approved")
        shown = (await marko.next("question"))["question"]
        assert shown["author"] is None and shown["anonymous"]
        await marko.send(type="question.vote", id=asked["id"])
        await teacher.until("question", lambda m: m["question"]["votes"] == 1)
        # Rate limit: chat and questions share 5 a burst, then one per 2 s (her question took
        # one already: the fifth chat is refused).
        for i in range(5):
            await ioana.send(type="chat", text=f"hello {i}", ref=f"c{i}")
        limited = await ioana.next("error")
        assert limited["code"] == "rate_limited" and limited["ref"] == "c4"
        assert 0 < limited["retry_after"] <= 2.1 and "again in" in limited["message"]
        await teacher.send(type="poll", question="Which nerve?", options=["II", "III"],
                           seconds=30, presence_check=True)
        poll = (await marko.next("poll"))["poll"]
        await marko.send(type="poll.answer", id=poll["id"], option=1)
        assert (await marko.next("poll.answered"))["option"] == 1
        await teacher.until("poll", lambda m: m["poll"].get("answered") == 1)
    db = Database(f"sqlite:///{server.data_dir / 'medroom.db'}")
    try:
        deadline = time.monotonic() + 10
        while True:
            live_id = _live_session_id(db)
            rows = interactions.timeline(db, live_id)
            kinds = [r.kind for r in rows]
            if "poll.answer" in kinds or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        chat = next(r for r in rows if r.kind == "chat" and r.target == message_id)
        assert chat.deleted and chat.text is None and chat.actor == "marko"
        assert {"chat.delete", "question", "question.status", "question.vote", "poll",
                "poll.answer"} <= set(kinds)
        log = audit.entries(db, audit.Filter(action="chat.delete"))
        assert log and log[0].detail["text"] == "<img src=x onerror=alert(1)>"
        assert log[0].actor == "dr-ana"
    finally:
        db.dispose()


def _live_session_id(db: Database) -> int:
    return max(s.id for s in attendance.list_live_sessions(db, "demo"))


async def test_rejoin_since_the_last_number_gets_what_was_missed(server: Server, live: str) -> None:
    student = server.token("student", subject="dana")
    async with joined(server, student) as dana:
        await dana.next("snapshot")
        last = dana.seq
    async with joined(server, server.token("student", subject="emil")) as emil:
        await emil.send(type="chat", text="you missed this")
        await emil.next("chat")
    async with connect(url(server, student, since=last)) as ws:
        back = Client(ws)
        welcome = await back.next("welcome")
        assert welcome["resumed"] and welcome["missed"] >= 1
        missed = await back.next("chat")
        assert missed["message"]["text"] == "you missed this" and missed["seq"] > last


async def test_each_socket_is_refused_in_its_own_language(server: Server, live: str) -> None:
    # The language is the handshake's (Accept-Language here); the code does not change with it.
    bulgarian = url(server, server.token("student", subject="bg-student"))
    english = url(server, server.token("student", subject="en-student"))
    async with connect(bulgarian, additional_headers={"Accept-Language": "bg-BG,bg;q=0.9"}) as bg_ws, \
            connect(english) as en_ws:
        bg, en = Client(bg_ws), Client(en_ws)
        await bg.next("welcome")
        await en.next("welcome")
        await bg.send(type="chat", text="   ")
        await en.send(type="chat", text="   ")
        refused_bg, refused_en = await bg.next("error"), await en.next("error")
        assert refused_bg["code"] == refused_en["code"] == "invalid"
        assert refused_bg["message"] == "Съобщението в чата е празно."
        assert refused_en["message"] == "The chat message is empty."
        # A rate limit: the reason alone (the page counts the wait down in its own words) and
        # the whole sentence for clients that show the message as it is.
        for i in range(6):
            await bg.send(type="chat", text=f"здравейте {i}")
        limited = await bg.next("error")
        assert limited["code"] == "rate_limited"
        assert limited["reason"] == "По-бавно: твърде много съобщения в чата и въпроси."
        assert limited["message"].startswith(limited["reason"] + " Можете да изпратите отново след ")


async def test_a_flood_is_refused_and_closed_without_slowing_the_others(
        server: Server, live: str) -> None:
    async with joined(server, server.token("student", subject="mallory")) as mallory, \
            joined(server, server.token("student", subject="nina")) as nina, \
            joined(server, server.token("student", subject="olga")) as olga:
        junk = json.dumps({"type": "chat", "text": "spam"})
        flood = asyncio.create_task(_flood(mallory.ws, junk, 2000))
        await asyncio.sleep(0.05)
        sent = time.monotonic()
        await nina.send(type="chat", text="still here")
        while (await olga.next("chat"))["message"]["text"] != "still here":
            pass
        assert time.monotonic() - sent < 2.0
        await flood
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await mallory.next(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
        assert "too many refused messages" in closed.value.rcvd.reason


async def _flood(ws: ClientConnection, text: str, count: int) -> None:
    try:
        for _ in range(count):
            await ws.send(text)
    except ConnectionClosed:
        pass


async def test_ending_the_session_closes_the_classroom(server: Server, live: str) -> None:
    async with joined(server, server.token("student", subject="pavel")) as pavel:
        async with httpx.AsyncClient(base_url=server.url,
                                     headers={"Authorization": f"Bearer {live}"}) as http:
            assert (await http.delete("/api/rooms/demo/live")).status_code in (200, 204)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await pavel.next(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4410


async def test_a_running_recording_gets_the_classroom_on_its_timeline(
        server: Server, live: str) -> None:
    auth = {"Authorization": f"Bearer {live}"}
    async with httpx.AsyncClient(base_url=server.url, headers=auth, timeout=30) as http:
        r = await http.post("/api/rooms/demo/recordings", json={"title": "with class"})
        assert r.status_code == 201, r.text
        recording = r.json()["id"]
        try:
            async with joined(server, live) as teacher, \
                    joined(server, server.token("student", subject="rita")) as rita:
                await rita.send(type="chat", text="kept on the recording")
                await rita.send(type="chat", text="deleted words")
                deleted = await teacher.until(
                    "chat", lambda m: m["message"]["text"] == "deleted words")
                await teacher.send(type="chat.delete", id=deleted["message"]["id"])
                await rita.send(type="question", text="On the record?")
                asked = await teacher.next("question")
                await teacher.send(type="question.status", id=asked["question"]["id"],
                                   status="answering")
                await teacher.send(type="poll", question="Ready?", options=["yes", "no"],
                                   seconds=10)
                poll = (await rita.next("poll"))["poll"]
                await teacher.send(type="poll.close", id=poll["id"])
                await rita.until("poll", lambda m: not m["poll"]["open"])
            deadline = time.monotonic() + 10
            while True:
                events = (await http.get(f"/api/recordings/{recording}/timeline")).json()
                types = [e["type"] for e in events]
                if "poll_result" in types or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
        finally:
            await http.post(f"/api/recordings/{recording}/stop")
    assert {"chat", "question", "question_status", "poll", "poll_result"} <= set(types)
    texts = json.dumps(events)
    assert "kept on the recording" in texts and "deleted words" not in texts
    chat = next(e for e in events if e["type"] == "chat")
    assert chat["author"] == "rita" and chat["at"] >= 0

"""Rights by relation: a room's file names its instructors, and only they (and admins) run it.

Two operating rooms on one server, each with its own instructor. Dr. Ana runs OR 1: she goes
live there, its console opens, she moderates its classroom. In OR 2 (Dr. Petrović's) she may
watch like anyone allowed in, but every control route answers 403 saying whose room it is, the
console page sends her to the watch page, the console websocket refuses her and the classroom
does not make her a moderator. An admin runs both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from websockets.sync.client import connect

from library.db import Database
from library.users import Role, create_user
from tests.conftest import PASSWORD, Server, start_server
from tests.web.lessons import login

ROOM = """
[room]
id = "{id}"
name = "{name}"
program_source = "pattern"
instructors = {instructors}

[program]
width = 320
height = 180
fps = 10

[[sources]]
kind = "test-pattern"
id = "pattern"
label = "Pattern"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("room-instructors")
    files = []
    for room_id, name, instructors in (("or-1", "OR 1", '["dr-ana"]'),
                                       ("or-2", "OR 2", '["dr-petrovic"]')):
        path = folder / f"{room_id}.toml"
        path.write_text(ROOM.format(id=room_id, name=name, instructors=instructors))
        files.append(str(path))
    data = folder / "data"
    data.mkdir()
    db = Database(f"sqlite:///{data / 'medroom.db'}")
    try:
        db.migrate()
        create_user(db, "dr-petrovic", PASSWORD, Role.INSTRUCTOR)
        create_user(db, "root", PASSWORD, Role.ADMIN)
    finally:
        db.dispose()
    yield from start_server(data, extra_env={"MEDROOM_ROOM_FILES": ",".join(files)})


def socket_url(server: Server, path: str) -> str:
    return server.url.replace("http://", "ws://") + path


def cookie_header(client: httpx.Client) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items()),
            "Origin": str(client.base_url)}


def test_an_instructor_runs_only_the_rooms_that_name_them(server: Server) -> None:
    ana = login(server, "dr-ana")
    admin = login(server, "root")
    try:
        r = ana.post("/api/rooms/or-2/live", json={"title": "Not hers"})
        assert r.status_code == 403, r.text
        assert "not one of the instructors of room 'or-2'" in r.json()["detail"]
        assert ana.post("/api/rooms/or-2/program", json={"source": "pattern"}).status_code == 403
        r = ana.post("/api/rooms/or-1/live", json={"title": "Hers"})
        assert r.status_code in (200, 201), r.text
        r = admin.post("/api/rooms/or-2/live", json={"title": "The admin's"})
        assert r.status_code in (200, 201), r.text

        # The room list: she sees both rooms, with the controller's detail only for her own.
        rooms = {room["id"]: room for room in ana.get("/api/rooms").json()}
        assert set(rooms) == {"or-1", "or-2"}
        mine, theirs = rooms["or-1"], rooms["or-2"]
        assert len(json.dumps(mine)) > len(json.dumps(theirs)), (mine, theirs)

        # Pages: her console opens; the other room's console sends her to its watch page.
        assert ana.get("/rooms/or-1/console").status_code == 200
        r = ana.get("/rooms/or-2/console", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/rooms/or-2/watch"

        # The console websocket refuses her in OR 2, with the reason.
        with connect(socket_url(server, "/api/rooms/or-1/events"),
                     additional_headers=cookie_header(ana)) as ws:
            assert json.loads(ws.recv())["type"] == "state"
        with connect(socket_url(server, "/api/rooms/or-2/events"),
                     additional_headers=cookie_header(ana)) as ws, \
                pytest.raises(Exception) as refused:
            ws.recv()
        assert "4403" in str(refused.value) and "or-2" in str(refused.value)

        # The classroom: she moderates her own room's and is a participant in the other's.
        for room_id, moderator in (("or-1", True), ("or-2", False)):
            with connect(socket_url(server, f"/api/rooms/{room_id}/interaction"),
                         additional_headers=cookie_header(ana)) as ws:
                welcome = json.loads(ws.recv())
                assert welcome["type"] == "welcome", welcome
                assert welcome["you"]["moderator"] is moderator, (room_id, welcome)
    finally:
        for client, room_id in ((ana, "or-1"), (admin, "or-2")):
            client.delete(f"/api/rooms/{room_id}/live")
        ana.close()
        admin.close()

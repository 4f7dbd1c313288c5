"""Shared steps of the classroom tests: accounts, a logged-in client, a paired screen."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from library.db import Database
from library.users import Role, create_user
from tests.conftest import PASSWORD, Server


def add_users(server: Server, *names: tuple[str, Role]) -> None:
    db = Database(f"sqlite:///{server.data_dir / 'medroom.db'}")
    try:
        for name, role in names:
            create_user(db, name, PASSWORD, role)
    finally:
        db.dispose()


def login(server: Server, username: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=30)
    csrf = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    answer = client.post("/login", data={"username": username, "password": PASSWORD,
                                         "csrf": csrf})
    assert answer.status_code == 303, answer.text
    page = client.get("/checkin").text
    client.headers["X-CSRF-Token"] = page.split('name="csrf-token" content="')[1].split('"')[0]
    return client


def register(admin: httpx.Client, name: str, city: str = "Pleven") -> int:
    answer = admin.post("/api/classrooms", json={
        "name": name, "institution": "Medical University", "city": city,
        "timezone": "Europe/Sofia", "room_id": "demo"})
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


@dataclass
class Screen:
    client: httpx.Client
    code: str  # the pairing code it showed
    token: str = ""  # the page's screen token, once paired


def open_screen(server: Server) -> Screen:
    client = httpx.Client(base_url=server.url, timeout=30)
    page = client.get("/screen", headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text
    match = re.search(r'id="pair-code" class="pair-code">([0-9A-Z-]+)<', page.text)
    assert match, page.text
    return Screen(client, match.group(1))


def paired_screen(server: Server, admin: httpx.Client, classroom_id: int) -> Screen:
    screen = open_screen(server)
    answer = admin.post(f"/api/classrooms/{classroom_id}/screens", json={"code": screen.code})
    assert answer.status_code == 201, answer.text
    page = screen.client.get("/screen").text
    screen.token = page.split('name="screen-token" content="')[1].split('"')[0]
    return screen


def interaction_socket(server: Server, client: httpx.Client) -> Any:
    """The live classroom's websocket of a logged-in client (its session cookie)."""
    from websockets.sync.client import connect

    cookies = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return connect(server.url.replace("http://", "ws://") + "/api/rooms/demo/interaction",
                   additional_headers={"Cookie": cookies, "Origin": server.url})


def next_message(ws: Any, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(ws.recv(timeout=10))
        if check(message):
            return message


def ask(server: Server, student: httpx.Client, moderator: Any, text: str) -> str:
    """``student`` asks ``text``; its id, as the moderator's socket saw it arrive."""
    with interaction_socket(server, student) as asker:
        asker.send(json.dumps({"type": "question", "text": text}))
        return str(next_message(moderator, lambda m: m["type"] == "question"
                                and m["question"]["text"] == text)["question"]["id"])

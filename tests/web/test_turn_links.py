"""TURN for browsers: the WHEP answer's Link headers (RFC 9725 4.6) and the player's servers.

A real `medroom serve` configured with Debian's coturn on 127.0.0.1: the Link header a client
gets from its first join is enough to join again relay-only and receive video through coturn.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy, RTCPeerConnection

from config.settings import IceServer
from streaming.ice import set_ice_addresses
from streaming.turn import link_headers
from tests.conftest import start_server
from tests.streaming.test_turn import PASSWORD, USER, turn_server  # noqa: F401 (fixture)
from tests.web.test_whip_ingest import ROOM
from tests.web.whep_client import WhepClient
from tests.web.whip_client import WhipPublisher

LINK = re.compile(
    r'<(?P<url>[^>]+)>; rel="ice-server"(?:; username="(?P<username>[^"]*)"'
    r'; credential="(?P<credential>[^"]*)"; credential-type="password")?'
)


def test_link_header_values_quote_credentials() -> None:
    server = IceServer(urls=["stun:stun.example.org:3478",
                             "turn:turn.example.org:3478?transport=udp"],
                       username='ana"x', credential="p\\w")
    assert link_headers([server]) == [
        '<stun:stun.example.org:3478>; rel="ice-server"',
        (
            '<turn:turn.example.org:3478?transport=udp>; rel="ice-server"; username="ana\\"x"; '
            'credential="p\\\\w"; credential-type="password"'
        ),
    ]


async def test_whep_answer_names_the_turn_server_and_a_client_relays_through_it(
    turn_server: tuple[str, Path], tmp_path: Path,  # noqa: F811
) -> None:
    url, log = turn_server
    env = {"MEDROOM_ICE_SERVERS": url, "MEDROOM_ICE_USERNAME": USER,
           "MEDROOM_ICE_CREDENTIAL": PASSWORD}
    served = start_server(tmp_path / "medroom", extra_env=env)
    server = next(served)
    set_ice_addresses(["127.0.0.1"])
    try:
        instructor = server.token("instructor")
        student = server.token("student", subject="abroad")
        async with httpx.AsyncClient(base_url=server.url) as http:
            r = await http.get("/api/rooms/demo/ice-servers")
            assert r.status_code == 401
            r = await http.get("/api/rooms/demo/ice-servers",
                               headers={"Authorization": f"Bearer {student}"})
            assert r.json() == [{"urls": [url], "username": USER, "credential": PASSWORD}]
            r = await http.post("/api/rooms/demo/live", json={},
                                headers={"Authorization": f"Bearer {instructor}"})
            assert r.status_code == 201

            first = WhepClient(server.url, "demo", student)
            answer = await first.join()
            assert answer.status_code == 201
            links = answer.headers.get_list("link")
            assert links == [(
                f'<{url}>; rel="ice-server"; username="{USER}"; credential="{PASSWORD}"; '
                'credential-type="password"'
            )]
            assert await first.leave() == 200

            # A client that knows only what the header said joins again, relay only.
            match = LINK.fullmatch(links[0])
            assert match is not None
            relay = WhepClient(server.url, "demo", student)
            relay.pc = RTCPeerConnection(RTCConfiguration(
                iceServers=[RTCIceServer(urls=[match["url"]], username=match["username"],
                                         credential=match["credential"])],
                iceTransportPolicy=RTCIceTransportPolicy.RELAY,
            ))
            relay.pc.on("track", relay._on_track)
            assert (await relay.join()).status_code == 201
            frames, _ = await relay.frames(want=20, timeout=30)
            assert len(frames) >= 20
            await asyncio.sleep(1.5)
            viewers = (await http.get("/api/rooms/demo/viewers",
                                      headers={"Authorization": f"Bearer {instructor}"})).json()
            assert [v["path"] for v in viewers] == ["relay"], viewers
            assert "CHANNEL_BIND processed, success" in log.read_text(errors="replace")
            assert await relay.leave() == 200
    finally:
        set_ice_addresses([])
        next(served, None)


async def test_whip_answer_names_the_turn_server_too(
    turn_server: tuple[str, Path], tmp_path: Path,  # noqa: F811
) -> None:
    """An encoder behind a NAT learns the TURN server from the WHIP answer, as a player does
    from the WHEP answer (RFC 9725 section 4.6)."""
    url, _ = turn_server
    room = tmp_path / "or2.toml"
    room.write_text(ROOM)
    env = {"MEDROOM_ICE_SERVERS": url, "MEDROOM_ICE_USERNAME": USER,
           "MEDROOM_ICE_CREDENTIAL": PASSWORD, "MEDROOM_ROOM_FILES": str(room)}
    served = start_server(tmp_path / "medroom", extra_env=env)
    server = next(served)
    set_ice_addresses(["127.0.0.1"])
    try:
        publisher = WhipPublisher(server.url, "or2", "obs", server.token("instructor", room="or2"))
        answer = await publisher.publish()
        assert answer.status_code == 201, answer.text
        assert answer.headers.get_list("link") == [(
            f'<{url}>; rel="ice-server"; username="{USER}"; credential="{PASSWORD}"; '
            'credential-type="password"'
        )]
        assert await publisher.unpublish() == 200
    finally:
        set_ice_addresses([])
        next(served, None)

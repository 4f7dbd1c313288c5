"""WHEP/WHIP as clients nobody here wrote use them, against a real `medroom serve` on loopback:
CORS for a page on another origin, trickle ICE by PATCH, the session URL as the capability for
PATCH and DELETE, and a viewer that offers and then never connects being let go."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from config.settings import DEMO_ROOM_FILE, Settings
from streaming.ice import set_ice_addresses
from tests.conftest import Server, start_server
from tests.peers import client_pc
from tests.web.test_whip_ingest import ROOM, MovingPattern, wait_for_state

PAGE_ORIGIN = "http://127.0.0.1:9"  # the other site's page (the browser test serves a real one)
CONNECT_TIMEOUT = 6.0
TRICKLE = "application/trickle-ice-sdpfrag"


@pytest.fixture(scope="module")
def interop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("interop")
    room = folder / "or2.toml"
    room.write_text(ROOM)
    yield from start_server(folder / "data", extra_env={
        "MEDROOM_ROOM_FILES": f"{DEMO_ROOM_FILE},{room}",
        "MEDROOM_CORS_ORIGINS": PAGE_ORIGIN,
        "MEDROOM_WHEP_CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT),
        "MEDROOM_WHEP_SESSIONS_PER_USER": "1",
    })


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def without_candidates(sdp: str) -> str:
    """The SDP as a trickling client sends it (and, for the answer, as if the server's
    candidates were unknown to the client: then only the server can start the checks, which
    it can only do with the candidates the client trickled)."""
    return "".join(
        line + "\r\n" for line in sdp.split("\r\n")
        if line and not line.startswith(("a=candidate:", "a=end-of-candidates"))
    )


def fragment(sdp: str, ufrag: str | None = None) -> str:
    """The RFC 8840 fragment a trickling client PATCHes: credentials, media lines, candidates."""
    lines = []
    for line in sdp.split("\r\n"):
        if line.startswith("a=ice-ufrag:") and ufrag is not None:
            line = f"a=ice-ufrag:{ufrag}"
        if line.startswith(("a=ice-ufrag:", "a=ice-pwd:", "m=", "a=mid:", "a=candidate:",
                            "a=end-of-candidates")):
            lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def eyevinn_fragment(sdp: str) -> str:
    """The fragment as @eyevinn/whip-web-client 1.1.7 writes it (with sdp-transform): one
    candidate, every media line 'm=audio 9 RTP/AVP 0', the RTP component numbered 0."""
    lines = [line for line in sdp.split("\r\n") if line.startswith(("a=ice-ufrag:", "a=ice-pwd:"))]
    mids = [line for line in sdp.split("\r\n") if line.startswith("a=mid:")]
    candidate = next(line for line in sdp.split("\r\n") if line.startswith("a=candidate:"))
    foundation, _component, rest = candidate.split(" ", 2)
    for mid in mids:
        lines += ["m=audio 9 RTP/AVP 0", mid, f"{foundation} 0 {rest}"]
    return "\r\n".join(lines) + "\r\n"


async def diagnostics(http: httpx.AsyncClient, admin: str) -> dict[str, Any]:
    r = await http.get("/api/diagnostics", headers=auth(admin))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def first_frame(pc: RTCPeerConnection, timeout: float) -> float:
    """Seconds until the first decoded picture of the first video track."""
    started = time.monotonic()
    track = next(t.receiver.track for t in pc.getTransceivers() if t.kind == "video")
    await asyncio.wait_for(track.recv(), timeout)
    return time.monotonic() - started


def test_cors_answers_only_the_webrtc_endpoints_for_allowed_origins(
    interop_server: Server,
) -> None:
    url = interop_server.url
    preflight = {"Origin": PAGE_ORIGIN, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    for path in ("/api/rooms/demo/whep", "/api/rooms/demo/whep/0123abcd",
                 "/api/rooms/or2/sources/obs/whip", "/api/rooms/or2/sources/obs/whip/0123abcd"):
        r = httpx.options(url + path, headers=preflight)
        assert r.status_code == 204, (path, r.text)
        assert r.headers["access-control-allow-origin"] == PAGE_ORIGIN
        assert "PATCH" in r.headers["access-control-allow-methods"]
        assert "PATCH" in r.headers["allow"]
        allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
        # @eyevinn/whip-web-client sends the ICE session's tag as an ETag request header.
        assert {"authorization", "content-type", "if-match", "etag"} <= allowed
        assert "access-control-allow-credentials" not in r.headers
    # A real OPTIONS (with a token, so after its preflight): @eyevinn/whip-web-client trickles
    # only when it can read PATCH in this answer's Access-Control-Allow-Methods.
    r = httpx.options(url + "/api/rooms/or2/sources/obs/whip",
                      headers={"Origin": PAGE_ORIGIN, "Authorization": "Bearer x"})
    assert r.status_code == 204 and "PATCH" in r.headers["access-control-allow-methods"]
    assert "Access-Control-Allow-Methods" in r.headers["access-control-expose-headers"]
    # Another site gets no CORS answer (its browser refuses), and the rest of the API none.
    r = httpx.options(url + "/api/rooms/demo/whep",
                      headers={**preflight, "Origin": "https://evil.example"})
    assert r.status_code == 204 and "access-control-allow-origin" not in r.headers
    r = httpx.options(url + "/api/rooms/demo", headers=preflight)
    assert r.status_code == 405 and "access-control-allow-origin" not in r.headers
    token = interop_server.token("student", subject="cors")
    r = httpx.get(url + "/api/rooms/demo", headers={**auth(token), "Origin": PAGE_ORIGIN})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    # An error from an endpoint is readable by the page too (its player can say why).
    r = httpx.post(url + "/api/rooms/demo/whep", content="v=0",
                   headers={"Origin": PAGE_ORIGIN, "Content-Type": "application/sdp"})
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == PAGE_ORIGIN


async def test_whep_viewer_trickles_candidates_and_ends_with_the_session_url_alone(
    interop_server: Server,
) -> None:
    set_ice_addresses(["127.0.0.1"])
    instructor = interop_server.token("instructor")
    admin = interop_server.token("admin")
    student = interop_server.token("student", subject="trickler")
    async with httpx.AsyncClient(base_url=interop_server.url, timeout=30) as http:
        r = await http.post("/api/rooms/demo/live", json={}, headers=auth(instructor))
        assert r.status_code == 201, r.text
        pc = client_pc()
        try:
            pc.addTransceiver("video", direction="recvonly")
            await pc.setLocalDescription(await pc.createOffer())
            offer = pc.localDescription.sdp
            r = await http.post("/api/rooms/demo/whep", content=without_candidates(offer),
                                headers={**auth(student), "Content-Type": "application/sdp",
                                         "Origin": PAGE_ORIGIN})
            assert r.status_code == 201, r.text
            location, etag = r.headers["location"], r.headers["etag"]
            exposed = r.headers["access-control-expose-headers"]
            assert {"Location", "Link", "ETag"} <= {h.strip() for h in exposed.split(",")}
            assert r.headers["accept-patch"] == TRICKLE
            assert len(location.rsplit("/", 1)[1]) == 32  # 128 random bits, hex
            await pc.setRemoteDescription(
                RTCSessionDescription(sdp=without_candidates(r.text), type="answer"))

            # Refusals first: wrong type, ICE restart, another ICE session, a wrong token.
            wrong = await http.patch(location, content=fragment(offer),
                                     headers={"Content-Type": "application/sdp"})
            assert wrong.status_code == 415 and TRICKLE in wrong.json()["detail"]
            restart = await http.patch(location, content=fragment(offer, ufrag="fresh"),
                                       headers={"Content-Type": TRICKLE})
            assert restart.status_code == 422 and "ICE restart" in restart.json()["detail"]
            stale = await http.patch(location, content=fragment(offer),
                                     headers={"Content-Type": TRICKLE, "If-Match": '"other"'})
            assert stale.status_code == 412
            forged = await http.patch(location, content=fragment(offer),
                                      headers={"Content-Type": TRICKLE, **auth("forged")})
            assert forged.status_code == 401

            # The session URL alone (no token, as MediaMTX's reader.js sends it): the server
            # learns the client's candidates, checks them, and the picture comes.
            r = await http.patch(location, content=fragment(offer),
                                 headers={"Content-Type": TRICKLE, "If-Match": etag,
                                          "Origin": PAGE_ORIGIN})
            assert r.status_code == 204, r.text
            assert r.headers["etag"] == etag
            assert r.headers["access-control-allow-origin"] == PAGE_ORIGIN
            first = await first_frame(pc, timeout=15)
            print(f"trickled WHEP viewer: first frame after {first:.2f} s")

            # The URL is no key to anything else.
            r = await http.get("/api/rooms/demo/viewers")
            assert r.status_code == 401
            r = await http.delete(location)
            assert r.status_code == 200
            assert (await http.delete(location)).status_code == 404
        finally:
            await pc.close()
        state = await diagnostics(http, admin)
        assert state["viewers"] == 0
        r = await http.delete("/api/rooms/demo/live", headers=auth(instructor))
        assert r.status_code == 200
        state = await diagnostics(http, admin)
        assert state["viewers"] == 0 and state["encoders"] == []


async def test_a_viewer_that_never_connects_is_let_go_and_frees_its_place(
    interop_server: Server,
) -> None:
    set_ice_addresses(["127.0.0.1"])
    assert Settings().whep_connect_timeout_seconds == 30  # the default, shortened here
    instructor = interop_server.token("instructor")
    admin = interop_server.token("admin")
    ghost = interop_server.token("student", subject="ghost")
    async with httpx.AsyncClient(base_url=interop_server.url, timeout=30) as http:
        r = await http.post("/api/rooms/demo/live", json={}, headers=auth(instructor))
        assert r.status_code == 201, r.text
        pcs = [client_pc(), client_pc()]
        try:
            offers = []
            for pc in pcs:
                pc.addTransceiver("video", direction="recvonly")
                await pc.setLocalDescription(await pc.createOffer())
                offers.append(pc.localDescription.sdp)
            headers = {**auth(ghost), "Content-Type": "application/sdp"}
            # Offer, then nothing: the client never sets the answer.
            r = await http.post("/api/rooms/demo/whep", content=offers[0], headers=headers)
            assert r.status_code == 201, r.text
            offered = time.monotonic()
            assert (await diagnostics(http, admin))["viewers"] == 1
            # It holds the user's one place...
            r = await http.post("/api/rooms/demo/whep", content=offers[1], headers=headers)
            assert r.status_code == 429, r.text
            # ...until it is let go, within the connect timeout.
            while (await diagnostics(http, admin))["viewers"] != 0:
                assert time.monotonic() - offered < CONNECT_TIMEOUT + 5, "never let go"
                await asyncio.sleep(0.25)
            released = time.monotonic() - offered
            print(f"never-connected viewer released after {released:.1f} s")
            assert released >= CONNECT_TIMEOUT - 1
            room = (await http.get("/api/rooms/demo", headers=auth(instructor))).json()
            assert room["viewer_count"] == 0
        finally:
            for pc in pcs:
                await pc.close()
        r = await http.delete("/api/rooms/demo/live", headers=auth(instructor))
        assert r.status_code == 200
        state = await diagnostics(http, admin)
        assert state["viewers"] == 0 and state["encoders"] == []


async def test_whip_publisher_trickles_and_ends_with_the_session_url_alone(
    interop_server: Server,
) -> None:
    set_ice_addresses(["127.0.0.1"])
    token = interop_server.token("instructor", room="or2")
    async with httpx.AsyncClient(base_url=interop_server.url, timeout=30) as http, \
            httpx.AsyncClient(base_url=interop_server.url, headers=auth(token)) as console:
        pc = client_pc()
        try:
            pc.addTransceiver(MovingPattern(), direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            offer = pc.localDescription.sdp
            r = await http.post("/api/rooms/or2/sources/obs/whip",
                                content=without_candidates(offer),
                                headers={**auth(token), "Content-Type": "application/sdp"})
            assert r.status_code == 201, r.text
            location = r.headers["location"]
            assert r.headers["etag"] and r.headers["accept-patch"] == TRICKLE
            await pc.setRemoteDescription(
                RTCSessionDescription(sdp=without_candidates(r.text), type="answer"))
            # The trickling WHIP publisher in the field: @eyevinn/whip-web-client's fragment,
            # its own ETag header, and only the candidates it trickled to connect by.
            r = await http.patch(location, content=eyevinn_fragment(offer),
                                 headers={"Content-Type": TRICKLE, "ETag": r.headers["etag"]})
            assert r.status_code == 204, r.text
            await wait_for_state(console, "live", timeout=15)
            # A token that is sent must be valid; without one the URL alone is the key.
            r = await http.delete(location, headers=auth("forged"))
            assert r.status_code == 401
            r = await http.delete(location)
            assert r.status_code == 200
            ended = await wait_for_state(console, "lost", timeout=10)
            assert "DELETE" in ended["error"]
        finally:
            await pc.close()


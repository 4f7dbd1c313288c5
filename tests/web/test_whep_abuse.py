"""Bad and abusive viewers against a real `medroom serve`: refused clearly, others undisturbed."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import REPO, Server, start_server
from tests.web.whep_client import WhepClient

VP9_ONLY = (
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 98 99\r\n"
    "c=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\na=ice-ufrag:abcd\r\n"
    "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11\r\na=setup:actpass\r\n"
    "a=rtpmap:98 VP9/90000\r\na=rtpmap:99 rtx/90000\r\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(
        tmp_path_factory.mktemp("medroom-abuse"),
        extra_env={"MEDROOM_WHEP_JOINS_PER_MINUTE": "6", "MEDROOM_WHEP_SESSIONS_PER_USER": "2"},
    )


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def live(server: Server) -> Iterator[None]:
    instructor = server.token("instructor")
    r = httpx.post(f"{server.url}/api/rooms/demo/live", json={"title": "Abuse"},
                   headers=auth(instructor))
    assert r.status_code == 201, r.text
    yield
    httpx.delete(f"{server.url}/api/rooms/demo/live", headers=auth(instructor))


def test_quick_joins_from_one_token_are_rate_limited(server: Server, live: None) -> None:
    token = server.token("student", subject="hammer")
    headers = {**auth(token), "Content-Type": "application/sdp"}
    responses = []
    started = time.monotonic()
    for _ in range(20):
        responses.append(
            httpx.post(f"{server.url}/api/rooms/demo/whep", content=VP9_ONLY, headers=headers)
        )
    codes = [r.status_code for r in responses]
    elapsed = time.monotonic() - started
    # Six joins per minute (one more each 10 s): the first six are read (and refused for their
    # codec), the rest refused with 429 but for those the bucket refilled meanwhile.
    assert codes[:6] == [400] * 6, codes
    assert set(codes) == {400, 429}, codes
    assert codes.count(400) <= 6 + int(elapsed / 10) + 1, (codes, elapsed)
    refused = next(r for r in responses if r.status_code == 429)
    assert "at most 6 per minute" in refused.json()["detail"]
    assert 1 <= int(refused.headers["retry-after"]) <= 10
    # Someone else is not affected by the hammering token.
    other = httpx.post(f"{server.url}/api/rooms/demo/whep", content=VP9_ONLY,
                       headers={**auth(server.token("student", subject="calm")),
                                "Content-Type": "application/sdp"})
    assert other.status_code == 400


def test_an_offer_without_a_usable_codec_names_what_was_offered(server: Server,
                                                                live: None) -> None:
    r = httpx.post(f"{server.url}/api/rooms/demo/whep", content=VP9_ONLY,
                   headers={**auth(server.token("student", subject="vp9-only")),
                            "Content-Type": "application/sdp"})
    assert r.status_code == 400
    assert "video lists VP9 but neither H.264 nor VP8" in r.json()["detail"]


def test_a_huge_offer_is_refused_while_it_streams_in(server: Server, live: None) -> None:
    def chunks():  # type: ignore[no-untyped-def]  # sent chunked: no Content-Length to trust
        for _ in range(64):
            yield b"a=x-padding:" + b"x" * 4096 + b"\r\n"

    r = httpx.post(f"{server.url}/api/rooms/demo/whep", content=chunks(),
                   headers={**auth(server.token("student", subject="huge")),
                            "Content-Type": "application/sdp"})
    assert r.status_code == 413 and r.json()["detail"] == "SDP offer is too large"


async def test_a_user_holds_at_most_two_live_sessions(server: Server, live: None) -> None:
    token = server.token("student", subject="many-tabs")
    clients = [WhepClient(server.url, "demo", token) for _ in range(3)]
    try:
        assert (await clients[0].join()).status_code == 201
        assert (await clients[1].join()).status_code == 201
        third = await clients[2].join()
        assert third.status_code == 429
        assert "already have 2 live sessions" in third.json()["detail"]
        assert third.headers["retry-after"] == "30"
        assert await clients[0].leave() == 200
        assert (await clients[2].join()).status_code == 201  # a slot is free again
    finally:
        for client in clients:
            if client.location:
                await client.leave()


def _server_port(answer_sdp: str) -> int:
    match = re.search(r"a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 (\d+) typ host", answer_sdp)
    assert match, answer_sdp
    return int(match.group(1))


def _garbage(rng: random.Random) -> bytes:
    kind = rng.randrange(6)
    size = rng.randrange(0, 1200)
    body = rng.randbytes(size)
    if kind == 0:
        return b""  # empty datagram
    if kind == 1:  # looks like SRTCP: version 2, a sender/receiver report or feedback type
        return bytes([0x80 | rng.randrange(32), rng.choice([200, 201, 205, 206])]) + body
    if kind == 2:  # looks like SRTP
        return bytes([0x80, rng.randrange(128)]) + body
    if kind == 3:  # looks like a DTLS record (content types 20..23, DTLS 1.2)
        return bytes([rng.randrange(20, 24), 0xFE, 0xFD]) + body
    if kind == 4:  # looks like STUN (binding request header, random rest)
        return b"\x00\x01" + size.to_bytes(2, "big") + b"\x21\x12\xa4\x42" + body
    return body


async def test_garbage_sent_to_a_viewers_port_does_not_disturb_it(server: Server,
                                                                  live: None) -> None:
    viewer = WhepClient(server.url, "demo", server.token("student", subject="steady"))
    answer = await viewer.join()
    assert answer.status_code == 201
    port = _server_port(answer.text)
    frames, _ = await viewer.frames(want=30, timeout=20)
    assert len(frames) == 30
    rng = random.Random(7)
    datagrams = [_garbage(rng) for _ in range(500)]  # made beforehand: sending must be cheap
    calm, _ = await viewer.frames(want=100_000, timeout=6)  # the same viewer, undisturbed
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as attacker:
        reader = asyncio.create_task(viewer.frames(want=100_000, timeout=6))
        started = time.monotonic()
        while time.monotonic() - started < 5:
            for _ in range(40):
                attacker.sendto(datagrams[sent % len(datagrams)], ("127.0.0.1", port))
                sent += 1
            await asyncio.sleep(0.02)
        during, _ = await reader
    assert sent > 2000
    # About 180 frames in 6 s at 30 fps; whatever this machine manages, garbage costs little.
    assert len(calm) >= 60, f"only {len(calm)} frames in 6 s before any garbage"
    assert len(during) >= 0.75 * len(calm), (
        f"{len(during)} frames in 6 s with {sent} garbage datagrams, {len(calm)} without"
    )
    async with httpx.AsyncClient(base_url=server.url) as http:
        viewers = (await http.get("/api/rooms/demo/viewers",
                                  headers=auth(server.token("instructor")))).json()
    mine = [v for v in viewers if v["subject"] == "steady"]
    assert mine and mine[0]["connection_state"] == "connected"
    assert await viewer.leave() == 200


async def test_a_viewer_that_vanishes_is_dropped_and_freed(server: Server, live: None) -> None:
    admin = server.token("admin")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        before = (await http.get("/api/diagnostics", headers=auth(admin))).json()
        assert before["viewers"] == 0
        process = subprocess.Popen(  # noqa: ASYNC220 - started once, read in a thread
            [sys.executable, "-m", "tests.web.vanishing_viewer", server.url, "demo",
             server.token("student", subject="vanishing")],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        try:
            line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 60)
            assert line.startswith("receiving 5"), line
            assert (await http.get("/api/diagnostics", headers=auth(admin))).json()["viewers"] == 1
        finally:
            process.send_signal(signal.SIGKILL)  # no DELETE, no DTLS close: just gone
            process.wait()
        killed = time.monotonic()
        # ICE consent (RFC 7675, aioice: 6 missed checks about 5 s apart) expires in ~30 s.
        deadline = killed + 75
        while True:
            after = (await http.get("/api/diagnostics", headers=auth(admin))).json()
            if after["viewers"] == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        dropped_after = time.monotonic() - killed
        assert after["viewers"] == 0, f"still listed {dropped_after:.0f} s after it vanished"
        assert 15 < dropped_after < 75, dropped_after
        await asyncio.sleep(1.5)
        after = (await http.get("/api/diagnostics", headers=auth(admin))).json()
        assert after["asyncio_tasks"] <= before["asyncio_tasks"] + 2, (before, after)
        assert after["open_files"] <= before["open_files"] + 2, (before, after)
        assert after["encoders"] == before["encoders"]

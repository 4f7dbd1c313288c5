"""A viewer that may only use a TURN relay still gets the room's video (Debian's coturn).

``turnserver`` runs on 127.0.0.1 with every option on its command line (no /etc config, no
daemon, no database file outside the test's folder), on free ports, and is stopped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from aiortc import (
    RTCConfiguration,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from pydantic import ValidationError

from config.settings import IceServer, Settings
from streaming.ice import set_ice_addresses
from streaming.turn import rtc_ice_servers, selected_pair
from streaming.whep import ViewerSessions
from tests.streaming.feeds import broadcast_of

TURNSERVER = shutil.which("turnserver")
USER, PASSWORD, REALM = "medroom", "relay-only-test", "medroom"


def _free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (TURN listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port on 127.0.0.1")


@pytest.fixture
def turn_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A coturn TURN server on 127.0.0.1; yields its turn: URL and its log file."""
    if TURNSERVER is None:
        pytest.skip(
            "Debian's coturn is not installed (turnserver not found): "
            "run 'apt-get install coturn' (make setup-test does it as root)"
        )
    port = _free_port()
    relay_low = 40000 + (os.getpid() * 7 + port) % 20000
    log = tmp_path / "turnserver.log"
    command = [
        TURNSERVER,
        "-n",  # no configuration file: everything is on this line
        "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
        f"--min-port={relay_low}", f"--max-port={relay_low + 200}",
        "--allow-loopback-peers", "--no-cli", "--no-tls", "--no-dtls",
        "--lt-cred-mech", f"--user={USER}:{PASSWORD}", f"--realm={REALM}",
        "--fingerprint", "--no-software-attribute",
        f"--userdb={tmp_path / 'turndb'}", f"--pidfile={tmp_path / 'turnserver.pid'}",
        f"--log-file={log}", "--simple-log", "--no-stdout-log", "-v",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:  # ready when it accepts a TCP connection on its port
            if process.poll() is not None:
                stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                pytest.fail(f"turnserver exited ({process.returncode}): {stderr[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("turnserver did not listen within 10 s")
                time.sleep(0.05)
        yield f"turn:127.0.0.1:{port}?transport=udp", log
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process.stderr is not None:
            process.stderr.close()


@pytest.fixture(autouse=True)
def loopback_only() -> Iterator[None]:
    set_ice_addresses(["127.0.0.1"])
    yield
    set_ice_addresses([])


def moving_frame() -> np.ndarray:
    image = np.zeros((720, 1280, 3), np.uint8)
    x = int(time.monotonic() * 200) % 1200
    image[:, x : x + 80] = (40, 200, 255)
    return image


async def test_relay_only_viewer_receives_video_through_coturn(
    turn_server: tuple[str, Path],
) -> None:
    url, log = turn_server
    settings = Settings(
        ice_servers=url, ice_username=USER, ice_credential=PASSWORD, demo=False
    )
    ice_servers = rtc_ice_servers(settings.ice_servers)
    broadcast, outputs = broadcast_of({"program": (moving_frame, 1280, 720)})
    await broadcast.go_on_air()
    sessions = ViewerSessions(ice_servers=ice_servers)
    client = RTCPeerConnection(
        RTCConfiguration(iceServers=ice_servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY)
    )
    try:
        transceiver = client.addTransceiver("video", direction="recvonly")
        await client.setLocalDescription(await client.createOffer())
        offer = client.localDescription.sdp
        # Relay only: the client offers nothing but its TURN allocation.
        candidates = [line for line in offer.splitlines() if line.startswith("a=candidate:")]
        assert candidates and all(" typ relay" in c for c in candidates), candidates
        viewer, answer = await sessions.join(
            feed=broadcast, offer_sdp=offer, selection=broadcast.choose(None, None),
            subject="remote", role="student", user_id=None,
        )
        await client.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        track = transceiver.receiver.track
        frames = []
        deadline = time.monotonic() + 20
        while len(frames) < 30 and time.monotonic() < deadline:
            try:
                frames.append(await asyncio.wait_for(track.recv(), deadline - time.monotonic()))
            except (TimeoutError, MediaStreamError):
                break
        assert len(frames) >= 30, f"{len(frames)} frames (client {client.connectionState})"
        assert (frames[-1].width, frames[-1].height) == (1280, 720)

        pair = selected_pair(client)
        assert pair is not None
        assert pair.local_type == "relay", pair
        assert pair.relayed
        # The relayed address is the TURN server's, not the client's own socket.
        assert pair.local_address[0] == "127.0.0.1"
        server_pair = selected_pair(viewer.pc)
        assert server_pair is not None and server_pair.remote_type in ("relay", "prflx"), (
            server_pair
        )
        # coturn itself saw the allocation and the channel the media went through.
        turn_log = log.read_text(errors="replace")
        assert "ALLOCATE processed, success" in turn_log
        assert "CHANNEL_BIND processed, success" in turn_log
    finally:
        await client.close()
        await sessions.close_all("test over")
        await outputs.stop_all()


def test_ice_server_settings() -> None:
    settings = Settings(
        ice_servers="stun:stun.example.org:3478, turn:turn.example.org:3478?transport=tcp",
        ice_username="u", ice_credential="p", demo=False,
    )
    stun, turn = settings.ice_servers
    assert stun.urls == ["stun:stun.example.org:3478"] and stun.username is None
    assert (turn.username, turn.credential) == ("u", "p")
    rtc = rtc_ice_servers(settings.ice_servers)
    assert rtc[1].urls == ["turn:turn.example.org:3478?transport=tcp"]
    assert rtc[1].username == "u" and rtc[1].credential == "p"

    as_json = Settings(
        ice_servers='[{"urls": "turns:t.example.org:5349", "username": "a", "credential": "b"}]',
        demo=False,
    )
    assert as_json.ice_servers == [
        IceServer(urls=["turns:t.example.org:5349"], username="a", credential="b")
    ]
    assert Settings(demo=False).ice_servers == []

    with pytest.raises(ValidationError, match="needs a username and a credential"):
        Settings(ice_servers="turn:turn.example.org", demo=False)
    with pytest.raises(ValidationError, match="not a STUN/TURN URL"):
        Settings(ice_servers="http://turn.example.org", demo=False)


def test_ice_servers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDROOM_ICE_SERVERS", "turn:10.0.0.1:3478")
    monkeypatch.setenv("MEDROOM_ICE_USERNAME", "room")
    monkeypatch.setenv("MEDROOM_ICE_CREDENTIAL", "secret")
    (server,) = Settings().ice_servers
    assert server.urls == ["turn:10.0.0.1:3478"] and server.credential == "secret"

"""Shared fixtures: a real `medroom serve` process on loopback with known users."""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiortc
import pytest

from library.db import Database
from library.users import Role, create_user
from tests.peers import DEFAULT_CONFIGURATION_REFUSED
from web.auth import TokenSigner
from web.bench.churn import wait_until_serving

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def forbid_default_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """A peer connection built with aiortc's default configuration (a public STUN server)
    fails the test that builds it: tests send traffic to loopback only."""
    original = aiortc.RTCPeerConnection.__init__

    def explicit_only(
        self: aiortc.RTCPeerConnection, configuration: aiortc.RTCConfiguration | None = None
    ) -> None:
        if configuration is None:
            raise AssertionError(DEFAULT_CONFIGURATION_REFUSED)
        original(self, configuration)

    monkeypatch.setattr(aiortc.RTCPeerConnection, "__init__", explicit_only)
MEDROOM = [sys.executable, "-m", "web.cli"]
PASSWORD = "correct-horse-battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    env: dict[str, str]
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*MEDROOM, *args], env=self.env, cwd=REPO, capture_output=True, text=True,
            check=check, timeout=180,
        )

    def token(self, role: str, room: str = "*", subject: str | None = None) -> str:
        """What ``medroom token`` prints, signed here with the server's key (a CLI process
        costs seconds of start-up; tests/web/test_live_api.py runs the command itself). A token
        for one room (``room="demo"``) reaches only that room's routes."""
        signer = TokenSigner(self.env["MEDROOM_SECRET_KEY"])
        return signer.issue(subject=subject or f"script-{role}", role=Role(role), room=room,
                            ttl_seconds=12 * 3600)


def server_env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDROOM_")}
    env.update(
        MEDROOM_DATA_DIR=str(data_dir),
        MEDROOM_PORT=str(port),
        MEDROOM_ICE_ADDRESSES="127.0.0.1",
        MEDROOM_SECRET_KEY="test-secret-" + data_dir.name,
        # The demo library costs seconds of encoding per server; its own test turns it on.
        MEDROOM_DEMO_LIBRARY="false",
    )
    return env


def start_server(
    data_dir: Path, create_users: bool = True, extra_env: dict[str, str] | None = None
) -> Iterator[Server]:
    port = free_port()
    env = {**server_env(data_dir, port), **(extra_env or {})}
    if create_users:
        # In this process, as `medroom user add` would (the server migrates again: a no-op).
        data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(f"sqlite:///{data_dir / 'medroom.db'}")
        try:
            db.migrate()
            for name, role in (("dr-ana", "instructor"), ("marko", "student"),
                               ("cura", "curator")):
                create_user(db, name, PASSWORD, Role(role))
        finally:
            db.dispose()
    log = data_dir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen([*MEDROOM, "serve"], env=env, cwd=REPO, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    server = Server(url, env, data_dir, process, log)
    # Generous: on a shared 2-core machine under load, start-up can take a minute or more.
    wait_until_serving(process, url, log, timeout=180)
    try:
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("medroom"))



# -- Running in parallel (pytest-xdist; README "Tests") ------------------------------------------
# `make test` runs `-n 2 --dist loadfile -m "not serial"`: each test module is one unit of work,
# so its module-scoped fixtures (a `medroom serve`, a browser, Orthanc) start once, on one
# worker, and its tests keep their order. Then it runs the modules below (marked `serial`) in a
# second pass, alone on the machine. Plain `python -m pytest` runs everything in one process.
# (`--dist loadgroup` with xdist_group marks would also work, but pytest 9.2 ignores the node id
# suffix xdist 3.8 writes, pytest-xdist issue 1386: groups are silently not kept together.)
SERIAL_MODULES = {
    # Network namespaces: a ShapedLink makes its TUN devices under fixed names (mrl-srv,
    # mrl-view) in the root namespace before moving them into its namespaces: two links at
    # once collide. Their delays are figures of an otherwise idle link too.
    "tests/web/test_links.py": "network namespaces; link delay figures",
    "tests/e2e/test_classroom_outage.py": "network namespaces; rejoin delay after an outage",
    # Benchmarks asserting CPU, frame-rate or timing figures measured on the machine: another
    # worker's browser or encoder on the same two cores changes the figures they compare.
    "tests/web/test_bench.py": "server millicores per viewer against idle; fps_min > 20",
    "tests/web/test_bench_idle.py": "cores in three states; viewer fps > 10",
    "tests/room_controller/test_benches.py": "composition: naive cores > MedRoom's cores",
    "tests/streaming/test_latency.py": "bench latency: >= 30 stamped frames in 3 s",
    "tests/web/test_churn.py": "threads, tasks and RSS at baseline; ghosts released in time",
    # Browsers counting decoded frames or waiting on live media within seconds: beside another
    # worker's browser and encoder they missed their bounds in CI (21 frames in 2 s, a mask
    # drawn after 30 s, a talkback end after 10 s), so they run alone, as before xdist.
    "tests/e2e/test_browser.py": "student's frame count; console steps within seconds",
    "tests/e2e/test_firefox_vp8.py": "Firefox's decoded VP8 frames in 2 s",
    "tests/e2e/test_talkback_browser.py": "mouth to ear, the instructor's End within seconds",
    "tests/e2e/test_drawing.py": "a stroke drawn on its frame within the latency bound",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.relative_to(REPO).as_posix() in SERIAL_MODULES:
            item.add_marker(pytest.mark.serial)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Under a bare ``pytest -n N`` (no ``-m "not serial"``), two serial tests still never run
    at the same time: a worker holds this run's lock file while it runs one."""
    workerinput = getattr(item.config, "workerinput", None)
    if workerinput is None or item.get_closest_marker("serial") is None:
        return (yield)
    lock = Path(tempfile.gettempdir()) / f"medroom-serial-{workerinput['testrunuid']}.lock"
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        return (yield)

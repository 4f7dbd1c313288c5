"""``medroom bench churn --cycles N``: viewers join and leave N times; nothing may stay behind.

A real ``medroom serve`` (demo room, live) runs in its own process; aiortc viewers join through
the real WHEP endpoint (HTTP POST of an offer, ICE and DTLS on loopback), wait until connected,
and leave: two in three with DELETE, one in three by closing their peer connection only (DTLS
close, no DELETE), which the server must notice by itself. One cycle in ``GHOST_EVERY`` is a
client that never connects (an offer, then nothing: a player closed before it read the answer,
a client behind a firewall): the server must end it by itself within its connect timeout
(``GHOST_CONNECT_TIMEOUT``, set short here; 30 s by default) and keep nothing of it; a watcher
reads the viewer listing to time each one's release. After a warm-up, and again after all
cycles once the server lists no viewer, it reads the server's asyncio task count, threads, open
files and resident memory (``GET /api/diagnostics``) and compares.

A third reading half-way tells a leak (grows with the cycles) from pools that fill once. Pass:
tasks back to the baseline (``TASK_TOLERANCE`` for timers that happen to be alive); threads and
open files not growing in the second half; resident memory within ``RSS_TOLERANCE_BYTES``; every
never-connecting session released within the connect timeout (plus ``RELEASE_SLACK``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from library.users import Role
from streaming.ice import set_ice_addresses
from web.auth import TokenSigner
from web.bench.probe import recvonly_offer
from web.bench.processes import progress, run_and_print
from web.bench.protocol import LOOPBACK, BenchError, Message

WARMUP_CYCLES = 20
CONCURRENCY = 4
CONNECT_TIMEOUT = 30.0
SETTLE_TIMEOUT = 60.0  # a viewer that closed without DELETE is noticed by DTLS close
TASK_TOLERANCE = 2
#: One cycle in this many is a client that never connects.
GHOST_EVERY = 10
#: The server's MEDROOM_WHEP_CONNECT_TIMEOUT_SECONDS in this bench: short, so the ghosts of the
#: last cycles do not hold the run for the default 30 s.
GHOST_CONNECT_TIMEOUT = 5.0
#: A ghost counts as released in time up to this long after the connect timeout (the watcher
#: polls every GHOST_POLL seconds; the server's timer and the leave take a moment).
RELEASE_SLACK = 1.5
GHOST_POLL = 0.1
RSS_TOLERANCE_BYTES = 24 * 1024 * 1024
ROOM = "demo"


@dataclass
class Served:
    url: str
    pid: int
    token: str  # an admin's bearer token: may watch, go live, read diagnostics


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def wait_until_serving(
    process: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 120
) -> None:
    """Wait for a ``medroom serve`` child to answer; kill it and raise if it does not."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/login", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()  # never leave a half-started server behind
            process.wait()
            raise BenchError("medroom serve did not start:\n" + log.read_text()[-4000:])
        time.sleep(0.2)


@contextmanager
def serve(data_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[Served]:
    """A ``medroom serve`` child on loopback with join limits lifted; stopped on exit."""
    port = _free_port()
    # A caller that signs tokens of its own passes the key in ``extra_env``.
    secret = (extra_env or {}).get("MEDROOM_SECRET_KEY") or secrets.token_urlsafe(24)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDROOM_")}
    env.update(
        MEDROOM_DATA_DIR=str(data_dir), MEDROOM_PORT=str(port), MEDROOM_ICE_ADDRESSES=LOOPBACK,
        MEDROOM_SECRET_KEY=secret, MEDROOM_WHEP_JOINS_PER_MINUTE="1000000",
        MEDROOM_WHEP_SESSIONS_PER_USER="1000", MEDROOM_DEMO_LIBRARY="false",
    )
    env.update(extra_env or {})
    log = (data_dir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--log-level", "warning"],
        env=env, stdout=log, stderr=log,
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        wait_until_serving(process, url, data_dir / "server.log")
        token = TokenSigner(secret).issue(subject="bench-churn", role=Role.ADMIN, room="*",
                                          ttl_seconds=24 * 3600)
        yield Served(url, process.pid, token)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


async def whep_offer(
    http: httpx.AsyncClient, token: str, offer_sdp: str, who: str
) -> tuple[str, str]:
    """Join the demo room through WHEP: (the viewer session's location, the answer's SDP)."""
    r = await http.post(
        f"/api/rooms/{ROOM}/whep", content=offer_sdp,
        headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {token}"},
    )
    if r.status_code != 201:
        raise BenchError(f"{who}: join refused {r.status_code}: {r.text[:200]}")
    return r.headers["location"], r.text


class GhostWatch:
    """Times how long the server keeps each never-connecting session: it reads the room's
    viewer listing until the session's id is gone."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self._http = http
        self._headers = {"Authorization": f"Bearer {token}"}
        self._waiting: dict[str, float] = {}  # session id -> when its offer was answered
        self.released: list[float] = []  # seconds from the answer to the release, each ghost

    def add(self, location: str, answered_at: float) -> None:
        self._waiting[location.rsplit("/", 1)[1]] = answered_at

    async def watch(self) -> None:
        """Poll until cancelled."""
        while True:
            if self._waiting:
                r = await self._http.get(f"/api/rooms/{ROOM}/viewers", headers=self._headers)
                if r.status_code != 200:
                    raise BenchError(f"viewer listing answered {r.status_code}: {r.text[:200]}")
                now = time.monotonic()
                listed = {v["id"] for v in r.json()}
                for session in [s for s in self._waiting if s not in listed]:
                    self.released.append(now - self._waiting.pop(session))
            await asyncio.sleep(GHOST_POLL)

    async def all_released(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self._waiting:
            if time.monotonic() > deadline:
                raise BenchError(f"{len(self._waiting)} never-connecting sessions still listed "
                                 f"{timeout:.0f} s after the last cycle")
            await asyncio.sleep(GHOST_POLL)


async def _one_cycle(http: httpx.AsyncClient, served: Served, n: int,
                     ghosts: GhostWatch) -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        await recvonly_offer(pc)
        location, answer = await whep_offer(http, served.token, pc.localDescription.sdp,
                                            f"cycle {n}")
        if n % GHOST_EVERY == GHOST_EVERY - 1:
            # Offer, then nothing: the answer is never applied, no ICE check ever arrives.
            ghosts.add(location, time.monotonic())
            return
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while pc.connectionState != "connected":
            if pc.connectionState in ("failed", "closed") or time.monotonic() > deadline:
                raise BenchError(f"cycle {n}: connection {pc.connectionState}")
            await asyncio.sleep(0.02)
        if n % 3 != 2:  # one in three leaves without DELETE: only its DTLS close tells
            d = await http.delete(location, headers={"Authorization": f"Bearer {served.token}"})
            if d.status_code != 200:
                raise BenchError(f"cycle {n}: DELETE answered {d.status_code}")
    finally:
        await pc.close()


async def _cycles(served: Served, first: int, count: int, ghosts: GhostWatch) -> None:
    numbers = iter(range(first, first + count))
    # Its own HTTP client, closed afterwards: its keep-alive sockets are not counted as leaks.
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:

        async def worker() -> None:
            for n in numbers:
                await _one_cycle(http, served, n, ghosts)
                if n % 50 == 0 and n:
                    progress(f"churn: {n} cycles")

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def _settled(http: httpx.AsyncClient, served: Served) -> Message:
    """Diagnostics once the server lists no viewer (and a second more for closing tasks)."""
    headers = {"Authorization": f"Bearer {served.token}"}
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        diag: Message = (await http.get("/api/diagnostics", headers=headers)).json()
        if diag["viewers"] == 0:
            await asyncio.sleep(1.5)
            return (await http.get("/api/diagnostics", headers=headers)).json()  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise BenchError(f"{diag['viewers']} viewers still listed {SETTLE_TIMEOUT:.0f} s "
                             "after the last one left")
        await asyncio.sleep(0.5)


async def _run(served: Served, cycles: int) -> Message:
    headers = {"Authorization": f"Bearer {served.token}"}
    async with httpx.AsyncClient(
        base_url=served.url, timeout=30, limits=httpx.Limits(max_connections=1)
    ) as http:
        r = await http.post(f"/api/rooms/{ROOM}/live", json={"title": "churn"}, headers=headers)
        if r.status_code != 201:
            raise BenchError(f"could not go live: {r.status_code} {r.text[:200]}")
        # Its own client: the cycles' requests do not wait behind its polls.
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as watch_http:
            ghosts = GhostWatch(watch_http, served.token)
            watcher = asyncio.create_task(ghosts.watch())
            try:
                await _cycles(served, 0, WARMUP_CYCLES, ghosts)
                baseline = await _settled(http, served)
                half = WARMUP_CYCLES + cycles // 2
                started = time.monotonic()
                await _cycles(served, WARMUP_CYCLES, half - WARMUP_CYCLES, ghosts)
                elapsed = time.monotonic() - started
                middle = await _settled(http, served)
                started = time.monotonic()
                await _cycles(served, half, cycles - (half - WARMUP_CYCLES), ghosts)
                elapsed += time.monotonic() - started
                await ghosts.all_released(GHOST_CONNECT_TIMEOUT + SETTLE_TIMEOUT)
            finally:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
        final = await _settled(http, served)
        await http.delete(f"/api/rooms/{ROOM}/live", headers=headers)
    readings = (baseline, middle, final)
    rss_growth = final["rss_bytes"] - baseline["rss_bytes"]
    released = sorted(ghosts.released)
    report: Message = {
        "cycles": cycles,
        "seconds": round(elapsed, 1),
        "cycles_per_second": round(cycles / elapsed, 2),
        # Each figure at the baseline, half-way and at the end.
        "tasks": [r["asyncio_tasks"] for r in readings],
        "threads": [r["threads"] for r in readings],
        "open_files": [r["open_files"] for r in readings],
        "rss_mb": [round(r["rss_bytes"] / 2**20, 1) for r in readings],
        "rss_growth_kb_per_cycle": round(rss_growth / 1024 / cycles, 2),
        "task_kinds": [baseline["task_kinds"], final["task_kinds"]],
        "task_tolerance": TASK_TOLERANCE,
        "rss_tolerance_mb": RSS_TOLERANCE_BYTES / 2**20,
        # The never-connecting sessions (warm-up included): how many, and seconds from the
        # answer to their release (first, median, last), against the connect timeout.
        "ghosts": len(released),
        "ghost_release_s": [round(x, 2) for x in (released[0], released[len(released) // 2],
                                                   released[-1])] if released else [],
        "connect_timeout_s": GHOST_CONNECT_TIMEOUT,
        "ghosts_released_in_time": all(
            x <= GHOST_CONNECT_TIMEOUT + RELEASE_SLACK for x in released),
    }
    report["leak_free"] = (
        final["asyncio_tasks"] <= baseline["asyncio_tasks"] + TASK_TOLERANCE
        and all(_levels_off(baseline[k], middle[k], final[k]) for k in ("threads", "open_files"))
        and rss_growth <= RSS_TOLERANCE_BYTES
        and bool(report["ghosts_released_in_time"])
    )
    return report


def _levels_off(baseline: int, middle: int, final: int) -> bool:
    """Threads and files: a leak grows with the cycles, so the second half may add no more
    than the tolerance. The first cycles may add a little more once (the worker-thread pool
    and its database connections fill up), up to twice the tolerance in all."""
    return final <= middle + TASK_TOLERANCE and final <= baseline + 2 * TASK_TOLERANCE


def run_churn(cycles: int) -> Message:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    set_ice_addresses([LOOPBACK])  # this process's viewers offer loopback only, like the server
    with tempfile.TemporaryDirectory(prefix="medroom-churn-") as tmp, serve(Path(tmp), {
        "MEDROOM_WHEP_CONNECT_TIMEOUT_SECONDS": str(GHOST_CONNECT_TIMEOUT),
    }) as served:
        return asyncio.run(_run(served, cycles))


def _arrow(values: list[Any]) -> str:
    return " -> ".join(str(v) for v in values)


def format_churn(report: Message) -> str:
    tasks, threads, files, rss = (
        report["tasks"], report["threads"], report["open_files"], report["rss_mb"]
    )
    lines = [
        (f"medroom bench churn: {report['cycles']} join/leave cycles through WHEP in "
         f"{report['seconds']} s ({report['cycles_per_second']}/s; 1 in 3 left without DELETE, "
         f"1 in {GHOST_EVERY} never connected)"),
        "  (before, half-way, after)",
        f"  asyncio tasks  {_arrow(tasks)} (tolerance +{report['task_tolerance']})",
        f"  threads        {_arrow(threads)} (the second half may add +{report['task_tolerance']})",
        f"  open files     {_arrow(files)} (the second half may add +{report['task_tolerance']})",
        (f"  resident MB    {_arrow(rss)} ({report['rss_growth_kb_per_cycle']} kB per "
         f"cycle; tolerance {report['rss_tolerance_mb']:.0f} MB)"),
        (f"  never connected {report['ghosts']} sessions, released after "
         f"{_arrow(report['ghost_release_s'])} s (first, median, last; connect timeout "
         f"{report['connect_timeout_s']:.0f} s: "
         f"{'all in time' if report['ghosts_released_in_time'] else 'SOME LATE'})"),
        f"  verdict        {'no leak' if report['leak_free'] else 'LEAK'}",
    ]
    return "\n".join(lines)


def run_churn_bench(args: argparse.Namespace) -> int:
    if not 1 <= args.cycles <= 100_000:
        print("medroom bench churn: --cycles must be between 1 and 100000", file=sys.stderr)
        return 2
    return run_and_print("churn", partial(run_churn, args.cycles), format_churn,
                         passed=lambda report: bool(report["leak_free"]))

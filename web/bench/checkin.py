"""``medroom bench checkin``: a hall of phones checking in within one 30 s window.

A real ``medroom serve`` (demo room, its own temporary data directory, loopback only) runs in
its own process. The benchmark registers a classroom, pairs a screen with it the way a hall
does (the screen page's code, entered through the admin API), goes live, and logs ``phones``
accounts in through the login form, each in its own client (its own session and phone cookie).
At the start of a fresh 30 s window every phone reads the code the screen shows and sends it
at a moment drawn within the first ``spread`` seconds of the window (0: all at once, the worst
case), as people scanning the QR code would.

Figures: each check-in's answer time (p50, p95, max, from send to answer, measured in this
process), how many were accepted, and how many were lost (any other answer, or none); then the
classroom screen's own count of people checked in, which must equal the phones. Pass: p95 at
most ``target_ms`` and none lost.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import re
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import httpx

from library.checkin_codes import WINDOW_SECONDS
from library.db import Database
from library.users import Role, create_user
from web.bench.churn import ROOM, serve
from web.bench.processes import progress, run_and_print
from web.bench.protocol import BenchError, Message

PASSWORD = "bench-checkin-password"
TARGET_MS = 200.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def _login(url: str, name: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, timeout=30)
    page = (await client.get("/login")).text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    answer = await client.post("/login", data={"username": name, "password": PASSWORD,
                                               "csrf": csrf})
    if answer.status_code != 303:
        raise BenchError(f"log-in of {name} failed: {answer.status_code} {answer.text[:200]}")
    page = (await client.get("/checkin")).text  # the phone page: sets the phone's cookie
    client.headers["X-CSRF-Token"] = page.split('name="csrf-token" content="')[1].split('"')[0]
    return client


async def _swarm(url: str, token: str, phones: int, spread: float,
                 fresh_window: bool) -> Message:
    admin = httpx.AsyncClient(base_url=url, timeout=30,
                              headers={"Authorization": f"Bearer {token}"})
    screen = httpx.AsyncClient(base_url=url, timeout=30)
    clients: list[httpx.AsyncClient] = []
    try:
        made = await admin.post("/api/classrooms", json={
            "name": "Bench hall", "institution": "Bench", "city": "Pleven",
            "timezone": "Europe/Sofia", "room_id": ROOM})
        if made.status_code != 201:
            raise BenchError(f"could not register a classroom: {made.text[:200]}")
        classroom = made.json()["id"]
        match = re.search(r'class="pair-code">([0-9A-Z-]+)<', (await screen.get("/screen")).text)
        if match is None:
            raise BenchError("the screen page shows no pairing code")
        paired = await admin.post(f"/api/classrooms/{classroom}/screens",
                                  json={"code": match.group(1)})
        if paired.status_code != 201:
            raise BenchError(f"could not pair the screen: {paired.text[:200]}")
        live = await admin.post(f"/api/rooms/{ROOM}/live", json={"title": "bench checkin"})
        if live.status_code != 201:
            raise BenchError(f"could not go live: {live.status_code} {live.text[:200]}")
        progress(f"checkin: logging {phones} phones in")
        for i in range(0, phones, 8):
            clients += await asyncio.gather(*(_login(url, f"phone{n:03d}")
                                              for n in range(i, min(phones, i + 8))))
        if fresh_window:  # so that every phone answers within the code's own window
            now = time.time()
            await asyncio.sleep(WINDOW_SECONDS - now % WINDOW_SECONDS + 0.2)
        state = (await screen.get("/api/screen/state")).json()
        code = state["checkin"]["code"]
        window_start = time.time()
        progress(f"checkin: {phones} phones send code {code} within {spread:g} s")

        async def phone(client: httpx.AsyncClient, at: float) -> tuple[int, float]:
            await asyncio.sleep(at)
            sent = time.perf_counter()
            try:
                answer = await client.post("/api/checkin", json={"code": code, "at": classroom})
                status = answer.status_code
            except httpx.HTTPError:
                status = 0
            return status, (time.perf_counter() - sent) * 1000

        moments = [random.uniform(0, spread) for _ in clients]
        results = await asyncio.gather(*(phone(c, m) for c, m in zip(clients, moments,
                                                                      strict=True)))
        elapsed = time.time() - window_start
        after = (await screen.get("/api/screen/state")).json()["checkin"]
        await admin.delete(f"/api/rooms/{ROOM}/live")
    finally:
        for c in [admin, screen, *clients]:
            await c.aclose()
    times = [ms for _, ms in results]
    accepted = sum(1 for status, _ in results if status == 200)
    return {
        "bench": "checkin", "phones": phones, "spread_seconds": spread,
        "within_seconds": round(elapsed, 2),
        "same_window": elapsed < WINDOW_SECONDS,
        "accepted": accepted, "lost": phones - accepted,
        "statuses": sorted({status for status, _ in results}),
        "screen_counted": after["present_now"],
        "p50_ms": round(statistics.median(times), 1), "p95_ms": round(_percentile(times, .95), 1),
        "max_ms": round(max(times), 1), "target_p95_ms": TARGET_MS,
        "p95_over_target": round(_percentile(times, .95) / TARGET_MS, 2),
        # The server is live (encoding the program) and the phones run on the same machine:
        # compare runs made under a similar load.
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def run_checkin(phones: int, spread: float, fresh_window: bool = True) -> Message:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    with tempfile.TemporaryDirectory(prefix="medroom-bench-checkin-") as tmp:
        data_dir = Path(tmp)
        db = Database(f"sqlite:///{data_dir / 'medroom.db'}")
        try:
            db.migrate()
            for n in range(phones):
                create_user(db, f"phone{n:03d}", PASSWORD, Role.STUDENT)
        finally:
            db.dispose()
        with serve(data_dir) as served:
            return asyncio.run(_swarm(served.url, served.token, phones, spread, fresh_window))


def format_table(report: Message) -> str:
    return "\n".join([
        (f"check-in swarm: {report['phones']} phones, one code, sent within "
        f"{report['spread_seconds']} s (all done {report['within_seconds']} s into the window)"),
        (f"  answer time   p50 {report['p50_ms']} ms   p95 {report['p95_ms']} ms   "
        f"max {report['max_ms']} ms   (target p95 <= {report['target_p95_ms']:g} ms: "
        f"{report['p95_over_target']}x)"),
        (f"  accepted {report['accepted']}, lost {report['lost']}, the screen counts "
        f"{report['screen_counted']} checked in"),
        f"  load average {report['load_average']}",
    ])


def passed(report: Message) -> bool:
    return bool(report["lost"] == 0 and report["screen_counted"] == report["phones"]
                and report["p95_ms"] <= TARGET_MS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--phones", type=int, default=60, help="phones checking in")
    parser.add_argument("--spread", type=float, default=20.0,
                        help="seconds of the window over which they send (0: all at once)")


def run_checkin_bench(args: argparse.Namespace) -> int:
    if not 1 <= args.phones <= 1000:
        print("medroom bench checkin: --phones must be between 1 and 1000", file=sys.stderr)
        return 2
    if not 0 <= args.spread <= 25:
        print("medroom bench checkin: --spread must be between 0 and 25 s (one 30 s window)",
              file=sys.stderr)
        return 2
    return run_and_print("checkin", partial(run_checkin, args.phones, args.spread), format_table,
                         passed)

"""``medroom bench idle``: what a demo server costs while nobody watches, live or not.

A real ``medroom serve`` (demo room: simulated endoscope, test-pattern room camera, CT phantom,
synthetic sound and a simulated camera head; its own temporary data directory, loopback only)
runs in its own process. Once every source shows a picture, the server's CPU (user + system of
all its threads, from /proc) is read over ``seconds`` in three states, each after ``settle``
seconds for the change to take effect:

- **idle**: the demo room not live, no console, no viewer;
- **live, no viewer**: gone live through the API (program and sound encoders running);
- **live, one viewer**: one lean WHEP viewer (its own process, counts frames, decodes nothing).

Figures are in cores (1.0 = one core busy all the time). The machine's load average is printed
with them: on a shared machine, compare runs made under a similar load.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import httpx

from web.bench.churn import ROOM, Served, serve, whep_offer
from web.bench.probe import viewer_main
from web.bench.processes import child_process, cpu_seconds, progress, run_and_print
from web.bench.protocol import CONNECT_TIMEOUT, REPORT_TIMEOUT, BenchError, Message

#: The three states, in the order they are measured.
IDLE, LIVE, VIEWER = "idle", "live, no viewer", "live, one viewer"
#: The demo's sources prepare in the background (the endoscope's texture, the CT phantom).
SOURCES_READY_TIMEOUT = 120.0


def _server_cores(pid: int, seconds: float) -> float:
    t0, cpu0 = time.monotonic(), cpu_seconds(pid)
    time.sleep(seconds)
    t1, cpu1 = time.monotonic(), cpu_seconds(pid)
    return round((cpu1 - cpu0) / (t1 - t0), 3)


def _wait_for_sources(http: httpx.Client) -> None:
    """Until every source of the demo room shows a picture (or say which does not)."""
    deadline = time.monotonic() + SOURCES_READY_TIMEOUT
    while True:
        sources = http.get(f"/api/rooms/{ROOM}").raise_for_status().json()["sources"]
        waiting = [s["id"] for s in sources if s["health"]["state"] != "live"]
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise BenchError(f"sources not live {SOURCES_READY_TIMEOUT:.0f} s after start: "
                             f"{', '.join(waiting)}")
        time.sleep(0.2)


async def _send_whep_offer(url: str, token: str, offer_sdp: str) -> str:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return (await whep_offer(http, token, offer_sdp, "the viewer"))[1]


def _measure(served: Served, seconds: float, settle: float) -> Message:
    headers = {"Authorization": f"Bearer {served.token}"}
    cores: dict[str, float] = {}
    with httpx.Client(base_url=served.url, headers=headers, timeout=30) as http:
        _wait_for_sources(http)
        time.sleep(settle)
        progress(f"idle: measuring '{IDLE}' for {seconds:g} s")
        cores[IDLE] = _server_cores(served.pid, seconds)

        r = http.post(f"/api/rooms/{ROOM}/live", json={"title": "bench idle"})
        if r.status_code != 201:
            raise BenchError(f"could not go live: {r.status_code} {r.text[:200]}")
        try:
            time.sleep(settle)
            progress(f"idle: measuring '{LIVE}' for {seconds:g} s")
            cores[LIVE] = _server_cores(served.pid, seconds)

            send_offer = partial(_send_whep_offer, served.url, served.token)
            with child_process("WHEP viewer", viewer_main, 0, 1, send_offer) as viewer:
                ready = viewer.expect("ready", CONNECT_TIMEOUT)
                if ready["errors"]:
                    raise BenchError(f"the viewer did not connect: {ready['errors'][0]}")
                time.sleep(settle)
                progress(f"idle: measuring '{VIEWER}' for {seconds:g} s")
                t0 = time.monotonic()
                cores[VIEWER] = _server_cores(served.pid, seconds)
                viewer.send({"kind": "report", "t0": t0, "t1": time.monotonic()})
                seen = viewer.expect("report", REPORT_TIMEOUT)["viewers"][0]
        finally:
            http.delete(f"/api/rooms/{ROOM}/live")
    return {
        "bench": "idle",
        "seconds": seconds,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cores": cores,
        "viewer_fps": round(seen["fps"], 1),
    }


def run_idle(seconds: float, settle: float) -> Message:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="medroom-idle-") as tmp, serve(Path(tmp)) as served:
        return _measure(served, seconds, settle)


def format_idle(report: Message) -> str:
    load = ", ".join(f"{x:.2f}" for x in report["load_average"])
    lines = [
        (f"medroom bench idle: demo server CPU over {report['seconds']:g} s per state "
         f"(load average {load})"),
        f"  {'state':<18} {'cores':>6}",
    ]
    lines += [f"  {state:<18} {cores:>6.3f}" for state, cores in report["cores"].items()]
    lines.append(f"  (the viewer received {report['viewer_fps']} fps)")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=10.0, help="measured per state")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds after each change before measuring")


def run_idle_bench(args: argparse.Namespace) -> int:
    if not 1 <= args.seconds <= 600 or not 0 <= args.settle <= 60:
        print("medroom bench idle: --seconds must be 1..600 and --settle 0..60", file=sys.stderr)
        return 2
    return run_and_print("idle", partial(run_idle, args.seconds, args.settle), format_idle)

"""``medroom bench chat``: a live classroom's chat delivered to a swarm of participants.

A real ``medroom serve`` (demo room, its own temporary data directory, loopback only) goes live;
``participants`` websocket clients (each its own student account, so each has its own rate
limits) join ``/api/rooms/demo/interaction``. Measured:

- **delivery**: ``messages`` chat lines are sent, ``rate`` per second, each by a different
  participant in turn; every participant notes when each line arrives. A line's delivery time
  is from its send until the *last* participant has it (p50/p95/max over the lines; the goal is
  p95 <= 100 ms); the figures per single delivery are printed too.
- **server CPU** (user + system time of the server process, from /proc, not wall time) live
  with nobody connected, with everyone connected and quiet, and while the lines are sent: in
  cores, and in CPU milliseconds per second per connected participant above the first figure
  (the live room's own sources and encoders).

The clients run in this process on the same machine: their own work is part of what is timed,
so the delivery figures are an upper bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from library.users import Role
from web.auth import TokenSigner
from web.bench.churn import ROOM, serve
from web.bench.processes import cpu_seconds, progress, run_and_print
from web.bench.protocol import BenchError, Message

GOAL_P95_MS = 100.0
DELIVERY_TIMEOUT = 30.0


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _figures(values: list[float]) -> dict[str, float]:
    return {"p50": round(_percentile(values, 0.5), 1), "p95": round(_percentile(values, 0.95), 1),
            "max": round(max(values), 1), "mean": round(statistics.fmean(values), 1)}


class Swarm:
    """The participants' sockets and when each bench line reached each of them."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.sockets: list[ClientConnection] = []
        self.arrivals: dict[str, list[float]] = {}  # line -> arrival times
        self.sent: dict[str, float] = {}
        self.errors: list[str] = []
        self.received: list[list[tuple[float, str]]] = []
        self.expected = 0  # chat deliveries awaited (lines x participants)
        self.done = asyncio.Event()
        self._chat_seen = 0
        self._readers: list[asyncio.Task[None]] = []

    async def join(self, ws_url: str, tokens: list[str]) -> None:
        async def one(token: str) -> ClientConnection:
            ws = await connect(f"{ws_url}?token={token}", max_size=2**20,
                               open_timeout=60, ping_interval=None)
            welcome = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if welcome.get("type") != "welcome":
                raise BenchError(f"a participant was not welcomed: {welcome}")
            await asyncio.wait_for(ws.recv(), 30)  # the snapshot
            return ws

        # In batches: 200 handshakes at once would measure the accept queue, not the chat.
        for start in range(0, len(tokens), 25):
            self.sockets += await asyncio.gather(*(one(t) for t in tokens[start:start + 25]))

    async def _read(self, ws: ClientConnection, received: list[tuple[float, str]]) -> None:
        # Only the arrival time is taken here; parsing waits until the run is over, so the
        # clients' own work disturbs the timing as little as it can.
        async for raw in ws:
            received.append((time.monotonic(), str(raw)))
            if '"type":"chat"' in raw:
                self._chat_seen += 1
                if self._chat_seen >= self.expected:
                    self.done.set()

    def start_reading(self) -> None:
        self.received = [[] for _ in self.sockets]
        self._readers = [asyncio.create_task(self._read(ws, got))
                         for ws, got in zip(self.sockets, self.received, strict=True)]

    def tally(self) -> None:
        """After the run: arrival times per line, and the refusals."""
        for got in self.received:
            for at, raw in got:
                message: dict[str, Any] = json.loads(raw)
                if message.get("type") == "error":
                    self.errors.append(str(message.get("message")))
                elif message.get("type") == "chat":
                    self.arrivals.setdefault(message["message"]["text"], []).append(at)

    async def say(self, sender: int, line: str) -> None:
        self.sent[line] = time.monotonic()
        await self.sockets[sender].send(json.dumps({"type": "chat", "text": line}))

    async def close(self) -> None:
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)


async def _measure(url: str, pid: int, secret: str, participants: int, messages: int,
                   rate: float, seconds: float) -> Message:
    signer = TokenSigner(secret)
    admin = signer.issue(subject="bench-chat", role=Role.ADMIN, room="*", ttl_seconds=3600)
    tokens = [signer.issue(subject=f"p{i:04d}", role=Role.STUDENT, room="*", ttl_seconds=3600)
              for i in range(participants)]
    async with httpx.AsyncClient(base_url=url, timeout=60,
                                 headers={"Authorization": f"Bearer {admin}"}) as http:
        r = await http.post(f"/api/rooms/{ROOM}/live", json={"title": "bench chat"})
        if r.status_code != 201:
            raise BenchError(f"could not go live: {r.status_code} {r.text[:200]}")
        swarm = Swarm(participants)
        try:
            # The live room costs CPU with nobody connected (sources, encoders): measured
            # first, and taken off before dividing by the participants.
            await asyncio.sleep(2.0)
            progress(f"chat: server CPU live with no participant, {seconds:g} s")
            t0, cpu0 = time.monotonic(), cpu_seconds(pid)
            await asyncio.sleep(seconds)
            base_cores = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
            progress(f"chat: connecting {participants} participants")
            await swarm.join(url.replace("http://", "ws://") + f"/api/rooms/{ROOM}/interaction",
                             tokens)
            swarm.expected = messages * participants
            swarm.start_reading()
            await asyncio.sleep(1.0)
            progress(f"chat: server CPU with {participants} quiet participants, {seconds:g} s")
            t0, cpu0 = time.monotonic(), cpu_seconds(pid)
            await asyncio.sleep(seconds)
            idle_cores = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)

            progress(f"chat: {messages} lines at {rate:g}/s to {participants} participants")
            t0, cpu0, own0 = time.monotonic(), cpu_seconds(pid), time.process_time()
            for i in range(messages):
                await swarm.say(i % participants, f"bench line {i}")
                await asyncio.sleep(max(0.0, t0 + (i + 1) / rate - time.monotonic()))
            try:
                await asyncio.wait_for(swarm.done.wait(), DELIVERY_TIMEOUT)
            except TimeoutError:
                swarm.tally()
                short = sum(len(swarm.arrivals.get(line, ())) < participants
                            for line in swarm.sent)
                raise BenchError(f"{short} lines did not reach all {participants} participants "
                                 f"within {DELIVERY_TIMEOUT:g} s (errors: {swarm.errors[:3]})"
                                 ) from None
            wall = time.monotonic() - t0
            chat_cores = (cpu_seconds(pid) - cpu0) / wall
            client_cores = (time.process_time() - own0) / wall
        finally:
            await swarm.close()
            await http.delete(f"/api/rooms/{ROOM}/live")
    swarm.tally()
    to_all = [(max(swarm.arrivals[line]) - sent) * 1000 for line, sent in swarm.sent.items()]
    each = [(t - sent) * 1000 for line, sent in swarm.sent.items() for t in swarm.arrivals[line]]
    per = 1000.0 / participants  # cores -> CPU ms per second per participant
    return {
        "bench": "chat", "participants": participants, "messages": messages, "rate": rate,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "delivery_to_all_ms": _figures(to_all), "delivery_each_ms": _figures(each),
        "goal_p95_ms": GOAL_P95_MS, "met": _percentile(to_all, 0.95) <= GOAL_P95_MS,
        "server_cores": {"no participant": round(base_cores, 3), "idle": round(idle_cores, 3),
                         "chatting": round(chat_cores, 3)},
        # Above the live room's own cost; negative noise is shown as 0.
        "cpu_ms_per_s_per_participant": {
            "idle": round(max(0.0, idle_cores - base_cores) * per, 3),
            "chatting": round(max(0.0, chat_cores - base_cores) * per, 3)},
        "client_cores_chatting": round(client_cores, 3),
        "refused": len(swarm.errors),
    }


def run_chat(participants: int, messages: int, rate: float, seconds: float) -> Message:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    secret = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="medroom-chat-") as tmp, \
            serve(Path(tmp), {"MEDROOM_SECRET_KEY": secret}) as served:
        return asyncio.run(_measure(served.url, served.pid, secret, participants, messages,
                                    rate, seconds))


def format_chat(report: Message) -> str:
    load = ", ".join(f"{x:.2f}" for x in report["load_average"])
    to_all, each = report["delivery_to_all_ms"], report["delivery_each_ms"]
    cores, per = report["server_cores"], report["cpu_ms_per_s_per_participant"]
    return "\n".join([
        (f"medroom bench chat: {report['messages']} lines at {report['rate']:g}/s to "
         f"{report['participants']} participants (load average {load})"),
        f"  {'delivery (ms)':<28} {'p50':>7} {'p95':>7} {'max':>7}",
        (f"  {'line reaches everyone':<28} {to_all['p50']:>7.1f} {to_all['p95']:>7.1f} "
         f"{to_all['max']:>7.1f}   goal p95 <= {report['goal_p95_ms']:g}: "
         f"{'met' if report['met'] else 'NOT met'}"),
        f"  {'one delivery':<28} {each['p50']:>7.1f} {each['p95']:>7.1f} {each['max']:>7.1f}",
        f"  {'server CPU':<28} {'cores':>7} {'ms/s per participant':>22}",
        f"  {'  live, no participant':<28} {cores['no participant']:>7.3f} {'':>22}",
        f"  {'  connected, quiet':<28} {cores['idle']:>7.3f} {per['idle']:>22.3f}",
        f"  {'  chatting':<28} {cores['chatting']:>7.3f} {per['chatting']:>22.3f}",
        (f"  (the {report['participants']} clients, in this process, used "
         f"{report['client_cores_chatting']:.3f} cores while chatting)"),
    ])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--messages", type=int, default=200, help="chat lines sent")
    parser.add_argument("--rate", type=float, default=10.0, help="lines per second")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="server CPU measured this long with everyone quiet")


def run_chat_bench(args: argparse.Namespace) -> int:
    if not 1 <= args.participants <= 2000 or not 1 <= args.messages <= 100_000 or not (
            0.1 <= args.rate <= 1000) or not 1 <= args.seconds <= 600:
        print("medroom bench chat: --participants 1..2000, --messages 1..100000, "
              "--rate 0.1..1000, --seconds 1..600", file=sys.stderr)
        return 2
    return run_and_print("chat", partial(run_chat, args.participants, args.messages, args.rate,
                                         args.seconds), format_chat)

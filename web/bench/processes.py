"""Running one measurement: spawn the server and viewer processes, read CPU from /proc, stop all."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from typing import Any

from web.bench.protocol import (
    CONNECT_TIMEOUT,
    REPORT_TIMEOUT,
    SERVER_START_TIMEOUT,
    STOP_TIMEOUT,
    WARMUP_SECONDS,
    BenchError,
    Message,
)
from web.bench.server import server_main

# -- parent: orchestration ---------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads included (Linux /proc)."""
    path = f"/proc/{pid}/stat"
    try:
        with open(path, encoding="ascii") as f:
            data = f.read()
    except FileNotFoundError:
        raise BenchError(f"{path} is gone (or there is no /proc: Linux only)") from None
    fields = data[data.rindex(")") + 2 :].split()  # fields from 3 (state) on
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class _Child:
    name: str
    process: SpawnProcess
    conn: Connection

    def expect(self, kind: str, timeout: float) -> Message:
        deadline = time.monotonic() + timeout
        while not self.conn.poll(0.1):
            if not self.process.is_alive():
                raise BenchError(f"{self.name} exited (code {self.process.exitcode})")
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name}: no '{kind}' message within {timeout:.0f} s")
        try:
            message: Message = self.conn.recv()
        except EOFError:
            raise BenchError(f"{self.name} closed its pipe before '{kind}'") from None
        if message.get("kind") == "error":
            raise BenchError(str(message.get("message")))
        if message.get("kind") != kind:
            raise BenchError(f"{self.name}: expected '{kind}', got {message.get('kind')!r}")
        return message

    def send(self, message: Message) -> None:
        try:
            self.conn.send(message)
        except (OSError, ValueError):
            pass  # gone already; shutdown() deals with it


def _start(ctx: multiprocessing.context.SpawnContext, name: str,
           target: Callable[..., None], *args: Any) -> _Child:
    parent_end, child_end = ctx.Pipe()
    process = ctx.Process(target=target, args=(child_end, *args), name=name, daemon=True)
    # The child inherits an ignored SIGINT, so a Ctrl-C while it is still importing does not
    # spray tracebacks: the parent alone handles Ctrl-C, and stops its children.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT)
    if in_main_thread:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process.start()
    finally:
        if in_main_thread:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    child_end.close()
    return _Child(name=name, process=process, conn=parent_end)


def _shutdown(children: list[_Child]) -> None:
    """Ask every child to stop, then terminate and finally kill whatever is left."""
    for child in children:
        child.send({"kind": "stop"})
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in children:
        child.process.join(max(0.1, deadline - time.monotonic()))
    for child in children:
        if child.process.is_alive():
            child.process.terminate()
            child.process.join(3)
        if child.process.is_alive():
            child.process.kill()
            child.process.join(3)
        child.conn.close()


@contextmanager
def child_process(name: str, target: Callable[..., None], *args: Any) -> Iterator[_Child]:
    """One spawned child that speaks the pipe protocol (``target(conn, *args)``); asked to
    stop, then terminated if need be, on exit."""
    child = _start(multiprocessing.get_context("spawn"), name, target, *args)
    try:
        yield child
    finally:
        _shutdown([child])


@dataclass
class RunResult:
    path: str
    viewers: int
    seconds: float
    server_mc: float
    probe_mc: float
    probe_processes: int
    connected: int
    fps: list[float] = field(default_factory=list)
    max_gap_ms: float | None = None
    errors: list[str] = field(default_factory=list)
    server_stats: Message = field(default_factory=dict)


def progress(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def run_and_print(
    bench: str,
    run: Callable[[], Message],
    table: Callable[[Message], str],
    passed: Callable[[Message], bool] = lambda report: True,
) -> int:
    """Run a benchmark, print its table and then its one JSON line; the command's exit code:
    1 when it could not complete (why, on stderr) or ``passed`` says no, 130 on Ctrl-C."""
    try:
        report = run()
    except BenchError as exc:
        print(f"medroom bench {bench} failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"medroom bench {bench}: interrupted; child processes stopped", file=sys.stderr)
        return 130
    print(table(report))
    print()
    print(json.dumps(report), flush=True)
    return 0 if passed(report) else 1


@dataclass
class _Measured:
    """What one server + probes session measured over its steady window."""

    seconds: float
    server_mc: float
    probe_mc: float
    probe_processes: int
    connected: int
    errors: list[str]
    viewers: list[Message]
    server_stats: Message


def measure(
    server_name: str,
    server_args: tuple[Any, ...],
    probe_main: Callable[..., None],
    probe_args: tuple[Any, ...],
    split: list[int],
    seconds: float,
) -> _Measured:
    """A fresh server process and probe processes (``split``: viewers each); CPU and reports
    over a ``seconds`` window that starts ``WARMUP_SECONDS`` after every viewer is ready."""
    ctx = multiprocessing.get_context("spawn")
    children: list[_Child] = []
    try:
        server = _start(ctx, server_name, server_main, *server_args)
        children.append(server)
        port = int(server.expect("ready", SERVER_START_TIMEOUT)["port"])
        probes: list[_Child] = []
        for i, count in enumerate(split):
            probe = _start(ctx, f"viewer process {i + 1}", probe_main, port, count, *probe_args)
            children.append(probe)
            probes.append(probe)
        connected = 0
        errors: list[str] = []
        for probe in probes:
            ready = probe.expect("ready", CONNECT_TIMEOUT)
            connected += int(ready["connected"])
            errors.extend(str(e) for e in ready["errors"])
        time.sleep(WARMUP_SECONDS)

        pids = [p.process.pid for p in probes if p.process.pid is not None]
        assert server.process.pid is not None
        t0 = time.monotonic()
        server0 = cpu_seconds(server.process.pid)
        probe0 = sum(cpu_seconds(pid) for pid in pids)
        time.sleep(seconds)
        t1 = time.monotonic()
        server1 = cpu_seconds(server.process.pid)
        probe1 = sum(cpu_seconds(pid) for pid in pids)
        window = t1 - t0

        per_viewer: list[Message] = []
        for probe in probes:
            probe.send({"kind": "report", "t0": t0, "t1": t1})
        for probe in probes:
            per_viewer.extend(probe.expect("report", REPORT_TIMEOUT)["viewers"])
        for probe in probes:
            probe.send({"kind": "stop"})
        server.send({"kind": "stop"})
        stats: Message = server.expect("stopped", STOP_TIMEOUT)["stats"]
        errors.extend(str(v["error"]) for v in per_viewer if v["error"] and v["error"] not in errors)
        return _Measured(
            seconds=round(window, 3),
            server_mc=round(1000 * (server1 - server0) / window, 1),
            probe_mc=round(1000 * (probe1 - probe0) / window, 1),
            probe_processes=len(probes),
            connected=connected,
            errors=errors,
            viewers=per_viewer,
            server_stats=stats,
        )
    finally:
        _shutdown(children)

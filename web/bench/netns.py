"""A shaped link between two network namespaces, for benchmarks and tests (Linux, root).

``ShapedLink`` creates a server namespace and a viewer namespace, each with one point-to-point
interface (``SERVER_ADDRESS`` and ``VIEWER_ADDRESS``, from 198.18.0.0/15, the range reserved for
benchmarking), and carries the packets between them the way a long link does: one-way delay
with jitter, random loss, a bottleneck rate with a bounded queue, and outages. Traffic never
leaves the two namespaces.

Why not ``tc netem`` on a veth pair: the kernels this runs on (the CI's and the development
machine's) are built without ``sch_netem`` ("Specified qdisc kind is unknown"), so the link is
emulated in user space instead, netem's way: each namespace's interface is a TUN device, and a
thread reads every IP packet from one and writes it, when its time has come, to the other. The
figures are netem's: delay is half the round trip each way, jitter uniform within +-jitter (in
order, as on a real path; netem's default reorders), loss independent per packet, the rate
serialises packets through a queue that drops at its tail beyond ``queue_ms`` (tbf's
``latency``).

The thread that carries the packets asks for real-time scheduling (``SCHED_FIFO``, when the
process may): on a busy machine (two cores shared with other work) an ordinary thread was seen
delivering packets 100-150 ms after their time, a delay no wire adds, which turned into freezes
that were the emulator's. It sleeps in ``select`` between packets and uses a few percent of a core.

Processes join a namespace with ``enter_namespace`` (before they open any socket). The
namespaces are always deleted on leaving the context, on failure too; ``remove_stale`` deletes
those of a run that died without cleaning up.
"""

from __future__ import annotations

import collections
import ctypes
import errno
import fcntl
import os
import random
import select
import struct
import subprocess
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from web.bench import linktrace

SERVER_ADDRESS = "198.18.0.1"
VIEWER_ADDRESS = "198.18.0.2"
#: Namespaces are named PREFIX-<role>-<pid of the process that made them>.
PREFIX = "medroom-link"
NETNS_DIR = "/var/run/netns"

_TUNSETIFF = 0x400454CA
_IFF_TUN = 0x0001
_IFF_NO_PI = 0x1000
_CLONE_NEWNET = 0x40000000
_MTU = 1500
#: Real-time priority of the thread that carries the packets (1..99; low: above every ordinary
#: task, below the kernel's own real-time threads).
_CARRY_PRIORITY = 10


class NetnsError(RuntimeError):
    """A namespace or its link could not be set up; the message says which command failed."""


@dataclass(frozen=True)
class LinkShape:
    """What the link does to packets; the defaults are a clean link."""

    rtt_ms: float = 0.0  # round trip; half of it each way
    jitter_ms: float = 0.0  # each packet's one-way delay varies uniformly within +-jitter
    loss: float = 0.0  # 0..1, each packet independently, both directions
    rate_kbps: float | None = None  # bottleneck towards the viewer (None: unlimited)
    queue_ms: float = 100.0  # the bottleneck's queue: packets beyond this wait are dropped


def _run(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise NetnsError(
            f"'{' '.join(args)}' failed ({done.returncode}): {done.stderr.strip()} "
            "(network namespaces need root and the ip command)"
        )


def enter_namespace(name: str) -> None:
    """Move the calling process into network namespace ``name`` (before opening sockets)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise NetnsError(f"setns into {name} failed: {os.strerror(err)}")
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale() -> list[str]:
    """Delete the namespaces of runs whose process is gone; returns their names."""
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []
    removed = []
    for name in names:
        if not name.startswith(PREFIX + "-"):
            continue
        pid = name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
            removed.append(name)
    return removed


def _open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH22x", name.encode(), _IFF_TUN | _IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


class _Direction:
    """Packets in flight one way: (release time, packet), release times never decreasing."""

    def __init__(self, source: int, sink: int, shaped_rate: bool, name: str = "") -> None:
        self.name = name
        self.source = source
        self.sink = sink
        self.shaped_rate = shaped_rate
        self.in_flight: collections.deque[tuple[float, bytes]] = collections.deque()
        self.last_release = 0.0
        self.link_free = 0.0  # when the bottleneck has sent everything queued
        self.delivered = 0
        self.dropped = 0


class ShapedLink:
    """Two namespaces joined by an emulated link; a context manager that always cleans up."""

    def __init__(self, seed: int = 14) -> None:
        tag = str(os.getpid())
        self.server_ns = f"{PREFIX}-srv-{tag}"
        self.viewer_ns = f"{PREFIX}-view-{tag}"
        self._shape = LinkShape()
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._fds: list[int] = []
        self._stop_r, self._stop_w = os.pipe()
        self._thread: threading.Thread | None = None
        self._directions: list[_Direction] = []

    # -- set up and tear down -----------------------------------------------------------------
    def __enter__(self) -> Self:
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _create(self) -> None:
        remove_stale()
        ends = ((self.server_ns, "mrl-srv", SERVER_ADDRESS, VIEWER_ADDRESS),
                (self.viewer_ns, "mrl-view", VIEWER_ADDRESS, SERVER_ADDRESS))
        for ns, device, local, peer in ends:
            _run("ip", "netns", "add", ns)
            # Made here, moved there: the open descriptor follows the device.
            fd = _open_tun(device)
            self._fds.append(fd)
            _run("ip", "link", "set", device, "netns", ns)
            _run("ip", "-n", ns, "addr", "add", local, "peer", f"{peer}/32", "dev", device)
            _run("ip", "-n", ns, "link", "set", device, "mtu", str(_MTU), "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        server_fd, viewer_fd = self._fds
        self._directions = [
            _Direction(server_fd, viewer_fd, shaped_rate=True, name="down"),  # to the viewer
            _Direction(viewer_fd, server_fd, shaped_rate=False, name="up"),  # RTCP, NACKs, HTTP
        ]
        self._thread = threading.Thread(target=self._carry, name="shaped-link", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            os.write(self._stop_w, b"x")
            self._thread.join(5)
            self._thread = None
        for fd in self._fds:
            os.close(fd)
        self._fds = []
        for ns in (self.server_ns, self.viewer_ns):
            if os.path.exists(os.path.join(NETNS_DIR, ns)):
                subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        for fd in (self._stop_r, self._stop_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._stop_r = self._stop_w = -1

    # -- shaping --------------------------------------------------------------------------------
    def shape(self, shape: LinkShape) -> None:
        """From now on, packets entering the link get ``shape``."""
        with self._lock:
            self._shape = shape

    def outage(self, seconds: float) -> float:
        """Drop every packet, both ways, for ``seconds`` from now; returns when it ends
        (``time.monotonic()``)."""
        with self._lock:
            self._down_until = time.monotonic() + seconds
            return self._down_until

    def counters(self) -> dict[str, int]:
        to_viewer, to_server = self._directions
        return {"to_viewer": to_viewer.delivered, "to_viewer_dropped": to_viewer.dropped,
                "to_server": to_server.delivered, "to_server_dropped": to_server.dropped}

    # -- the link itself (its own thread) -------------------------------------------------------
    def _admit(self, way: _Direction, packet: bytes, now: float) -> None:
        with self._lock:
            shape, down = self._shape, now < self._down_until
        if down or (shape.loss > 0 and self._random.random() < shape.loss):
            way.dropped += 1
            if linktrace.enabled():
                linktrace.note("drop", way=way.name, why="outage" if down else "loss",
                               **linktrace.describe_ip(packet))
            return
        sent = now
        if way.shaped_rate and shape.rate_kbps:
            start = max(now, way.link_free)
            if (start - now) * 1000 > shape.queue_ms:
                way.dropped += 1  # the bottleneck's queue is full: tail drop
                if linktrace.enabled():
                    linktrace.note("drop", way=way.name, why="queue",
                                   **linktrace.describe_ip(packet))
                return
            way.link_free = start + len(packet) * 8 / (shape.rate_kbps * 1000)
            sent = way.link_free
        delay = shape.rtt_ms / 2 + self._random.uniform(-shape.jitter_ms, shape.jitter_ms)
        release = max(way.last_release, sent + max(0.0, delay) / 1000)
        way.last_release = release
        way.in_flight.append((release, packet))

    def _carry(self) -> None:
        try:  # this thread only (Linux: a thread is a task)
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(_CARRY_PRIORITY))
        except (OSError, AttributeError):
            pass  # not allowed: an ordinary thread, late when the machine is busy
        by_fd = {way.source: way for way in self._directions}
        while True:
            now = time.monotonic()
            for way in self._directions:
                while way.in_flight and way.in_flight[0][0] <= now:
                    release, packet = way.in_flight.popleft()
                    try:
                        os.write(way.sink, packet)
                        way.delivered += 1
                    except OSError:
                        way.dropped += 1  # the interface is down or its queue full: lost
                    if now - release > 0.005 and linktrace.enabled():
                        # The emulator itself fell behind (a busy machine): not the link's doing.
                        linktrace.note("late", way=way.name, ms=round((now - release) * 1000, 1))
            due = [way.in_flight[0][0] for way in self._directions if way.in_flight]
            timeout = max(0.0, min(due) - now) if due else 0.5
            readable, _, _ = select.select([*by_fd, self._stop_r], [], [], timeout)
            if self._stop_r in readable:
                return
            now = time.monotonic()
            for fd in readable:
                way = by_fd[fd]
                for _ in range(64):  # a burst at a time, then deliver what is due
                    try:
                        packet = os.read(fd, _MTU + 64)
                    except BlockingIOError:
                        break
                    except OSError as exc:
                        if exc.errno in (errno.EBADFD, errno.EIO):
                            return
                        raise
                    self._admit(way, packet, now)

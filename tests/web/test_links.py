"""``medroom bench links``: a real viewer across an emulated long link between two network
namespaces (root), and the link itself."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import threading
import time

import pytest

from web.bench import run_bench
from web.bench.netns import (
    NETNS_DIR,
    PREFIX,
    SERVER_ADDRESS,
    VIEWER_ADDRESS,
    LinkShape,
    ShapedLink,
    enter_namespace,
)


def _our_namespaces() -> list[str]:
    names = os.listdir(NETNS_DIR) if os.path.isdir(NETNS_DIR) else []
    return [n for n in names if n.startswith(PREFIX) and n.endswith(f"-{os.getpid()}")]


def _udp_socket_in(namespace: str, address: str) -> socket.socket:
    """A UDP socket bound in ``namespace`` (made by a thread that enters it: setns moves only
    the calling thread, and a socket stays in the namespace it was made in)."""
    made: list[socket.socket] = []

    def make() -> None:
        enter_namespace(namespace)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((address, 0))
        made.append(s)

    thread = threading.Thread(target=make)
    thread.start()
    thread.join(5)
    return made[0]


def _round_trips(viewer: socket.socket, server: socket.socket, count: int) -> list[float]:
    """Milliseconds for each datagram viewer -> server -> viewer that came back within 1 s."""
    viewer.settimeout(1.0)
    server.settimeout(1.0)
    times = []
    for i in range(count):
        sent = time.monotonic()
        viewer.sendto(b"%d" % i, server.getsockname())
        try:
            data, peer = server.recvfrom(100)
            server.sendto(data, peer)
            viewer.recvfrom(100)
        except TimeoutError:
            continue
        times.append((time.monotonic() - sent) * 1000)
    return times


def test_the_link_delays_breaks_and_is_cleaned_up() -> None:
    with ShapedLink() as link:
        link.shape(LinkShape(rtt_ms=80, jitter_ms=5))
        server = _udp_socket_in(link.server_ns, SERVER_ADDRESS)
        viewer = _udp_socket_in(link.viewer_ns, VIEWER_ADDRESS)
        try:
            rtts = _round_trips(viewer, server, 5)
            assert len(rtts) == 5 and min(rtts) >= 70, rtts

            link.outage(1.5)
            assert _round_trips(viewer, server, 1) == []  # nothing crosses while it is down
            time.sleep(0.6)
            assert len(_round_trips(viewer, server, 3)) == 3  # and everything after
        finally:
            server.close()
            viewer.close()
        assert len(_our_namespaces()) == 2
    assert _our_namespaces() == []


def test_a_viewer_across_a_broken_link_gets_the_picture_back(
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    args = argparse.Namespace(bench="links", link=["outage"], seconds=10.0)

    assert run_bench(args) == 0

    out = capsys.readouterr().out
    report = json.loads(out.strip().splitlines()[-1])
    (row,) = report["conditions"]
    assert row["condition"] == "outage" and "outage" in out  # the table came first
    # The picture crossed the link: frames with readable stamps, later than one way (35 ms).
    assert row["frames"] > 100, row
    assert row["p50_ms"] is not None and row["p50_ms"] >= 35, row
    assert row["p95_ms"] >= row["p50_ms"]
    assert row["packets"]["to_viewer_dropped"] > 0  # the outage did cut the link
    # ... and came back after the 3 s outage (the bench's goal is 1 s; a loaded machine is
    # given more here).
    assert row["recovery_s"] is not None and row["recovery_s"] < 4.0, row
    assert row["rendition"] == "720p" and row["link"]["nacks"] > 0, row
    # An outage is repaired by a keyframe, not retransmissions: the viewer is not asked to
    # hold its frames (that would only make the returning picture late).
    assert row["playout_ms"] == 0, row
    assert multiprocessing.active_children() == []
    assert _our_namespaces() == []
    assert time.monotonic() - started < 45

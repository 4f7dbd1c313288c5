"""The benchmark processes' common ground: limits, signalling lines, codec choice."""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import traceback
from multiprocessing.connection import Connection
from typing import Any

from aiortc import (
    RTCRtpCodecCapability,
)

from streaming.ice import set_ice_addresses

PATHS = ("medroom", "stock")
LOOPBACK = "127.0.0.1"
WARMUP_SECONDS = 2.0
MAX_VIEWERS_PER_PROCESS = 10
SERVER_START_TIMEOUT = 60.0  # spawn + imports + the endoscope texture
CONNECT_TIMEOUT = 90.0  # all viewers connected and each with a first frame
REPORT_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
SIGNAL_LINE_LIMIT = 1 << 20
SOURCE_FPS = 30
#: Below this share of the source rate a run is "saturated": its CPU per viewer is a floor.
SATURATED_BELOW = 0.9

Message = dict[str, Any]


class BenchError(RuntimeError):
    """A benchmark run could not complete; the message says which process and why."""


# -- shared helpers ----------------------------------------------------------------------------


def viewer_split(viewers: int, per_process: int = MAX_VIEWERS_PER_PROCESS) -> list[int]:
    """Viewers per probe process: at most ``per_process`` each, at least 2 from 4 viewers on."""
    if viewers <= 0:
        return []
    processes = max(math.ceil(viewers / per_process), 2 if viewers >= 4 else 1)
    base, extra = divmod(viewers, processes)
    return [base + (1 if i < extra else 0) for i in range(processes)]


def h264_only(codecs: list[RTCRtpCodecCapability]) -> list[RTCRtpCodecCapability]:
    return [c for c in codecs if c.mimeType.lower() in ("video/h264", "video/rtx")]


def quiet_child() -> None:
    """Children leave Ctrl-C to the parent (which stops them) and log only problems."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Every process of the benchmark must keep ICE on loopback.
    set_ice_addresses([LOOPBACK])


async def receive(conn: Connection) -> Message:
    """The parent's next command, without blocking the event loop; EOF means stop."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Message] = loop.create_future()
    fd = conn.fileno()

    def readable() -> None:
        loop.remove_reader(fd)
        message: Message
        try:
            message = conn.recv()
        except (EOFError, OSError):
            message = {"kind": "stop", "reason": "parent gone"}
        if not done.done():
            done.set_result(message)

    loop.add_reader(fd, readable)
    try:
        return await done
    finally:
        loop.remove_reader(fd)


def send_error(conn: Connection, who: str) -> None:
    try:
        conn.send({"kind": "error", "message": f"{who}: {traceback.format_exc()}"})
    except (OSError, ValueError):
        pass

"""A simulated VISCA-over-IP camera head: the real protocol over a real UDP socket.

The demo room's PTZ head (there is no real one on a newcomer's machine) and the tests' camera.

It keeps pan/tilt/zoom, presets and the last drive commands, answers ACK then completion as a
Sony head does, answers inquiries with data, a syntax error to anything it cannot parse, and has
modes for the failures a room meets: "mute" (powered off: never answers), "busy" (both command
sockets taken: buffer full). It is written from the protocol description, not from the client,
so the tests check the client against the wire format rather than against itself.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from typing import Literal, cast

HEADER = struct.Struct(">HHI")
Mode = Literal["normal", "mute", "busy"]


@dataclass
class Received:
    payload_type: int
    length: int
    seq: int
    payload: bytes


@dataclass
class PeerState:
    pan: int = 0
    tilt: int = 0
    zoom: int = 0
    auto_focus: bool = True
    presets: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    drive: tuple[int, int, int, int] | None = None  # VV, WW, p, q of the last pan/tilt drive
    zoom_drive: int | None = None  # last 04 07 byte
    focus_drive: int | None = None  # last 04 08 byte


def _nib(value: int) -> bytes:
    value &= 0xFFFF
    return bytes([(value >> 12) & 0xF, (value >> 8) & 0xF, (value >> 4) & 0xF, value & 0xF])


def _from_nib(data: bytes, signed: bool) -> int:
    value = 0
    for b in data:
        value = (value << 4) | (b & 0xF)
    if signed and value >= 0x8000:
        value -= 0x10000
    return value


class ViscaPeer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.mode: Mode = "normal"
        self.state = PeerState()
        self.received: list[Received] = []
        self.drop_next = 0  # swallow this many datagrams (a lossy network), then answer
        self.ack_delay = 0.0
        self.completion_delay = 0.0  # how long a move "takes" between ACK and completion
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    async def start(cls, host: str = "127.0.0.1", port: int = 0) -> ViscaPeer:
        loop = asyncio.get_running_loop()
        transport, peer = await loop.create_datagram_endpoint(cls, local_addr=(host, port))
        peer.transport = transport
        peer.port = transport.get_extra_info("sockname")[1]
        return peer

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.transport is not None:
            self.transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector datagram transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    # -- helpers for assertions --------------------------------------------------------------

    def commands(self) -> list[bytes]:
        """VISCA payloads of the commands (0x0100) received, in order."""
        return [r.payload for r in self.received if r.payload_type == 0x0100]

    # -- protocol ----------------------------------------------------------------------------

    def _send(self, addr: tuple[str | int, ...], payload_type: int, seq: int, payload: bytes,
              delay: float = 0.0) -> None:
        datagram = HEADER.pack(payload_type, len(payload), seq) + payload

        async def later() -> None:
            await asyncio.sleep(delay)
            if self.transport is not None:
                self.transport.sendto(datagram, addr)

        if delay <= 0:
            assert self.transport is not None
            self.transport.sendto(datagram, addr)
        else:
            task = asyncio.get_running_loop().create_task(later())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if len(data) < HEADER.size:
            if self.mode != "mute":
                # Framing a camera cannot read: control reply "message abnormal".
                self._send(addr, 0x0201, 0, b"\x0f\x02")
            return
        payload_type, length, seq = HEADER.unpack_from(data)
        payload = data[HEADER.size:]
        self.received.append(Received(payload_type, length, seq, payload))
        if self.mode == "mute":
            return
        if self.drop_next > 0:
            self.drop_next -= 1
            return
        if length != len(payload):
            self._send(addr, 0x0201, seq, b"\x0f\x02")
            return
        if payload_type == 0x0200:
            if payload == b"\x01":
                self._send(addr, 0x0201, seq, b"\x01")
            else:
                self._send(addr, 0x0201, seq, b"\x0f\x02")
            return
        if payload_type == 0x0110:
            self._inquiry(addr, seq, payload)
            return
        if payload_type == 0x0100:
            self._command(addr, seq, payload)
            return
        self._send(addr, 0x0201, seq, b"\x0f\x02")

    def _reply(self, addr: tuple[str | int, ...], seq: int, visca: bytes,
               delay: float = 0.0) -> None:
        self._send(addr, 0x0111, seq, visca, delay)

    def _inquiry(self, addr: tuple[str | int, ...], seq: int, p: bytes) -> None:
        s = self.state
        if p == bytes.fromhex("81 09 06 12 ff"):
            self._reply(addr, seq, b"\x90\x50" + _nib(s.pan) + _nib(s.tilt) + b"\xff")
        elif p == bytes.fromhex("81 09 04 47 ff"):
            self._reply(addr, seq, b"\x90\x50" + _nib(s.zoom) + b"\xff")
        elif p == bytes.fromhex("81 09 04 00 ff"):
            self._reply(addr, seq, bytes.fromhex("90 50 02 ff"))  # power: on
        else:
            self._reply(addr, seq, bytes.fromhex("90 60 02 ff"))

    def _command(self, addr: tuple[str | int, ...], seq: int, p: bytes) -> None:
        if self.mode == "busy":
            self._reply(addr, seq, bytes.fromhex("90 60 03 ff"))
            return
        outcome = self._execute(p)
        if outcome is None:
            self._reply(addr, seq, bytes.fromhex("90 60 02 ff"))  # syntax error: socket 0
            return
        if outcome != 0:
            self._reply(addr, seq, bytes([0x90, 0x41]) + b"\xff", self.ack_delay)
            self._reply(addr, seq, bytes([0x90, 0x61, outcome, 0xFF]),
                        self.ack_delay + self.completion_delay)
            return
        self._reply(addr, seq, bytes.fromhex("90 41 ff"), self.ack_delay)
        self._reply(addr, seq, bytes.fromhex("90 51 ff"), self.ack_delay + self.completion_delay)

    def _execute(self, p: bytes) -> int | None:
        """Apply a command; None = syntax error, 0 = done, else a VISCA error code."""
        s = self.state
        if len(p) < 4 or p[0] != 0x81 or p[1] != 0x01 or p[-1] != 0xFF:
            return None
        body = p[2:-1]
        if body[:2] == b"\x06\x01" and len(body) == 6:
            vv, ww, dp, dq = body[2:]
            if not (1 <= vv <= 0x18 and 1 <= ww <= 0x17 and dp in (1, 2, 3) and dq in (1, 2, 3)):
                return None
            s.drive = (vv, ww, dp, dq)
            return 0
        if body[:2] == b"\x04\x07" and len(body) == 3:
            z = body[2]
            if not (z in (0x00, 0x02, 0x03) or 0x20 <= z <= 0x27 or 0x30 <= z <= 0x37):
                return None
            s.zoom_drive = z
            return 0
        if body[:2] == b"\x04\x08" and len(body) == 3 and body[2] in (0x00, 0x02, 0x03):
            if s.auto_focus and body[2] != 0x00:
                return 0x41  # a real head refuses manual focus drive in auto focus
            s.focus_drive = body[2]
            return 0
        if body[:2] == b"\x04\x38" and len(body) == 3 and body[2] in (0x02, 0x03):
            s.auto_focus = body[2] == 0x02
            return 0
        if body[:2] == b"\x04\x3f" and len(body) == 4 and body[2] in (0x00, 0x01, 0x02):
            n = body[3]
            if n > 0x7F:
                return None
            if body[2] == 0x01:
                s.presets[n] = (s.pan, s.tilt, s.zoom)
            elif body[2] == 0x02:
                if n not in s.presets:
                    return 0x41  # this peer's choice: recalling an empty memory is refused
                s.pan, s.tilt, s.zoom = s.presets[n]
            else:
                s.presets.pop(n, None)
            return 0
        if body == b"\x06\x04":
            s.pan = s.tilt = 0
            return 0
        if body[:2] == b"\x06\x02" and len(body) == 12:
            s.pan = _from_nib(body[4:8], signed=True)
            s.tilt = _from_nib(body[8:12], signed=True)
            return 0
        if body[:2] == b"\x04\x47" and len(body) == 6:
            s.zoom = _from_nib(body[2:6], signed=False)
            return 0
        return None


# Mechanical limits and speeds of the simulated head, in VISCA position units.
PAN_LIMIT = 2200
TILT_LIMIT = 1100
ZOOM_MAX = 0x4000
PAN_UNITS_PER_SPEED = 60.0  # per second, per step of VV/WW (1..0x18)
ZOOM_UNITS_PER_STEP = 1800.0  # per second, per step of p (0..7)


class SimulatedHead(ViscaPeer):
    """A ViscaPeer whose continuous drives move it: pan, tilt and zoom change over time."""

    def __init__(self) -> None:
        super().__init__()
        self._ticker: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, host: str = "127.0.0.1", port: int = 0) -> ViscaPeer:
        head = await super().start(host, port)
        assert isinstance(head, SimulatedHead)
        head._ticker = asyncio.get_running_loop().create_task(head._tick())
        return head

    def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        super().close()

    def view(self) -> tuple[float, float, float]:
        """(pan, tilt, zoom) as fractions: pan and tilt -1..1, zoom 0..1. Thread-safe reads."""
        s = self.state
        return s.pan / PAN_LIMIT, s.tilt / TILT_LIMIT, s.zoom / ZOOM_MAX

    async def _tick(self, step: float = 0.04) -> None:
        while True:
            await asyncio.sleep(step)
            s = self.state
            if s.drive is not None:
                vv, ww, dp, dq = s.drive
                pan_dir = {1: -1, 2: 1, 3: 0}[dp]
                tilt_dir = {1: 1, 2: -1, 3: 0}[dq]
                s.pan = max(-PAN_LIMIT, min(PAN_LIMIT, round(
                    s.pan + pan_dir * vv * PAN_UNITS_PER_SPEED * step)))
                s.tilt = max(-TILT_LIMIT, min(TILT_LIMIT, round(
                    s.tilt + tilt_dir * ww * PAN_UNITS_PER_SPEED * step)))
                if pan_dir == 0 and tilt_dir == 0:
                    s.drive = None
            z = s.zoom_drive
            if z is not None and z != 0:
                direction = 1 if z in (0x02,) or 0x20 <= z <= 0x27 else -1
                speed = (z & 0x0F) + 1 if z >= 0x20 else 3
                s.zoom = max(0, min(ZOOM_MAX, round(
                    s.zoom + direction * speed * ZOOM_UNITS_PER_STEP * step)))

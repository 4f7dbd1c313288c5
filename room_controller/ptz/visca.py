"""VISCA over IP: an asyncio UDP client for Sony-style pan-tilt-zoom camera heads.

Framing (Sony "VISCA over IP", UDP 52381): every datagram starts with an 8-byte header

    payload type (2 bytes, big-endian) | payload length (2 bytes) | sequence number (4 bytes)

followed by the payload. Payload types: 0x0100 VISCA command, 0x0110 VISCA inquiry, 0x0111 VISCA
reply, 0x0200 control command (payload 0x01 = RESET of the sequence number), 0x0201 control
reply (0x01 = reset done, 0x0F 0x01 = sequence number abnormal, 0x0F 0x02 = message abnormal).
The camera copies the request's sequence number into its replies, which is how replies are
matched to requests here: several requests may be outstanding at once.

VISCA replies: ACK ``90 4y FF`` (accepted into socket y), completion ``90 5y FF`` (done; an
inquiry's completion carries data), error ``90 6y ee FF``.

Nothing here blocks the event loop: the socket is an asyncio datagram endpoint and every wait is
bounded by a timeout, so a camera that is unplugged costs a `ViscaTimeout`, never a hang.
"""

from __future__ import annotations

import asyncio
import logging
import math
import struct
import time
from dataclasses import dataclass
from typing import Literal, Self, cast

log = logging.getLogger(__name__)

DEFAULT_PORT = 52381

PT_COMMAND = 0x0100
PT_INQUIRY = 0x0110
PT_REPLY = 0x0111
PT_CONTROL = 0x0200
PT_CONTROL_REPLY = 0x0201

HEADER = struct.Struct(">HHI")

#: Highest speed codes of a Sony head (pan 0x01..0x18, tilt 0x01..0x14 on most models; newer
#: heads accept 0x17 tilt, but 0x14 is understood by all of them).
PAN_SPEED_MAX = 0x18
TILT_SPEED_MAX = 0x14
ZOOM_SPEED_MAX = 7
PRESET_MAX = 127

FocusMode = Literal["auto", "manual", "near", "far", "stop"]


# -- errors --------------------------------------------------------------------------------------


class ViscaError(Exception):
    """A VISCA camera refused or failed a request; the message names the camera and the request."""


class ViscaTimeout(ViscaError):
    """The camera did not answer (unplugged, wrong address, powered off, firewall)."""


class ViscaNotStarted(ViscaError):
    """The client was used before `start()` or after `close()`."""


class ViscaProtocolError(ViscaError):
    """The camera answered with something this client cannot make sense of."""


class ViscaReplyError(ViscaError):
    """The camera answered a request with a VISCA error message ``90 6y ee FF``."""

    code = 0x00
    meaning = "unknown error"

    def __init__(self, message: str, socket_no: int) -> None:
        super().__init__(message)
        self.socket_no = socket_no


class ViscaSyntaxError(ViscaReplyError):
    code = 0x02
    meaning = "syntax error: the camera does not understand this command"


class ViscaBufferFull(ViscaReplyError):
    code = 0x03
    meaning = "command buffer full: both command sockets are busy; retry when a move ends"


class ViscaCancelled(ViscaReplyError):
    code = 0x04
    meaning = "command cancelled (a newer command or a cancel replaced it)"


class ViscaNoSocket(ViscaReplyError):
    code = 0x05
    meaning = "no socket: nothing is executing in the socket named"


class ViscaNotExecutable(ViscaReplyError):
    code = 0x41
    meaning = "command not executable in the camera's current mode"


class ViscaSequenceError(ViscaError):
    """The camera rejected the sequence number or the framing (control reply 0F 01 / 0F 02)."""


_REPLY_ERRORS: dict[int, type[ViscaReplyError]] = {
    cls.code: cls
    for cls in (ViscaSyntaxError, ViscaBufferFull, ViscaCancelled, ViscaNoSocket,
                ViscaNotExecutable)
}


# -- payload builders (pure, so the tests and the peer can check exact bytes) --------------------


def frame(payload_type: int, seq: int, payload: bytes) -> bytes:
    """One VISCA-over-IP datagram: header then payload."""
    return HEADER.pack(payload_type, len(payload), seq & 0xFFFFFFFF) + payload


def nibbles(value: int, count: int = 4) -> bytes:
    """VISCA spreads a 16-bit value over four bytes, one nibble each (0p 0p 0p 0p)."""
    value &= (1 << (4 * count)) - 1
    return bytes((value >> (4 * (count - 1 - i))) & 0x0F for i in range(count))


def from_nibbles(data: bytes, signed: bool) -> int:
    value = 0
    for byte in data:
        value = (value << 4) | (byte & 0x0F)
    bits = 4 * len(data)
    if signed and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


def _unit(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or math.isnan(value) or not -1.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number from -1 to 1, got {value!r}")
    return float(value)


def _preset(n: int) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= PRESET_MAX:
        raise ValueError(f"preset must be an integer from 0 to {PRESET_MAX}, got {n!r}")
    return n


def pan_tilt_drive(pan_speed: float, tilt_speed: float) -> bytes:
    """``81 01 06 01 VV WW 0p 0q FF``: continuous move; positive pan = right, tilt = up."""
    pan = _unit("pan_speed", pan_speed)
    tilt = _unit("tilt_speed", tilt_speed)
    # Speed 0 is not a valid VISCA speed; a stopped axis is said by direction 03, with speed 1.
    vv = max(1, min(PAN_SPEED_MAX, round(abs(pan) * PAN_SPEED_MAX)))
    ww = max(1, min(TILT_SPEED_MAX, round(abs(tilt) * TILT_SPEED_MAX)))
    p = 0x03 if pan == 0 else (0x02 if pan > 0 else 0x01)
    q = 0x03 if tilt == 0 else (0x01 if tilt > 0 else 0x02)
    return bytes([0x81, 0x01, 0x06, 0x01, vv, ww, p, q, 0xFF])


def zoom_drive(speed: float) -> bytes:
    """``81 01 04 07 2p FF`` tele / ``3p`` wide (p = 0..7) / ``00`` stop."""
    s = _unit("zoom speed", speed)
    if s == 0:
        return bytes([0x81, 0x01, 0x04, 0x07, 0x00, 0xFF])
    p = min(ZOOM_SPEED_MAX, round(abs(s) * ZOOM_SPEED_MAX))
    return bytes([0x81, 0x01, 0x04, 0x07, (0x20 if s > 0 else 0x30) | p, 0xFF])


FOCUS_COMMANDS: dict[str, bytes] = {
    "auto": bytes([0x81, 0x01, 0x04, 0x38, 0x02, 0xFF]),
    "manual": bytes([0x81, 0x01, 0x04, 0x38, 0x03, 0xFF]),
    "far": bytes([0x81, 0x01, 0x04, 0x08, 0x02, 0xFF]),
    "near": bytes([0x81, 0x01, 0x04, 0x08, 0x03, 0xFF]),
    "stop": bytes([0x81, 0x01, 0x04, 0x08, 0x00, 0xFF]),
}
HOME = bytes([0x81, 0x01, 0x06, 0x04, 0xFF])
INQ_PAN_TILT = bytes([0x81, 0x09, 0x06, 0x12, 0xFF])
INQ_ZOOM = bytes([0x81, 0x09, 0x04, 0x47, 0xFF])
#: ``81 09 04 00 FF``: power state, answered ``90 50 02 FF`` (on) or ``03`` (standby). Every head
#: answers it, even in standby, and it moves nothing: the cheapest "are you there?".
INQ_POWER = bytes([0x81, 0x09, 0x04, 0x00, 0xFF])
POWER_ON = 0x02
RESET_PAYLOAD = b"\x01"


def preset_command(action: Literal["set", "recall"], n: int) -> bytes:
    """``81 01 04 3F 01 pp FF`` set / ``81 01 04 3F 02 pp FF`` recall."""
    return bytes([0x81, 0x01, 0x04, 0x3F, 0x01 if action == "set" else 0x02, _preset(n), 0xFF])


def absolute_position(pan: int, tilt: int, speed: float = 1.0) -> bytes:
    """``81 01 06 02 VV WW 0Y0Y0Y0Y 0Z0Z0Z0Z FF``: move to a position in camera units."""
    for name, value in (("pan", pan), ("tilt", tilt)):
        if not isinstance(value, int) or not -0x8000 <= value <= 0x7FFF:
            raise ValueError(f"{name} must be a signed 16-bit camera position, got {value!r}")
    s = _unit("speed", speed)
    if s <= 0:
        raise ValueError(f"speed must be above 0 for an absolute move, got {speed!r}")
    vv = max(1, round(s * PAN_SPEED_MAX))
    ww = max(1, round(s * TILT_SPEED_MAX))
    return bytes([0x81, 0x01, 0x06, 0x02, vv, ww]) + nibbles(pan) + nibbles(tilt) + b"\xff"


# -- reply matching ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    payload_type: int
    payload: bytes


class _Protocol(asyncio.DatagramProtocol):
    """Routes each reply to the request waiting on its sequence number; drops the rest."""

    def __init__(self, owner: ViscaCamera) -> None:
        self.owner = owner
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector datagram transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if len(data) < HEADER.size:
            log.debug("visca %s: short datagram ignored: %s", self.owner.address, data.hex())
            return
        payload_type, length, seq = HEADER.unpack_from(data)
        payload = data[HEADER.size:HEADER.size + length]
        queue = self.owner._pending.get(seq)
        if queue is None:
            # A late reply to a request that timed out, or the completion of a continuous move
            # whose caller only waited for the ACK: nobody needs it any more.
            return
        queue.put_nowait(Reply(payload_type, payload))

    def error_received(self, exc: Exception) -> None:
        # On loopback/LAN an ICMP "port unreachable" arrives here. It is not fatal (the camera
        # may be booting); it is remembered so the timeout message can say what happened.
        self.owner._last_socket_error = f"{type(exc).__name__}: {exc}"

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


# -- the client ----------------------------------------------------------------------------------


class ViscaCamera:
    """One camera head. Use `await start()`, then the commands, then `await close()`.

    `timeout` bounds the wait for the camera's first answer (ACK, error or inquiry data) to one
    datagram; the datagram is sent `1 + retries` times before `ViscaTimeout`. Retransmissions
    reuse the same sequence number, so a camera that did receive the first copy and answered
    late still completes this request (its reply matches), and the camera can recognise the
    duplicate. `completion_timeout` bounds the wait for completion of moves that take time
    (preset recall, home, absolute position): a camera that acknowledged is alive, but a long
    preset move can take seconds.
    """

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        timeout: float = 1.0,
        retries: int = 1,
        completion_timeout: float = 15.0,
        local_port: int = 0,
    ) -> None:
        if not 1 <= port <= 65535:
            raise ValueError(f"port must be 1..65535, got {port}")
        if timeout <= 0 or completion_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if retries < 0:
            raise ValueError(f"retries must be 0 or more, got {retries}")
        self.host = host
        self.port = port
        self.timeout = timeout
        self.retries = retries
        self.completion_timeout = completion_timeout
        # Some heads answer to the port the request came from, a few only to 52381: let the
        # room file pin the local port for those.
        self.local_port = local_port
        self._protocol: _Protocol | None = None
        self._pending: dict[int, asyncio.Queue[Reply]] = {}
        self._seq = 0
        self._synced = False
        self._sync_lock = asyncio.Lock()
        self._manual_focus = False
        self._last_socket_error: str | None = None
        #: time.monotonic() of the last answer from the camera, for health reporting.
        self.last_answer_at: float | None = None
        #: time.monotonic() of the last datagram sent to the camera (a busy head needs no probe).
        self.last_sent_at: float | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"ViscaCamera({self.address})"

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the socket and reset the camera's sequence number.

        Raises `ViscaTimeout` when the camera does not answer the reset; the socket stays open
        and the next command tries the reset again first, so a camera that comes up later works
        without restarting the client. Call `close()` in every case.
        """
        if self._protocol is None:
            loop = asyncio.get_running_loop()
            local = ("0.0.0.0", self.local_port) if self.local_port else None
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: _Protocol(self), remote_addr=(self.host, self.port), local_addr=local,
            )
            # connection_made() runs on a later loop turn; hold the transport from now on.
            protocol.transport = transport
            self._protocol = protocol
        await self._ensure_synced()

    async def close(self) -> None:
        """Close the socket; pending requests fail with `ViscaNotStarted`. Idempotent."""
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
        for queue in self._pending.values():
            queue.put_nowait(Reply(-1, b""))  # wakes waiters; see _next_reply
        self._synced = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- commands ----------------------------------------------------------------------------

    async def pan_tilt(self, pan_speed: float, tilt_speed: float) -> None:
        """Start (or change, or with 0, 0 stop) a continuous pan/tilt move.

        Waits for the ACK only: the move is open-ended, so completion says nothing about where
        the head is, and several heads report completion only when the move ends; waiting for
        it would hold a key's next update behind the whole move.
        """
        await self._command(pan_tilt_drive(pan_speed, tilt_speed), "pan/tilt drive", wait="ack")

    async def stop(self) -> None:
        """Stop pan/tilt and zoom."""
        await self._command(pan_tilt_drive(0, 0), "pan/tilt stop", wait="ack")
        await self._command(zoom_drive(0), "zoom stop", wait="ack")

    async def zoom(self, speed: float) -> None:
        """Continuous zoom: positive = tele (in), negative = wide (out), 0 = stop (ACK only)."""
        await self._command(zoom_drive(speed), "zoom", wait="ack")

    async def focus(self, mode: FocusMode) -> None:
        """Auto focus, manual focus, or drive focus near/far/stop (near/far switch to manual)."""
        if mode not in FOCUS_COMMANDS:
            raise ValueError(
                f"focus mode must be one of {', '.join(FOCUS_COMMANDS)}, got {mode!r}"
            )
        if mode in ("near", "far") and not self._manual_focus:
            # In auto focus most heads answer "not executable" to near/far: the instructor
            # pressing "near" means "take focus over", so switch to manual first.
            await self._command(FOCUS_COMMANDS["manual"], "focus manual", wait="completion")
            self._manual_focus = True
        if mode in ("auto", "manual"):
            await self._command(FOCUS_COMMANDS[mode], f"focus {mode}", wait="completion")
            self._manual_focus = mode == "manual"
        else:
            await self._command(FOCUS_COMMANDS[mode], f"focus {mode}", wait="ack")

    async def home(self) -> None:
        await self._command(HOME, "home", wait="completion")

    async def preset_store(self, n: int) -> None:
        await self._command(preset_command("set", n), f"preset store {n}", wait="completion")

    async def preset_recall(self, n: int) -> None:
        await self._command(preset_command("recall", n), f"preset recall {n}", wait="completion")

    async def move_to(self, pan: int, tilt: int, speed: float = 1.0) -> None:
        """Move to an absolute pan/tilt position in camera units (see `position()`)."""
        await self._command(absolute_position(pan, tilt, speed), "absolute move",
                            wait="completion")

    async def position(self) -> tuple[int, int, int]:
        """(pan, tilt, zoom) in camera units: pan/tilt signed 16-bit, zoom 0 (wide) upwards."""
        pt = await self._inquiry(INQ_PAN_TILT, "pan/tilt position", data_len=8)
        z = await self._inquiry(INQ_ZOOM, "zoom position", data_len=4)
        return from_nibbles(pt[:4], signed=True), from_nibbles(pt[4:], signed=True), \
            from_nibbles(z, signed=False)

    async def power(self) -> bool:
        """Whether the head is powered on (False: standby). Moves nothing; see `INQ_POWER`."""
        data = await self._inquiry(INQ_POWER, "power inquiry", data_len=1)
        return data[0] == POWER_ON

    # -- transport ---------------------------------------------------------------------------

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        return seq

    async def _ensure_synced(self) -> None:
        if self._synced:
            return
        async with self._sync_lock:
            if self._synced:
                return
            # The reset puts the camera's counter back to 0; ours restarts with it.
            self._seq = 0
            reply = await self._exchange(PT_CONTROL, RESET_PAYLOAD, "sequence reset")
            if reply.payload_type != PT_CONTROL_REPLY or reply.payload[:1] != b"\x01":
                raise ViscaProtocolError(
                    f"camera {self.address} answered the sequence reset with "
                    f"type 0x{reply.payload_type:04x} payload {reply.payload.hex(' ')}"
                )
            self._synced = True

    def _register(self, what: str) -> tuple[int, asyncio.Queue[Reply]]:
        """Take the next sequence number and a queue for its replies (before sending, so a
        completion arriving right behind the ACK is kept)."""
        if self._protocol is None:
            raise ViscaNotStarted(f"camera {self.address}: {what} before start() or after close()")
        seq = self._next_seq()
        queue: asyncio.Queue[Reply] = asyncio.Queue()
        self._pending[seq] = queue
        return seq, queue

    async def _exchange(self, payload_type: int, payload: bytes, what: str) -> Reply:
        """Send one request and return its first answer (see `_send_and_wait`)."""
        seq, queue = self._register(what)
        try:
            return await self._send_and_wait(seq, queue, payload_type, payload, what)
        finally:
            self._pending.pop(seq, None)

    async def _send_and_wait(
        self, seq: int, queue: asyncio.Queue[Reply], payload_type: int, payload: bytes, what: str
    ) -> Reply:
        """Send, wait for the first answer; resend on silence, then raise `ViscaTimeout`."""
        datagram = frame(payload_type, seq, payload)
        for _attempt in range(1 + self.retries):
            protocol = self._protocol
            if protocol is None or protocol.transport is None:
                raise ViscaNotStarted(f"camera {self.address}: closed before {what} was sent")
            protocol.transport.sendto(datagram)
            self.last_sent_at = time.monotonic()
            try:
                return await self._next_reply(queue, self.timeout, what)
            except TimeoutError:
                continue
        # Silence can mean the camera rebooted and now ignores our sequence numbers:
        # resynchronise before the next request.
        self._synced = False
        attempts = 1 + self.retries
        hint = f"; socket error: {self._last_socket_error}" if self._last_socket_error else ""
        raise ViscaTimeout(
            f"camera {self.address} did not answer {what} "
            f"({attempts} attempt{'s' if attempts > 1 else ''} of {self.timeout:g} s){hint}; "
            "check that it is powered, on the network and that VISCA over IP is enabled"
        )

    async def _next_reply(self, queue: asyncio.Queue[Reply], timeout: float, what: str) -> Reply:
        reply = await asyncio.wait_for(queue.get(), timeout)
        if reply.payload_type == -1:
            raise ViscaNotStarted(f"camera {self.address}: closed while waiting for {what}")
        self.last_answer_at = time.monotonic()
        self._last_socket_error = None
        if reply.payload_type == PT_CONTROL_REPLY and reply.payload[:1] == b"\x0f":
            kind = {0x01: "sequence number", 0x02: "message"}.get(
                reply.payload[1] if len(reply.payload) > 1 else 0, "request")
            self._synced = False
            raise ViscaSequenceError(
                f"camera {self.address} rejected the {kind} of {what} "
                f"({reply.payload.hex(' ')}); the next request resets the sequence"
            )
        return reply

    def _check_visca(self, reply: Reply, what: str) -> tuple[int, int, bytes]:
        """Split a VISCA reply into (kind nibble, socket, data); raise for errors."""
        p = reply.payload
        if reply.payload_type != PT_REPLY or len(p) < 3 or p[0] & 0xF0 != 0x90 or p[-1] != 0xFF:
            raise ViscaProtocolError(
                f"camera {self.address} sent an unexpected reply to {what}: "
                f"type 0x{reply.payload_type:04x} payload {p.hex(' ')}"
            )
        kind, socket_no = p[1] >> 4, p[1] & 0x0F
        if kind == 0x6:
            code = p[2] if len(p) > 3 else 0
            cls = _REPLY_ERRORS.get(code, ViscaReplyError)
            meaning = cls.meaning if cls is not ViscaReplyError else f"error code 0x{code:02x}"
            raise cls(f"camera {self.address} refused {what}: {meaning}", socket_no)
        if kind not in (0x4, 0x5):
            raise ViscaProtocolError(
                f"camera {self.address} sent an unknown reply to {what}: {p.hex(' ')}"
            )
        return kind, socket_no, p[2:-1]

    async def _command(self, payload: bytes, what: str, wait: Literal["ack", "completion"]) -> None:
        await self._ensure_synced()
        seq, queue = self._register(what)
        try:
            first = await self._send_and_wait(seq, queue, PT_COMMAND, payload, what)
            kind, _, _ = self._check_visca(first, what)
            if kind == 0x5 or wait == "ack":
                return
            deadline = time.monotonic() + self.completion_timeout
            while True:
                try:
                    reply = await self._next_reply(
                        queue, max(deadline - time.monotonic(), 0.0), what)
                except TimeoutError:
                    raise ViscaTimeout(
                        f"camera {self.address} acknowledged {what} but did not report it "
                        f"done within {self.completion_timeout:g} s"
                    ) from None
                kind, _, _ = self._check_visca(reply, what)
                if kind == 0x5:
                    return
                # kind 4: a second ACK, answering our retransmission; keep waiting.
        finally:
            self._pending.pop(seq, None)

    async def _inquiry(self, payload: bytes, what: str, data_len: int) -> bytes:
        await self._ensure_synced()
        reply = await self._exchange(PT_INQUIRY, payload, what)
        kind, _, data = self._check_visca(reply, what)
        if kind != 0x5 or len(data) != data_len:
            raise ViscaProtocolError(
                f"camera {self.address} answered {what} with {reply.payload.hex(' ')}, "
                f"expected 90 50 and {data_len} data bytes"
            )
        return data

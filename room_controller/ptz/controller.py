"""The PTZ heads of one room: health per camera and rate-limited continuous moves.

A held arrow key in the console sends a move every few milliseconds; a VISCA head that gets a
datagram for each one buffers them, replies "buffer full" and lags behind the key. So continuous
moves (pan/tilt, zoom, focus drive) go through a coalescer per camera and axis: at most one
command per `min_interval`, and the newest request replaces any not yet sent (last wins). The
final request, usually the stop when the key is released, is therefore always sent.

A continuous move is held like a dead man's switch: it lasts `deadman` seconds unless renewed
(the console repeats the move or sends `keepalive` while the key is held). When the console
vanishes (tab closed, laptop asleep, network gone) the controller sends Stop itself, so a head
never keeps panning with nobody at the controls.

Continuous moves return at once and report failures through `health()`: the key handler has
nothing useful to do with an error 50 ms later, and a dead camera must never raise out of a
background task. One-shot actions (presets, home, focus mode, position) are awaited and raise
`ViscaError`, so the API can answer the instructor with the camera's own reason.

Health must not depend on someone driving the head: a head unplugged while nobody touches it
would show "answering" until the next command. So each head has a prober that asks an idle head
its power state (one datagram, moves nothing) once `probe_interval` has passed without anything
sent to it; a head that is being driven answers the driving itself and is never disturbed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from .visca import (
    DEFAULT_PORT,
    FocusMode,
    ViscaCamera,
    ViscaError,
    ViscaNotStarted,
    ViscaTimeout,
    pan_tilt_drive,
    zoom_drive,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds without anything sent to a head before it is probed. With the default timeout (1 s,
#: one retry) a head that falls silent is reported within 2 + 2 = 4 s, inside the 5 s a room
#: promises; the bounds keep a room file from flooding a head or from never noticing it.
PROBE_INTERVAL = 2.0
PROBE_INTERVAL_MIN = 0.5
PROBE_INTERVAL_MAX = 30.0


class DeviceLike(Protocol):
    """What the controller needs of a device description (`config.rooms.ViscaDeviceSpec` fits)."""

    @property
    def id(self) -> str: ...

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...


@dataclass(frozen=True)
class PtzDevice:
    """A camera head as plain values."""

    id: str
    host: str
    port: int = DEFAULT_PORT


@dataclass(frozen=True)
class PtzHealth:
    id: str
    address: str
    reachable: bool | None  # None until the camera has been spoken to
    last_error: str | None
    last_answer_age: float | None  # seconds since the camera last answered anything


class UnknownCameraError(KeyError):
    """A camera id the room does not have."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class Coalescer(Generic[T]):
    """Sends the newest submitted value at most once per `interval`; older unsent values drop.

    One background task per coalescer, alive only while there is something to send. The send
    function's exceptions go to `on_error`; nothing escapes the task.
    """

    def __init__(
        self,
        send: Callable[[T], Awaitable[None]],
        interval: float,
        on_error: Callable[[BaseException], None],
        on_success: Callable[[], None] = lambda: None,
    ) -> None:
        self._send = send
        self._interval = interval
        self._on_error = on_error
        self._on_success = on_success
        self._pending: list[T] = []  # 0 or 1 item: "nothing pending" distinct from None values
        self._last_sent = -float("inf")
        self._task: asyncio.Task[None] | None = None
        self.submitted = 0
        self.sent = 0

    def submit(self, value: T) -> None:
        self.submitted += 1
        self._pending[:] = [value]
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._pending:
            wait = self._last_sent + self._interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            value = self._pending.pop()
            self._last_sent = time.monotonic()
            self.sent += 1
            try:
                await self._send(value)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a dead camera is reported, never raised
                self._on_error(exc)
            else:
                self._on_success()

    async def drain(self) -> None:
        """Wait until everything submitted has been sent (or has failed)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def cancel(self) -> None:
        self._pending.clear()
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def idle(self) -> bool:
        return not self._pending and (self._task is None or self._task.done())


class _Head:
    """One camera with its health and its coalescers."""

    def __init__(self, device_id: str, camera: ViscaCamera, interval: float) -> None:
        self.id = device_id
        self.camera = camera
        self.reachable: bool | None = None
        self.last_error: str | None = None
        self.moved = False  # a move was sent: stop the head on shutdown
        self.driving_pan_tilt = False
        self.driving_zoom = False
        # A continuous move lasts until this time unless the console renews it (dead man's
        # switch): a console that vanishes mid-move must not leave the head turning.
        self.lease_until: float | None = None
        self.prober: asyncio.Task[None] | None = None
        self.pan_tilt: Coalescer[tuple[float, float]] = Coalescer(
            self._send_pan_tilt, interval, self.record_error, self.record_ok)
        self.zoom: Coalescer[float] = Coalescer(
            self._send_zoom, interval, self.record_error, self.record_ok)
        self.focus: Coalescer[FocusMode] = Coalescer(
            self.camera.focus, interval, self.record_error, self.record_ok)

    async def _send_pan_tilt(self, speeds: tuple[float, float]) -> None:
        await self.camera.pan_tilt(*speeds)

    async def _send_zoom(self, speed: float) -> None:
        await self.camera.zoom(speed)

    def record_ok(self) -> None:
        if self.reachable is False:
            log.info("PTZ camera %s (%s) answers again", self.id, self.camera.address)
        self.reachable = True
        self.last_error = None

    def record_error(self, exc: BaseException) -> None:
        message = str(exc) or type(exc).__name__
        if isinstance(exc, ViscaError):
            # A refusal (syntax, not executable, busy) still proves the camera is there.
            self.reachable = not isinstance(exc, (ViscaTimeout, ViscaNotStarted))
        elif isinstance(exc, OSError):  # a host name that does not resolve, no route
            self.reachable = False
        else:
            log.error("PTZ camera %s: unexpected %r", self.id, exc)
            self.reachable = False
        if message != self.last_error:
            log.warning("PTZ camera %s: %s", self.id, message)
        self.last_error = message

    def coalescers(self) -> tuple[Coalescer[tuple[float, float]], Coalescer[float],
                                  Coalescer[FocusMode]]:
        return self.pan_tilt, self.zoom, self.focus


class PtzController:
    """The PTZ heads of a room, addressed by device id.

    `start()` never raises for a camera that does not answer: the camera is marked unreachable
    and every later command tries again (the client resynchronises by itself).
    """

    def __init__(
        self,
        devices: Iterable[DeviceLike],
        *,
        timeout: float = 1.0,
        retries: int = 1,
        completion_timeout: float = 15.0,
        min_interval: float = 0.05,
        deadman: float = 1.0,
        probe_interval: float = PROBE_INTERVAL,
    ) -> None:
        if min_interval < 0:
            raise ValueError(f"min_interval must be 0 or more, got {min_interval}")
        if deadman <= 0:
            raise ValueError(f"deadman must be positive, got {deadman}")
        if not PROBE_INTERVAL_MIN <= probe_interval <= PROBE_INTERVAL_MAX:
            raise ValueError(
                f"probe_interval must be {PROBE_INTERVAL_MIN:g} to {PROBE_INTERVAL_MAX:g} s, "
                f"got {probe_interval!r}"
            )
        self.deadman = deadman
        self.probe_interval = probe_interval
        self._watchdog: asyncio.Task[None] | None = None
        self._heads: dict[str, _Head] = {}
        for device in devices:
            if device.id in self._heads:
                raise ValueError(f"PTZ device id {device.id!r} is used twice")
            camera = ViscaCamera(device.host, device.port, timeout=timeout, retries=retries,
                                 completion_timeout=completion_timeout)
            self._heads[device.id] = _Head(device.id, camera, min_interval)

    @property
    def ids(self) -> list[str]:
        return list(self._heads)

    def _head(self, camera_id: str) -> _Head:
        head = self._heads.get(camera_id)
        if head is None:
            known = ", ".join(self._heads) or "none"
            raise UnknownCameraError(f"no PTZ camera '{camera_id}' in this room (cameras: {known})")
        return head

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open every camera concurrently, then probe idle ones; a silent camera is reported,
        not raised."""
        loop = asyncio.get_running_loop()
        if self._watchdog is None and self._heads:
            self._watchdog = loop.create_task(self._watch_leases())
        await asyncio.gather(*(self._start_head(h) for h in self._heads.values()))
        for head in self._heads.values():
            if head.prober is None:
                head.prober = loop.create_task(self._probe_when_idle(head),
                                               name=f"ptz-probe-{head.id}")

    async def _start_head(self, head: _Head) -> None:
        try:
            await head.camera.start()
        except Exception as exc:  # noqa: BLE001 - OSError (bad host) as much as ViscaError
            head.record_error(exc)
        else:
            head.record_ok()

    async def _probe_when_idle(self, head: _Head) -> None:
        """Ask the head whether it is there whenever nothing was sent to it for a while.

        `start()` also reopens a socket that could not be opened before (a host name that did
        not resolve) and resynchronises a head that fell silent, so one probe is all it takes
        to see the head back. At most one probe is in flight: a dead head costs its retries
        every `probe_interval`, nothing more.
        """
        camera = head.camera
        probed_at = time.monotonic()
        while True:
            # The last datagram may be a probe or a command: either way the head was asked.
            last = max(probed_at, camera.last_sent_at or probed_at)
            wait = last + self.probe_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            probed_at = time.monotonic()
            try:
                await camera.start()
                await camera.power()
            except Exception as exc:  # noqa: BLE001 - OSError (bad host) as much as ViscaError
                head.record_error(exc)
            else:
                head.record_ok()

    async def stop(self) -> None:
        """Stop probing, cancel pending moves, stop heads that were moving (best effort),
        close sockets."""
        watchdog, self._watchdog = self._watchdog, None
        tasks = [watchdog] if watchdog is not None else []
        for head in self._heads.values():
            if head.prober is not None:
                tasks.append(head.prober)
                head.prober = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for head in self._heads.values():
            for coalescer in head.coalescers():
                await coalescer.cancel()

        async def close(head: _Head) -> None:
            if head.moved and head.reachable:
                # A head left panning after the room stops keeps turning until someone walks in.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(head.camera.stop(), head.camera.timeout * 2)
            await head.camera.close()

        await asyncio.gather(*(close(h) for h in self._heads.values()))

    # -- continuous moves (coalesced, fire and forget) ---------------------------------------

    def move(self, camera_id: str, pan: float, tilt: float) -> None:
        """Continuous pan/tilt at speeds -1..1 (0, 0 stops). Returns at once; see `health()`."""
        pan_tilt_drive(pan, tilt)  # validate now, so a bad value is the caller's error
        head = self._head(camera_id)
        head.moved = head.moved or pan != 0 or tilt != 0
        head.driving_pan_tilt = pan != 0 or tilt != 0
        self._renew(head)
        head.pan_tilt.submit((pan, tilt))

    def zoom(self, camera_id: str, speed: float) -> None:
        """Continuous zoom at -1..1 (positive = in, 0 stops). Returns at once."""
        zoom_drive(speed)
        head = self._head(camera_id)
        head.moved = head.moved or speed != 0
        head.driving_zoom = speed != 0
        self._renew(head)
        head.zoom.submit(speed)

    def focus_drive(self, camera_id: str, mode: FocusMode) -> None:
        """Focus near/far/stop while a key is held (coalesced). Returns at once."""
        if mode not in ("near", "far", "stop"):
            raise ValueError(f"focus drive must be near, far or stop, got {mode!r}")
        self._head(camera_id).focus.submit(mode)

    def halt(self, camera_id: str) -> None:
        """Stop pan, tilt and zoom (coalesced, so it follows any move still queued)."""
        head = self._head(camera_id)
        head.driving_pan_tilt = head.driving_zoom = False
        head.lease_until = None
        head.pan_tilt.submit((0.0, 0.0))
        head.zoom.submit(0.0)

    def keepalive(self, camera_id: str) -> bool:
        """The console still holds the move: renew its lease. False when nothing is moving."""
        head = self._head(camera_id)
        self._renew(head)
        return head.lease_until is not None

    def driving(self, camera_id: str) -> bool:
        """Whether a continuous pan/tilt or zoom of this head is in progress."""
        head = self._head(camera_id)
        return head.driving_pan_tilt or head.driving_zoom

    def _renew(self, head: _Head) -> None:
        driving = head.driving_pan_tilt or head.driving_zoom
        head.lease_until = time.monotonic() + self.deadman if driving else None

    async def _watch_leases(self) -> None:
        """Stop every head whose move was not renewed in time (the dead man's switch)."""
        while True:
            await asyncio.sleep(min(0.1, self.deadman / 4))
            now = time.monotonic()
            for head in self._heads.values():
                if head.lease_until is not None and now > head.lease_until:
                    log.warning("PTZ camera %s: no keep-alive for %.1f s, stopping the head",
                                head.id, self.deadman)
                    self.halt(head.id)

    async def drain(self, camera_id: str | None = None) -> None:
        """Wait until queued continuous moves have been sent (tests, shutdown)."""
        heads = [self._head(camera_id)] if camera_id else list(self._heads.values())
        for head in heads:
            for coalescer in head.coalescers():
                await coalescer.drain()

    # -- one-shot actions (awaited, raise ViscaError) ----------------------------------------

    async def _call(self, camera_id: str, action: Callable[[ViscaCamera], Awaitable[T]]) -> T:
        head = self._head(camera_id)
        try:
            result = await action(head.camera)
        except ViscaError as exc:
            head.record_error(exc)
            raise
        head.record_ok()
        return result

    async def focus(self, camera_id: str, mode: FocusMode) -> None:
        await self._call(camera_id, lambda c: c.focus(mode))

    async def home(self, camera_id: str) -> None:
        await self._call(camera_id, lambda c: c.home())

    async def preset_store(self, camera_id: str, n: int) -> None:
        await self._call(camera_id, lambda c: c.preset_store(n))

    async def preset_recall(self, camera_id: str, n: int) -> None:
        await self._call(camera_id, lambda c: c.preset_recall(n))

    async def position(self, camera_id: str) -> tuple[int, int, int]:
        return await self._call(camera_id, lambda c: c.position())

    # -- health ------------------------------------------------------------------------------

    def health(self) -> list[PtzHealth]:
        now = time.monotonic()
        result = []
        for head in self._heads.values():
            answered = head.camera.last_answer_at
            result.append(PtzHealth(
                id=head.id,
                address=head.camera.address,
                reachable=head.reachable,
                last_error=head.last_error,
                last_answer_age=None if answered is None else now - answered,
            ))
        return result

    def coalescer_stats(self, camera_id: str) -> dict[str, tuple[int, int]]:
        """(submitted, sent) per continuous axis: how much a held key was thinned out."""
        head = self._head(camera_id)
        return {
            "pan_tilt": (head.pan_tilt.submitted, head.pan_tilt.sent),
            "zoom": (head.zoom.submitted, head.zoom.sent),
            "focus": (head.focus.submitted, head.focus.sent),
        }

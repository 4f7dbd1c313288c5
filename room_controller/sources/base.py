"""Source contract of the room controller, and threaded bases for frame producers.

A source produces raw BGR frames for the room; only the latest frame matters (live video never
queues stale frames), so a source keeps exactly one and consumers poll it. A source that fails
must never take the room down: the worker thread catches, reports FAILED (or LOST, when it was
delivering) through `health()`, backs off and tries again.

`WorkerSource` owns the thread, the latest frame and health; `ThreadedSource` adds a paced
`render(t)` loop for pictures drawn on demand (synthetic, DICOM, stills), while sources that
wait for pictures (streams, cameras) write their own loop.

A drawn picture costs CPU whether anyone looks at it or not, so a `ThreadedSource` draws at its
full rate only while some consumer takes its frames continuously (an encoder: the program, an
ISO track, a viewer's view). Otherwise it rests: it draws a fresh picture whenever someone looks
(a console's thumbnail, the program preview) and a few times a second besides, so its latest
frame is never older than a fraction of a second and health still notices a render that hangs.
Sources fed from outside (streams, cameras, WHIP) keep reading at the sender's rate: that is
how they notice a lost feed.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Frame:
    """One captured picture.

    `image` is read-only (shared by every consumer and sometimes cached by the source):
    copy it before drawing on it.
    """

    image: Image  # BGR uint8, shape (h, w, 3)
    captured_at: float  # time.monotonic()
    index: int


class SourceError(Exception):
    """A source problem a person can fix (a missing file, a bad device); shown as is in health."""


class SourceState(str, Enum):
    STARTING = "starting"
    WAITING = "waiting"  # ready, but nothing feeds it yet (a WHIP source before its publisher)
    LIVE = "live"
    LOST = "lost"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True)
class SourceHealth:
    state: SourceState
    fps: float  # measured over the last ~2 s
    width: int
    height: int
    last_frame_age: float | None  # seconds since the latest frame, None before the first
    error: str | None
    note: str | None = None  # what a person should know that is not an error


class FrameRate:
    """Frame rate measured over the last `window` seconds (not thread-safe: hold your lock)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._times: collections.deque[float] = collections.deque()

    def add(self, now: float) -> None:
        self._times.append(now)
        self._drop_old(now)

    def clear(self) -> None:
        self._times.clear()

    def fps(self, now: float) -> float:
        self._drop_old(now)
        times = self._times
        if len(times) >= 2 and times[-1] > times[0]:
            return (len(times) - 1) / (times[-1] - times[0])
        return 0.0

    def _drop_old(self, now: float) -> None:
        while self._times and self._times[0] < now - self.window:
            self._times.popleft()


class Source(ABC):
    """Anything the room can show: camera, capture card, stream, DICOM series, test pattern."""

    id: str
    label: str
    kind: str
    #: Called (from any thread) when the source changes state by itself, e.g. a publisher
    #: arrives; the room sets it to tell consoles at once. Must be quick and must not raise.
    on_change: Callable[[], None] | None = None

    @abstractmethod
    def start(self) -> None:
        """Begin producing frames; returns at once (work happens in the background)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop producing frames and release what the source holds. Idempotent."""

    @abstractmethod
    def latest_frame(self) -> Frame | None:
        """The newest frame, or None before the first one."""

    @abstractmethod
    def health(self) -> SourceHealth:
        """A snapshot of the source's state for the room's status page."""


class Backoff:
    """Retry delays that grow: `initial`, doubled after each failure, never above `maximum`.

    A device or stream that is gone is retried soon (it may be a cable wiggle) and then less
    and less often, so a room with a dead encoder does not hammer the network; `reset()` after
    a success starts again from `initial`.
    """

    def __init__(self, initial: float = 0.5, maximum: float = 10.0, factor: float = 2.0) -> None:
        if not 0 < initial <= maximum or factor < 1:
            raise ValueError(f"bad back-off {initial} -> {maximum} (x{factor})")
        self.initial, self.maximum, self.factor = initial, maximum, factor
        self._next = initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self.maximum, self._next * self.factor)
        return delay

    def reset(self) -> None:
        self._next = self.initial


class Demand:
    """When a source's frames are taken, and whether someone takes them continuously.

    Thread-safe: consumers call `taken()` from any thread (the encoders', the thumbnails'
    worker threads); `wake` is set at each take, so a resting worker can draw at once.
    """

    def __init__(self, window: float = 1.0, continuous_takes: int = 10) -> None:
        #: An encoder takes a frame per output frame (15-60 a second); a console's thumbnails
        #: and the program preview about two to four a second each. `continuous_takes` in
        #: `window` seconds tell the first (or several consoles at once) from the second.
        self.window = window
        self.continuous_takes = continuous_takes
        self.wake = threading.Event()
        self._lock = threading.Lock()
        self._times: collections.deque[float] = collections.deque()

    def taken(self, now: float) -> None:
        with self._lock:
            self._times.append(now)
            self._drop_old(now)
        self.wake.set()

    def continuous(self, now: float) -> bool:
        with self._lock:
            self._drop_old(now)
            return len(self._times) >= self.continuous_takes

    def _drop_old(self, now: float) -> None:
        while self._times and self._times[0] < now - self.window:
            self._times.popleft()


class WorkerSource(Source):
    """A source fed by its own daemon thread: lifecycle, the latest frame, health and LOST.

    Subclasses implement `_run(stop)`, the worker's loop, and hand each picture to
    `_publish`; `_retry_after` reports a failure and waits out a back-off. Only the latest
    frame is kept, so a consumer never sees stale pictures queued behind a slow one.
    """

    #: No frame for this long -> LOST (a hung render, a stalled device, a silent stream).
    lost_after: float = 2.0
    #: Window over which `health().fps` is measured.
    fps_window: float = 2.0
    #: How long `stop()` waits for the worker; a render hung in native code must not hang the
    #: room's shutdown (the thread is a daemon, so it dies with the process).
    join_timeout: float = 5.0

    def __init__(
        self, id: str, label: str, kind: str, width: int, height: int, fps: float
    ) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"source {id!r}: size must be positive, got {width}x{height}")
        if fps <= 0:
            raise ValueError(f"source {id!r}: fps must be positive, got {fps}")
        self.id = id
        self.label = label
        self.kind = kind
        self.width = width
        self.height = height
        self.fps = float(fps)
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._frame: Frame | None = None
        self._state = SourceState.STOPPED
        self._error: str | None = None
        self._rate = FrameRate(self.fps_window)
        self._next_index = 0

    # -- Source -------------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop_event = threading.Event()
            self._state = SourceState.STARTING
            self._error = None
            self._frame = None
            self._rate.clear()
            self._thread = threading.Thread(
                target=self._run,
                args=(self._stop_event,),
                name=f"source-{self.id}",
                daemon=True,
            )
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop_event.set()
            self._state = SourceState.STOPPED
        self._interrupt()
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.join_timeout)
            if thread.is_alive():
                log.warning(
                    "source %s: worker did not stop within %.1f s; abandoning it (daemon thread)",
                    self.id,
                    self.join_timeout,
                )

    def latest_frame(self) -> Frame | None:
        with self._lock:
            return self._frame

    def health(self) -> SourceHealth:
        now = time.monotonic()
        with self._lock:
            frame = self._frame
            state = self._state
            error = self._error
            fps = self._rate.fps(now)
        age = None if frame is None else now - frame.captured_at
        if state is SourceState.LIVE and (age is None or age > self.lost_after):
            # LOST is seen here before the worker notices anything (its read may wait longer):
            # the reason comes with it, so nobody ever sees LOST without one.
            state, error = SourceState.LOST, self._silence_reason()
        return SourceHealth(
            state=state,
            fps=fps,
            width=self.width,
            height=self.height,
            last_frame_age=age,
            error=error,
        )

    # -- worker -------------------------------------------------------------------------------

    def _interrupt(self) -> None:
        """Wake the worker from whatever else than its stop event it waits on (it has been
        set when this is called)."""

    @abstractmethod
    def _run(self, stop: threading.Event) -> None:
        """The worker's loop, until `stop` is set: produce pictures, `_publish` each one."""

    def _silence_reason(self) -> str:
        """Why a source that was delivering shows LOST; subclasses add where pictures come from.
        No running count of seconds (health has `last_frame_age`): a reason that changed every
        second would be pushed to every console every second."""
        return f"no picture for over {self.lost_after:g} s"

    def _set_state(self, stop: threading.Event, state: SourceState, error: str | None) -> None:
        with self._lock:
            if not stop.is_set():  # never overwrite STOPPED set by stop()
                self._state = state
                self._error = error

    def _set_failure(self, stop: threading.Event, problem: str) -> SourceState:
        """LOST if the source was delivering, FAILED if not, with `problem` as the reason: one
        transition under one lock, so the state is never seen without its reason."""
        with self._lock:
            was_live = self._state in (SourceState.LIVE, SourceState.LOST)
            state = SourceState.LOST if was_live else SourceState.FAILED
            if not stop.is_set():  # never overwrite STOPPED set by stop()
                self._state = state
                self._error = problem
        return state

    def _check_image(self, image: Image) -> None:
        expected = (self.height, self.width, 3)
        if image.shape != expected or image.dtype != np.uint8:
            raise ValueError(
                f"render() returned {image.dtype} {image.shape}, expected uint8 {expected}"
            )

    def _publish(self, stop: threading.Event, image: Image) -> None:
        image.flags.writeable = False
        now = time.monotonic()
        with self._lock:
            if stop.is_set():
                return
            self._frame = Frame(image=image, captured_at=now, index=self._next_index)
            self._next_index += 1
            self._rate.add(now)
            if self._state is not SourceState.LIVE or self._error is not None:
                if self._state in (SourceState.FAILED, SourceState.LOST):
                    log.info("source %s recovered", self.id)
                self._state = SourceState.LIVE
                self._error = None

    def _retry_after(self, stop: threading.Event, problem: str, backoff: Backoff) -> bool:
        """Report `problem`, then wait the next back-off delay; True if stopped meanwhile.

        A source that was delivering and went away is LOST (it may come back by itself: a
        cable, an encoder restarting); one that never came up since the last success is FAILED.
        """
        delay = backoff.next_delay()
        message = f"{problem} \N{EM DASH} retrying in {delay:g} s"
        state = self._set_failure(stop, message)
        log.warning("source %s %s: %s", self.id, state.value, message)
        return stop.wait(delay)


class ThreadedSource(WorkerSource):
    """A source whose frames are drawn by `render(t)` on its own daemon thread at `fps`.

    Subclasses implement `render` and may override `setup` for slow preparation (loading files,
    precomputing textures) that must not block the caller of `start()`.

    It draws at `fps` only while a consumer takes frames continuously (see `Demand`); otherwise
    it rests, drawing on each look and at least `rest_fps` times a second. Its health then
    gives the rate it delivers when taken (`fps`, or less if a render takes longer than a
    frame period) with a note that it rests.
    """

    #: Wait after a failure before calling setup/render again, so a broken source does not spin.
    retry_backoff: float = 1.0
    #: Pictures a second while nobody takes frames continuously: often enough that the latest
    #: frame is fresh for whoever looks first and well inside `lost_after`.
    rest_fps: float = 2.0

    def __init__(
        self, id: str, label: str, kind: str, width: int, height: int, fps: float
    ) -> None:
        super().__init__(id, label, kind, width, height, fps)
        self._demand = Demand()
        self._render_seconds = 0.0  # how long the last render took

    def setup(self) -> None:
        """Prepare before the first render, in the worker thread. Raising marks FAILED."""

    @abstractmethod
    def render(self, t: float) -> Image:
        """Draw the picture for `t` seconds since start: BGR uint8, shape (height, width, 3)."""

    def latest_frame(self) -> Frame | None:
        self._demand.taken(time.monotonic())
        return super().latest_frame()

    def health(self) -> SourceHealth:
        health = super().health()
        if health.state is not SourceState.LIVE or self._demand.continuous(time.monotonic()):
            return health
        # Resting: the measured rate is the resting one, not what a consumer would get.
        render = self._render_seconds
        fps = self.fps if render * self.fps <= 1 else 1 / render
        return replace(health, fps=fps, note=f"resting: {self._rest_fps():g} pictures a second "
                       "while nothing takes them")

    def _rest_fps(self) -> float:
        return min(self.fps, self.rest_fps)

    def _interrupt(self) -> None:
        self._demand.wake.set()

    def _rest(self, stop: threading.Event, rendered_at: float) -> bool:
        """Wait for a look or the next resting picture, never less than a frame period after
        the last picture; True if stopped meanwhile."""
        timeout = rendered_at + 1 / self._rest_fps() - time.monotonic()
        if self._demand.wake.wait(max(0.0, timeout)) and not stop.is_set():
            # Someone looked: draw now, but never faster than the full rate.
            return stop.wait(max(0.0, rendered_at + 1 / self.fps - time.monotonic()))
        return stop.is_set()

    def _run(self, stop: threading.Event) -> None:
        period = 1.0 / self.fps
        ready = False
        resting = False
        started = time.monotonic()
        deadline = started
        while not stop.is_set():
            try:
                if not ready:
                    self.setup()
                    ready = True
                    started = deadline = time.monotonic()
                began = time.monotonic()
                image = self.render(began - started)
                self._check_image(image)
                self._render_seconds = time.monotonic() - began
            except Exception as exc:
                if isinstance(exc, SourceError):  # expected, explained: no traceback
                    message = str(exc)
                    log.warning("source %s failed: %s", self.id, message)
                else:
                    message = f"{type(exc).__name__}: {exc}"
                    log.exception("source %s failed", self.id)
                self._set_state(stop, SourceState.FAILED, message)
                if stop.wait(self.retry_backoff):
                    break
                deadline = time.monotonic()
                continue
            self._publish(stop, image)
            # Cleared before demand is read: a take after this point wakes a rest below.
            self._demand.wake.clear()
            now = time.monotonic()
            if not self._demand.continuous(now):
                resting = True
                if stop.is_set() or self._rest(stop, began):
                    break
                deadline = time.monotonic()
                continue
            if resting:  # the rate measured from here on is the full one, not a mix
                resting = False
                with self._lock:
                    self._rate.clear()
            # Monotonic deadline: the next frame is due one period after the previous *due*
            # time, so render cost does not accumulate as drift. If we fell more than a period
            # behind (slow render, suspended process, a rest) skip ahead instead of bursting.
            deadline += period
            if now - deadline > period:
                deadline = now
            if deadline > now and stop.wait(deadline - now):
                break

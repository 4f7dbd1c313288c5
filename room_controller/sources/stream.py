"""Video decoded with PyAV: network encoders (RTSP, RTMP, HTTP, MPEG-TS over UDP/TCP) and clips.

One decoder loop serves a live stream from an encoder in the room network and a reference clip
on disk; they differ in three ways:

- A live stream is shown as it arrives: each decoded picture is published at once and replaces
  the previous one, so nothing stale queues up (latency matters more than every frame). A file
  (a clip, a recording served over HTTP) has a known duration and is paced at its own frame
  rate, or it would be over in a second.
- A clip loops: at its end it seeks back to the start, and the frame index keeps counting.
- A network stream that ends, stalls or refuses is reconnected with a growing back-off
  (0.5 s, 1 s, 2 s ... 10 s); health shows why ("connection refused: rtsp://... — retrying in
  4 s"). FFmpeg's interrupt timeout bounds every open and read, so a dead address never hangs
  the worker or the room's shutdown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import av
import av.container
import av.error
import av.video.frame
import av.video.stream
import numpy as np

from .base import Backoff, Image, WorkerSource
from .fit import FitRect, fit_rect, place

log = logging.getLogger(__name__)

#: Protocols that carry live pictures: start after a short probe and do not buffer ahead
#: (latency); what was read while probing is dropped, so the picture starts at "now".
LIVE_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "srt", "udp", "tcp", "rtp")
LIVE_OPTIONS: dict[str, str] = {
    "fflags": "nobuffer",
    "analyzeduration": "1000000",  # microseconds
    "probesize": "1000000",  # bytes
}
#: RTSP over TCP survives hospital firewalls and NAT; RTP over UDP often does not.
RTSP_OPTIONS: dict[str, str] = {"rtsp_transport": "tcp"}
#: A jump in timestamps bigger than this (a loop, an encoder restart) re-anchors the pacing.
MAX_PACING_SKEW = 1.0


def redact_url(url: str) -> str:
    """The URL without its password (`rtsp://user:***@host/...`): it goes to logs and consoles."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def describe_error(exc: BaseException, *, opening: bool, elapsed: float, timeout: float) -> str:
    """A short, plain description of why a stream could not be opened (`opening`) or read.

    FFmpeg reports its own timeout as "immediate exit requested" (the interrupt callback), and
    some protocols (RTSP) as invalid data: an error at the timeout is a silent peer.
    """
    timed_out = isinstance(exc, av.error.ExitError) or (
        opening and isinstance(exc, av.error.FFmpegError) and elapsed >= timeout * 0.95
    )
    if timed_out:
        return f"no answer within {timeout:g} s" if opening else f"no data for {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by the sender"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, av.error.HTTPError):
        return f"HTTP error ({exc.strerror})"
    if isinstance(exc, av.error.ProtocolNotFoundError):
        return (
            "this FFmpeg build cannot read that protocol (PyAV's wheels have no SRT: "
            "send RTSP, RTMP or MPEG-TS over UDP instead)"
        )
    if isinstance(exc, av.error.InvalidDataError):
        return "not a video stream (invalid data)"
    if isinstance(exc, av.error.FFmpegError):
        return str(exc.strerror or exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return f"{type(exc).__name__}: {exc}"


class NoPicture(Exception):
    """The stream or file opened but has no picture to show (audio only, no decodable frame)."""


class StreamSource(WorkerSource):
    """Frames decoded from a URL or a file, scaled to fit `width` x `height` (aspect kept).

    `fps` caps how many pictures a second are published (a 60 fps camera into a 30 fps
    program costs half the scaling); it is not a target, the stream sets the rate.
    `loop` plays a file again from the start when it ends (clips); otherwise an end of stream
    is a loss, retried like a refused connection.
    """

    def __init__(
        self,
        id: str,
        label: str,
        url: str,
        *,
        kind: str = "network",
        width: int = 1280,
        height: int = 720,
        fps: float = 30,
        loop: bool = False,
        open_timeout: float = 5.0,
        read_timeout: float = 3.0,
        options: Mapping[str, str] | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(id, label, kind, width, height, fps)
        if not url:
            raise ValueError(f"source {id!r}: no url given")
        if open_timeout <= 0 or read_timeout <= 0:
            raise ValueError(f"source {id!r}: timeouts must be positive")
        self.url = url
        self.loop = loop
        self.open_timeout = open_timeout
        self.read_timeout = read_timeout
        self.options = dict(options or {})
        self._backoff = backoff or Backoff(0.5, 10.0)
        #: monotonic times of the connection attempts (recent ones), for health and tests
        self.attempts: deque[float] = deque(maxlen=32)
        self._rect_key: tuple[int, int, float] | None = None
        self._rect = FitRect(width, height, 0, 0)

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    def _silence_reason(self) -> str:
        # The worker is still inside a read that gives up after `read_timeout`; say so.
        return (f"{super()._silence_reason()}: {self.display_url} "
                f"(reconnecting after {self.read_timeout:g} s without data)")

    # -- worker -------------------------------------------------------------------------------

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.attempts.append(time.monotonic())
            opened_at = time.monotonic()
            opening = True
            try:
                with self._open() as container:
                    opening = False
                    self._play(stop, container)
                if stop.is_set():
                    break
                problem = "stream ended"
            except NoPicture as exc:
                problem = str(exc)
            except (av.error.FFmpegError, OSError) as exc:
                problem = describe_error(
                    exc, opening=opening, elapsed=time.monotonic() - opened_at,
                    timeout=self.open_timeout if opening else self.read_timeout,
                )
            except Exception as exc:  # a bug or an odd stream must not kill the worker
                log.exception("source %s: unexpected error reading %s", self.id, self.display_url)
                problem = f"{type(exc).__name__}: {exc}"
            if stop.is_set():
                break
            self._rect_key = None
            if self._retry_after(stop, f"{problem}: {self.display_url}", self._backoff):
                break

    def _open(self) -> av.container.InputContainer:
        target = self.url
        options: dict[str, str] = {}
        scheme = urlsplit(target).scheme.lower()
        if scheme in ("", "file"):
            path = Path(target.removeprefix("file://") if scheme else target)
            if not path.is_file():
                raise FileNotFoundError(2, "No such file", str(path))
            target = str(path)
        elif scheme in LIVE_SCHEMES:
            options.update(LIVE_OPTIONS)
            if scheme in ("rtsp", "rtsps"):
                options.update(RTSP_OPTIONS)
        options.update(self.options)
        return av.open(
            target, "r", options=options, timeout=(self.open_timeout, self.read_timeout)
        )

    def _play(self, stop: threading.Event, container: av.container.InputContainer) -> None:
        """Decode and publish until the stream ends (returns) or fails (raises)."""
        if not container.streams.video:
            raise NoPicture("no video in this stream")
        stream = container.streams.video[0]
        paced = self.loop or container.duration is not None
        # Frame threads add a frame of delay each: fine for files, not for live pictures.
        stream.thread_type = "AUTO" if paced else "SLICE"
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        pacer = _Pacer(1.0 / float(rate)) if paced else None
        publish_gate = _RateCap(self.fps)
        while not stop.is_set():
            shown = 0
            for packet in container.demux(stream):
                if stop.is_set():
                    return
                try:
                    frames = stream.decode(packet)
                except av.error.InvalidDataError:
                    continue  # a damaged packet on a live link: skip it, keep the stream
                for frame in frames:
                    if pacer is not None and pacer.wait(stop, frame.time):
                        return
                    shown += 1
                    if publish_gate.admit(time.monotonic()):
                        self._publish(stop, self._convert(stream, frame))
                        self._backoff.reset()
            if not self.loop:
                return
            if shown == 0:
                raise NoPicture("no picture in this file")
            container.seek(0)  # back to the first keyframe; the frame index keeps counting
            stream.codec_context.flush_buffers()

    def _convert(
        self, stream: av.video.stream.VideoStream, frame: av.video.frame.VideoFrame
    ) -> Image:
        """BGR, scaled by FFmpeg's swscale straight into the fitted size, centred on black."""
        sar = stream.codec_context.sample_aspect_ratio
        key = (frame.width, frame.height, float(sar) if sar else 1.0)
        if key != self._rect_key:
            self._rect_key = key
            self._rect = fit_rect(frame.width, frame.height, self.width, self.height, key[2])
        rect = self._rect
        picture = np.asarray(
            frame.to_ndarray(format="bgr24", width=rect.width, height=rect.height), np.uint8
        )
        return place(picture, rect, self.width, self.height)


class _Pacer:
    """Holds decoded file frames until their presentation time, relative to the first one.

    Timestamps that jump (the clip looped, the file has a gap) or a worker that fell far behind
    re-anchor the clock one frame after the previous picture instead of sleeping or bursting.
    """

    def __init__(self, period: float) -> None:
        self.period = period
        self._origin: float | None = None  # monotonic time of timestamp 0
        self._last_due: float | None = None
        self._last_t: float | None = None

    def wait(self, stop: threading.Event, t: float | None) -> bool:
        """Sleep until the frame stamped `t` seconds is due; True if stopped meanwhile."""
        now = time.monotonic()
        if t is None:  # no timestamp: one period after the previous frame
            due = now if self._last_due is None else self._last_due + self.period
        else:
            due = now if self._origin is None else self._origin + t
            went_back = self._last_t is not None and t < self._last_t
            if self._origin is None or went_back or abs(due - now) > MAX_PACING_SKEW:
                due = now if self._last_due is None else max(now, self._last_due + self.period)
                if due - now > MAX_PACING_SKEW:
                    due = now
                self._origin = due - t
            self._last_t = t
        self._last_due = due
        return due > now and stop.wait(due - now)


class _RateCap:
    """Admits at most `fps` pictures a second, tolerant of jitter at exactly that rate."""

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps
        self._next = 0.0

    def admit(self, now: float) -> bool:
        if now < self._next - self.period / 4:
            return False
        self._next = max(self._next + self.period, now - self.period)
        return True

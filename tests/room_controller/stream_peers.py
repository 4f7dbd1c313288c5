"""Real senders for the network-source tests: clips written with PyAV, an HTTP file server, and
a live MPEG-TS encoder that serves TCP clients or pushes UDP, all on 127.0.0.1.

Frame `i` of every clip and stream is a flat colour from `colour_of(i)`, with a white square
in its centre, so a test can tell pictures apart and see where the picture sits in the frame.
"""

from __future__ import annotations

import functools
import http.server
import io
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import av.error
import numpy as np

COLOURS = [(200, 40, 40), (40, 200, 40), (40, 40, 200), (200, 200, 40)]  # BGR


def colour_of(i: int, frames_per_colour: int = 8) -> tuple[int, int, int]:
    return COLOURS[(i // frames_per_colour) % len(COLOURS)]


def picture(i: int, width: int, height: int) -> np.ndarray:
    image = np.empty((height, width, 3), np.uint8)
    image[:] = colour_of(i)
    s = min(width, height) // 6
    image[height // 2 - s : height // 2 + s, width // 2 - s : width // 2 + s] = 255
    return image


def _h264_stream(container: av.container.OutputContainer, width: int, height: int, fps: int
                 ) -> av.video.stream.VideoStream:
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    # Keyframe twice a second: a receiver joining a live stream starts decoding soon.
    stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(max(1, fps // 2))}
    return stream


def write_clip(path: Path, frames: int, width: int = 320, height: int = 240, fps: int = 30
               ) -> Path:
    """An H.264 clip; the container follows the suffix (.mp4, .ts)."""
    fmt = {".mp4": "mp4", ".ts": "mpegts"}[path.suffix]
    with av.open(str(path), "w", format=fmt) as container:
        stream = _h264_stream(container, width, height, fps)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(picture(i, width, height), format="bgr24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with av.open(str(path)) as check:  # reopen: what we wrote is a real clip
        assert check.streams.video[0].codec_context.name == "h264"
    return path


class _FileHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files with byte ranges (`Range: bytes=a-b`, 206), as nginx or S3 do: FFmpeg
    seeks with them (an MPEG-TS file's duration is read from its end)."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            pass  # the source hung up mid-file, as a player does

    def send_head(self):  # type: ignore[no-untyped-def]
        path = Path(self.translate_path(self.path))
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if not path.is_file() or match is None:
            return super().send_head()
        size = path.stat().st_size
        start = int(match.group(1))
        end = min(size - 1, int(match.group(2) or size - 1))
        if start >= size:
            self.send_error(416, "Requested Range Not Satisfiable")
            return None
        body = io.BytesIO(path.read_bytes()[start : end + 1])
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return body

    def end_headers(self) -> None:
        if "Range" not in self.headers:
            self.send_header("Accept-Ranges", "bytes")
        super().end_headers()


@contextmanager
def http_file_server(folder: Path) -> Iterator[str]:
    """Serves `folder` over HTTP on loopback; yields the base URL."""
    handler = functools.partial(_FileHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class _SocketWriter:
    """A file-like object PyAV muxes into, writing to a connected socket (or UDP address)."""

    def __init__(self, sock: socket.socket, address: tuple[str, int] | None = None) -> None:
        self.sock, self.address = sock, address

    def write(self, data: bytes) -> int:
        if self.address is None:
            self.sock.sendall(data)
        else:  # MPEG-TS over UDP: 7 transport packets per datagram, as encoders send it
            view = memoryview(data)
            for start in range(0, len(view), 1316):
                self.sock.sendto(view[start : start + 1316], self.address)
        return len(data)

    def flush(self) -> None:
        pass


class LiveEncoder:
    """Encodes pictures in real time into MPEG-TS for one TCP client at a time, or to UDP.

    `pause()` keeps the connection open but stops sending (a stalled encoder); `hang_up()`
    closes the connection and stops listening (an encoder switched off); `resume()` undoes
    either. Counts `connections` accepted.
    """

    def __init__(self, width: int = 320, height: int = 240, fps: int = 30,
                 udp_target: tuple[str, int] | None = None) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.udp_target = udp_target
        self.port = 0
        self.connections = 0
        self.frames_sent = 0
        self._stop = threading.Event()
        self._sending = threading.Event()
        self._sending.set()
        self._listening = threading.Event()
        self._listening.set()
        self._listener: socket.socket | None = None
        if udp_target is None:
            self._listen()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        if self.udp_target is not None:
            return f"udp://{self.udp_target[0]}:{self.udp_target[1]}"
        return f"tcp://127.0.0.1:{self.port}"

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(1)
        listener.settimeout(0.1)
        self.port = listener.getsockname()[1]
        self._listener = listener

    def start(self) -> LiveEncoder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._sending.set()
        self._thread.join(10)
        if self._listener is not None:
            self._listener.close()

    def pause(self) -> None:
        self._sending.clear()

    def hang_up(self) -> None:
        self._listening.clear()

    def resume(self) -> None:
        self._listening.set()
        self._sending.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.udp_target is not None:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                    self._encode(_SocketWriter(sock, self.udp_target))
                continue
            if not self._listening.is_set():
                if self._listener is not None:  # refuse connections while switched off
                    self._listener.close()
                    self._listener = None
                time.sleep(0.05)
                continue
            if self._listener is None:
                self._listen()
            assert self._listener is not None
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn:
                try:
                    self._encode(_SocketWriter(conn))
                except (OSError, av.error.FFmpegError):
                    pass  # the source hung up; wait for it to come back

    def _encode(self, writer: _SocketWriter) -> None:
        """Encode and send in real time until stopped or switched off."""
        with av.open(writer, "w", format="mpegts") as container:
            stream = _h264_stream(container, self.width, self.height, self.fps)
            started = time.monotonic()
            i = 0
            while not self._stop.is_set() and (
                self._listening.is_set() or self.udp_target is not None
            ):
                if not self._sending.is_set():
                    self._sending.wait(0.1)
                    started = time.monotonic() - i / self.fps
                    continue
                frame = av.VideoFrame.from_ndarray(
                    picture(i, self.width, self.height), format="bgr24"
                )
                frame.pts = i
                container.mux(stream.encode(frame))
                i += 1
                self.frames_sent += 1
                delay = started + i / self.fps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)


@contextmanager
def live_encoder(**kwargs: object) -> Iterator[LiveEncoder]:
    encoder = LiveEncoder(**kwargs).start()  # type: ignore[arg-type]
    try:
        yield encoder
    finally:
        encoder.stop()


def refusing_port() -> int:
    """A loopback port nobody listens on (bound and closed: connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung encoder)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()

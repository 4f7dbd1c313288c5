"""Capture-time stamps burnt into a frame corner, and read back from a decoded frame.

A stamp is an 8x8 grid of flat black/white blocks (16x16 px each at 720p, so 128x128 px) in
the top-right corner, aligned with H.264's 16x16 macroblock grid so that every block is one
macroblock and compression only blurs block edges. The grid carries:

* cells 0 and 1: a white and a black reference (the reader thresholds between them);
* cells 2..49: 48 bits, most significant first: the capture time in milliseconds since the
  Unix epoch (48 bits last until the year 10889);
* cells 50..57: a CRC-8 of those 6 bytes (a misread is refused, never reported as a value);
* cells 58..63: 1 0 1 0 1 0, more reference cells (checked like the first two).

Reading takes the mean luma of the central half of every block and compares it with the
midpoint of the reference means: robust to blur, ringing and level shifts of a 2 Mbit/s encode.

``StampedSource`` wraps any room source and stamps each new frame with the frame's own capture
time (``Frame.captured_at``, converted from the monotonic clock to the wall clock), so a
glass-to-glass figure measured from the stamp starts when the source produced the frame, not
when the encoder picked it up. A ``ThreadedSource`` sets ``captured_at`` when it publishes a
frame (just after ``render``); a camera source when the device hands the frame over. What
happens before that (a camera's own sensor and USB latency) no software stamp can see.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from room_controller.sources.base import Frame, Image, Source, SourceHealth

GRID = 8  # cells per side
BLOCK = 16  # pixels per cell side at 720p (one H.264 macroblock)
DATA_BITS = 48
CRC_BITS = 8
_FIRST_DATA = 2
_FIRST_CRC = _FIRST_DATA + DATA_BITS  # 50
_TAIL = _FIRST_CRC + CRC_BITS  # 58
_TAIL_PATTERN = (1, 0, 1, 0, 1, 0)
#: Minimal luma difference between the white and black references of a readable stamp.
MIN_CONTRAST = 48.0
MAX_VALUE = (1 << DATA_BITS) - 1

assert _TAIL + len(_TAIL_PATTERN) == GRID * GRID


class StampError(ValueError):
    """A value cannot be stamped, or a frame is too small for a stamp."""


def _crc8(data: bytes) -> int:
    """CRC-8 (polynomial 0x07, as in ATM HEC / SMBus)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def stamp_bits(value: int) -> list[int]:
    """The 64 cell values (1 white, 0 black) that encode ``value``."""
    if not 0 <= value <= MAX_VALUE:
        raise StampError(f"a stamp holds 0..2^48-1, got {value}")
    data = [(value >> (DATA_BITS - 1 - i)) & 1 for i in range(DATA_BITS)]
    crc = _crc8(value.to_bytes(6, "big"))
    crc_bits = [(crc >> (CRC_BITS - 1 - i)) & 1 for i in range(CRC_BITS)]
    return [1, 0, *data, *crc_bits, *_TAIL_PATTERN]


@dataclass(frozen=True)
class StampGeometry:
    """Where the stamp sits: top-right corner, cells of ``block`` pixels."""

    x: int
    y: int
    block: int

    @property
    def size(self) -> int:
        return GRID * self.block


def geometry(width: int, height: int, block: int | None = None) -> StampGeometry:
    """The stamp's place in a ``width`` x ``height`` frame.

    ``block`` defaults to 16 px at 720p, scaled with the frame height (8 px at 360p, 24 at
    1080p) so a stamp drawn at the source survives the ladder's downscales. ``x`` is rounded
    down to the block grid so cells line up with macroblocks.
    """
    if block is None:
        block = max(4, round(BLOCK * height / 720))
    size = GRID * block
    if width < size or height < size:
        raise StampError(f"a {width}x{height} frame is too small for a {size}x{size} px stamp")
    x = (width - size) // block * block
    return StampGeometry(x=x, y=0, block=block)


def draw_stamp(image: Image, value: int, block: int | None = None) -> None:
    """Burn ``value`` (0..2^48-1, e.g. milliseconds) into the top-right corner, in place.

    ``image`` is BGR (h, w, 3) or grey (h, w) uint8 and must be writeable.
    """
    h, w = image.shape[:2]
    g = geometry(w, h, block)
    cells = np.array(stamp_bits(value), np.uint8).reshape(GRID, GRID) * 255
    big = np.repeat(np.repeat(cells, g.block, axis=0), g.block, axis=1)
    region = image[g.y : g.y + g.size, g.x : g.x + g.size]
    if image.ndim == 3:
        region[...] = big[..., None]
    else:
        region[...] = big


def _cell_means(luma: npt.NDArray[np.uint8], g: StampGeometry) -> npt.NDArray[np.float64]:
    region = luma[g.y : g.y + g.size, g.x : g.x + g.size].astype(np.float64)
    cells = region.reshape(GRID, g.block, GRID, g.block)
    inner = g.block // 4  # the central half of each block: edges blur and ring
    core = cells[:, inner : g.block - inner, :, inner : g.block - inner]
    means: npt.NDArray[np.float64] = core.mean(axis=(1, 3)).reshape(-1)
    return means


def read_stamp(image: npt.NDArray[np.uint8], block: int | None = None) -> int | None:
    """The value stamped into ``image`` (BGR or luma), or None when no valid stamp is there."""
    h, w = image.shape[:2]
    try:
        g = geometry(w, h, block)
    except StampError:
        return None
    if image.ndim == 3:
        corner = image[g.y : g.y + g.size, g.x : g.x + g.size]
        luma = np.asarray(cv2.cvtColor(np.ascontiguousarray(corner), cv2.COLOR_BGR2GRAY), np.uint8)
        g = StampGeometry(x=0, y=0, block=g.block)
    else:
        luma = image
    means = _cell_means(luma, g)
    refs = [0, 1, *range(_TAIL, GRID * GRID)]
    expected = [1, 0, *_TAIL_PATTERN]
    white = float(np.mean([means[i] for i, e in zip(refs, expected, strict=True) if e]))
    black = float(np.mean([means[i] for i, e in zip(refs, expected, strict=True) if not e]))
    if white - black < MIN_CONTRAST:
        return None
    threshold = (white + black) / 2
    bits = (means > threshold).astype(int).tolist()
    if [bits[i] for i in refs] != expected:
        return None
    value = 0
    for bit in bits[_FIRST_DATA:_FIRST_CRC]:
        value = (value << 1) | bit
    crc = 0
    for bit in bits[_FIRST_CRC:_TAIL]:
        crc = (crc << 1) | bit
    if crc != _crc8(value.to_bytes(6, "big")):
        return None
    return value


def luma_of(frame: Any) -> npt.NDArray[np.uint8]:
    """The Y plane of a decoded ``av.VideoFrame`` (yuv420p and friends) without a conversion."""
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def read_stamp_frame(frame: Any, block: int | None = None) -> int | None:
    """The stamp of a decoded ``av.VideoFrame`` (planar YUV), or None."""
    if not frame.format.name.startswith(("yuv", "yuvj", "nv12", "gray")):
        return read_stamp(frame.to_ndarray(format="bgr24"), block)
    return read_stamp(luma_of(frame), block)


def wall_ms_of(captured_at: float) -> int:
    """Milliseconds since the epoch of a ``time.monotonic()`` instant (this machine's clocks)."""
    return round((time.time() - (time.monotonic() - captured_at)) * 1000)


class StampedSource(Source):
    """Any source, its frames stamped with their own capture time (wall-clock milliseconds).

    Each new frame is copied once and stamped, whoever asks first (the program composer, an
    encoder); later callers get the same stamped frame. Put it where the room takes the
    source so that the stamp is drawn before composition and encoding.
    """

    def __init__(self, inner: Source, block: int | None = None) -> None:
        self.inner = inner
        self.id = inner.id
        self.label = inner.label
        self.kind = inner.kind
        self.block = block
        self._lock = threading.Lock()
        self._last: tuple[Frame, Frame] | None = None  # (inner frame, its stamped copy)

    def start(self) -> None:
        self.inner.start()

    def stop(self) -> None:
        self.inner.stop()
        with self._lock:
            self._last = None

    def health(self) -> SourceHealth:
        return self.inner.health()

    def latest_frame(self) -> Frame | None:
        frame = self.inner.latest_frame()
        if frame is None:
            return None
        with self._lock:
            last = self._last
            if last is not None and last[0] is frame:
                return last[1]
            image = frame.image.copy()
            draw_stamp(image, wall_ms_of(frame.captured_at), self.block)
            image.flags.writeable = False
            stamped = replace(frame, image=image)
            self._last = (frame, stamped)
            return stamped

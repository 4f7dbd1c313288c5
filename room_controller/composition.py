"""Program composition: sources into a layout, with title, clock and privacy masks burnt in.

`Composer.compose()` turns the latest frame of each source into one BGR picture of a fixed size
for the encoder. It runs once per program frame (30 times a second, on the encoder's thread),
so the per-frame work is only what changes with the pictures: every rectangle (cells, letterbox
bars, mask rectangles in output pixels) is computed once per (layout, source sizes) and cached,
each source is resized straight into its place in the output buffer, and text (title band,
clock, empty-slot slates) is rendered once and then copied.

Privacy masks belong to a source (coordinates 0..1 of that source's picture), so a mask drawn
over the patient's face on the room camera stays on the face whether the camera is full screen,
in a 2x2 grid or in the picture-in-picture inset; a mask on a source that is not visible does
nothing. A mask with no source is relative to the output (e.g. a fixed corner of the program).
Masks are opaque fills, never blur (blur can be partly reversed and leaks shapes and colours),
and they are applied to the composed pixels before the encoder sees them, so masked content
never leaves the room. The filled rectangle is grown outwards by the reach of the resize
kernel, so no output pixel that interpolated a masked source pixel survives.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

import cv2
import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]
Color = tuple[int, int, int]  # BGR

BAR_COLOR: Color = (16, 16, 16)  # letterbox bars: near-black, so bars do not look like a fault
SLATE_COLOR: Color = (40, 34, 30)  # empty slot: dark slate, visibly "nothing here" but calm
MASK_COLOR: Color = (0, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX


class CompositionError(ValueError):
    """A layout or overlay that cannot be composed; the message says which value and why."""


class UnknownLayoutError(CompositionError):
    pass


class InvalidMaskError(CompositionError):
    pass


class LayoutKind(str, Enum):
    SINGLE = "single"
    SIDE_BY_SIDE = "side-by-side"
    PIP = "pip"
    GRID = "grid-2x2"


class Corner(str, Enum):
    TOP_LEFT = "top-left"
    TOP_RIGHT = "top-right"
    BOTTOM_LEFT = "bottom-left"
    BOTTOM_RIGHT = "bottom-right"


SLOT_COUNT = {LayoutKind.SINGLE: 1, LayoutKind.SIDE_BY_SIDE: 2, LayoutKind.PIP: 2,
              LayoutKind.GRID: 4}


@dataclass(frozen=True)
class Layout:
    """Which source goes in which slot. `sources[i]` is slot i; None leaves a slot empty.

    single: [main]; side-by-side: [left, right]; pip: [main, inset]; grid-2x2: [top-left,
    top-right, bottom-left, bottom-right]. `kind` and `pip_corner` also accept their strings.
    """

    kind: LayoutKind
    sources: tuple[str | None, ...]
    pip_corner: Corner = Corner.BOTTOM_RIGHT
    pip_size: float = 0.3  # inset width as a fraction of the output width
    pip_margin: float = 0.025  # gap between inset and output edges, fraction of the width

    def __post_init__(self) -> None:
        try:
            kind = LayoutKind(self.kind)
        except ValueError:
            raise UnknownLayoutError(
                f"unknown layout {self.kind!r}; layouts: {', '.join(k.value for k in LayoutKind)}"
            ) from None
        try:
            corner = Corner(self.pip_corner)
        except ValueError:
            raise CompositionError(
                f"unknown corner {self.pip_corner!r}; corners: {', '.join(c.value for c in Corner)}"
            ) from None
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "pip_corner", corner)
        object.__setattr__(self, "sources", tuple(self.sources))
        if len(self.sources) != SLOT_COUNT[kind]:
            raise CompositionError(
                f"layout {kind.value} has {SLOT_COUNT[kind]} slot(s), got {len(self.sources)} "
                f"source(s): {list(self.sources)} (use None for an empty slot)"
            )
        if not (math.isfinite(self.pip_size) and 0.1 <= self.pip_size <= 0.5):
            raise CompositionError(f"pip_size must be 0.1..0.5 of the width, got {self.pip_size}")
        if not (math.isfinite(self.pip_margin) and 0 <= self.pip_margin <= 0.1):
            raise CompositionError(f"pip_margin must be 0..0.1, got {self.pip_margin}")


@dataclass(frozen=True)
class PrivacyMask:
    """An opaque rectangle; x, y, w, h are 0..1 of the source's picture (or of the output
    when `source` is None)."""

    x: float
    y: float
    w: float
    h: float
    source: str | None = None
    color: Color = MASK_COLOR

    def __post_init__(self) -> None:
        values = (self.x, self.y, self.w, self.h)
        where = f"mask on {self.source!r}" if self.source else "output mask"
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise InvalidMaskError(f"{where}: x, y, w, h must be finite numbers, got {values}")
        if self.w <= 0 or self.h <= 0:
            raise InvalidMaskError(f"{where}: width and height must be above 0, got "
                                   f"w={self.w} h={self.h}")
        eps = 1e-9
        if self.x < 0 or self.y < 0 or self.x + self.w > 1 + eps or self.y + self.h > 1 + eps:
            raise InvalidMaskError(
                f"{where}: rectangle x={self.x} y={self.y} w={self.w} h={self.h} leaves 0..1 "
                "(coordinates are fractions of the picture)"
            )
        if len(self.color) != 3 or not all(0 <= c <= 255 for c in self.color):
            raise InvalidMaskError(f"{where}: color must be three 0..255 values, got {self.color}")


@dataclass(frozen=True)
class TitleLine:
    procedure: str = ""
    presenter: str = ""
    institution: str = ""

    def text(self) -> str:
        # Hershey fonts are ASCII only: a plain separator renders everywhere.
        return "   |   ".join(p for p in (self.procedure, self.presenter, self.institution) if p)


@dataclass(frozen=True)
class Overlays:
    title: TitleLine | None = None
    clock: bool = False
    masks: tuple[PrivacyMask, ...] = ()


Rect = tuple[int, int, int, int]  # x, y, w, h in output pixels


@dataclass(frozen=True)
class SlotGeometry:
    source: str | None
    cell: Rect  # the slot's area of the output
    content: Rect  # where the picture goes, aspect kept (cell minus letterbox bars)
    halvings: int  # 2x box-average steps before the final bilinear resize (strong downscales)


@dataclass(frozen=True)
class _Plan:
    slots: tuple[SlotGeometry, ...]
    bars: tuple[Rect, ...]  # letterbox bars to fill (content area is overwritten anyway)
    borders: tuple[Rect, ...]  # outline of the pip inset
    masks: tuple[tuple[int, Rect, Color], ...]  # (slot index or -1, rect, colour)


def _fit(src_w: int, src_h: int, cell: Rect) -> Rect:
    """The largest rectangle of the source's aspect inside `cell`, centred."""
    x, y, w, h = cell
    scale = min(w / src_w, h / src_h)
    cw = max(1, min(w, round(src_w * scale)))
    ch = max(1, min(h, round(src_h * scale)))
    return x + (w - cw) // 2, y + (h - ch) // 2, cw, ch


def _bars(cell: Rect, content: Rect) -> list[Rect]:
    x, y, w, h = cell
    cx, cy, cw, ch = content
    bars = [(x, y, w, cy - y), (x, cy + ch, w, y + h - cy - ch),
            (x, cy, cx - x, ch), (cx + cw, cy, x + w - cx - cw, ch)]
    return [b for b in bars if b[2] > 0 and b[3] > 0]


def _fill(out: Image, rect: Rect, color: Color) -> None:
    """Fill a rectangle exactly. (numpy's `out[...] = (b, g, r)` broadcasts a 3-byte
    pattern and is ~60x slower: 20 ms for a 720p frame.)"""
    x, y, w, h = rect
    if w > 0 and h > 0:
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), color, cv2.FILLED)


def _mask_rect(mask: PrivacyMask, area: Rect, pad: int) -> Rect:
    """Mask rectangle in output pixels: rounded outwards, grown by `pad`, clipped to `area`."""
    ax, ay, aw, ah = area
    x0 = max(ax, math.floor(ax + mask.x * aw) - pad)
    y0 = max(ay, math.floor(ay + mask.y * ah) - pad)
    x1 = min(ax + aw, math.ceil(ax + (mask.x + mask.w) * aw) + pad)
    y1 = min(ay + ah, math.ceil(ay + (mask.y + mask.h) * ah) + pad)
    return x0, y0, x1 - x0, y1 - y0


class Composer:
    """Composes program frames of a fixed size. Thread-safe (one compose at a time)."""

    #: Downscales stronger than this are halved with INTER_AREA first (repeatedly), then
    #: finished with bilinear: plain bilinear below 1/2 skips source pixels (shimmer on fine
    #: detail, e.g. text on a monitor), while INTER_AREA at any factor other than exactly 2
    #: leaves OpenCV's fast path and costs ~10x more (13 ms for 1080p -> 1/3 on one core).
    area_threshold = 2.0

    def __init__(self, width: int, height: int) -> None:
        if width < 16 or height < 16:
            raise CompositionError(f"output must be at least 16x16, got {width}x{height}")
        self.width = width
        self.height = height
        self._lock = threading.Lock()
        self._plans: dict[tuple[object, ...], _Plan] = {}
        self._slates: dict[tuple[str, int, int], Image] = {}
        self._band: tuple[str, Image] | None = None
        self._clock: tuple[str, Image] | None = None
        self._bad_frame_logged: set[str] = set()

    # -- geometry ----------------------------------------------------------------------------

    def _cells(self, layout: Layout, sizes: tuple[tuple[int, int] | None, ...]) -> list[Rect]:
        W, H = self.width, self.height
        if layout.kind is LayoutKind.SINGLE:
            return [(0, 0, W, H)]
        if layout.kind is LayoutKind.SIDE_BY_SIDE:
            half = W // 2
            return [(0, 0, half, H), (half, 0, W - half, H)]
        if layout.kind is LayoutKind.GRID:
            hw, hh = W // 2, H // 2
            return [(0, 0, hw, hh), (hw, 0, W - hw, hh), (0, hh, hw, H - hh),
                    (hw, hh, W - hw, H - hh)]
        # pip: the inset box takes the inset source's aspect (no bars drawn over the main).
        iw = round(W * layout.pip_size)
        src = sizes[1] or (W, H)
        ih = max(1, min(round(iw * src[1] / src[0]), round(H * 0.6)))
        iw = max(1, min(iw, round(ih * src[0] / src[1])))
        margin = round(W * layout.pip_margin)
        corner = layout.pip_corner
        x = margin if corner in (Corner.TOP_LEFT, Corner.BOTTOM_LEFT) else W - margin - iw
        y = margin if corner in (Corner.TOP_LEFT, Corner.TOP_RIGHT) else H - margin - ih
        return [(0, 0, W, H), (x, y, iw, ih)]

    def _plan(self, layout: Layout, sizes: tuple[tuple[int, int] | None, ...],
              masks: tuple[PrivacyMask, ...]) -> _Plan:
        key = (layout, sizes, masks)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        cells = self._cells(layout, sizes)
        slots: list[SlotGeometry] = []
        bars: list[Rect] = []
        for source, size, cell in zip(layout.sources, sizes, cells, strict=True):
            if size is None:  # slate: already of the cell's size, fills it
                slots.append(SlotGeometry(source, cell, cell, 0))
                continue
            content = _fit(size[0], size[1], cell)
            factor = min(size[0] / content[2], size[1] / content[3])
            halvings = 0
            while factor > self.area_threshold:
                factor /= 2
                halvings += 1
            slots.append(SlotGeometry(source, cell, content, halvings))
            bars.extend(_bars(cell, content))
        borders: list[Rect] = []
        if layout.kind is LayoutKind.PIP:
            x, y, w, h = slots[1].content
            borders = [(x - 2, y - 2, w + 4, h + 4)]
        mask_rects: list[tuple[int, Rect, Color]] = []
        for mask in masks:
            if mask.source is None:
                mask_rects.append((-1, _mask_rect(mask, (0, 0, self.width, self.height), 0),
                                   mask.color))
                continue
            for index, (slot, size) in enumerate(zip(slots, sizes, strict=True)):
                if slot.source != mask.source or size is None:
                    continue
                # Bilinear reads source pixels up to one source pixel away from an output
                # pixel's centre: grow by that reach in output pixels (at least 1).
                scale = slot.content[2] / size[0]
                # Each halving may crop one odd row/column: one more pixel of reach each.
                pad = max(1, math.ceil(scale)) + slot.halvings
                mask_rects.append((index, _mask_rect(mask, slot.content, pad), mask.color))
        plan = _Plan(tuple(slots), tuple(bars), tuple(borders), tuple(mask_rects))
        if len(self._plans) > 64:  # masks being drawn live produce many plans; keep it bounded
            self._plans.clear()
        self._plans[key] = plan
        return plan

    def geometry(self, layout: Layout, sizes: Mapping[str, tuple[int, int]]) -> list[SlotGeometry]:
        """Where each slot's picture lands for sources of these (width, height) sizes; for the
        console, to map a click on the program back to a source."""
        slot_sizes = tuple(sizes.get(s) if s is not None else None for s in layout.sources)
        return list(self._plan(layout, slot_sizes, ()).slots)

    # -- cached renderings -------------------------------------------------------------------

    def _slate(self, label: str, w: int, h: int) -> Image:
        key = (label, w, h)
        slate = self._slates.get(key)
        if slate is None:
            slate = np.empty((h, w, 3), np.uint8)
            slate[:] = SLATE_COLOR
            scale = max(0.35, h / 720 * 1.6)
            thick = max(1, round(scale * 1.5))
            (tw, th), _ = cv2.getTextSize(label, FONT, scale, thick)
            if tw > w * 0.9:
                scale *= w * 0.9 / tw
                (tw, th), _ = cv2.getTextSize(label, FONT, scale, thick)
            cv2.putText(slate, label, ((w - tw) // 2, (h + th) // 2), FONT, scale,
                        (170, 170, 170), thick, cv2.LINE_AA)
            if len(self._slates) > 64:
                self._slates.clear()
            self._slates[key] = slate
        return slate

    def _title_band(self, text: str) -> Image:
        if self._band is None or self._band[0] != text:
            bh = max(16, round(self.height * 0.065))
            band = np.empty((bh, self.width, 3), np.uint8)
            band[:] = (28, 24, 20)
            scale = bh / 52
            thick = max(1, round(scale * 1.6))
            (tw, th), _ = cv2.getTextSize(text, FONT, scale, thick)
            if tw > self.width * 0.96:
                scale *= self.width * 0.96 / tw
                (tw, th), _ = cv2.getTextSize(text, FONT, scale, thick)
            cv2.putText(band, text, (round(self.width * 0.02), (bh + th) // 2), FONT, scale,
                        (235, 235, 235), thick, cv2.LINE_AA)
            self._band = (text, band)
        return self._band[1]

    def _clock_patch(self, text: str) -> Image:
        if self._clock is None or self._clock[0] != text:
            scale = self.height / 900
            thick = max(1, round(scale * 2))
            (tw, th), base = cv2.getTextSize("00:00:00", FONT, scale, thick)
            pad = max(4, round(th * 0.5))
            patch = np.empty((th + base + 2 * pad, tw + 2 * pad, 3), np.uint8)
            patch[:] = (28, 24, 20)
            cv2.putText(patch, text, (pad, pad + th), FONT, scale, (235, 235, 235), thick,
                        cv2.LINE_AA)
            self._clock = (text, patch)
        return self._clock[1]

    # -- composing ---------------------------------------------------------------------------

    def compose(
        self,
        frames: Mapping[str, Image | None],
        layout: Layout,
        overlays: Overlays | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        now: datetime | None = None,
        out: Image | None = None,
    ) -> Image:
        """The program picture: BGR uint8 (height, width, 3).

        `frames` maps source id to its latest picture (None or missing: the slot shows a slate
        with the source's label from `labels`). Frames are only read. The result is a new array
        unless `out` (a buffer of the output's shape) is given to be reused.
        """
        overlays = overlays or Overlays()
        labels = labels or {}
        if out is None:
            out = np.empty((self.height, self.width, 3), np.uint8)
        elif out.shape != (self.height, self.width, 3) or out.dtype != np.uint8:
            raise CompositionError(
                f"out must be uint8 {(self.height, self.width, 3)}, got {out.dtype} {out.shape}"
            )
        images: list[Image | None] = []
        for source in layout.sources:
            image = frames.get(source) if source is not None else None
            if image is not None and (image.dtype != np.uint8 or image.ndim != 3
                                      or image.shape[2] != 3 or min(image.shape[:2]) < 1):
                if source not in self._bad_frame_logged:
                    self._bad_frame_logged.add(str(source))
                    log.warning("source %s gave a %s %s frame, expected BGR uint8; showing a "
                                "slate", source, image.dtype, image.shape)
                image = None
            images.append(image)
        sizes = tuple((im.shape[1], im.shape[0]) if im is not None else None for im in images)
        with self._lock:
            plan = self._plan(layout, sizes, overlays.masks)
            for rect in plan.bars:
                _fill(out, rect, BAR_COLOR)
            for index, (slot, image) in enumerate(zip(plan.slots, images, strict=True)):
                if index == 1 and plan.borders:  # the pip inset's outline, under the inset
                    bx, by, bw, bh = plan.borders[0]
                    cv2.rectangle(out, (bx, by), (bx + bw - 1, by + bh - 1), (220, 220, 220), 2)
                x, y, w, h = slot.content
                dst = out[y:y + h, x:x + w]
                if image is None:
                    label = labels.get(slot.source, slot.source) if slot.source else "empty"
                    np.copyto(dst, self._slate(label or "empty", w, h))
                elif image.shape[1] == w and image.shape[0] == h:
                    np.copyto(dst, image)
                else:
                    for _ in range(slot.halvings):
                        ih, iw = image.shape[:2]
                        # Exactly 2x INTER_AREA is OpenCV's fast path (a 2x2 box average).
                        image = np.asarray(
                            cv2.resize(image[:ih - ih % 2, :iw - iw % 2], (iw // 2, ih // 2),
                                       interpolation=cv2.INTER_AREA), np.uint8)
                    cv2.resize(image, (w, h), dst=dst, interpolation=cv2.INTER_LINEAR)
                # This source's masks now, before anything is drawn over it (a pip inset).
                for mask_slot, (mx, my, mw, mh), color in plan.masks:
                    if mask_slot == index and image is not None:
                        _fill(out, (mx, my, mw, mh), color)
            if overlays.title is not None and overlays.title.text():
                band = self._title_band(overlays.title.text())
                out[self.height - band.shape[0]:] = band
            if overlays.clock:
                stamp = (now or datetime.now()).strftime("%H:%M:%S")
                patch = self._clock_patch(stamp)
                m = round(self.width * 0.015)
                ph, pw = patch.shape[:2]
                if m + ph <= self.height and m + pw <= self.width:  # tiny outputs: no clock
                    out[m:m + ph, self.width - m - pw:self.width - m] = patch
            # Output masks last: they cover whatever is under them, overlays included.
            for mask_slot, (mx, my, mw, mh), color in plan.masks:
                if mask_slot == -1:
                    _fill(out, (mx, my, mw, mh), color)
        return out

"""Synthetic demo sources: a room-camera test pattern and a simulated endoscope.

They let a newcomer see a live room with no hardware. Both precompute everything expensive
once (in `setup`, on the worker thread) so that a frame costs a copy or a warp plus some text.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

from .base import Image, ThreadedSource

FloatImage = npt.NDArray[np.float32]

_FONT = cv2.FONT_HERSHEY_SIMPLEX
#: Endoscope texture size relative to the output frame.
TEXTURE_SCALE = 1.6


def _wall_clock() -> str:
    now = time.time()
    return time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"


def _text(img: Image, text: str, org: tuple[int, int], scale: float, thickness: int = 2) -> None:
    """White text with a dark outline: readable on any background, including after H.264."""
    cv2.putText(img, text, org, _FONT, scale, (0, 0, 0), thickness + 3, cv2.LINE_AA)
    cv2.putText(img, text, org, _FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA)


# -- test pattern ------------------------------------------------------------------------------

# SMPTE EG 1-1990 style 75 % bars, BGR.
_BARS_75 = [
    (191, 191, 191),  # grey
    (0, 191, 191),  # yellow
    (191, 191, 0),  # cyan
    (0, 191, 0),  # green
    (191, 0, 191),  # magenta
    (0, 0, 191),  # red
    (191, 0, 0),  # blue
]
_CASTELLATIONS = [
    (191, 0, 0),
    (19, 19, 19),
    (191, 0, 191),
    (19, 19, 19),
    (191, 191, 0),
    (19, 19, 19),
    (191, 191, 191),
]


def smpte_background(width: int, height: int) -> Image:
    """Colour bars, reverse castellations, and a full-range grey ramp with a black info band."""
    img = np.zeros((height, width, 3), np.uint8)
    edges = np.linspace(0, width, 8).round().astype(int)
    bars_h = int(height * 0.55)
    castle_h = int(height * 0.08)
    ramp_h = int(height * 0.15)
    for i in range(7):
        img[:bars_h, edges[i] : edges[i + 1]] = _BARS_75[i]
        img[bars_h : bars_h + castle_h, edges[i] : edges[i + 1]] = _CASTELLATIONS[i]
    ramp = np.linspace(0, 255, width).round().astype(np.uint8)
    y0 = bars_h + castle_h
    img[y0 : y0 + ramp_h] = ramp[None, :, None]
    # 11 grey steps under the ramp make banding and clipped levels easy to see.
    steps_y = y0 + ramp_h
    step_h = max(1, int(height * 0.05))
    step_edges = np.linspace(0, width, 12).round().astype(int)
    for i in range(11):
        img[steps_y : steps_y + step_h, step_edges[i] : step_edges[i + 1]] = round(i * 25.5)
    # The rest stays black for the live text (room name, clock, frame counter).
    cx, cy = width // 2, bars_h // 2
    radius = min(width, height) // 5
    cv2.circle(img, (cx, cy), radius, (255, 255, 255), 2, cv2.LINE_AA)
    cv2.line(img, (cx - radius, cy), (cx + radius, cy), (255, 255, 255), 1)
    cv2.line(img, (cx, cy - radius), (cx, cy + radius), (255, 255, 255), 1)
    return img


class TestPatternSource(ThreadedSource):
    """Colour bars with the room name, a running wall clock and a frame counter.

    The clock makes end-to-end latency visible (film the screen next to a real clock), the
    counter makes dropped frames visible.
    """

    __test__ = False  # not a pytest test class despite the name

    def __init__(
        self,
        id: str,
        label: str,
        room_name: str,
        width: int = 1280,
        height: int = 720,
        fps: float = 30,
    ) -> None:
        super().__init__(id, label, "test-pattern", width, height, fps)
        self.room_name = room_name
        self._background: Image | None = None
        self._count = 0
        self._scale = height / 720
        self._view: Callable[[], tuple[float, float, float]] | None = None

    def set_view(self, view: Callable[[], tuple[float, float, float]] | None) -> None:
        """Follow a pan-tilt-zoom head: ``view()`` gives pan, tilt (-1..1) and zoom (0..1).

        The pattern then becomes a wider scene the head looks around in, so the demo room's
        PTZ controls visibly move the picture. Set before ``start()``.
        """
        self._view = view

    def setup(self) -> None:
        scene = 2 if self._view is not None else 1
        self._background = smpte_background(self.width * scene, self.height * scene)
        self._count = 0

    def _look(self, background: Image) -> Image:
        assert self._view is not None
        pan, tilt, zoom = self._view()
        big_h, big_w = background.shape[:2]
        crop_w = int(big_w * (0.75 - 0.5 * max(0.0, min(1.0, zoom))))
        crop_h = crop_w * self.height // self.width
        cx = big_w / 2 + max(-1.0, min(1.0, pan)) * (big_w - crop_w) / 2
        cy = big_h / 2 - max(-1.0, min(1.0, tilt)) * (big_h - crop_h) / 2
        x0 = int(max(0, min(big_w - crop_w, cx - crop_w / 2)))
        y0 = int(max(0, min(big_h - crop_h, cy - crop_h / 2)))
        crop = background[y0:y0 + crop_h, x0:x0 + crop_w]
        return np.asarray(cv2.resize(crop, (self.width, self.height),
                                     interpolation=cv2.INTER_LINEAR), np.uint8)

    def render(self, t: float) -> Image:
        assert self._background is not None, "setup() runs before render()"
        img = self._look(self._background) if self._view is not None else self._background.copy()
        s = self._scale
        band_y = int(self.height * 0.83)
        line = int(42 * s)
        _text(img, self.room_name, (int(24 * s), band_y + line), 1.1 * s)
        _text(img, _wall_clock(), (int(self.width * 0.55), band_y + line), 1.1 * s)
        _text(
            img,
            f"frame {self._count:07d}   {self.label}",
            (int(24 * s), band_y + 2 * line),
            0.7 * s,
            1,
        )
        self._count += 1
        return img


# -- endoscope ---------------------------------------------------------------------------------


def _smooth_noise(
    rng: np.random.Generator, width: int, height: int, cell: int
) -> FloatImage:
    """Value noise in [-1, 1]: random values on a coarse grid, cubic-upscaled."""
    small = rng.uniform(-1, 1, (max(2, height // cell + 2), max(2, width // cell + 2)))
    big = cv2.resize(
        small.astype(np.float32),
        (width + 2 * cell, height + 2 * cell),
        interpolation=cv2.INTER_CUBIC,
    )
    out = np.asarray(big[cell : cell + height, cell : cell + width], dtype=np.float32)
    return out


def _fractal_noise(rng: np.random.Generator, width: int, height: int, cell: int) -> FloatImage:
    total = np.zeros((height, width), np.float32)
    amp = 1.0
    norm = 0.0
    while cell >= 4:
        total += amp * _smooth_noise(rng, width, height, cell)
        norm += amp
        amp *= 0.55
        cell //= 2
    result: FloatImage = total / norm
    return result


def _draw_vessel(
    mask: FloatImage,
    rng: np.random.Generator,
    x: float,
    y: float,
    angle: float,
    width: float,
    depth: int,
) -> None:
    """A meandering vessel that thins and branches: a vectorised random walk, one polyline.

    Points are on a 16x sub-pixel grid (cv2 `shift=4`) so thin vessels stay smooth.
    """
    length = int(rng.uniform(25, 60) * (1 + width))
    angles = angle + np.cumsum(rng.normal(0, 0.18, length))
    xs = x + np.cumsum(4 * np.cos(angles))
    ys = y + np.cumsum(4 * np.sin(angles))
    pts = np.stack([np.concatenate([[x], xs]), np.concatenate([[y], ys])], axis=1)
    # Draw thick-to-thin in a few runs: the vessel tapers along its length.
    runs = 3
    bounds = np.linspace(0, length, runs + 1).astype(int)
    for i in range(runs):
        run = pts[bounds[i] : bounds[i + 1] + 1]
        thickness = max(1, round(width * (1 - 0.25 * i)))
        cv2.polylines(mask, [np.rint(run * 16).astype(np.int32)], False, 1.0, thickness,
                      cv2.LINE_AA, 4)
    if depth <= 0:
        return
    for _ in range(int(rng.integers(1, 4))):
        k = int(rng.integers(5, length))
        side = float(rng.choice([-1.0, 1.0]))
        _draw_vessel(mask, rng, float(xs[k]), float(ys[k]),
                     float(angles[k]) + side * rng.uniform(0.5, 1.1), width * 0.65, depth - 1)


def mucosa_texture(width: int, height: int, seed: int) -> Image:
    """A wet, pink mucosal surface: colour mottling, folds, branching submucosal vessels."""
    rng = np.random.default_rng(seed)
    scale = min(width, height) / 1152  # feature sizes tuned for a 1152-px-high canvas

    # Folds: ridges of a warped sine field, lit from one side (the scope's light guide).
    # Smooth (single-octave) warps: fine noise here would turn the ridges into speckle.
    warp_x = _smooth_noise(rng, width, height, int(420 * scale) or 8) * 110 * scale
    warp_y = _smooth_noise(rng, width, height, int(420 * scale) or 8) * 110 * scale
    xx = np.arange(width, dtype=np.float32)[None, :]
    yy = np.arange(height, dtype=np.float32)[:, None]
    period = 170.0 * scale
    folds = np.sin((xx * 0.6 + yy * 0.8 + warp_x * 2.0) * (2 * np.pi / period))
    folds += 0.5 * np.sin((xx * -0.7 + yy * 0.5 + warp_y * 2.0) * (2 * np.pi / (period * 1.7)))
    folds = folds.astype(np.float32)
    ridge_height = cv2.GaussianBlur(folds, (0, 0), 10 * scale + 1)
    shade = cv2.Sobel(ridge_height, cv2.CV_32F, 1, 1, ksize=5) * (4.0 * scale)
    shade = np.clip(shade, -1, 1)

    mottling = _fractal_noise(rng, width, height, int(128 * scale) or 8)
    depth = _smooth_noise(rng, width, height, int(560 * scale) or 8)
    grain = _smooth_noise(rng, width, height, 3)

    # Vessels on a 16x sub-pixel grid (cv2.line shift=4) so they stay smooth.
    vessels = np.zeros((height, width), np.float32)
    for _ in range(int(10 * (width * height) / (2560 * 1440)) + 3):
        _draw_vessel(
            vessels, rng, rng.uniform(0, width), rng.uniform(0, height),
            rng.uniform(0, 2 * np.pi), rng.uniform(2.0, 4.5) * scale * 2, 3,
        )
    fine = np.zeros((height, width), np.float32)
    for _ in range(int(14 * (width * height) / (2560 * 1440)) + 4):
        _draw_vessel(
            fine, rng, rng.uniform(0, width), rng.uniform(0, height),
            rng.uniform(0, 2 * np.pi), 1.2, 2,
        )
    vessels = np.asarray(cv2.GaussianBlur(vessels, (0, 0), 1.6), dtype=np.float32)
    fine = np.asarray(cv2.GaussianBlur(fine, (0, 0), 1.2), dtype=np.float32)
    # Vessels sink into the mucosa where folds rise: they fade under the ridges.
    visibility = 0.7 - 0.25 * folds
    v = np.clip((vessels * 0.6 + fine * 0.4) * visibility, 0, 1)[..., None]

    # Base colour (BGR): salmon pink mucosa, varied toward redder and paler patches; red
    # stays dominant everywhere (grey or green patches read as "wrong" at once).
    base = np.array([100, 118, 226], np.float32)
    redder = np.array([-28, -40, -6], np.float32)
    img = base + mottling[..., None] * redder * 1.3
    img = img + grain[..., None] * np.array([3, 4, 5], np.float32)
    vessel_colour = np.array([70, 40, 150], np.float32)  # dark red-purple
    img = img * (1 - v) + vessel_colour * v
    img = img * (1.0 + 0.25 * shade[..., None]) + 12 * shade[..., None]
    # Grooves between folds are deeper, so darker and redder.
    groove = np.clip(-folds, 0, 1.5)[..., None]
    img = img * (1 - 0.25 * groove) - groove * np.array([8, 14, 0], np.float32)
    # Parts of the surface lie farther from the light: broad, soft darkening.
    img = img * (0.78 + 0.22 * depth[..., None])
    # Wet surface: small specular glints on the lit flanks of the folds.
    sparkle = np.clip(_smooth_noise(rng, width, height, int(40 * scale) or 4) * 3 - 1.2, 0, 1)
    wet = np.clip((shade - 0.7) * 5, 0, 1) * sparkle
    wet = cv2.GaussianBlur(wet.astype(np.float32), (0, 0), 1.5)
    img = img + (wet * 170)[..., None]
    texture: Image = np.clip(img, 0, 255).astype(np.uint8)
    return texture


class EndoscopeSimSource(ThreadedSource):
    """A simulated endoscope: mucosa drifting along a Lissajous path in a round scope field.

    The texture is built once on a canvas 1.6x the output size; each frame is a single
    `warpAffine` (translation, slow rotation, breathing zoom) of a square the size of the
    scope circle, then a precomputed vignette multiply and highlight add.
    """

    def __init__(
        self,
        id: str,
        label: str,
        width: int = 1280,
        height: int = 720,
        fps: float = 30,
        seed: int = 0,
    ) -> None:
        super().__init__(id, label, "endoscope-sim", width, height, fps)
        self.seed = seed
        self._texture: Image | None = None
        self._vignette: Image | None = None
        self._highlight: Image | None = None
        self._diameter = height

    def setup(self) -> None:
        d = self._diameter
        # 1.6x the output: room for the drift, yet built in well under a second.
        self._texture = mucosa_texture(
            int(self.width * TEXTURE_SCALE), int(self.height * TEXTURE_SCALE), self.seed
        )
        yy, xx = np.mgrid[0:d, 0:d].astype(np.float32)
        c = (d - 1) / 2
        r = np.hypot(xx - c, yy - c) / (d / 2)  # 0 at centre, 1 at the rim
        # Light falls off toward the rim; the edge of the field is soft over a few pixels,
        # as in a real scope image (the field stop is out of focus).
        light = np.clip(1.15 - 0.6 * r**2.2, 0, 1)
        edge = np.clip((1.0 - r) * d / 6, 0, 1)
        self._vignette = np.repeat(
            (np.clip(light * edge, 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=2
        )
        # Faint specular reflection of the light guide: a soft off-centre glint.
        hx, hy = c - 0.28 * d / 2, c - 0.33 * d / 2
        glint = np.exp(-(((xx - hx) / (0.05 * d)) ** 2 + ((yy - hy) / (0.03 * d)) ** 2))
        halo = np.exp(-(((xx - hx) / (0.16 * d)) ** 2 + ((yy - hy) / (0.12 * d)) ** 2))
        spec = np.clip(150 * glint + 28 * halo, 0, 255) * (r < 1)
        self._highlight = np.repeat(spec.astype(np.uint8)[..., None], 3, axis=2)

    def _view_matrix(self, t: float) -> npt.NDArray[np.float64]:
        """Affine map from texture to the scope square: Lissajous drift, rotation, zoom."""
        assert self._texture is not None
        th, tw = self._texture.shape[:2]
        d = self._diameter
        zoom = 1.0 + 0.07 * math.sin(2 * math.pi * t / 4.5)  # breathing / peristalsis
        angle = 12.0 * math.sin(2 * math.pi * t / 23.0)  # degrees; the scope twists slowly
        margin = 0.56 * d  # the circle (radius d/2 / zoom >= 0.54 d) stays inside the texture
        cx = tw / 2 + (tw / 2 - margin) * math.sin(2 * math.pi * t / 31.0 + 0.7)
        cy = th / 2 + (th / 2 - margin) * math.sin(2 * math.pi * t / 19.0)
        m = cv2.getRotationMatrix2D((cx, cy), angle, zoom)
        m[0, 2] += d / 2 - cx
        m[1, 2] += d / 2 - cy
        return np.asarray(m, dtype=np.float64)

    def render(self, t: float) -> Image:
        assert self._texture is not None and self._vignette is not None
        assert self._highlight is not None
        d = self._diameter
        view = cv2.warpAffine(
            self._texture, self._view_matrix(t), (d, d),
            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT,
        )
        view = cv2.multiply(view, self._vignette, scale=1 / 255)
        view = cv2.add(view, self._highlight)
        img = np.zeros((self.height, self.width, 3), np.uint8)
        x0 = (self.width - d) // 2
        img[:, x0 : x0 + d] = view
        s = self.height / 720
        _text(img, self.label, (int(20 * s), int(40 * s)), 0.8 * s, 1)
        _text(img, f"SIM  {_wall_clock()}", (int(20 * s), self.height - int(24 * s)), 0.6 * s, 1)
        return img

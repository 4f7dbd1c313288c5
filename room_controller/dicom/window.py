"""Display windows for CT: the named presets, a free centre/width, and the lookup that applies one.

Presets are the usual head-CT windows as centre/width in Hounsfield units, after Radiopaedia,
"Windowing (CT)" (radiopaedia.org/articles/windowing-ct, head and neck): brain W:80 L:40;
subdural W:130-300 L:50-100 (the middle of both ranges, W:215 L:75); temporal bone W:2800
L:600; soft tissue W:350-400 L:20-60 (W:400 L:40).

A window maps HU linearly so centre - width/2 -> 0 and centre + width/2 -> 255, clipped. For
integer pixel data it is applied as one lookup table from *stored* values to display bytes, with
the slice's rescale (slope, intercept) folded in: one `np.take` per slice instead of float
arithmetic over every pixel (see `medroom bench dicom`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

#: Named display windows as (centre, width) in HU.
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "brain": (40, 80),
    "subdural": (75, 215),
    "bone": (600, 2800),
    "soft-tissue": (40, 400),
}
#: The widest window anyone needs: the full 16-bit range of stored values and then some.
MAX_WIDTH = 100_000.0
MAX_CENTER = 100_000.0


class WindowError(ValueError):
    """A window that cannot be shown: unknown preset, width not positive, numbers out of range."""


@dataclass(frozen=True)
class Window:
    """A display window: `preset` names it when it is one of WINDOW_PRESETS, else None (free)."""

    center: float
    width: float
    preset: str | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.center) and math.isfinite(self.width)):
            raise WindowError("window centre and width must be numbers")
        if self.width <= 0:
            raise WindowError(f"window width must be greater than 0 HU, got {self.width:g}")
        if self.width > MAX_WIDTH or abs(self.center) > MAX_CENTER:
            raise WindowError(
                f"window W:{self.width:g} L:{self.center:g} is out of range "
                f"(width up to {MAX_WIDTH:g}, centre within ±{MAX_CENTER:g} HU)"
            )

    @classmethod
    def named(cls, preset: str) -> Window:
        try:
            center, width = WINDOW_PRESETS[preset]
        except KeyError:
            raise WindowError(
                f"unknown window preset {preset!r}; choose one of {', '.join(WINDOW_PRESETS)} "
                "or give a centre and width"
            ) from None
        return cls(center, width, preset)

    @property
    def label(self) -> str:
        """What the picture says about its window, e.g. "brain W:80 L:40"."""
        numbers = f"W:{self.width:g} L:{self.center:g}"
        return f"{self.preset} {numbers}" if self.preset else numbers


def apply_window(
    hu: npt.NDArray[np.generic], center: float, width: float
) -> npt.NDArray[np.uint8]:
    """Window HU values (any numeric array) to display bytes, in float32."""
    if width <= 0:
        raise ValueError(f"window width must be positive, got {width}")
    low = center - width / 2
    scaled = (np.asarray(hu, dtype=np.float32) - np.float32(low)) * np.float32(255.0 / width)
    np.clip(scaled, 0, 255, out=scaled)
    result: npt.NDArray[np.uint8] = np.rint(scaled).astype(np.uint8)
    return result


@functools.lru_cache(maxsize=64)
def _lut(
    signed: bool, bits: int, slope: float, intercept: float, center: float, width: float
) -> npt.NDArray[np.uint8]:
    """Display byte for every possible stored value, indexed by the value's unsigned bit pattern."""
    count = 1 << bits
    values = np.arange(count, dtype=np.int64)
    if signed:  # two's complement: the upper half of the patterns are the negative values
        values = np.where(values >= count // 2, values - count, values)
    lut = apply_window(values * slope + intercept, center, width)
    lut.flags.writeable = False
    return lut


def window_stored(
    stored: npt.NDArray[np.generic], slope: float, intercept: float, window: Window
) -> npt.NDArray[np.uint8]:
    """Window stored pixel values (before rescale) straight to display bytes.

    8- and 16-bit integers go through a cached lookup table; anything else (float pixel data,
    32-bit integers) is rescaled and windowed arithmetically.
    """
    kind, size = stored.dtype.kind, stored.dtype.itemsize
    if kind in "iu" and size in (1, 2):
        lut = _lut(kind == "i", 8 * size, float(slope), float(intercept), window.center,
                   window.width)
        index: npt.NDArray[np.unsignedinteger[Any]] = stored.view(
            np.uint8 if size == 1 else np.uint16)
        result: npt.NDArray[np.uint8] = np.take(lut, index)
        return result
    hu = np.asarray(stored, dtype=np.float32) * np.float32(slope) + np.float32(intercept)
    return apply_window(hu, window.center, window.width)

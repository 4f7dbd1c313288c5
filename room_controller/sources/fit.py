"""Fitting a picture of any size into a source's frame, aspect ratio kept (letterbox/pillarbox).

Streams, clips, cameras and slides come in every size and shape; the room wants each source at
the size its room file gives. Stretching a 4:3 endoscope into 16:9 would make round things oval,
which a surgeon notices at once, so pictures are scaled to fit and centred on black.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from .base import Image


class FitRect(NamedTuple):
    """Where a scaled picture goes in the frame: its size and its top-left corner."""

    width: int
    height: int
    x: int
    y: int


def fit_rect(
    src_width: int, src_height: int, width: int, height: int, pixel_aspect: float = 1.0
) -> FitRect:
    """The largest rectangle with the source's display aspect that fits `width` x `height`.

    `pixel_aspect` is the sample aspect ratio of non-square pixels (SD capture, anamorphic
    video): a 720x576 frame with 16:15 pixels is displayed 768 wide.
    """
    if src_width <= 0 or src_height <= 0:
        raise ValueError(f"picture has no size: {src_width}x{src_height}")
    display_width = src_width * (pixel_aspect if pixel_aspect > 0 else 1.0)
    scale = min(width / display_width, height / src_height)
    w = min(width, max(2, round(display_width * scale)))
    h = min(height, max(2, round(src_height * scale)))
    # Even sizes: the scaler and the encoder's 4:2:0 chroma both prefer them.
    w -= w % 2 if w < width else 0
    h -= h % 2 if h < height else 0
    return FitRect(w, h, (width - w) // 2, (height - h) // 2)


def place(picture: Image, rect: FitRect, width: int, height: int) -> Image:
    """`picture` (already `rect`'s size) centred on a black frame; as is when it fills it."""
    if (rect.width, rect.height) == (width, height):
        return picture
    frame = np.zeros((height, width, 3), np.uint8)
    frame[rect.y : rect.y + rect.height, rect.x : rect.x + rect.width] = picture
    return frame


def letterbox(picture: Image, width: int, height: int) -> Image:
    """Scale a BGR picture to fit `width` x `height` and centre it on black."""
    rect = fit_rect(picture.shape[1], picture.shape[0], width, height)
    if (rect.width, rect.height) != (picture.shape[1], picture.shape[0]):
        shrinking = rect.width < picture.shape[1]
        picture = np.asarray(
            cv2.resize(
                picture, (rect.width, rect.height),
                interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR,
            ),
            np.uint8,
        )
    return place(picture, rect, width, height)

"""A still image as a source: a slide, a diagram, a reference photograph, shown letterboxed.

The picture is read once (PNG, JPEG, BMP, TIFF, WebP: whatever OpenCV reads) and fitted into
the frame with its aspect ratio kept. The file is watched: saving a new version of the slide
shows it within a frame period, so a presenter can update it without touching the room.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from .base import Image, SourceError, ThreadedSource
from .fit import letterbox


class StillImageError(SourceError):
    """The image file cannot be shown; the message says which file and why."""


def read_image(path: Path) -> Image:
    """The picture in `path` as BGR uint8, or StillImageError saying what is wrong."""
    if not path.is_file():
        raise StillImageError(f"no such image file: {path}")
    data = np.fromfile(path, np.uint8)  # not cv2.imread: it swallows the reason and non-ASCII
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise StillImageError(
            f"{path} is not an image OpenCV can read (use PNG or JPEG)"
        )
    return np.asarray(image, np.uint8)


class StillImageSource(ThreadedSource):
    """A still picture, republished at a low rate so health shows it alive (default 1 fps)."""

    def __init__(
        self, id: str, label: str, path: Path, width: int = 1280, height: int = 720,
        fps: float = 1.0,
    ) -> None:
        super().__init__(id, label, "still", width, height, fps)
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None  # (mtime_ns, size) of the file shown
        self._image: Image | None = None

    def setup(self) -> None:
        self._load()

    def render(self, t: float) -> Image:
        try:
            stat = os.stat(self.path)
        except OSError:
            raise StillImageError(f"no such image file: {self.path}") from None
        if (stat.st_mtime_ns, stat.st_size) != self._stamp or self._image is None:
            self._load()
        assert self._image is not None
        return self._image

    def _load(self) -> None:
        stat = os.stat(self.path) if self.path.is_file() else None
        image = letterbox(read_image(self.path), self.width, self.height)
        image.flags.writeable = False
        self._image = image
        self._stamp = None if stat is None else (stat.st_mtime_ns, stat.st_size)

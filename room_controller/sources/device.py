"""Local video devices as sources: USB cameras and HDMI/SDI capture cards, through V4L2.

OpenCV's V4L2 backend opens the device with the mode the room file asks for (size, rate and
optionally the pixel format: most USB cameras need MJPG for 1080p at 30 fps). A device that is
not there, cannot be opened or stops delivering (unplugged, the capture card lost its input) is
reported in health and retried with a growing back-off, and the room goes on.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from pathlib import Path

import cv2
import numpy as np

from .base import Backoff, WorkerSource
from .fit import letterbox

log = logging.getLogger(__name__)

LIST_HINT = "`medroom devices` lists the devices present"


def device_path(device: str | int) -> Path:
    """`/dev/videoN` for an index, the path itself otherwise (e.g. a /dev/v4l/by-id link)."""
    if isinstance(device, int) or (device.isascii() and device.isdigit()):
        return Path(f"/dev/video{int(device)}")
    return Path(device)


def check_device(path: Path) -> None:
    """Raise OSError with a message for people if `path` is not a video device node."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"no such video device {path}; {LIST_HINT}") from None
    except PermissionError:
        raise PermissionError(
            f"no permission to open {path}: add the user running MedRoom to the 'video' group"
        ) from None
    if not stat.S_ISCHR(mode):
        raise OSError(f"{path} is not a video device (not a character device); {LIST_HINT}")


class VideoDeviceSource(WorkerSource):
    """Frames from a V4L2 device, fitted into `width` x `height` (the mode asked of it)."""

    #: OpenCV's own buffer: keep one so a slow reader gets the newest picture, not an old one.
    buffers = 1

    def __init__(
        self,
        id: str,
        label: str,
        device: str | int,
        *,
        width: int = 1280,
        height: int = 720,
        fps: float = 30,
        fourcc: str | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(id, label, "device", width, height, fps)
        if fourcc is not None and len(fourcc) != 4:
            raise ValueError(f"source {id!r}: fourcc must be 4 characters, got {fourcc!r}")
        self.path = device_path(device)
        self.fourcc = fourcc
        self._backoff = backoff or Backoff(0.5, 10.0)
        #: the mode the device actually gave: (width, height, fps), once open
        self.mode: tuple[int, int, float] | None = None

    def _open(self) -> cv2.VideoCapture:
        check_device(self.path)
        capture = cv2.VideoCapture(str(self.path), cv2.CAP_V4L2)
        if not capture.isOpened():
            capture.release()
            raise OSError(
                f"cannot open {self.path} for capture (busy in another program, or not a "
                f"capture node: a camera's second node is often metadata only); {LIST_HINT}"
            )
        # The pixel format first: the sizes and rates a device offers depend on it.
        if self.fourcc:
            capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*self.fourcc))
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        capture.set(cv2.CAP_PROP_FPS, self.fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, self.buffers)
        self.mode = (
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            float(capture.get(cv2.CAP_PROP_FPS)),
        )
        if self.mode[:2] != (self.width, self.height):
            log.info("source %s: %s gives %dx%d, asked %dx%d (fitted into the frame)",
                     self.id, self.path, self.mode[0], self.mode[1], self.width, self.height)
        return capture

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            capture: cv2.VideoCapture | None = None
            try:
                capture = self._open()
                while not stop.is_set():
                    ok, picture = capture.read()
                    if not ok or picture is None:
                        raise OSError(f"{self.path} stopped delivering pictures (unplugged?)")
                    self._publish(stop, letterbox(np.asarray(picture, np.uint8),
                                                  self.width, self.height))
                    self._backoff.reset()
                return
            except OSError as exc:
                problem = str(exc)
            except Exception as exc:  # cv2.error and the unexpected: never kill the worker
                log.exception("source %s: error reading %s", self.id, self.path)
                problem = f"{type(exc).__name__}: {exc}"
            finally:
                if capture is not None:
                    capture.release()
            if self._retry_after(stop, problem, self._backoff):
                return

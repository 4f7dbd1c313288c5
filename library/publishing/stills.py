"""Still images of a published track: a poster and a thumbnail sprite for scrubbing.

Both read the faststart MP4 the remux step wrote, not the fragmented recording: its ``moov``
indexes every keyframe, so a seek is one lookup instead of a walk over the fragments, and the
times are already those of the lesson (after the trim).

The sprite follows the WebVTT thumbnail convention players understand (Video.js, Plyr,
Shaka, JW Player): one JPEG of tiles plus ``thumbnails.vtt`` whose cues point into it with
``sprite.jpg#xywh=x,y,w,h`` media fragments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from library.publishing.errors import MediaError
from recorder.durable import atomic_write_bytes
from recorder.timeline import vtt_timestamp

JPEG_QUALITY = 85
MAX_COLUMNS = 10


@dataclass(frozen=True)
class PosterInfo:
    path: Path
    width: int
    height: int
    at: float  # seconds of the keyframe shown


@dataclass(frozen=True)
class StripInfo:
    path: Path
    columns: int
    rows: int
    tile_width: int
    tile_height: int
    times: tuple[float, ...]  # start of each tile's cue, in tile order (row-major)
    every_seconds: float
    duration: float

    @property
    def count(self) -> int:
        return len(self.times)

    def tile_xywh(self, index: int) -> tuple[int, int, int, int]:
        row, column = divmod(index, self.columns)
        return (column * self.tile_width, row * self.tile_height,
                self.tile_width, self.tile_height)


def _open(src: Path) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    try:
        container = av.open(str(src), "r")
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"{src.name} cannot be read as video: {exc}") from exc
    if not container.streams.video:
        container.close()
        raise MediaError(f"{src.name} has no video track")
    return container, container.streams.video[0]


def _duration(container: av.container.InputContainer,
              video: av.video.stream.VideoStream) -> float:
    if video.duration and video.time_base:
        return float(video.duration * video.time_base)
    if container.duration:
        return container.duration / av.time_base
    raise MediaError("the video's duration is unknown: publish from the remuxed MP4")


def _keyframe_at(container: av.container.InputContainer, video: av.video.stream.VideoStream,
                 seconds: float) -> av.VideoFrame:
    """The keyframe at or before ``seconds``, decoded alone.

    ``skip_frame = "NONKEY"`` makes the decoder drop every non-key packet without decoding
    it: after the seek the first frame out is the keyframe, and nothing else is decoded.
    """
    tb = video.time_base
    assert tb is not None
    container.seek(max(0, int(seconds / tb)), stream=video, backward=True, any_frame=False)
    try:
        for packet in container.demux(video):
            for frame in packet.decode():
                assert isinstance(frame, av.VideoFrame)
                return frame
    except av.FFmpegError as exc:
        raise MediaError(f"decoding near {seconds:.1f} s failed: {exc}") from exc
    raise MediaError(f"no keyframe decodes at or before {seconds:.1f} s")


def _jpeg(image: np.ndarray[Any, Any]) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise MediaError("JPEG encoding failed")
    return bytes(data.tobytes())


def poster(src: Path, dst_jpeg: Path, at_seconds: float, *,
           max_width: int | None = None) -> PosterInfo:
    """Write the keyframe nearest at or before ``at_seconds`` as a JPEG poster image.

    ``at_seconds`` past the end falls back to the last keyframe rather than failing: a default
    such as "10 s in" must also work for a 5-second clip.
    """
    if not math.isfinite(at_seconds) or at_seconds < 0:
        raise MediaError(f"poster time must be a non-negative number of seconds, got {at_seconds}")
    container, video = _open(src)
    with container:
        video.codec_context.skip_frame = "NONKEY"
        at = min(at_seconds, _duration(container, video))
        frame = _keyframe_at(container, video, at)
        width, height = frame.width, frame.height
        if max_width is not None and width > max_width:
            height = _even(height * max_width / width)
            width = max_width
        image = frame.to_ndarray(format="bgr24", width=width, height=height)
        shown = float(frame.time) if frame.time is not None else at
    atomic_write_bytes(dst_jpeg, _jpeg(image))
    return PosterInfo(path=dst_jpeg, width=width, height=height, at=shown)


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def thumbnail_strip(src: Path, dst_jpeg: Path, every_seconds: float = 10,
                    tile_width: int = 160) -> StripInfo:
    """Write a sprite sheet with one tile per ``every_seconds`` of ``src`` (row-major).

    Tile ``i`` shows the keyframe at or before ``i * every_seconds`` and stands for the
    interval up to the next tile; with a GOP of a second or two that is within a GOP of the
    exact time, which is all a scrubbing preview needs, and only keyframes are ever decoded.
    """
    if not math.isfinite(every_seconds) or every_seconds <= 0:
        raise MediaError(f"thumbnail interval must be positive, got {every_seconds}")
    if not 16 <= tile_width <= 1920:
        raise MediaError(f"tile width must be 16..1920 pixels, got {tile_width}")
    container, video = _open(src)
    with container:
        ctx = video.codec_context
        ctx.skip_frame = "NONKEY"
        duration = _duration(container, video)
        if duration <= 0:
            raise MediaError(f"{src.name} has no duration")
        tile_height = _even(tile_width * ctx.height / ctx.width)
        count = max(1, math.ceil(duration / every_seconds - 1e-9))
        times = tuple(round(i * every_seconds, 3) for i in range(count))
        columns = min(MAX_COLUMNS, count)
        rows = math.ceil(count / columns)
        sheet = np.zeros((rows * tile_height, columns * tile_width, 3), np.uint8)
        for index, at in enumerate(times):
            frame = _keyframe_at(container, video, at)
            tile = frame.to_ndarray(format="bgr24", width=tile_width, height=tile_height)
            row, column = divmod(index, columns)
            y, x = row * tile_height, column * tile_width
            sheet[y : y + tile_height, x : x + tile_width] = tile
    atomic_write_bytes(dst_jpeg, _jpeg(sheet))
    return StripInfo(path=dst_jpeg, columns=columns, rows=rows, tile_width=tile_width,
                     tile_height=tile_height, times=times, every_seconds=every_seconds,
                     duration=duration)


def thumbnails_vtt(strip: StripInfo, sprite_url: str | None = None) -> str:
    """WebVTT with one cue per tile: ``sprite#xywh=x,y,w,h``, covering 0 to the duration.

    ``sprite_url`` defaults to the sprite's file name, which players resolve relative to the
    VTT file; both are published side by side.
    """
    url = sprite_url or strip.path.name
    lines = ["WEBVTT", ""]
    for index, start in enumerate(strip.times):
        end = strip.times[index + 1] if index + 1 < strip.count else strip.duration
        x, y, w, h = strip.tile_xywh(index)
        lines += [f"{vtt_timestamp(start)} --> {vtt_timestamp(end)}",
                  f"{url}#xywh={x},{y},{w},{h}", ""]
    return "\n".join(lines)


def write_thumbnails_vtt(strip: StripInfo, dst_vtt: Path, sprite_url: str | None = None) -> Path:
    atomic_write_bytes(dst_vtt, thumbnails_vtt(strip, sprite_url).encode("utf-8"))
    return dst_vtt

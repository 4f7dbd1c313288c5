"""Poster and thumbnail sprite from a remuxed track; the WebVTT that points into the sprite."""

from __future__ import annotations

import math
import re
from pathlib import Path

import cv2
import pytest

from library.publishing.errors import MediaError
from library.publishing.remux import RemuxResult, remux_faststart
from library.publishing.stills import poster, thumbnail_strip, write_thumbnails_vtt
from recorder.timeline import vtt_timestamp

from .conftest import Recorded
from .media import packets

CUE = re.compile(r"^(\S+) --> (\S+)\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)$", re.MULTILINE)


def seconds(stamp: str) -> float:
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


@pytest.fixture
def remuxed(recorded: Recorded, tmp_path: Path) -> RemuxResult:
    return remux_faststart(recorded.folder / "program.mp4", tmp_path / "program.mp4")


def test_poster_is_the_keyframe_at_or_before_the_time(remuxed: RemuxResult,
                                                      tmp_path: Path) -> None:
    keyframes = [p.seconds for p in packets(remuxed.path) if p.keyframe]
    at = keyframes[2] + 0.3
    info = poster(remuxed.path, tmp_path / "poster.jpg", at)
    image = cv2.imread(str(info.path))
    assert image is not None and image.shape == (240, 320, 3)
    assert info.at == pytest.approx(keyframes[2])
    assert image.mean() > 5  # the yellow bar is there, not a black frame

    late = poster(remuxed.path, tmp_path / "late.jpg", 3600, max_width=160)
    assert late.at == pytest.approx(keyframes[-1]) and (late.width, late.height) == (160, 120)
    with pytest.raises(MediaError, match="non-negative"):
        poster(remuxed.path, tmp_path / "x.jpg", -1)


def test_strip_has_one_tile_per_interval_and_the_vtt_covers_the_duration(
    remuxed: RemuxResult, tmp_path: Path
) -> None:
    strip = thumbnail_strip(remuxed.path, tmp_path / "thumbnails.jpg", every_seconds=0.5,
                            tile_width=80)
    count = math.ceil(remuxed.duration / 0.5)
    assert strip.count == count and strip.times[:3] == (0.0, 0.5, 1.0)
    assert (strip.tile_width, strip.tile_height) == (80, 60)
    assert strip.columns == min(10, count) and strip.rows == math.ceil(count / strip.columns)
    image = cv2.imread(str(strip.path))
    assert image is not None
    assert image.shape == (strip.rows * 60, strip.columns * 80, 3)

    vtt = write_thumbnails_vtt(strip, tmp_path / "thumbnails.vtt").read_text()
    assert vtt.startswith("WEBVTT\n")
    cues = CUE.findall(vtt)
    assert len(cues) == count
    starts = [seconds(c[0]) for c in cues]
    ends = [seconds(c[1]) for c in cues]
    assert starts[0] == 0 and ends[-1] == seconds(vtt_timestamp(remuxed.duration))
    assert all(ends[i] == starts[i + 1] for i in range(count - 1))  # no gaps, no overlaps
    for i, (_, _, url, x, y, w, h) in enumerate(cues):
        assert url == "thumbnails.jpg"
        assert (int(x), int(y), int(w), int(h)) == strip.tile_xywh(i)
        assert int(x) + int(w) <= image.shape[1] and int(y) + int(h) <= image.shape[0]
        tile = image[int(y) : int(y) + int(h), int(x) : int(x) + int(w)]
        assert tile.mean() > 5  # every tile was painted


def test_default_strip_of_a_short_clip_has_one_tile(remuxed: RemuxResult, tmp_path: Path) -> None:
    strip = thumbnail_strip(remuxed.path, tmp_path / "t.jpg")
    assert strip.count == 1 and (strip.columns, strip.rows) == (1, 1)
    with pytest.raises(MediaError, match="positive"):
        thumbnail_strip(remuxed.path, tmp_path / "t.jpg", every_seconds=0)

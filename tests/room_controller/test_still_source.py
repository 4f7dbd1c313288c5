"""Still images (slides) fitted into the frame, and the fitting every source kind shares."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from room_controller.sources import Source, SourceState, StillImageSource
from room_controller.sources.fit import fit_rect, letterbox

from .polling import wait_for


def slide(path: Path, width: int, height: int, bgr: tuple[int, int, int]) -> Path:
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = bgr
    assert cv2.imwrite(str(path), image)
    return path


def start(started: list[Source], path: Path, fps: float = 5) -> StillImageSource:
    source = StillImageSource("slide", "Slide", path, width=640, height=360, fps=fps)
    started.append(source)
    source.start()
    return source


def test_square_slide_is_pillarboxed(tmp_path: Path, started: list[Source]) -> None:
    source = start(started, slide(tmp_path / "anatomy.png", 400, 400, (0, 0, 220)))
    assert wait_for(lambda: source.health().state is SourceState.LIVE, 3)
    frame = source.latest_frame()
    assert frame is not None
    image = frame.image
    assert image.shape == (360, 640, 3)
    lit = np.flatnonzero(image[180, :, 2] > 100)
    assert (lit.min(), lit.max()) == (140, 499)  # 360 px wide, centred: the square stays square
    assert image[:, :138].max() == 0 and image[:, 502:].max() == 0
    assert tuple(image[180, 320]) == (0, 0, 220)
    # Republished at the configured rate so health shows it alive.
    time.sleep(1.0)
    assert source.health().fps == pytest.approx(5, rel=0.3)


def test_wide_jpeg_is_letterboxed(tmp_path: Path, started: list[Source]) -> None:
    source = start(started, slide(tmp_path / "timeline.jpg", 800, 200, (0, 200, 0)))
    assert wait_for(lambda: source.latest_frame() is not None, 3)
    image = source.latest_frame().image  # type: ignore[union-attr]
    lit = np.flatnonzero(image[:, 320, 1] > 100)
    assert (lit.min(), lit.max()) == (100, 259)  # 640x160 in the middle
    assert image[:95].max() < 10 and image[265:].max() < 10


def test_saving_a_new_slide_shows_it(tmp_path: Path, started: list[Source]) -> None:
    path = slide(tmp_path / "case.png", 320, 180, (200, 0, 0))
    source = start(started, path, fps=10)
    assert wait_for(lambda: source.latest_frame() is not None, 3)
    assert source.latest_frame().image[180, 320, 0] == 200  # type: ignore[union-attr]
    time.sleep(0.05)  # a later modification time, even on coarse file systems
    slide(tmp_path / "new.png", 320, 180, (0, 200, 0)).replace(path)
    assert wait_for(
        lambda: source.latest_frame().image[180, 320, 1] == 200, 3  # type: ignore[union-attr]
    )


def test_bad_and_missing_files_say_what_is_wrong(
    tmp_path: Path, started: list[Source]
) -> None:
    notes = tmp_path / "slide.png"
    notes.write_text("not a picture")
    bad = start(started, notes)
    missing = start(started, tmp_path / "gone.png")
    assert wait_for(lambda: bad.health().error is not None, 3)
    assert wait_for(lambda: missing.health().error is not None, 3)
    assert bad.health().state is SourceState.FAILED
    assert bad.health().error == f"{notes} is not an image OpenCV can read (use PNG or JPEG)"
    assert missing.health().error == f"no such image file: {tmp_path / 'gone.png'}"
    # The file appears: the source retries and shows it.
    slide(tmp_path / "gone.png", 64, 36, (10, 20, 30))
    assert wait_for(lambda: missing.health().state is SourceState.LIVE, 4)


def test_fit_keeps_the_display_aspect() -> None:
    assert fit_rect(1920, 1080, 1280, 720) == (1280, 720, 0, 0)
    assert fit_rect(640, 480, 1280, 720) == (960, 720, 160, 0)
    # PAL SD capture, 720x576 with 16:15 pixels, is 4:3 on screen: 960x720, not 900x720.
    assert fit_rect(720, 576, 1280, 720, pixel_aspect=16 / 15) == (960, 720, 160, 0)
    assert fit_rect(720, 576, 1280, 720) == (900, 720, 190, 0)
    with pytest.raises(ValueError, match="no size"):
        fit_rect(0, 10, 100, 100)
    same = np.full((72, 128, 3), 7, np.uint8)
    assert letterbox(same, 128, 72) is same  # nothing to do: no copy

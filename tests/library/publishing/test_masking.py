"""Masks drawn after the fact: publishing re-encodes only the GOPs a mask touches and copies the
rest; the masked pixels change only inside the region and the range; lengths and chapters stay."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from library.publishing.masking import MaskRegion, gop_segments
from library.publishing.pipeline import Trim, publish_recording
from recorder.synthetic import DEFAULT_VIEWS, write_synthetic_recording
from recorder.timeline import Marker

# Bottom-left quarter: the burnt-in clock, so pixelating it really changes pixels.
REGION = {"x": 0.0, "y": 0.75, "w": 0.5, "h": 0.25}


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_recording(
        tmp_path_factory.mktemp("rec"), "demo", "Masked", seconds=12.0, views=DEFAULT_VIEWS,
        audio=False, events=[Marker("Exposure", at=1.0), Marker("Resection", at=7.0)])


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray").astype(np.int16) for f in container.decode(video=0)]


def test_segments_widen_to_whole_gops() -> None:
    keys = [0.0, 2.0, 4.0, 6.0]
    mask = MaskRegion(3.3, 5.1, **REGION)
    assert gop_segments(keys, 8.0, [mask]) == [(2.0, 6.0)]
    assert gop_segments(keys, 8.0, [mask, MaskRegion(5.5, 7.0, **REGION)]) == [(2.0, 8.0)]
    assert gop_segments(keys, 8.0, [MaskRegion(4.0, 6.0, **REGION)]) == [(4.0, 6.0)]


def test_a_masked_range_is_reencoded_alone(recording: Path, tmp_path: Path) -> None:
    log: list[tuple[str, float]] = []
    plain = publish_recording(recording, tmp_path / "plain", trim=Trim(1.0, None))
    masked = publish_recording(
        recording, tmp_path / "masked", trim=Trim(1.0, None),
        masks={"iso-room": [MaskRegion(3.3, 5.1, **REGION)]},
        progress=lambda step, fraction: log.append((step, fraction)))
    assert "masks" in {step for step, _ in log}
    assert [(t.name, t.frames, t.duration) for t in masked.tracks] == [
        (t.name, t.frames, t.duration) for t in plain.tracks]
    assert [(c.title, c.start) for c in masked.chapters] == [
        (c.title, c.start) for c in plain.chapters] and len(masked.chapters) == 2
    meta = json.loads((tmp_path / "masked" / "lesson.json").read_text())
    [info] = meta["masks"]
    # GOP of 2 s, lesson from 0 s: the 3.3-5.1 s mask re-encodes 2-6 s and copies the rest.
    assert info["track"] == "iso-room" and info["reencoded"] == [[2.0, 6.0]]
    assert info["reencoded_frames"] == 100 and info["copied_packets"] == 200

    before = _frames(tmp_path / "plain" / "iso-room.mp4")
    after = _frames(tmp_path / "masked" / "iso-room.mp4")
    assert len(before) == len(after) == 300
    h, w = before[0].shape
    inside = (slice(int(0.75 * h), h), slice(0, int(0.5 * w)))
    for index, (a, b) in enumerate(zip(before, after, strict=True)):
        t = index / 25
        diff = np.abs(a - b)
        region = diff[inside].mean()
        outside = diff.copy()
        outside[inside] = 0
        if not 2.0 <= t < 6.0:
            assert diff.max() == 0, t  # copied packets: the very same pixels
        elif 3.3 <= t < 5.1:
            assert region > 5, (t, region)  # pixelated
            assert outside.mean() < 0.5, (t, outside.mean())
        else:
            assert region < 2 and outside.mean() < 0.5, (t, region, outside.mean())
    # The other views are untouched.
    assert (tmp_path / "masked" / "program.mp4").read_bytes() == (
        tmp_path / "plain" / "program.mp4").read_bytes()


def test_a_mask_on_a_view_that_does_not_exist_is_refused(recording: Path, tmp_path: Path
                                                         ) -> None:
    from library.publishing.errors import PublishError
    with pytest.raises(PublishError, match="no video track"):
        publish_recording(recording, tmp_path / "x",
                          masks={"iso-ghost": [MaskRegion(1.0, 2.0, **REGION)]})
    assert not (tmp_path / "x").exists()

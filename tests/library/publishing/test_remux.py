"""Faststart remux by stream copy: every packet kept bit for bit, cuts on keyframes."""

from __future__ import annotations

from pathlib import Path

import pytest

from library.publishing.errors import MediaError
from library.publishing.remux import is_faststart, remux_faststart, top_level_boxes
from tests.recorder.media import top_level_boxes as boxes_by_reading_whole_file

from .conftest import Recorded
from .media import decoded_frames, packets


def test_full_remux_copies_every_packet_into_a_faststart_file(
    recorded: Recorded, tmp_path: Path
) -> None:
    src = recorded.folder / "program.mp4"
    seen: list[float] = []
    result = remux_faststart(src, tmp_path / "program.mp4", progress=seen.append)

    kinds = [kind for kind, _ in boxes_by_reading_whole_file(result.path)]
    assert kinds.index("moov") < kinds.index("mdat")
    assert [k for k, _ in top_level_boxes(result.path)] == kinds and is_faststart(result.path)
    assert not is_faststart(src)  # the recording itself is fragmented: moov, moof, mdat...

    before, after = packets(src), packets(result.path)
    # No re-encode: the very same compressed bytes, packet for packet.
    assert [p.data for p in after] == [p.data for p in before]
    assert after[0].keyframe and after[0].pts == 0
    assert decoded_frames(result.path) == len(before) == result.frames
    assert result.codec == "h264" and (result.width, result.height) == (320, 240)
    assert result.start == 0 and result.duration == pytest.approx(result.end)
    assert result.size_bytes == result.path.stat().st_size and result.bitrate > 0
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["program.mp4"]  # no temp left


def test_trim_snaps_start_to_the_keyframe_before_and_cuts_before_end(
    recorded: Recorded, tmp_path: Path
) -> None:
    src = recorded.folder / "program.mp4"
    before = packets(src)
    keyframes = [p.seconds for p in before if p.keyframe]
    # Mid-GOP, early enough that start + 1.5 s lies inside a 4 s recording on a busy machine.
    start = (keyframes[1] + keyframes[2]) / 2
    # Halfway between two frames about 1.5 s later: with a 1 s GOP, start + 1.5 itself can fall
    # on a keyframe, and which side of ``end`` that frame lies is then a matter of rounding.
    after_end = next(i for i, p in enumerate(before) if p.seconds >= start + 1.5)
    end = (before[after_end - 1].seconds + before[after_end].seconds) / 2
    result = remux_faststart(src, tmp_path / "cut.mp4", start=start, end=end)

    assert result.start == pytest.approx(keyframes[1])  # at or before start, the nearest
    kept = [p for p in before if keyframes[1] - 1e-6 <= p.seconds and p.seconds < end]
    after = packets(result.path)
    assert after[0].data == kept[0].data and after[0].keyframe  # the source keyframe's bytes
    assert [p.data for p in after] == [p.data for p in kept]
    assert after[0].pts == 0 and after[0].dts == 0  # rebased
    # Exactly the packets before ``end``; the file ends with the last one's duration (which a
    # stalled real-time encoder can make long), so ``result.end`` may pass ``end`` a little.
    assert result.frames == len(kept) and kept[-1].seconds < end <= result.end
    assert result.duration == pytest.approx(result.end - result.start)
    assert decoded_frames(result.path) == len(kept) and is_faststart(result.path)


def test_trim_on_a_keyframe_starts_exactly_there(recorded: Recorded, tmp_path: Path) -> None:
    src = recorded.folder / "program.mp4"
    keyframes = [p.seconds for p in packets(src) if p.keyframe]
    result = remux_faststart(src, tmp_path / "cut.mp4", start=keyframes[1])
    assert result.start == pytest.approx(keyframes[1])


@pytest.mark.parametrize(("start", "end", "message"), [
    (2.0, 1.0, "not after start"),
    (-1.0, None, "negative"),
    (60.0, None, "past the end"),
])
def test_bad_trims_are_refused(recorded: Recorded, tmp_path: Path, start: float,
                               end: float | None, message: str) -> None:
    with pytest.raises(MediaError, match=message):
        remux_faststart(recorded.folder / "program.mp4", tmp_path / "x.mp4", start=start,
                        end=end)
    assert list(tmp_path.iterdir()) == []


def test_missing_and_corrupt_sources_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="missing"):
        remux_faststart(tmp_path / "nope.mp4", tmp_path / "out.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x10notanmp4" * 100)
    with pytest.raises(MediaError, match="junk.mp4"):
        remux_faststart(junk, tmp_path / "out.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.mp4"]

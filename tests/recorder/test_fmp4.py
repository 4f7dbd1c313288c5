"""TrackWriter and part-file recovery against a real encoder, files reopened with PyAV."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import av
import pytest

from recorder.fmp4 import (
    RecoveryError,
    TrackWriter,
    TrackWriterError,
    complete_prefix_length,
    recover_part_file,
)

from .conftest import FPS, HEIGHT, WIDTH, EncoderFactory
from .media import annexb_to_avcc, decode, top_level_boxes


async def record(encoders: EncoderFactory, path: Path, seconds: float, gop: float = 1.0
                 ) -> tuple[TrackWriter, list[Any]]:
    encoder = encoders(gop=gop)
    writer = TrackWriter(path, WIDTH, HEIGHT, FPS, request_keyframe=encoder.request_keyframe)
    seen: list[Any] = []
    encoder.subscribe(seen.append)
    encoder.subscribe(writer.write)
    await asyncio.sleep(seconds)
    encoder.unsubscribe(writer.write)
    encoder.unsubscribe(seen.append)
    return writer, seen


async def test_packets_are_muxed_unchanged_into_one_second_fragments(
    encoders: EncoderFactory, tmp_path: Path
) -> None:
    path = tmp_path / "program.mp4"
    # A 3 s GOP: fragments must still be cut every second.
    writer, seen = await record(encoders, path, 3.2, gop=3.0)
    assert writer.path_part.exists() and not path.exists()
    final = await asyncio.to_thread(writer.close)
    assert final == path and not writer.path_part.exists()

    got = decode(path)
    assert got.codec == "h264" and (got.width, got.height) == (WIDTH, HEIGHT)
    stats = writer.stats()
    assert got.frames == stats.packets
    assert abs(got.frames - FPS * 3.2) <= FPS * 3.2 * 0.1
    assert abs(got.duration - stats.duration) < 0.1
    # No re-encode: the first sample is the encoder's first keyframe, byte for byte.
    first_key = next(p for p in seen if p.is_keyframe)
    assert got.first_packet == annexb_to_avcc(bytes(first_key))
    boxes = [kind for kind, _ in top_level_boxes(path)]
    assert boxes[:2] == ["ftyp", "moov"]
    assert boxes.count("moof") >= 3  # ~3 s in fragments of at most 1 s, with one keyframe
    assert stats.dropped == 0 and stats.bytes > 0


async def test_never_overwrites(encoders: EncoderFactory, tmp_path: Path) -> None:
    existing = tmp_path / "program.mp4"
    existing.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        TrackWriter(existing, WIDTH, HEIGHT, FPS)

    path = tmp_path / "iso.mp4"
    writer, _ = await record(encoders, path, 0.8)
    path.write_bytes(b"appeared meanwhile")
    with pytest.raises(TrackWriterError):
        await asyncio.to_thread(writer.close)
    assert path.read_bytes() == b"appeared meanwhile"
    assert writer.path_part.exists()  # nothing recorded is thrown away


async def test_empty_track_is_refused_and_cleaned(tmp_path: Path) -> None:
    writer = TrackWriter(tmp_path / "x.mp4", WIDTH, HEIGHT, FPS)
    with pytest.raises(TrackWriterError, match="no video"):
        await asyncio.to_thread(writer.close)
    assert list(tmp_path.iterdir()) == []


async def test_recover_part_keeps_complete_fragments(
    encoders: EncoderFactory, tmp_path: Path
) -> None:
    writer, _ = await record(encoders, tmp_path / "full.mp4", 3.1)
    full = await asyncio.to_thread(writer.close)
    total = decode(full).frames
    data = full.read_bytes()
    boxes = top_level_boxes(full)
    # Tear the file inside the third moof, as a crash mid-write would.
    offsets, at = [], 0
    for kind, size in boxes:
        offsets.append((kind, at))
        at += size
    third_moof = [o for kind, o in offsets if kind == "moof"][2]
    part = tmp_path / "cut.mp4.part"
    part.write_bytes(data[: third_moof + 40])
    assert complete_prefix_length(part) == third_moof

    recovered = recover_part_file(part)
    assert recovered == tmp_path / "cut.mp4"
    assert (tmp_path / "cut.mp4.part.orig").exists() and not part.exists()
    got = decode(recovered)
    assert got.codec == "h264" and 0 < got.frames < total
    assert abs(got.frames - 2 * FPS) <= 6  # two one-second fragments survive

    with pytest.raises(RecoveryError, match="exists"):
        (tmp_path / "cut.mp4.part").write_bytes(data)
        recover_part_file(tmp_path / "cut.mp4.part")


def test_recover_part_without_frames_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "a.mp4.part"
    empty.write_bytes(b"")
    with pytest.raises(RecoveryError, match="no complete MP4 header"):
        recover_part_file(empty)
    garbage = tmp_path / "b.mp4.part"
    garbage.write_bytes(b"\x00\x00\x00\x10junkjunkjunkjunk" * 10)
    with pytest.raises(RecoveryError):
        recover_part_file(garbage)
    assert not (tmp_path / "a.mp4").exists() and not (tmp_path / "b.mp4").exists()


async def test_header_only_part_is_a_clear_error(encoders: EncoderFactory, tmp_path: Path) -> None:
    writer, _ = await record(encoders, tmp_path / "full.mp4", 0.5)
    full = await asyncio.to_thread(writer.close)
    _kind, size = top_level_boxes(full)[0]
    moov_end = size + top_level_boxes(full)[1][1]
    part = tmp_path / "header.mp4.part"
    part.write_bytes(full.read_bytes()[:moov_end])
    with pytest.raises(RecoveryError, match="no (complete|decodable) video frame"):
        recover_part_file(part)
    assert part.exists() and not (tmp_path / "header.mp4").exists()
    assert av  # PyAV is what reads the files back


async def test_full_queue_drops_until_next_keyframe(encoders: EncoderFactory, tmp_path: Path
                                                    ) -> None:
    encoder = encoders(gop=0.5)
    seen: list[Any] = []
    encoder.subscribe(seen.append)
    await asyncio.sleep(2.2)
    encoder.unsubscribe(seen.append)
    first_key = next(i for i, p in enumerate(seen) if p.is_keyframe)
    packets = seen[first_key:]
    requests: list[int] = []
    writer = TrackWriter(tmp_path / "burst.mp4", WIDTH, HEIGHT, FPS, max_queue_seconds=0.1,
                         request_keyframe=lambda: requests.append(1))
    for packet in packets:  # a burst far faster than any disk: the 8-packet queue overflows
        writer.write(packet)
    await asyncio.to_thread(writer.close)
    stats = writer.stats()
    assert stats.dropped > 0 and requests
    assert stats.packets + stats.dropped == len(packets)
    got = decode(tmp_path / "burst.mp4")  # what was kept (keyframe onwards) decodes
    assert got.frames == stats.packets

"""Reading recorded files back with PyAV, the way a player would."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import av


@dataclass
class Decoded:
    codec: str
    width: int
    height: int
    frames: int
    duration: float  # seconds from the first frame's pts to the end of the last
    first_packet: bytes


def decode(path: Path) -> Decoded:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        width, height = stream.codec_context.width, stream.codec_context.height
        tb = stream.time_base
        assert tb is not None
        first_packet = b""
        pts: list[int] = []
        frames = 0
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if not first_packet:
                first_packet = bytes(packet)
            assert packet.pts is not None
            pts.append(packet.pts)
            frames += len(packet.decode())
        frames += 0
    step = (max(pts) - min(pts)) / max(1, len(pts) - 1)
    duration = float((max(pts) - min(pts) + step) * tb)
    return Decoded(codec, width, height, frames, duration, first_packet)


def annexb_to_avcc(data: bytes) -> bytes:
    """Annex-B start codes to 4-byte NAL lengths, as the MP4 muxer stores samples."""
    nals = []
    i = 0
    starts = []
    while True:
        j = data.find(b"\x00\x00\x01", i)
        if j < 0:
            break
        starts.append(j + 3)
        i = j + 3
    for n, start in enumerate(starts):
        end = starts[n + 1] - 3 if n + 1 < len(starts) else len(data)
        nal = data[start:end]
        if n + 1 < len(starts) and nal.endswith(b"\x00"):
            nal = nal[:-1]  # the leading zero of a 4-byte start code
        nals.append(nal)
    return b"".join(struct.pack(">I", len(nal)) + nal for nal in nals)


def top_level_boxes(path: Path) -> list[tuple[str, int]]:
    data = path.read_bytes()
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        boxes.append((kind.decode(), size))
        offset += size
    return boxes

"""Reading MP4 files back with PyAV for the assertions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av


@dataclass(frozen=True)
class Pkt:
    data: bytes
    pts: int
    dts: int
    keyframe: bool
    seconds: float  # pts in seconds


def packets(path: Path) -> list[Pkt]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = stream.time_base
        assert tb is not None
        out = []
        for p in container.demux(stream):
            if p.size == 0:
                continue
            assert p.pts is not None and p.dts is not None
            out.append(Pkt(bytes(p), p.pts, p.dts, bool(p.is_keyframe), float(p.pts * tb)))
        return out


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))

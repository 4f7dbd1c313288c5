"""Masks drawn after the fact: blur a region of one view for a time range, re-encoding only the
GOPs that the range touches and copying every other packet as it is.

A cut inside a GOP is impossible without re-encoding (the frames after the keyframe depend on
it), and re-encoding a whole 60-minute view costs minutes for a 30-second mask. So the
published file is the remuxed track with each masked range widened to whole GOPs, from the
keyframe at or before its start to the keyframe at or after its end: those frames are decoded,
the region is pixelated where the mask applies, and they are encoded again (libx264, constrained
baseline as the room's encoders, a fresh IDR first). Every other packet is copied.

The re-encoded GOPs carry their own SPS/PPS in band; the first copied keyframe after them gets
the original's SPS/PPS (from the track's ``avcC``) put back in front, so a decoder returns to
the original parameters there whatever the recording's encoder repeated in band.
"""

from __future__ import annotations

import fractions
import os
import struct
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import av
import cv2
import numpy as np
from av.video.codeccontext import VideoCodecContext

from library.publishing.errors import MediaError

MOSAIC_BLOCKS = 8  # the region is shrunk to at most this many blocks across, then enlarged
REENCODE_CRF = "16"  # visually the same as the source outside the masked region


@dataclass(frozen=True)
class MaskRegion:
    """Seconds on the file's own clock (0 = its first frame), region in picture fractions."""

    start: float
    end: float
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class MaskResult:
    segments: tuple[tuple[float, float], ...]  # re-encoded, file seconds (whole GOPs)
    reencoded_frames: int
    copied_packets: int
    duration: float

    @property
    def reencoded_seconds(self) -> float:
        return sum(b - a for a, b in self.segments)


def _avcc_parameter_sets(extradata: bytes | None) -> tuple[int, list[bytes]]:
    """(NAL length size, [SPS..., PPS...]) from an ``avcC`` record."""
    if not extradata or extradata[0] != 1 or len(extradata) < 7:
        return 4, []
    length_size = (extradata[4] & 3) + 1
    out: list[bytes] = []
    pos = 5
    count = extradata[pos] & 0x1F
    pos += 1
    for _ in range(count):
        (size,) = struct.unpack(">H", extradata[pos:pos + 2])
        out.append(extradata[pos + 2:pos + 2 + size])
        pos += 2 + size
    count = extradata[pos]
    pos += 1
    for _ in range(count):
        (size,) = struct.unpack(">H", extradata[pos:pos + 2])
        out.append(extradata[pos + 2:pos + 2 + size])
        pos += 2 + size
    return length_size, out


def _annexb_nals(data: bytes) -> Iterator[bytes]:
    """The NAL units of an Annex B access unit (start codes of 3 or 4 bytes)."""
    at = data.find(b"\x00\x00\x01")
    while at != -1:
        body = at + 3
        following = data.find(b"\x00\x00\x01", body)
        end = len(data) if following == -1 else following
        # A 4-byte start code leaves its leading zero at the end of the unit before.
        nal = data[body:end] if following == -1 else data[body:end].rstrip(b"\x00")
        if nal:
            yield nal
        at = following


def _length_prefixed(nals: Sequence[bytes], size: int) -> bytes:
    return b"".join(len(nal).to_bytes(size, "big") + nal for nal in nals)


def _mosaic_plane(plane: np.ndarray[Any, Any], region: MaskRegion) -> None:
    h, w = plane.shape[:2]
    x0, y0 = int(region.x * w), int(region.y * h)
    x1 = min(w, round((region.x + region.w) * w))
    y1 = min(h, round((region.y + region.h) * h))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    patch = np.ascontiguousarray(plane[y0:y1, x0:x1])
    cols = max(1, min(MOSAIC_BLOCKS, (x1 - x0) // 4))
    rows = max(1, round(cols * (y1 - y0) / (x1 - x0)))
    small = cv2.resize(patch, (cols, rows), interpolation=cv2.INTER_AREA)
    plane[y0:y1, x0:x1] = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)


def _mosaic(yuv: np.ndarray[Any, Any], width: int, height: int, region: MaskRegion) -> None:
    """Pixelate ``region`` of a yuv420p frame in place, plane by plane: the rest of the picture
    keeps its exact samples (no colour conversion round trip)."""
    ch, cw = height // 2, width // 2
    _mosaic_plane(yuv[:height], region)
    chroma = yuv[height:].reshape(2, ch, cw)
    _mosaic_plane(chroma[0], region)
    _mosaic_plane(chroma[1], region)
    yuv[height:] = chroma.reshape(-1, width)


def gop_segments(keyframes: Sequence[float], duration: float,
                 masks: Sequence[MaskRegion]) -> list[tuple[float, float]]:
    """Each mask's range widened to whole GOPs (keyframe at or before its start to the keyframe
    at or after its end, or the end of the file), overlapping ones merged."""
    spans: list[tuple[float, float]] = []
    eps = 1e-6
    for mask in masks:
        start = max([k for k in keyframes if k <= mask.start + eps], default=0.0)
        end = min([k for k in keyframes if k >= mask.end - eps], default=duration)
        if end > start:
            spans.append((start, end))
    merged: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1] + eps:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def apply_masks(src: Path, dst: Path, masks: Sequence[MaskRegion],
                progress: Callable[[float], None] | None = None) -> MaskResult:
    """Write ``src`` (a faststart MP4 of one H.264 view) to ``dst`` with ``masks`` burnt in.
    (Publishing does this inside its remux pass: ``remux_faststart(masks=...)``.)"""
    from library.publishing.remux import check_playable  # remux builds on this module

    temp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        result = _apply(src, temp, masks, progress)
        check_playable(temp)
        with open(temp, "rb") as done:
            os.fsync(done.fileno())
        os.replace(temp, dst)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return result


def _index(src: Path) -> tuple[list[float], float, int]:
    with av.open(str(src)) as container:
        video = container.streams.video[0]
        tb = video.time_base
        assert tb is not None
        keys: list[float] = []
        last = 0.0
        count = 0
        origin: int | None = None
        for packet in container.demux(video):
            if packet.pts is None:
                continue
            origin = packet.pts if origin is None else origin
            t = float((packet.pts - origin) * tb)
            if packet.is_keyframe:
                keys.append(t)
            last = max(last, t + float((packet.duration or 0) * tb))
            count += 1
        return keys, last, count


class _Reencoder:
    """One re-encoded run of GOPs: a fresh decoder from its keyframe, a fresh encoder whose
    first frame is an IDR, the masks pixelated in between."""

    def __init__(self, video: av.video.stream.VideoStream, tb: fractions.Fraction,
                 masks: Sequence[MaskRegion], origin: int, shift: float,
                 emit: Callable[[Sequence[av.Packet[Any]]], None]) -> None:
        self.decoder = cast(VideoCodecContext,
                            av.CodecContext.create(video.codec_context.name, "r"))
        self.decoder.extradata = video.codec_context.extradata
        self.encoder = _encoder(video, tb, float(video.average_rate or 30))
        # A frame's mask time: (pts - origin) * tb + shift (the masks' own clock).
        self.tb, self.masks, self.origin, self.shift, self.emit = tb, masks, origin, shift, emit
        self.frames = 0

    def _encode(self, frames: Sequence[av.VideoFrame]) -> None:
        for frame in frames:
            t = (float((frame.pts - self.origin) * self.tb) + self.shift
                 if frame.pts is not None else 0.0)
            live = [m for m in self.masks if m.start - 1e-6 <= t < m.end]
            out = frame.reformat(format="yuv420p")
            if live:
                yuv = out.to_ndarray()
                for mask in live:
                    _mosaic(yuv, out.width, out.height, mask)
                out = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            out.pts, out.time_base = frame.pts, self.tb
            out.pict_type = (av.video.frame.PictureType.I if self.frames == 0
                             else av.video.frame.PictureType.NONE)
            self.frames += 1
            self.emit(self.encoder.encode(out))

    def feed(self, packet: av.Packet[Any]) -> None:
        self._encode(self.decoder.decode(packet))

    def finish(self) -> int:
        self._encode(self.decoder.decode(None))
        self.emit(self.encoder.encode(None))
        return self.frames


class GopMasker:
    """Writes a packet stream into ``target`` GOP by GOP: a GOP that a mask overlaps is decoded,
    masked and encoded again (consecutive ones in one run), every other GOP is copied.

    One GOP is held back until the next keyframe shows where it ends. Packets come with their
    time on the masks' clock (``push(packet, t)``) and leave with the timestamps they came with.
    """

    def __init__(self, video: av.video.stream.VideoStream, out: av.container.OutputContainer,
                 target: av.video.stream.VideoStream, masks: Sequence[MaskRegion], *,
                 origin: int = 0, shift: float = 0.0) -> None:
        tb = video.time_base
        assert tb is not None
        self.video, self.out, self.target, self.masks, self.tb = video, out, target, masks, tb
        self.origin, self.shift = origin, shift
        self.length_size, self.parameter_sets = _avcc_parameter_sets(
            video.codec_context.extradata)
        self.gop: list[tuple[av.Packet[Any], float]] = []
        self.running: _Reencoder | None = None
        self.after_segment = False
        self.segments: list[tuple[float, float]] = []
        self.reencoded = self.copied = 0

    def _emit(self, packets: Sequence[av.Packet[Any]]) -> None:
        # The encoder speaks Annex B; the MP4 track holds length-prefixed NAL units.
        for p in packets:
            nals = [n for n in _annexb_nals(bytes(p)) if n[0] & 0x1F not in (6, 9)]
            packet: av.Packet[Any] = av.Packet(_length_prefixed(nals, self.length_size))
            packet.pts, packet.dts, packet.time_base = p.pts, p.pts, self.tb
            packet.is_keyframe = bool(p.is_keyframe)
            packet.stream = self.target
            self.out.mux(packet)

    def push(self, packet: av.Packet[Any], t: float) -> None:
        if packet.is_keyframe and self.gop:
            self._write_gop(t)
        self.gop.append((packet, t))

    def finish(self, end: float) -> None:
        if self.gop:
            self._write_gop(end)
        self._end_run()

    def _end_run(self) -> None:
        if self.running is not None:
            self.reencoded += self.running.finish()
            self.running, self.after_segment = None, True

    def _write_gop(self, next_key: float) -> None:
        start = self.gop[0][1]
        if any(m.start < next_key and m.end > start for m in self.masks):
            if self.running is None:
                self.running = _Reencoder(self.video, self.tb, self.masks, self.origin,
                                          self.shift, self._emit)
                self.segments.append((start, next_key))
            self.segments[-1] = (self.segments[-1][0], next_key)
            for packet, _ in self.gop:
                self.running.feed(packet)
        else:
            self._end_run()
            for index, (packet, _) in enumerate(self.gop):
                if index == 0 and self.after_segment and self.parameter_sets:
                    # Back to the original parameters, whatever was repeated in band.
                    data = _length_prefixed(self.parameter_sets, self.length_size) + bytes(packet)
                    fixed: av.Packet[Any] = av.Packet(data)
                    fixed.pts, fixed.dts, fixed.time_base = packet.pts, packet.dts, self.tb
                    fixed.duration = packet.duration
                    fixed.is_keyframe = True
                    packet = fixed
                self.after_segment = False
                packet.stream = self.target
                self.out.mux(packet)
                self.copied += 1
        self.gop = []

    def result(self, duration: float) -> MaskResult:
        return MaskResult(segments=tuple((round(a, 3), round(b, 3)) for a, b in self.segments),
                          reencoded_frames=self.reencoded, copied_packets=self.copied,
                          duration=round(duration, 3))


def _apply(src: Path, dst: Path, masks: Sequence[MaskRegion],
           progress: Callable[[float], None] | None) -> MaskResult:
    from library.publishing.remux import FASTSTART_OPTIONS

    _keys, duration, total = _index(src)
    done = 0
    try:
        container = av.open(str(src))
    except av.FFmpegError as exc:
        raise MediaError(f"{src.name} cannot be read: {exc}") from exc
    with container, av.open(str(dst), "w", format="mp4", options=dict(FASTSTART_OPTIONS)) as out:
        video = container.streams.video[0]
        tb = video.time_base
        assert tb is not None
        target = out.add_stream_from_template(video)
        masker: GopMasker | None = None
        try:
            for packet in container.demux(video):
                if packet.pts is None:
                    continue
                if masker is None:
                    masker = GopMasker(video, out, target, masks, origin=packet.pts)
                masker.push(packet, float((packet.pts - masker.origin) * tb))
                done += 1
                if progress is not None and done % 250 == 0:
                    progress(done / max(1, total))
            if masker is None:
                raise MediaError(f"{src.name} holds no video")
            masker.finish(duration)
        except av.FFmpegError as exc:
            raise MediaError(f"masking {src.name} failed: {exc}") from exc
    return masker.result(duration)


def _encoder(video: av.video.stream.VideoStream, tb: fractions.Fraction, fps: float
             ) -> VideoCodecContext:
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width = video.codec_context.width
    encoder.height = video.codec_context.height
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = tb
    encoder.framerate = fractions.Fraction(round(fps * 1000), 1000)
    encoder.gop_size = 100000  # one IDR at the start: the segment ends where a GOP begins
    encoder.options = {"preset": "veryfast", "tune": "zerolatency", "profile": "baseline",
                       "crf": REENCODE_CRF, "x264-params": "scenecut=0:repeat-headers=1"}
    encoder.open()
    return encoder

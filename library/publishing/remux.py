"""Fragmented recording track -> faststart MP4, by stream copy, optionally trimmed at keyframes.

Recordings are fragmented MP4 (``moof``/``mdat`` pairs, crash-safe while recording); browsers
seek in those only after fetching every fragment header. A published lesson is a plain MP4
with ``moov`` (the full sample index) before ``mdat``, so the player's first range request
gets the index and every seek is one more range request.

Nothing is decoded or encoded: packets are copied as they are (``add_stream_from_template``
gives a stream whose codec context is never opened). That keeps publishing a 60-minute
recording to disk speed, and keeps the picture bit-identical to what the room saw. The price:
cuts can only fall on keyframes, so ``start`` snaps back to the keyframe at or before it.
"""

from __future__ import annotations

import os
import struct
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import av

from library.publishing.errors import MediaError
from library.publishing.masking import GopMasker, MaskRegion, MaskResult

ProgressFn = Callable[[float], None]

# The mp4 muxer's "+faststart" rewrites the file once at the end with moov moved to the front.
FASTSTART_OPTIONS = {"movflags": "+faststart"}


@dataclass(frozen=True)
class RemuxResult:
    path: Path
    codec: str
    profile: str | None
    width: int
    height: int
    frames: int
    duration: float  # seconds, first frame to the end of the last one
    size_bytes: int
    start: float  # seconds into the source where the output begins (a keyframe)
    end: float  # seconds into the source where the output ends
    masked: MaskResult | None = None  # what the masks re-encoded (source seconds)

    @property
    def bitrate(self) -> int:
        """Average bits per second over the whole file (container overhead included)."""
        return round(self.size_bytes * 8 / self.duration) if self.duration > 0 else 0


def remux_faststart(
    src_fmp4: Path,
    dst_mp4: Path,
    *,
    start: float | None = None,
    end: float | None = None,
    progress: ProgressFn | None = None,
    masks: Sequence[MaskRegion] = (),
) -> RemuxResult:
    """Copy the video of ``src_fmp4`` into a faststart ``dst_mp4``, trimmed to [start, end).

    ``start`` and ``end`` are seconds into the source (from its first frame). The output begins
    at the keyframe at or before ``start`` and holds every packet that decodes before ``end``;
    its timestamps start at 0. The result is written to a temporary file, checked (``moov``
    before ``mdat``, first frame decodes) and renamed to ``dst_mp4`` only when complete, so a
    crash never leaves a truncated file under the final name. Raises ``MediaError``.

    ``masks`` (seconds into the source) are burnt in on the way: the GOPs they touch are
    re-encoded, everything else is copied, in this one pass (``masking.GopMasker``).
    """
    if start is not None and start < 0:
        raise MediaError(f"trim start {start} is negative")
    if start is not None and end is not None and end <= start:
        raise MediaError(f"trim end {end} s is not after start {start} s")
    temp = dst_mp4.with_name(f".{dst_mp4.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        result = _remux(src_fmp4, temp, start, end, progress, masks)
        check_playable(temp)
        with open(temp, "rb") as done:
            os.fsync(done.fileno())
        os.replace(temp, dst_mp4)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if progress is not None:
        progress(1.0)
    return replace(result, path=dst_mp4, size_bytes=dst_mp4.stat().st_size)


def _open_video(path: Path) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    if not path.is_file():
        raise MediaError(f"{path.name} is missing")
    try:
        container = av.open(str(path), "r")
    except av.FFmpegError as exc:
        raise MediaError(f"{path.name} cannot be read as video: {exc}") from exc
    if not container.streams.video:
        container.close()
        raise MediaError(f"{path.name} has no video track")
    return container, container.streams.video[0]


def _remux(src: Path, dst: Path, start: float | None, end: float | None,
           progress: ProgressFn | None, masks: Sequence[MaskRegion] = ()) -> RemuxResult:
    container, video = _open_video(src)
    with container:
        tb = video.time_base
        if tb is None:
            raise MediaError(f"{src.name}: video track has no time base")
        total = float(video.duration * tb) if video.duration else None
        packets = _packets(container, video, src)
        first = next(packets, None)
        if first is None:
            raise MediaError(f"{src.name} holds no video packets")
        origin = _ts(first)  # "seconds into the source" count from the first packet
        packets = _chain(first, packets)
        start_ticks = origin + (round(start / tb) if start else 0)
        end_ticks = origin + round(end / tb) if end is not None else None

        ctx = video.codec_context
        frames = 0
        offset: int | None = None
        last_end = 0
        reported = 0.0
        span = ((end if end is not None else total or 0.0) - (start or 0.0)) or None
        masker: GopMasker | None = None
        with av.open(str(dst), "w", format="mp4", options=dict(FASTSTART_OPTIONS)) as out:
            target = out.add_stream_from_template(video)
            for packet in _from_keyframe(packets, start_ticks):
                dts = _ts(packet)
                # A prefix in decode order always decodes (no frame refers to a later one).
                if end_ticks is not None and dts >= end_ticks:
                    break
                if offset is None:
                    offset = dts  # the keyframe: rebased to 0
                pts = packet.pts if packet.pts is not None else dts
                last_end = max(last_end, pts - offset + (packet.duration or 0))
                packet.pts = pts - offset
                packet.dts = dts - offset
                if masks:
                    if masker is None:
                        # Frames carry output timestamps; the masks count from the source's start.
                        masker = GopMasker(video, out, target, masks,
                                           shift=float((offset - origin) * tb))
                    try:
                        masker.push(packet, float((dts - origin) * tb))
                    except av.FFmpegError as exc:
                        raise MediaError(f"{src.name}: masking failed: {exc}") from exc
                else:
                    packet.stream = target
                    out.mux(packet)
                frames += 1
                if progress is not None and span:
                    done = min(0.99, (dts - offset) * tb / span)
                    if done - reported >= 0.01:
                        reported = float(done)
                        progress(reported)
            if masker is not None and offset is not None:
                masker.finish(float((offset - origin + last_end) * tb))
        if offset is None:
            raise MediaError(
                f"{src.name}: nothing left between {start or 0:g} s and {end:g} s"
                if end is not None else f"{src.name}: {start or 0:g} s is past the end of the video"
            )
        return RemuxResult(
            path=dst, codec=ctx.name, profile=ctx.profile, width=ctx.width, height=ctx.height,
            frames=frames, duration=float(last_end * tb), size_bytes=0,
            start=float((offset - origin) * tb), end=float((offset - origin + last_end) * tb),
            masked=None if masker is None else masker.result(float(last_end * tb)),
        )


def _ts(packet: av.Packet[Any]) -> int:
    value = packet.dts if packet.dts is not None else packet.pts
    assert value is not None  # _packets drops packets without timestamps
    return value


def _packets(container: av.container.InputContainer, video: av.video.stream.VideoStream,
             src: Path) -> Iterator[av.Packet[Any]]:
    try:
        for packet in container.demux(video):
            # The demuxer ends with an empty flush packet; a packet without timestamps cannot
            # be placed in the output at all.
            if packet.size == 0 or (packet.dts is None and packet.pts is None):
                continue
            yield packet
    except av.FFmpegError as exc:
        raise MediaError(f"{src.name} is damaged: {exc}") from exc


def _chain(first: av.Packet[Any], rest: Iterator[av.Packet[Any]]) -> Iterator[av.Packet[Any]]:
    yield first
    yield from rest


def _from_keyframe(packets: Iterable[av.Packet[Any]], start_ticks: int
                   ) -> Iterator[av.Packet[Any]]:
    """Packets from the last keyframe at or before ``start_ticks`` (in decode order).

    One pass, holding back at most one GOP: a fragmented file has no global index to look the
    keyframe up in, and demuxing (unlike decoding) costs next to nothing.
    """
    gop: list[av.Packet[Any]] = []
    it = iter(packets)
    for packet in it:
        if packet.is_keyframe and gop and _ts(packet) > start_ticks:
            yield from gop
            yield packet
            yield from it
            return
        if packet.is_keyframe:
            gop = [packet]
        elif gop:
            gop.append(packet)
        # Packets before the first keyframe refer to pictures we do not have: dropped.
    if gop and _ts(gop[-1]) >= start_ticks:
        yield from gop  # the last GOP holds the start; a start past the end yields nothing


# -- checking the output -----------------------------------------------------------------------
def top_level_boxes(path: Path) -> list[tuple[str, int]]:
    """(type, size) of each top-level box, read from the headers only (no data is loaded)."""
    boxes: list[tuple[str, int]] = []
    size_total = path.stat().st_size
    offset = 0
    with open(path, "rb") as f:
        while offset + 8 <= size_total:
            f.seek(offset)
            size, kind = struct.unpack(">I4s", f.read(8))
            if size == 1:  # 64-bit "largesize" follows: an mdat over 4 GiB
                (size,) = struct.unpack(">Q", f.read(8))
            elif size == 0:  # runs to the end of the file
                size = size_total - offset
            if size < 8:
                raise MediaError(f"{path.name}: malformed MP4 box at byte {offset}")
            boxes.append((kind.decode("latin-1"), size))
            offset += size
    return boxes


def is_faststart(path: Path) -> bool:
    """``moov`` before ``mdat`` and no fragments: the whole sample index comes first.

    A fragmented file also starts with a ``moov``, but an empty one: its index is spread over
    the ``moof`` boxes, which is what publishing removes.
    """
    kinds = [kind for kind, _ in top_level_boxes(path)]
    return ("moov" in kinds and "mdat" in kinds and "moof" not in kinds
            and kinds.index("moov") < kinds.index("mdat"))


def check_playable(path: Path) -> None:
    """Raise ``MediaError`` unless ``path`` is faststart and its first frame decodes."""
    if not is_faststart(path):
        raise MediaError(f"{path.name}: the index (moov) is not in front of the media; "
                         "the file is not faststart")
    container, video = _open_video(path)
    with container:
        try:
            for _frame in container.decode(video):
                return
        except av.FFmpegError as exc:
            raise MediaError(f"{path.name}: first frame does not decode: {exc}") from exc
    raise MediaError(f"{path.name}: no frame decodes")



# -- the program audio -----------------------------------------------------------------------------
def remux_audio_faststart(src: Path, dst: Path, *, start: float, end: float | None
                          ) -> RemuxResult:
    """Copy the audio of ``src`` (seconds ``start``..``end`` from its first packet) into a
    faststart ``dst``. Every Opus packet decodes alone, so any packet boundary is a cut point."""
    temp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        try:
            container = av.open(str(src), "r")
        except av.FFmpegError as exc:
            raise MediaError(f"{src.name} cannot be read as audio: {exc}") from exc
        with container:
            if not container.streams.audio:
                raise MediaError(f"{src.name} has no audio track")
            audio = container.streams.audio[0]
            tb = audio.time_base
            if tb is None:
                raise MediaError(f"{src.name}: audio track has no time base")
            origin: int | None = None
            offset: int | None = None
            packets = last_end = 0
            with av.open(str(temp), "w", format="mp4", options=dict(FASTSTART_OPTIONS)) as out:
                target = out.add_stream_from_template(audio)
                try:
                    for packet in container.demux(audio):
                        if packet.size == 0 or packet.pts is None:
                            continue
                        origin = packet.pts if origin is None else origin
                        seconds = float((packet.pts - origin) * tb)
                        if seconds < start:
                            continue
                        if end is not None and seconds >= end:
                            break
                        offset = packet.pts if offset is None else offset
                        packet.pts = packet.dts = packet.pts - offset
                        last_end = packet.pts + (packet.duration or 0)
                        packet.stream = target
                        out.mux(packet)
                        packets += 1
                except av.FFmpegError as exc:
                    raise MediaError(f"{src.name} is damaged: {exc}") from exc
        if offset is None or origin is None:
            raise MediaError(f"{src.name}: no sound between {start:g} s and "
                             f"{'the end' if end is None else f'{end:g} s'}")
        with open(temp, "rb") as done:
            os.fsync(done.fileno())
        os.replace(temp, dst)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    first = float((offset - origin) * tb)
    return RemuxResult(path=dst, codec=audio.codec_context.name, profile=None, width=0,
                       height=0, frames=packets, duration=float(last_end * tb),
                       size_bytes=dst.stat().st_size, start=first,
                       end=first + float(last_end * tb))

"""Fragmented MP4 track files written from encoded H.264 packets, and their crash recovery
(the program audio's Opus writer builds on this one: ``recorder.audio_track``).

A ``TrackWriter`` takes the shared encoder's Annex-B packets on the event loop and muxes them,
without re-encoding, into ``<name>.mp4.part`` from a worker thread of its own, so a slow disk
never stalls the loop (or the viewers fed from it). The file is fragmented (``empty_moov``, a
fragment per keyframe and at least every second) and fsynced about once a second, so a power cut
loses at most the fragment being built plus the last second not yet synced (about 2 s), and a
SIGKILL loses only the fragment being built. ``close()`` renames the part to ``<name>.mp4``;
an existing file is never overwritten.

``recover_part_file`` turns a part file left by a crash into a normal MP4, keeping only the
complete fragments (a torn last fragment makes FFmpeg's demuxer refuse the whole file when the
tear is inside a ``moof``, so the tear is cut off before demuxing).
"""

from __future__ import annotations

import errno
import fractions
import io
import logging
import os
import queue
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from recorder.clock import MediaClock
from recorder.durable import fsync_directory

logger = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000
TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
PART_SUFFIX = ".part"

# Fragments are cut at every keyframe and, for long GOPs, after one second (frag_duration is in
# microseconds): a crash then loses at most about a second of video, whatever the GOP length.
FRAGMENT_OPTIONS = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "1000000",
    # Hand every finished fragment to the file at once instead of keeping it in AVIO's buffer,
    # so the periodic fsync covers it.
    "flush_packets": "1",
}


class TrackWriterError(Exception):
    """A track file could not be written; ``str()`` says why."""


class DiskFullError(TrackWriterError):
    pass


class FolderLostError(TrackWriterError):
    pass


class EmptyTrackError(TrackWriterError):
    """No keyframe ever arrived, so there is nothing to keep."""


class RecoveryError(Exception):
    """A part file could not be recovered; ``str()`` says why."""


@dataclass(frozen=True)
class TrackStats:
    packets: int
    bytes: int
    duration: float  # seconds of media written (first frame to end of last frame)
    dropped: int  # packets lost because the writer's queue was full
    size_bytes: int  # bytes on disk
    media_offset: float | None  # media-clock seconds at which this track's first frame arrived
    error: str | None


@dataclass(frozen=True)
class QueuedPacket:
    data: bytes
    pts: int
    keyframe: bool
    duration: int = 0


_CLOSE = object()


def _describe(exc: BaseException, part: Path) -> TrackWriterError:
    if isinstance(exc, TrackWriterError):
        return exc
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return DiskFullError("disk full")
    if isinstance(exc, FileNotFoundError):
        return FolderLostError(f"recording folder {part.parent} was deleted")
    return TrackWriterError(f"writing {part.name} failed: {exc}")


def _publish(src: Path, final: Path) -> None:
    """Give ``src`` the name ``final`` atomically, failing if ``final`` exists."""
    # link() refuses an existing target, where rename() would silently replace it.
    os.link(src, final)
    os.unlink(src)
    fsync_directory(final.parent)


class TrackWriter:
    """Muxes one track's packets into ``<name>.mp4.part``; renames it on ``close()``.

    ``write`` and ``pause``/``resume`` are called on the event loop thread; the file work is
    done by the writer's own thread. ``clock`` gives media seconds (paused time excluded); it
    anchors the first packet after a resume so the paused time is cut from the file while the
    track stays on the session clock. Without one, the writer keeps its own. ``on_error`` is
    called from the writer thread, once, when the track fails.
    """

    def __init__(
        self,
        path_final: Path,
        width: int,
        height: int,
        fps: int,
        *,
        clock: Callable[[], float] | None = None,
        request_keyframe: Callable[[], None] | None = None,
        on_error: Callable[[TrackWriter, TrackWriterError], None] | None = None,
        max_queue_seconds: float = 4.0,
        fsync_interval: float = 1.0,
    ) -> None:
        if path_final.suffix != ".mp4":
            raise ValueError(f"track file must end in .mp4: {path_final}")
        if path_final.exists():
            raise FileExistsError(f"{path_final} exists; recordings are never overwritten")
        self.path_final = path_final
        self.path_part = path_final.with_name(path_final.name + PART_SUFFIX)
        self.width, self.height, self.fps = width, height, fps
        self._own_clock = MediaClock() if clock is None else None
        if self._own_clock is not None:
            self._own_clock.start()
        self._clock: Callable[[], float] = clock or self._own_clock or MediaClock()
        self._request_keyframe = request_keyframe
        self._on_error = on_error
        self._fsync_interval = fsync_interval
        self._frame_ticks = max(1, VIDEO_CLOCK // max(1, fps))
        self._rate = VIDEO_CLOCK  # ticks per second of the file's time base
        # Bounded so a stuck disk costs memory for a few seconds of video at most.
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(8, int(fps * max_queue_seconds)))
        # Exclusive create: a part file of an earlier session is never truncated.
        self._file = open(self.path_part, "xb", buffering=0)  # noqa: SIM115 (closed by thread)
        # loop-side state
        self._paused = False
        self._closing = False
        self._need_keyframe = True
        self._reanchor = False
        self._shift: int | None = None
        self._last_pts = -1
        self._dropped = 0
        self._media_offset: float | None = None
        # thread-side state (read by stats() without a lock: ints are replaced atomically)
        self._packets = 0
        self._bytes = 0
        self._first_written: int | None = None
        self._last_written: int | None = None
        self._container: Any = None
        self._stream: Any = None
        self.error: TrackWriterError | None = None
        self.final_path: Path | None = None
        self.cpu_seconds = 0.0
        self._thread = threading.Thread(
            target=self._run, name=f"track-{path_final.stem}", daemon=True
        )
        self._thread.start()

    # -- event loop side -------------------------------------------------------------------
    def write(self, packet: av.Packet[Any]) -> None:
        """Queue one encoded packet; never blocks. Packets before the first keyframe are skipped."""
        if self._paused or self._closing or self.error is not None or packet.pts is None:
            return
        tb = packet.time_base or TIME_BASE
        pts = packet.pts if tb == TIME_BASE else int(packet.pts * tb * VIDEO_CLOCK)
        if self._need_keyframe:
            if not packet.is_keyframe:
                if self._shift is not None and not self._reanchor:
                    self._dropped += 1  # lost after an overflow, not merely before the start
                return
            self._need_keyframe = False
            if self._shift is None:
                self._media_offset = self._clock()
                self._shift = -pts
            elif self._reanchor:
                # After a pause: place the keyframe where the session clock says it belongs,
                # which cuts the paused time out and keeps this track aligned with the others.
                assert self._media_offset is not None
                at = round((self._clock() - self._media_offset) * VIDEO_CLOCK)
                self._shift = max(at, self._last_pts + self._frame_ticks) - pts
            self._reanchor = False
        assert self._shift is not None
        # A keyframe after an overflow keeps the old shift: the lost packets leave a gap.
        file_pts = max(pts + self._shift, self._last_pts + 1)
        try:
            self._queue.put_nowait(QueuedPacket(bytes(packet), file_pts, bool(packet.is_keyframe)))
        except queue.Full:
            self._dropped += 1
            self._need_keyframe = True  # a P-frame without its predecessors is garbage
            if self._request_keyframe is not None:
                self._request_keyframe()
            return
        self._last_pts = file_pts

    def pause(self) -> None:
        self._paused = True
        if self._own_clock is not None:
            self._own_clock.pause()

    def resume(self) -> None:
        if not self._paused:
            return
        if self._own_clock is not None:
            self._own_clock.resume()
        self._paused = False
        self._resumed()

    def _resumed(self) -> None:
        """How this kind of track picks up after a pause: video waits for a fresh keyframe."""
        self._need_keyframe = True
        self._reanchor = self._shift is not None
        if self._request_keyframe is not None:
            self._request_keyframe()

    def stats(self) -> TrackStats:
        first, last = self._first_written, self._last_written
        duration = 0.0
        if first is not None and last is not None:
            duration = (last - first + self._frame_ticks) / self._rate
        path = self.final_path or self.path_part
        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        return TrackStats(
            packets=self._packets,
            bytes=self._bytes,
            duration=duration,
            dropped=self._dropped,
            size_bytes=size,
            media_offset=self._media_offset,
            error=str(self.error) if self.error else None,
        )

    @property
    def failed(self) -> bool:
        return self.error is not None

    def anchor(self) -> int | None:
        """What this track adds to an encoder pts to get the file pts (90 kHz ticks), or None
        while it waits for its first keyframe or for the keyframe after a resume."""
        if self._shift is None or self._reanchor or self._paused:
            return None
        return self._shift

    def close(self, timeout: float = 30.0) -> Path:
        """Flush, fsync and rename the part file; blocking (call it off the loop).

        Returns the final path. Raises ``EmptyTrackError`` if no keyframe ever arrived (the
        empty part file is removed) and the writer's error if it failed (whatever could be
        saved of a failed track is already at ``final_path``).
        """
        self._closing = True
        if self._thread.is_alive():
            self._queue.put(_CLOSE)  # blocks only while the queue is full, i.e. briefly
            self._thread.join(timeout)
        if self._thread.is_alive():
            raise TrackWriterError(f"{self.path_part.name}: writer did not finish in {timeout} s")
        if self.error is not None:
            raise self.error
        assert self.final_path is not None or self._packets == 0
        if self.final_path is None:
            raise EmptyTrackError(f"{self.path_final.name}: no video arrived; nothing recorded")
        return self.final_path

    # -- writer thread ---------------------------------------------------------------------
    def _run(self) -> None:
        cpu0 = time.thread_time()
        last_sync = time.monotonic()
        try:
            while True:
                try:
                    item = self._queue.get(timeout=self._fsync_interval / 2)
                except queue.Empty:
                    item = None
                if item is _CLOSE:
                    break
                if isinstance(item, QueuedPacket):
                    self._mux(item)
                now = time.monotonic()
                if now - last_sync >= self._fsync_interval:
                    self._sync()
                    last_sync = now
            self._finish()
        except BaseException as exc:  # noqa: BLE001 (a track failure must never kill the loop)
            self._fail(exc)
        finally:
            self.cpu_seconds = time.thread_time() - cpu0

    def _open(self) -> None:
        container = av.open(self._file, "w", format="mp4", options=dict(FRAGMENT_OPTIONS))
        # A mux stream has no codec context, so nothing is ever encoded; the MP4 muxer builds
        # its avcC from the SPS/PPS in the first keyframe.
        stream = container.add_mux_stream(
            "h264", rate=self.fps, width=self.width, height=self.height
        )
        stream.time_base = TIME_BASE
        self._container, self._stream = container, stream

    def _mux(self, item: QueuedPacket) -> None:
        if self._container is None:
            self._open()
        packet = av.Packet(item.data)
        packet.pts = packet.dts = item.pts
        packet.time_base = self._stream.time_base
        packet.is_keyframe = item.keyframe
        if item.duration:
            packet.duration = item.duration
        packet.stream = self._stream
        self._container.mux(packet)
        self._packets += 1
        self._bytes += len(item.data)
        if self._first_written is None:
            self._first_written = item.pts
        self._last_written = item.pts

    def _sync(self) -> None:
        # Unlinked files keep accepting writes on Linux: notice a deleted folder ourselves.
        try:
            on_disk = os.stat(self.path_part)
        except FileNotFoundError:
            raise FolderLostError(
                f"recording folder {self.path_part.parent} was deleted while recording"
            ) from None
        if on_disk.st_ino != os.fstat(self._file.fileno()).st_ino:
            raise FolderLostError(f"{self.path_part} was replaced while recording")
        os.fsync(self._file.fileno())

    def _finish(self) -> None:
        if self._container is not None:
            self._container.close()
        self._sync()
        self._file.close()
        if self._packets == 0:
            self.path_part.unlink(missing_ok=True)
            return
        _publish(self.path_part, self.path_final)
        self.final_path = self.path_final

    def _fail(self, exc: BaseException) -> None:
        error = _describe(exc, self.path_part)
        self.error = error
        logger.warning("track %s failed: %s", self.path_final.name, error)
        # Release what we hold; each step may fail again (the disk is still full).
        try:
            if self._container is not None:
                self._container.close()
        except Exception as close_error:  # noqa: BLE001
            logger.debug("closing the failed container: %s", close_error)
        try:
            self._file.close()
        except OSError:
            pass
        # Keep what was already written playable: cut the torn fragment off (truncating needs
        # no free space, unlike a remux) and give the file its final name.
        try:
            if self.path_part.exists():
                length = complete_prefix_length(self.path_part)
                os.truncate(self.path_part, length)
                _publish(self.path_part, self.path_final)
                self.final_path = self.path_final
        except (OSError, RecoveryError) as salvage_error:
            logger.warning("could not salvage %s: %s", self.path_part, salvage_error)
        # Stop taking packets; what is still queued is discarded.
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._on_error is not None:
            try:
                self._on_error(self, error)
            except Exception:
                logger.exception("track error callback failed")


# -- crash recovery --------------------------------------------------------------------------
def complete_prefix_length(path: Path) -> int:
    """Length of the playable prefix of a fragmented MP4: header plus complete fragments.

    Raises ``RecoveryError`` when even the header (``moov``) is incomplete.
    """
    size = path.stat().st_size
    valid = 0
    have_moov = False
    pending_moof = False
    offset = 0
    with open(path, "rb") as f:
        while offset + 8 <= size:
            f.seek(offset)
            box_size, box_type = struct.unpack(">I4s", f.read(8))
            if box_size == 1:
                if offset + 16 > size:
                    break
                (box_size,) = struct.unpack(">Q", f.read(8))
            elif box_size == 0:
                box_size = size - offset  # "to the end of the file": only a closed file says so
            if box_size < 8 or offset + box_size > size:
                break  # torn box: everything from here on is lost
            offset += box_size
            if box_type == b"moov":
                have_moov = True
                valid = offset
            elif box_type == b"moof":
                pending_moof = True  # valid only once its mdat is complete too
            elif box_type == b"mdat":
                if pending_moof or not have_moov:
                    valid = offset
                pending_moof = False
            elif not pending_moof:
                valid = offset
    if not have_moov:
        raise RecoveryError(f"{path.name} has no complete MP4 header: nothing was recorded")
    return valid


class _BoundedReader(io.RawIOBase):
    """A read-only view of the first ``length`` bytes of a file, for FFmpeg's demuxer."""

    def __init__(self, raw: io.BufferedReader, length: int) -> None:
        self._raw = raw
        self._length = length
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, min(self._length, base + offset))
        return self._pos

    def read(self, size: int = -1) -> bytes:
        remaining = self._length - self._pos
        if size < 0 or size > remaining:
            size = remaining
        self._raw.seek(self._pos)
        data = self._raw.read(size)
        self._pos += len(data)
        return data


def final_path_for(part: Path) -> Path:
    if not part.name.endswith(".mp4" + PART_SUFFIX):
        raise RecoveryError(f"{part} is not a .mp4.part file")
    return part.with_name(part.name[: -len(PART_SUFFIX)])


def recover_part_file(part: Path, *, keep_original: bool = True) -> Path:
    """Remux the complete fragments of a crashed ``<name>.mp4.part`` into ``<name>.mp4``.

    Stream copy, no re-encode. The result is written to a temporary file and renamed only once
    complete; the part file is then kept as ``<name>.mp4.part.orig`` (or deleted). Raises
    ``RecoveryError`` if nothing decodable is left or ``<name>.mp4`` already exists.
    """
    final = final_path_for(part)
    if final.exists():
        raise RecoveryError(f"{final} already exists; not overwriting it")
    length = complete_prefix_length(part)
    temp = final.with_name(final.name + ".recovering")
    temp.unlink(missing_ok=True)  # a leftover of a recovery that itself was interrupted
    packets = 0
    try:
        with open(part, "rb") as raw:
            try:
                source = av.open(_BoundedReader(raw, length), "r", format="mp4")
            except av.FFmpegError as exc:
                raise RecoveryError(f"{part.name} cannot be read: {exc}") from exc
            with source:
                if not source.streams.video and not source.streams.audio:
                    raise RecoveryError(f"{part.name} has no video or audio track")
                video = (source.streams.video or source.streams.audio)[0]
                _check_decodable(part, length, video.index)
                with av.open(str(temp), "w", format="mp4") as out:
                    target = out.add_stream_from_template(video)
                    for packet in source.demux(video):
                        if packet.dts is None or packet.size == 0 or packet.is_corrupt:
                            continue
                        packet.stream = target
                        out.mux(packet)
                        packets += 1
        if packets == 0:
            raise RecoveryError(f"{part.name} holds no complete video frame")
        with open(temp, "rb") as done:
            os.fsync(done.fileno())
        _publish(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if keep_original:
        os.replace(part, part.with_name(part.name + ".orig"))
    else:
        part.unlink()
    fsync_directory(final.parent)
    return final


def _check_decodable(part: Path, length: int, index: int) -> None:
    """Decode the first frame: a header with no decodable frame is not a recording."""
    with open(part, "rb") as raw, av.open(_BoundedReader(raw, length), "r", format="mp4") as src:
        try:
            for _frame in src.decode(src.streams[index]):
                return
        except av.FFmpegError as exc:
            raise RecoveryError(f"{part.name}: first frame does not decode: {exc}") from exc
    raise RecoveryError(f"{part.name} holds no decodable video frame")

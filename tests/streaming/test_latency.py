"""Capture-time stamps through a real libx264 encode, and a short ``medroom bench latency`` run."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time

import av
import numpy as np
import pytest

from room_controller.sources.base import Frame, Source, SourceHealth, SourceState
from room_controller.sources.synthetic import EndoscopeSimSource
from streaming.encoder import TIME_BASE, EncoderSettings, SharedEncoder
from streaming.latency import summarize
from streaming.stamp import (
    StampedSource,
    StampError,
    draw_stamp,
    geometry,
    read_stamp,
    read_stamp_frame,
    stamp_bits,
)
from web.bench import run_bench


def test_stamp_round_trip_on_raw_pixels() -> None:
    image = np.full((720, 1280, 3), 128, np.uint8)
    for value in (0, 1, 1_700_000_000_123, (1 << 48) - 1):
        draw_stamp(image, value)
        assert read_stamp(image) == value
        assert read_stamp(image[..., 1]) == value  # a luma-like plane reads the same
    assert geometry(1280, 720).x == 1152 and geometry(1280, 720).block == 16
    assert geometry(640, 360).block == 8
    with pytest.raises(StampError):
        stamp_bits(1 << 48)
    with pytest.raises(StampError):
        draw_stamp(np.zeros((64, 64, 3), np.uint8), 1, block=16)


def test_no_stamp_and_a_corrupted_stamp_read_as_none() -> None:
    image = np.zeros((720, 1280, 3), np.uint8)
    assert read_stamp(image) is None  # flat: no contrast between references
    rng = np.random.default_rng(0)
    assert read_stamp(rng.integers(0, 256, (720, 1280, 3), np.uint8)) is None
    draw_stamp(image, 123456789)
    g = geometry(1280, 720)
    # Flip one data cell (cell 10): the CRC refuses the value instead of returning a wrong one.
    row, col = divmod(10, 8)
    y, x = g.y + row * g.block, g.x + col * g.block
    image[y : y + g.block, x : x + g.block] = 255 - image[y : y + g.block, x : x + g.block]
    assert read_stamp(image) is None


def test_stamp_survives_libx264_at_2_mbits_720p() -> None:
    """The shared encoder's own libx264 settings, decoded by libavcodec: values exact.

    Every other frame is random noise, the worst case for the rate control: the stamp's
    macroblocks must still come through on at least 99 % of the frames.
    """
    settings = EncoderSettings(width=1280, height=720, fps=30, bitrate_kbps=2000)
    encoder = SharedEncoder(lambda: np.zeros((720, 1280, 3), np.uint8), settings)
    codec = encoder._open_codec()
    decoder = av.CodecContext.create("h264", "r")
    source = EndoscopeSimSource("endoscope", "Endoscope")
    source.setup()
    rng = np.random.default_rng(7)
    sent: list[int] = []
    got: list[int | None] = []
    base = int(time.time() * 1000)
    frames = 240
    for i in range(frames):
        if i % 2:
            image = rng.integers(0, 256, (720, 1280, 3), np.uint8)
        else:
            image = source.render(i / 30).copy()
        value = base + 33 * i + int(rng.integers(0, 33))
        draw_stamp(image, value)
        sent.append(value)
        frame = encoder._to_video_frame(image)
        frame.pts = i * 3000
        frame.time_base = TIME_BASE
        for packet in codec.encode(frame):
            got.extend(read_stamp_frame(f) for f in decoder.decode(packet))
    for packet in codec.encode(None):
        got.extend(read_stamp_frame(f) for f in decoder.decode(packet))
    assert len(got) == frames
    exact = sum(g == s for g, s in zip(got, sent, strict=True))
    assert exact >= 0.99 * frames, f"{exact}/{frames} stamps read back exactly"
    # A wrong value is never reported: a frame either reads exactly or reads as None.
    assert all(g is None or g == s for g, s in zip(got, sent, strict=True))


class _OneFrameSource(Source):
    id = "one"
    label = "One"
    kind = "test"

    def __init__(self) -> None:
        self.frame = Frame(image=np.zeros((720, 1280, 3), np.uint8), captured_at=0.0, index=0)
        self.frame.image.flags.writeable = False

    def start(self) -> None: ...
    def stop(self) -> None: ...

    def latest_frame(self) -> Frame | None:
        return self.frame

    def health(self) -> SourceHealth:
        return SourceHealth(SourceState.LIVE, 30.0, 1280, 720, 0.0, None)


def test_stamped_source_stamps_the_capture_time_once_per_frame() -> None:
    inner = _OneFrameSource()
    captured = time.monotonic() - 0.25  # the frame was produced 250 ms ago
    inner.frame = Frame(image=inner.frame.image, captured_at=captured, index=1)
    source = StampedSource(inner)
    first = source.latest_frame()
    assert first is not None and source.latest_frame() is first  # stamped once, then reused
    value = read_stamp(first.image)
    assert value is not None
    assert abs(time.time() * 1000 - 250 - value) < 20  # capture time, not the time of asking
    assert not first.image.flags.writeable
    assert read_stamp(inner.frame.image) is None  # the source's own frame is untouched
    assert first.captured_at == captured and first.index == 1


def test_summarize() -> None:
    assert summarize([])["p50_ms"] is None
    figures = summarize([float(v) for v in range(1, 101)])
    assert figures["count"] == 100 and figures["max_ms"] == 100.0
    assert figures["p50_ms"] == 50.5 and figures["p95_ms"] == pytest.approx(95.05, abs=0.1)


def test_bench_latency_one_viewer_reads_stamps(capsys: pytest.CaptureFixture[str]) -> None:
    """A short real run: server and decoding viewer in their own processes, on loopback.

    The issue's targets (p50 <= 80 ms, p95 <= 120 ms, first frame <= 1 s) are what the
    benchmark reports; on a shared test machine only sanity is asserted here.
    """
    started = time.monotonic()
    args = argparse.Namespace(bench="latency", viewers=1, seconds=3.0, receiver="marker")

    assert run_bench(args) == 0

    out = capsys.readouterr().out
    report = json.loads(out.strip().splitlines()[-1])
    assert report["bench"] == "latency" and report["connected"] == 1
    assert report["frames"] >= 30, report  # stamps read on at least 10 fps of 30
    assert report["unreadable"] <= 0.01 * report["frames"] + 1, report
    for key in ("p50_ms", "p95_ms", "max_ms", "min_ms"):
        assert 0 < report[key] < 2000, (key, report[key])
    assert report["p50_ms"] <= report["p95_ms"] <= report["max_ms"]
    assert 0 < report["first_frame_s_p95"] < 2.0
    assert set(report["meets_targets"]) == {"p50_ms", "p95_ms", "first_frame_p95_s"}
    assert "glass-to-glass" in out and "first frame" in out
    assert multiprocessing.active_children() == []
    assert time.monotonic() - started < 60

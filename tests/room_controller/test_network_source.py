"""Network streams and clips over real sockets: HTTP, live MPEG-TS over TCP and UDP, refusals,
stalls and hang-ups, with the source's health saying what happens."""

from __future__ import annotations

import itertools
import re
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from config.rooms import RoomSpec
from room_controller.room import Room
from room_controller.sources import Backoff, Source, SourceState, StreamSource
from room_controller.sources.stream import redact_url

from .polling import wait_for
from .stream_peers import (
    colour_of,
    http_file_server,
    live_encoder,
    refusing_port,
    silent_listener,
    write_clip,
)


def run(started: list[Source], url: str, **kwargs: object) -> StreamSource:
    kwargs.setdefault("width", 640)
    kwargs.setdefault("height", 360)
    source = StreamSource("net", "Encoder", url, **kwargs)  # type: ignore[arg-type]
    started.append(source)
    source.start()
    return source


def assert_live_picture(source: StreamSource, timeout: float = 8.0) -> np.ndarray:
    """Frames arrive at the configured size, health says LIVE, the picture is the sender's:
    a 4:3 picture centred in the 16:9 frame between black bars."""
    assert wait_for(lambda: source.health().state is SourceState.LIVE, timeout), source.health()
    frame = source.latest_frame()
    assert frame is not None
    image = frame.image
    assert image.shape == (360, 640, 3) and image.dtype == np.uint8
    assert not image.flags.writeable
    # 320x240 into 640x360: 480x360 in the middle, 80 px of black each side.
    assert image[:, :70].max() < 20 and image[:, -70:].max() < 20
    assert image[170:190, 310:330].min() > 220  # the white square, centred
    assert image[20:60, 100:140].reshape(-1, 3).mean(axis=0).max() > 120  # the colour field
    health = source.health()
    assert (health.width, health.height) == (640, 360) and health.error is None
    return image


# -- files over HTTP, live streams over TCP and UDP -------------------------------------------


@pytest.mark.parametrize("suffix", [".mp4", ".ts"])
def test_http_file_is_decoded_paced_at_its_frame_rate(
    tmp_path: Path, started: list[Source], suffix: str
) -> None:
    write_clip(tmp_path / f"clip{suffix}", frames=150, fps=30)  # 5 s
    with http_file_server(tmp_path) as base:
        source = run(started, f"{base}/clip{suffix}")
        assert_live_picture(source)
        first = source.latest_frame()
        assert first is not None
        time.sleep(1.5)
        later = source.latest_frame()
        assert later is not None
        # Paced: about 45 frames in 1.5 s, not the whole file at once.
        assert 20 <= later.index - first.index <= 60, (first.index, later.index)
        assert source.health().fps == pytest.approx(30, rel=0.3)


def test_live_tcp_stream_delivers_the_latest_picture(started: list[Source]) -> None:
    with live_encoder() as encoder:
        source = run(started, encoder.url)
        assert_live_picture(source)
        assert encoder.connections == 1
        # Live, not queued: the picture shown is the one the encoder sent last (within a few
        # frames), so the colour of the field matches the encoder's current colour band.
        time.sleep(1.0)
        frame = source.latest_frame()
        assert frame is not None
        assert source.health().fps == pytest.approx(30, rel=0.35)
        assert frame.captured_at > time.monotonic() - 0.5


def test_live_udp_stream_is_received(started: list[Source]) -> None:
    port = refusing_port()  # a free port: the source binds it and listens for datagrams
    source = run(started, f"udp://127.0.0.1:{port}", open_timeout=10)
    time.sleep(0.3)  # let the source bind before the encoder sends
    with live_encoder(udp_target=("127.0.0.1", port)):
        assert_live_picture(source, timeout=10)


def test_fps_caps_what_is_published(started: list[Source]) -> None:
    with live_encoder(fps=30) as encoder:
        source = run(started, encoder.url, fps=10)
        assert_live_picture(source)
        time.sleep(2.0)
        assert source.health().fps == pytest.approx(10, rel=0.3)


# -- refusals, silence, stalls, hang-ups -------------------------------------------------------


def test_refused_url_fails_readably_and_backs_off(started: list[Source]) -> None:
    port = refusing_port()
    url = f"rtsp://127.0.0.1:{port}/x"
    source = run(started, url, backoff=Backoff(0.2, 1.6))
    seen: set[str] = set()

    def retried_enough() -> bool:
        error = source.health().error
        if error:
            seen.add(error)
        return len(source.attempts) >= 5

    assert wait_for(retried_enough, 8.0), (source.attempts, seen)
    health = source.health()
    assert health.state is SourceState.FAILED and source.latest_frame() is None
    assert f"connection refused: {url} \N{EM DASH} retrying in 0.2 s" in seen
    assert any(e.endswith("retrying in 0.4 s") for e in seen), seen
    attempts = list(source.attempts)
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.15 and gaps[-1] >= 0.7, gaps  # 0.2, 0.4, 0.8, 1.6: growing
    assert gaps[-1] > gaps[0] * 2, gaps


def test_refused_source_does_not_stop_the_other_sources_of_its_room(tmp_path: Path) -> None:
    port = refusing_port()
    spec = RoomSpec.model_validate({
        "id": "or1", "name": "OR 1", "program_source": "encoder",
        "layout": {"mode": "side-by-side", "sources": ["encoder", "cam"]},
        "sources": [
            {"kind": "network", "id": "encoder", "label": "Tower encoder",
             "url": f"tcp://127.0.0.1:{port}", "width": 320, "height": 240},
            {"kind": "test-pattern", "id": "cam", "label": "Room camera", "width": 320,
             "height": 240, "fps": 20},
        ],
    })
    room = Room(spec, tmp_path)
    room.start()
    try:
        encoder, cam = room.sources["encoder"], room.sources["cam"]
        assert wait_for(lambda: cam.health().state is SourceState.LIVE, 5)
        assert wait_for(lambda: encoder.health().error is not None, 5)
        views = {v.id: v for v in room.source_views()}
        assert views["encoder"].health.state is SourceState.FAILED
        assert "connection refused" in (views["encoder"].health.error or "")
        first = cam.latest_frame()
        program_a = room.program_frame().copy()
        end = time.monotonic() + 1.0
        while time.monotonic() < end:  # the program encoder takes a frame 30 times a second
            room.program_frame()
            time.sleep(1 / 30)
        later = cam.latest_frame()
        assert first is not None and later is not None and later.index > first.index + 10
        assert cam.health().state is SourceState.LIVE
        # The program still changes (the clock of the test pattern moves).
        assert not np.array_equal(program_a, room.program_frame())
    finally:
        room.stop()


def test_silent_server_times_out_and_stop_is_prompt(started: list[Source]) -> None:
    with silent_listener() as port:
        source = run(started, f"tcp://127.0.0.1:{port}", open_timeout=1.0, read_timeout=1.0)
        assert wait_for(lambda: source.health().error is not None, 6.0)
        error = source.health().error or ""
        assert error.startswith(f"no answer within 1 s: tcp://127.0.0.1:{port}"), error
        assert source.health().state is SourceState.FAILED
        began = time.monotonic()
        source.stop()
        assert time.monotonic() - began < 2.5
        assert source.health().state is SourceState.STOPPED


def test_stalled_stream_goes_lost_within_2_s_and_recovers(started: list[Source]) -> None:
    with live_encoder() as encoder:
        source = run(started, encoder.url, read_timeout=4.0)
        assert_live_picture(source)
        encoder.pause()  # connection open, no more data
        sent = encoder.frames_sent
        paused_at = time.monotonic()
        assert wait_for(lambda: source.health().state is SourceState.LOST, 4.0)
        health = source.health()
        assert health.last_frame_age is not None and health.last_frame_age >= 2.0
        # Lost about 2 s after the last picture (the encoder's last frame came at pause time).
        assert time.monotonic() - paused_at < 2.0 + 1.0
        assert encoder.frames_sent <= sent + 1
        # The read timeout then drops the connection and reconnects, still LOST with a reason.
        assert wait_for(lambda: "no data for 4 s" in (source.health().error or ""), 8.0)
        assert source.health().state is SourceState.LOST
        encoder.resume()
        assert wait_for(lambda: source.health().state is SourceState.LIVE, 10.0)
        assert source.health().error is None
        assert encoder.connections >= 2


def test_encoder_switched_off_then_on_again(started: list[Source]) -> None:
    with live_encoder() as encoder:
        source = run(started, encoder.url, backoff=Backoff(0.2, 1.0))
        assert_live_picture(source)
        index_before = source.latest_frame().index  # type: ignore[union-attr]
        encoder.hang_up()
        # The sender closed the stream: LOST at once, with the reason and the next retry.
        assert wait_for(lambda: source.health().state is SourceState.LOST, 3.0)
        assert wait_for(
            lambda: "connection refused" in (source.health().error or ""), 5.0
        ), source.health()
        assert re.search(r"retrying in [\d.]+ s$", source.health().error or "")
        encoder.resume()
        assert wait_for(lambda: source.health().state is SourceState.LIVE, 10.0)
        frame = source.latest_frame()
        assert frame is not None and frame.index > index_before  # the count goes on


def test_passwords_never_reach_health_or_logs(started: list[Source]) -> None:
    port = refusing_port()
    url = f"rtsp://tower:s3cret@127.0.0.1:{port}/live"
    assert redact_url(url) == f"rtsp://tower:***@127.0.0.1:{port}/live"
    source = run(started, url)
    assert wait_for(lambda: source.health().error is not None, 5.0)
    error = source.health().error or ""
    assert "s3cret" not in error and f"tower:***@127.0.0.1:{port}" in error


# -- clips -------------------------------------------------------------------------------------


def test_clip_loops_and_the_frame_index_keeps_growing(
    tmp_path: Path, started: list[Source]
) -> None:
    clip = write_clip(tmp_path / "clip.mp4", frames=16, fps=20)  # 0.8 s: 2 colours
    source = run(started, str(clip), kind="clip", loop=True)
    dominant_channels: set[int] = set()  # which of B, G, R is strongest in the colour field

    def looped() -> bool:
        frame = source.latest_frame()
        if frame is not None:
            dominant_channels.add(int(np.argmax(frame.image[40, 120])))
        return frame is not None and frame.index > 3 * 16

    began = time.monotonic()
    assert wait_for(looped, 10.0, step=0.01)
    elapsed = time.monotonic() - began
    # Paced at 20 fps: 48 frames take about 2.4 s; never the whole clip in one burst.
    assert elapsed > 1.6, elapsed
    health = source.health()
    assert health.state is SourceState.LIVE
    assert health.fps == pytest.approx(20, rel=0.3)
    # Both colour bands of the clip (blue-ish, then green-ish) were shown, over and over.
    assert dominant_channels == {int(np.argmax(colour_of(i))) for i in (0, 8)}


def test_missing_clip_fails_with_the_path_and_retries(
    tmp_path: Path, started: list[Source]
) -> None:
    missing = tmp_path / "lecture.mp4"
    source = run(started, str(missing), kind="clip", loop=True, backoff=Backoff(0.2, 0.4))
    assert wait_for(lambda: len(source.attempts) >= 2, 5.0)
    health = source.health()
    assert health.state is SourceState.FAILED
    assert health.error is not None and health.error.startswith(f"no such file: {missing}")
    write_clip(missing, frames=10)  # the file arrives: the clip starts on the next attempt
    assert wait_for(lambda: source.health().state is SourceState.LIVE, 5.0)


def test_file_that_is_not_video_says_so(tmp_path: Path, started: list[Source]) -> None:
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("these are not moving pictures\n" * 100)
    source = run(started, str(bogus), kind="clip", loop=True)
    assert wait_for(lambda: source.health().error is not None, 5.0)
    assert (source.health().error or "").startswith(
        f"not a video stream (invalid data): {bogus}"
    )


def test_sound_only_file_says_it_has_no_video(tmp_path: Path, started: list[Source]) -> None:
    recording = tmp_path / "dictation.wav"
    with wave.open(str(recording), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 8000)
    source = run(started, str(recording), kind="clip", loop=True)
    assert wait_for(lambda: source.health().error is not None, 5.0)
    assert (source.health().error or "").startswith(f"no video in this stream: {recording}")
    assert source.health().state is SourceState.FAILED

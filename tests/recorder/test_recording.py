"""Recording sessions with real encoders: stop, pause, failures, failsafe and crash recovery."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from recorder.manifest import RecordingState
from recorder.recording import (
    RecordingError,
    TrackSpec,
    UnknownRecordingError,
)
from recorder.registry import Recorder

from .conftest import FPS, HEIGHT, WIDTH, EncoderFactory, noise
from .media import decode
from .test_timeline import parse_vtt

REPO = Path(__file__).resolve().parents[2]


async def test_record_program_and_iso_then_stop(encoders: EncoderFactory, tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    program, cam = encoders("program"), encoders("cam1")
    recording = await recorder.start("demo", "Endoscopic sinus surgery", {
        "program": TrackSpec(program, "program"),
        "iso-cam1": (cam, "iso", "cam1"),
    })
    assert recorder.get(recording.id) is recording and recorder.list() == [recording]
    assert recording.folder.parent == tmp_path / "demo"
    await asyncio.sleep(0.5)
    intro = await recording.add_marker("intro", author="dr-ana")
    await recording.add_note("septum deviated")
    await recording.add_stroke([(0.2, 0.2), (0.4, 0.5)], "#00ff00", 3, 0.6, 0.9)
    await recording.add_chat("marko", "can you zoom in?")
    await asyncio.sleep(1.5)
    polyp = await recording.add_marker("polyp identified")
    await asyncio.sleep(1.0)
    live = recording.status()
    assert live.state is RecordingState.RECORDING and all(t.size_bytes > 0 for t in live.tracks)

    summary = await recording.stop()
    assert summary.state is RecordingState.STOPPED and summary.error is None
    assert 2.9 < summary.duration < 3.5
    folder = recording.folder
    for track in summary.tracks:
        got = decode(folder / track.file)
        assert got.codec == "h264" and (got.width, got.height) == (WIDTH, HEIGHT)
        assert abs(got.frames - FPS * summary.duration) <= FPS * summary.duration * 0.1
        assert track.packets == got.frames and track.dropped == 0
    assert not list(folder.glob("*.part"))

    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["state"] == "stopped" and manifest["id"] == recording.id
    assert [(t["name"], t["kind"], t["source_id"]) for t in manifest["tracks"]] == [
        ("program", "program", None), ("iso-cam1", "iso", "cam1")
    ]
    assert manifest["tracks"][0]["width"] == WIDTH and manifest["stopped_at"]

    cues = parse_vtt((folder / "chapters.vtt").read_text())
    assert [c[2] for c in cues] == ["intro", "polyp identified"]
    assert cues[0][0] == pytest.approx(intro.at) and cues[1][0] == pytest.approx(polyp.at)
    assert cues[0][1] == cues[1][0] and cues[1][1] == pytest.approx(summary.duration, abs=0.01)
    sidecar = json.loads((folder / "timeline.json").read_text())
    assert [e["type"] for e in sidecar["events"]] == ["marker", "note", "stroke", "chat", "marker"]

    renamed = await recording.rename_marker(polyp.id, "polyp identified (sessile)")
    assert renamed.title == "polyp identified (sessile)"
    assert "sessile" in (folder / "chapters.vtt").read_text()

    with pytest.raises(RecordingError, match="already stopped"):
        await recording.stop()
    with pytest.raises(RecordingError, match="already stopped"):
        await recording.add_marker("late")


async def test_pause_cuts_paused_time_from_the_files(
    encoders: EncoderFactory, tmp_path: Path
) -> None:
    recorder = Recorder(tmp_path)
    recording = await recorder.start("demo", "", {"program": (encoders(), "program", None)})
    await asyncio.sleep(1.2)
    await recording.pause()
    paused_at = recording.media_time()
    await asyncio.sleep(1.5)
    assert recording.media_time() == paused_at  # the clock stands still while paused
    await recording.resume()
    await asyncio.sleep(1.2)
    marker = await recording.add_marker("after the pause")
    summary = await recording.stop()
    assert 2.2 < summary.duration < 2.8
    assert marker.at > paused_at
    got = decode(recording.folder / "program.mp4")
    assert abs(got.duration - summary.duration) < 0.35  # not 3.9 s: the pause is cut out
    assert abs(got.frames - FPS * got.duration) <= FPS * got.duration * 0.1
    manifest = json.loads((recording.folder / "manifest.json").read_text())
    (pause,) = manifest["pauses"]
    assert pause["media_at"] == pytest.approx(paused_at, abs=0.01)
    assert pause["seconds"] == pytest.approx(1.5, abs=0.2)


async def test_invalid_transitions_are_clear_errors(
    encoders: EncoderFactory, tmp_path: Path
) -> None:
    recorder = Recorder(tmp_path)
    with pytest.raises(UnknownRecordingError, match="no recording with id 'nope'"):
        recorder.get("nope")
    with pytest.raises(RecordingError, match="room id '../etc'"):
        await recorder.start("../etc", "", {"program": (encoders(), "program", None)})
    with pytest.raises(RecordingError, match="at least one track"):
        await recorder.start("demo", "", {})
    encoder = encoders()
    recording = await recorder.start("demo", "", {"program": (encoder, "program", None)})
    with pytest.raises(RecordingError, match="already recording"):
        await recorder.start("demo", "", {"program": (encoder, "program", None)})
    with pytest.raises(RecordingError, match="recording, not paused"):
        await recording.resume()
    await recording.pause()
    with pytest.raises(RecordingError, match="already paused"):
        await recording.pause()
    with pytest.raises(RecordingError, match="already started"):
        await recording.start({"program": (encoder, "program", None)})
    await asyncio.sleep(0.3)
    await recording.resume()
    await asyncio.sleep(0.5)
    await recording.stop()
    for action in (recording.stop, recording.pause, recording.resume):
        with pytest.raises(RecordingError, match="already stopped"):
            await action()
    # The room is free again.
    second = await recorder.start("demo", "", {"program": (encoder, "program", None)})
    assert await recorder.stop_all() and second.state is RecordingState.STOPPED


async def test_max_duration_failsafe_stops_the_recording(
    encoders: EncoderFactory, tmp_path: Path
) -> None:
    recorder = Recorder(tmp_path, max_duration_seconds=1.0)
    recording = await recorder.start("demo", "", {"program": (encoders(), "program", None)})
    await recording.pause()
    await asyncio.sleep(0.5)  # paused time does not count
    assert recording.state is RecordingState.PAUSED
    await recording.resume()
    summary = await recording.wait_finished(timeout=5)
    assert summary.state is RecordingState.STOPPED
    assert summary.duration == pytest.approx(1.0, abs=0.1)
    assert (recording.folder / "program.mp4").exists()


async def test_folder_deleted_while_recording_fails_cleanly(
    encoders: EncoderFactory, tmp_path: Path
) -> None:
    recorder = Recorder(tmp_path)
    loop_errors: list[object] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: loop_errors.append(ctx))
    recording = await recorder.start("demo", "", {
        "program": (encoders("program"), "program", None),
        "iso-cam1": (encoders("cam1"), "iso", "cam1"),
    })
    await asyncio.sleep(1.0)
    shutil.rmtree(recording.folder)
    summary = await recording.wait_finished(timeout=5)
    assert summary.state is RecordingState.FAILED
    assert summary.error is not None and "was deleted" in summary.error
    with pytest.raises(RecordingError, match="failed"):
        await recording.add_marker("too late")
    with pytest.raises(RecordingError, match="failed"):
        await recording.stop()
    assert loop_errors == []
    # The room can record again.
    again = await recorder.start("demo", "", {"program": (encoders("p2"), "program", None)})
    await again.stop()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 600 KiB tmpfs: a real ENOSPC, not a simulated one. Needs root (skipped otherwise)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount)],
                          check=False, capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here: " + done.stderr.decode().strip())
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_disk_full_fails_with_playable_files(
    encoders: EncoderFactory, small_disk: Path
) -> None:
    recorder = Recorder(small_disk)
    # Noise at 2 Mbit/s fills 600 KiB in about two seconds.
    encoder = encoders(bitrate=2000, supply=noise())
    recording = await recorder.start("demo", "", {"program": (encoder, "program", None)})
    await recording.add_marker("start")
    summary = await recording.wait_finished(timeout=10)
    assert summary.state is RecordingState.FAILED and summary.error == "disk full"
    got = decode(recording.folder / "program.mp4")
    assert got.codec == "h264" and got.frames >= FPS // 2
    assert not list(recording.folder.glob("*.part"))


CRASH_SCRIPT = textwrap.dedent("""
    import asyncio, os, signal, sys, time
    from pathlib import Path
    import numpy as np
    from recorder.registry import Recorder
    from streaming.encoder import EncoderSettings, SharedEncoder

    def frame():
        image = np.zeros((240, 320, 3), np.uint8)
        x = int(time.monotonic() * 120) % 300
        image[:, x:x + 20] = 255
        return image

    async def main():
        root = Path(sys.argv[1])
        settings = EncoderSettings(width=320, height=240, fps=30, bitrate_kbps=800)
        program = SharedEncoder(frame, settings, name="program")
        cam = SharedEncoder(frame, settings, name="cam1")
        program.start()
        cam.start()
        recording = await Recorder(root).start("demo", "crash", {
            "program": (program, "program", None), "iso-cam1": (cam, "iso", "cam1")})
        await asyncio.sleep(0.5)
        await recording.add_marker("dura opening")
        await asyncio.sleep(3.5)
        (root / "killed-at").write_text(str(recording.media_time()))
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(main())
""")


async def test_sigkill_mid_recording_is_recovered(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CRASH_SCRIPT, str(tmp_path), cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert await asyncio.wait_for(process.wait(), 60) == -signal.SIGKILL
    killed_at = float((tmp_path / "killed-at").read_text())
    (folder,) = (tmp_path / "demo").iterdir()
    assert len(list(folder.glob("*.mp4.part"))) == 2

    recorder = Recorder(tmp_path)
    ids = await recorder.recover()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert ids == [manifest["id"]]
    assert manifest["state"] == RecordingState.RECOVERED.value and manifest["recovered"] is True
    for track in manifest["tracks"]:
        got = decode(folder / track["file"])
        assert got.codec == "h264" and got.frames > 0
        assert killed_at - 2 <= got.duration <= killed_at + 0.2
    cues = parse_vtt((folder / "chapters.vtt").read_text())
    assert [c[2] for c in cues] == ["dura opening"]
    # A second start-up finds nothing left to do.
    assert await recorder.recover() == []

"""The program audio in a recording: Opus in fragmented MP4, no re-encode, in step with video."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import av

from recorder.archive import recover_session
from recorder.manifest import MANIFEST, Manifest, RecordingState
from recorder.recording import Recording, TrackSpec
from room_controller.sources.audio import SyntheticAudioSource
from streaming.audio import AudioSettings, SharedAudioEncoder

from .conftest import EncoderFactory


def _starts_and_lengths(path: Path) -> tuple[str, float, float, int]:
    """(codec, first decoded pts in s, decoded seconds, sample rate) of the file's only track."""
    with av.open(str(path)) as container:
        stream = (container.streams.audio or container.streams.video)[0]
        first: float | None = None
        seconds = 0.0
        rate = 0
        for frame in container.decode(stream):
            if first is None and frame.pts is not None:
                assert frame.time_base is not None
                first = float(frame.pts * frame.time_base)
            if isinstance(frame, av.AudioFrame):
                seconds += frame.samples / frame.sample_rate
                rate = frame.sample_rate
            else:
                seconds += 1 / 30
        return stream.codec_context.name, first or 0.0, seconds, rate


async def test_recording_has_an_opus_track_in_step_with_the_video(
    tmp_path: Path, encoders: EncoderFactory
) -> None:
    source = SyntheticAudioSource("rec-audio", channels=2)
    source.start()
    audio = SharedAudioEncoder(source.read, AudioSettings(channels=2), name="audio")
    audio.start()
    try:
        program = encoders("program")
        # The audio track comes first here on purpose: the recording still starts the video first.
        recording = Recording(tmp_path, "demo", "audio test")
        await recording.start({
            "audio": TrackSpec(audio, "audio"),
            "program": TrackSpec(program, "program"),
        })
        await asyncio.sleep(3.0)
        status = await recording.stop()
    finally:
        await audio.stop()
        source.stop()
    tracks = {t.name: t for t in status.tracks}
    assert tracks["audio"].kind == "audio" and tracks["audio"].error is None
    assert tracks["audio"].packets > 130
    manifest = json.loads((recording.folder / MANIFEST).read_text())
    listed = {t["name"]: t for t in manifest["tracks"]}
    assert listed["audio"]["kind"] == "audio" and listed["audio"]["codec"] == "opus"
    assert listed["audio"]["file"] == "audio.mp4"

    codec, audio_start, audio_seconds, rate = _starts_and_lengths(recording.folder / "audio.mp4")
    _, video_start, video_seconds, _ = _starts_and_lengths(recording.folder / "program.mp4")
    assert codec == "opus" and rate == 48000
    assert 2.5 <= audio_seconds <= 3.3, audio_seconds
    assert abs(audio_seconds - video_seconds) < 0.3, (audio_seconds, video_seconds)
    assert abs(audio_start - video_start) < 0.1, (audio_start, video_start)


async def test_audio_part_file_is_recovered_after_a_crash(
    tmp_path: Path, encoders: EncoderFactory
) -> None:
    source = SyntheticAudioSource("rec-audio")
    source.start()
    audio = SharedAudioEncoder(source.read, AudioSettings(), name="audio")
    audio.start()
    try:
        recording = Recording(tmp_path, "demo")
        await recording.start({
            "program": TrackSpec(encoders("program"), "program"),
            "audio": TrackSpec(audio, "audio"),
        })
        await asyncio.sleep(2.5)
        # A crash: nothing closed, the part files stay as they are on disk.
        recording._unsubscribe_all()
        await asyncio.sleep(1.2)
    finally:
        await audio.stop()
        source.stop()
    part = recording.folder / "audio.mp4.part"
    assert part.exists()
    manifest = Manifest.read(recording.folder)
    # Copy the part aside before the writers' threads finish it on garbage collection.
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    for name in ("audio.mp4.part", "program.mp4.part"):
        (crashed / name).write_bytes((recording.folder / name).read_bytes())
    recovered = recover_session(crashed, manifest)
    assert recovered.state is RecordingState.RECOVERED
    codec, _, seconds, rate = _starts_and_lengths(crashed / "audio.mp4")
    assert codec == "opus" and rate == 48000
    assert seconds >= 1.0
    for writer in recording.writers.values():
        await asyncio.to_thread(writer.close)

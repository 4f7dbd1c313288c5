"""Publishing a real recording: outputs, trim, chapters, progress, crash safety, bad input."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
from pathlib import Path

import cv2
import pytest

from library.publishing.chapters import ChapterEdit
from library.publishing.errors import PublishError
from library.publishing.pipeline import STEPS, Trim, publish_recording
from library.publishing.remux import is_faststart
from recorder.recording import TrackSpec
from recorder.registry import Recorder
from recorder.timeline import Timeline
from streaming.encoder import SharedEncoder
from tests.recorder.conftest import moving_bar, settings
from tests.recorder.test_timeline import parse_vtt

from .conftest import Recorded, progress_log
from .media import decoded_frames, packets

LESSON_FILES = ["chapters.vtt", "iso-cam1.mp4", "lesson.json", "poster.jpg", "program.mp4",
                "thumbnails.jpg", "thumbnails.vtt", "timeline.json"]


def test_publish_whole_recording(recording: Recorded, tmp_path: Path) -> None:
    out = tmp_path / "lessons" / "septoplasty"
    log, report = progress_log()
    lesson = publish_recording(recording.folder, out, progress=report, thumbnail_every=1.0)

    assert lesson.folder == out and sorted(p.name for p in out.iterdir()) == LESSON_FILES
    assert sorted(p.name for p in out.parent.iterdir()) == ["septoplasty"]  # no staging left
    manifest = json.loads((recording.folder / "manifest.json").read_text())
    program_offset = manifest["tracks"][0]["media_offset"]
    assert lesson.start == pytest.approx(program_offset, abs=1e-3)
    for track in lesson.tracks:
        path = out / track.file
        source = packets(recording.folder / track.file)
        assert is_faststart(path) and decoded_frames(path) == len(source) == track.frames
        assert packets(path)[0].data == source[0].data  # copied, not re-encoded
        assert track.codec == "h264" and track.bitrate > 0
        assert track.size_bytes == path.stat().st_size
    assert [t.name for t in lesson.tracks] == ["program", "iso-cam1"]
    assert lesson.tracks[0].offset == 0 and abs(lesson.tracks[1].offset) < 0.2

    # Chapters: the markers, moved onto the lesson clock (which starts at the program's
    # first frame), the last one running to the end of the lesson.
    cues = parse_vtt((out / "chapters.vtt").read_text())
    assert [c[2] for c in cues] == [title for title, _ in recording.markers]
    for (start, _, _), (_, at) in zip(cues, recording.markers, strict=True):
        assert start == pytest.approx(at - lesson.start, abs=0.002)
    assert cues[-1][1] == pytest.approx(lesson.duration, abs=0.002)

    meta = json.loads((out / "lesson.json").read_text())
    assert meta["duration"] == lesson.duration and meta["recording"]["id"] == manifest["id"]
    assert [t["file"] for t in meta["tracks"]] == ["program.mp4", "iso-cam1.mp4"]
    assert {"codec", "size_bytes", "bitrate", "width", "height", "offset"} <= set(meta["tracks"][0])
    # One tile a second of the file; the file runs one frame past the lesson's last
    # timestamp, which adds a tile when the duration lands on a whole second.
    assert abs(lesson.strip.duration - lesson.duration) < 0.1
    assert meta["thumbnails"]["count"] == math.ceil(lesson.strip.duration - 1e-9)
    assert lesson.strip.path == out / "thumbnails.jpg" and lesson.poster.path.exists()
    sprite = cv2.imread(str(out / "thumbnails.jpg"))
    assert sprite is not None and sprite.shape[1] == lesson.strip.columns * 160
    events = json.loads((out / "timeline.json").read_text())["events"]
    # Course material in "events"; the classroom's chat goes to "conversation" (its own rules,
    # test_conversation.py).
    assert {e["type"] for e in events} == {"marker", "note", "stroke"}

    fractions = [f for _, f in log]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions[0] < 0.1
    assert fractions.count(1.0) == 1
    steps = [s for s, _ in log]
    assert [s for i, s in enumerate(steps) if i == 0 or steps[i - 1] != s] == list(STEPS)


def test_trim_snaps_to_program_keyframe_and_shifts_chapters(recording: Recorded,
                                                            tmp_path: Path) -> None:
    (_, first_at), (_, second_at) = recording.markers
    manifest = json.loads((recording.folder / "manifest.json").read_text())
    offset = manifest["tracks"][0]["media_offset"]
    keyframes = [offset + p.seconds for p in packets(recording.folder / "program.mp4")
                 if p.keyframe]
    start = first_at + 0.3  # inside the first chapter
    end = second_at + 0.6
    expected_start = max(k for k in keyframes if k <= start + 1e-6)
    edit = ChapterEdit(titles={_marker_id(recording, 1): "Tumour resection"})
    lesson = publish_recording(recording.folder, tmp_path / "cut", trim=Trim(start, end),
                               chapters_edit=edit, thumbnail_every=1.0)

    assert lesson.start == pytest.approx(expected_start, abs=1e-3) and lesson.start <= start
    program = packets(tmp_path / "cut" / "program.mp4")
    assert program[0].pts == 0 and program[0].keyframe
    assert lesson.start + program[-1].seconds < end <= lesson.end + 1e-3
    cues = parse_vtt((tmp_path / "cut" / "chapters.vtt").read_text())
    if first_at > lesson.start:  # the keyframe fell after the first marker: not clipped
        assert cues[0][0] == pytest.approx(first_at - lesson.start, abs=0.002)
    else:
        assert cues[0][0] == 0  # the first chapter began before the cut: clipped to 0
    assert cues[0][2] == "Exposure"
    assert cues[1][2] == "Tumour resection"
    assert cues[1][0] == pytest.approx(second_at - lesson.start, abs=0.002)
    assert cues[-1][1] == pytest.approx(lesson.duration, abs=0.002)
    # Every view has a first frame at or before the lesson start; its offset says where.
    assert all(t.offset <= 0.001 for t in lesson.tracks)

    # A cut after the second marker: Exposure ends before the lesson's first frame unless the
    # keyframe the cut snaps back to comes before the marker.
    late = publish_recording(recording.folder, tmp_path / "late",
                             trim=Trim(second_at + 0.2, None), thumbnail_every=1.0)
    titles = [c[2] for c in parse_vtt((tmp_path / "late" / "chapters.vtt").read_text())]
    snapped = max(k for k in keyframes if k <= second_at + 0.2 + 1e-6)
    assert late.start == pytest.approx(snapped, abs=1e-3)
    assert titles == (["Resection"] if snapped >= second_at else ["Exposure", "Resection"])


def _marker_id(recording: Recorded, index: int) -> str:
    return Timeline(recording.folder).markers()[index].id


def test_a_crash_mid_publish_leaves_nothing_and_a_rerun_succeeds(recording: Recorded,
                                                                  tmp_path: Path) -> None:
    out = tmp_path / "lessons" / "lesson-1"

    def crash_at_thumbnails(step: str, fraction: float) -> None:
        if step == "thumbnails":
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        publish_recording(recording.folder, out, progress=crash_at_thumbnails)
    assert list(out.parent.iterdir()) == []  # neither the lesson nor its staging folder

    # A hard kill leaves the staging folder behind, half written: the rerun starts over.
    stale = out.with_name(".lesson-1.staging")
    stale.mkdir()
    (stale / "program.mp4").write_bytes(b"half a file")
    lesson = publish_recording(recording.folder, out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["lesson-1"]
    assert decoded_frames(out / "program.mp4") == lesson.tracks[0].frames


def test_an_existing_lesson_is_replaced_only_when_asked(recording: Recorded,
                                                        tmp_path: Path) -> None:
    out = tmp_path / "lesson"
    publish_recording(recording.folder, out)
    with pytest.raises(PublishError, match="already holds a published lesson"):
        publish_recording(recording.folder, out)
    again = publish_recording(recording.folder, out, trim=Trim(1.5, None),
                              replace_existing=True)
    assert json.loads((out / "lesson.json").read_text())["duration"] == again.duration
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lesson", "rec"]

    # Killed between moving the old lesson aside and moving the new one in: the next run
    # puts the old one back before anything else.
    out.rename(tmp_path / ".lesson.old")
    with pytest.raises(PublishError, match="already holds a published lesson"):
        publish_recording(recording.folder, out)
    assert json.loads((out / "lesson.json").read_text())["duration"] == again.duration
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lesson", "rec"]


async def test_a_recording_still_running_is_refused(tmp_path: Path) -> None:
    encoder = SharedEncoder(moving_bar(), settings(), name="program")
    encoder.start()
    try:
        recording = await Recorder(tmp_path / "rec").start(
            "demo", "live", {"program": TrackSpec(encoder, "program")})
        await asyncio.sleep(0.5)
        with pytest.raises(PublishError, match="still in progress .recording.; stop it"):
            await asyncio.to_thread(publish_recording, recording.folder, tmp_path / "out")
        await recording.stop()
    finally:
        await encoder.stop()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("damage", "message"), [
    ("delete", "track iso-cam1: iso-cam1.mp4 is missing"),
    ("part", "still a part file"),
    ("garbage", "track iso-cam1: iso-cam1.mp4 is unreadable"),
    ("manifest", "manifest.json is unreadable"),
    ("failed", "failed .disk full.; it cannot be published"),
])
def test_damaged_recordings_are_clear_errors(recording: Recorded, tmp_path: Path, damage: str,
                                             message: str) -> None:
    iso = recording.folder / "iso-cam1.mp4"
    manifest = recording.folder / "manifest.json"
    if damage == "delete":
        iso.unlink()
    elif damage == "part":
        iso.rename(iso.with_name("iso-cam1.mp4.part"))
    elif damage == "garbage":
        iso.write_bytes(b"\x00" * 64 + b"garbage" * 1000)
    elif damage == "manifest":
        manifest.write_text('{"id": "x", "state": "stop')
    elif damage == "failed":
        data = json.loads(manifest.read_text())
        manifest.write_text(json.dumps({**data, "state": "failed", "error": "disk full"}))
    with pytest.raises(PublishError, match=message):
        publish_recording(recording.folder, tmp_path / "out")
    assert list(tmp_path.glob("*out*")) == [] and list(tmp_path.glob(".out*")) == []


@pytest.mark.parametrize(("trim", "message"), [
    (Trim(3.0, 2.0), "end 2 s is not after start 3 s"),
    (Trim(-1.0, None), "non-negative"),
    (Trim(500.0, None), "past the end of the recording"),
])
def test_bad_trims_are_refused(recording: Recorded, tmp_path: Path, trim: Trim,
                               message: str) -> None:
    with pytest.raises(PublishError, match=message):
        publish_recording(recording.folder, tmp_path / "out", trim=trim)
    assert list(tmp_path.glob("*out*")) == []


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(PublishError, match="does not exist"):
        publish_recording(tmp_path / "nope", tmp_path / "out")
    shutil.rmtree(tmp_path, ignore_errors=True)

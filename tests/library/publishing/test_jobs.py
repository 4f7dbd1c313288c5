"""Publishing jobs on a real database (SQLite and PostgreSQL) with a real recording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from library.db import Database
from library.lessons import (
    ChapterDraft,
    CurationEdit,
    LessonConflict,
    LessonStatus,
    Segment,
    confirm_privacy,
    create_lesson,
    get_lesson,
    save_edit,
    set_chapters,
    set_hidden_segments,
    set_trim,
)
from library.publishing import jobs
from library.users import Role, create_user
from recorder.timeline import Timeline
from tests.library.publishing.conftest import Recorded
from tests.library.publishing.test_conversation import TEACHER, classroom


def _lesson(db: Database, recording: Recorded) -> int:
    folder = recording.folder
    manifest = json.loads((folder / "manifest.json").read_text())
    return create_lesson(
        db, recording_id=manifest["id"], room_id="demo",
        recording_folder=f"{folder.parent.name}/{folder.name}", title=manifest["title"],
        recording_duration=manifest["duration"], markers=Timeline(folder).markers()).id


def _claim_and_run(db: Database, recordings: Path, media: Path) -> jobs.JobInfo:
    job = jobs.claim_next(db)
    assert job is not None and job.state == "running"
    return jobs.run_job(db, job, recordings, media)


def test_publish_job_gate_progress_and_result(db: Database, recording: Recorded,
                                              tmp_path: Path) -> None:
    recordings, media = recording.folder.parent.parent, tmp_path / "library"
    lesson_id = _lesson(db, recording)
    with pytest.raises(LessonConflict, match="patient consent and de-identification"):
        jobs.request_publish(db, lesson_id, recordings, None)
    confirm_privacy(db, lesson_id, consent=True, deidentified=True, user_id=None)
    lesson = get_lesson(db, lesson_id)
    exposure, resection = lesson.chapters
    set_trim(db, lesson_id, 0.5, None)
    set_chapters(db, lesson_id, [ChapterDraft("Exposure", exposure.start, exposure.id),
                                 ChapterDraft("Resection of the spur", resection.start,
                                              resection.id)])
    # A hidden segment that starts a little before the first chapter: the chapter moves past it
    set_hidden_segments(db, lesson_id, [Segment(exposure.start - 0.2, exposure.start + 0.3)])

    queued = jobs.request_publish(db, lesson_id, recordings, None)
    assert queued.state == "queued" and get_lesson(db, lesson_id).status is LessonStatus.PUBLISHING
    with pytest.raises(LessonConflict, match="already being published"):
        jobs.request_publish(db, lesson_id, recordings, None)
    done = _claim_and_run(db, recordings, media)
    assert (done.state, done.percent, done.attempts, done.error) == ("done", 100.0, 1, None)
    published = get_lesson(db, lesson_id)
    assert published.status is LessonStatus.PUBLISHED and published.media_path == \
        f"lessons/{lesson_id}"
    assert published.duration and published.published_start is not None
    tech = published.technical or {}
    items = tech["chapters"]["items"]
    assert [c["title"] for c in items] == ["Exposure", "Resection of the spur"]
    # The chapter moved to the end of the hidden segment, on the lesson clock.
    assert items[0]["start"] == pytest.approx(exposure.start + 0.3 - published.published_start,
                                              abs=0.01)
    [hidden] = tech["hidden"]
    assert hidden["end"] == pytest.approx(items[0]["start"], abs=0.01)
    timeline = json.loads((media / published.media_path / "timeline.json").read_text())
    assert all(not hidden["start"] <= e["at"] < hidden["end"] for e in timeline["events"])


def test_failed_job_is_retried_and_interrupted_jobs_requeued(db: Database, recording: Recorded,
                                                             tmp_path: Path) -> None:
    recordings, media = recording.folder.parent.parent, tmp_path / "library"
    lesson_id = _lesson(db, recording)
    confirm_privacy(db, lesson_id, consent=True, deidentified=True, user_id=None)
    track = recording.folder / "iso-cam1.mp4"
    kept = track.read_bytes()
    track.write_bytes(kept[: len(kept) // 50])
    job = jobs.request_publish(db, lesson_id, recordings, None)
    failed = _claim_and_run(db, recordings, media)
    assert failed.state == "failed" and "iso-cam1" in (failed.error or "")
    assert get_lesson(db, lesson_id).status is LessonStatus.FAILED
    assert not (media / "lessons" / str(lesson_id)).exists()

    track.write_bytes(kept)
    assert jobs.retry_job(db, job.id, recordings).state == "queued"
    claimed = jobs.claim_next(db)
    assert claimed is not None and claimed.attempts == 2
    # The server dies here: on the next start the job is queued again and redone.
    assert jobs.requeue_interrupted(db) == [job.id]
    done = _claim_and_run(db, recordings, media)
    assert done.state == "done" and done.attempts == 3
    with pytest.raises(LessonConflict, match="only a failed job"):
        jobs.retry_job(db, job.id, recordings)

    unpublished = jobs.unpublish(db, lesson_id, media)
    assert unpublished.status is LessonStatus.UNPUBLISHED and unpublished.media_path is None
    assert not (media / "lessons" / str(lesson_id)).exists()


def test_a_running_recording_is_refused(db: Database, recording: Recorded) -> None:
    lesson_id = _lesson(db, recording)
    confirm_privacy(db, lesson_id, consent=True, deidentified=True, user_id=None)
    manifest_path = recording.folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["state"] = "recording"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(LessonConflict, match="still recording"):
        jobs.request_publish(db, lesson_id, recording.folder.parent.parent, None)
    assert get_lesson(db, lesson_id).status is LessonStatus.DRAFT


def test_a_job_publishes_the_conversation_as_curated(db: Database, recording: Recorded,
                                                     tmp_path: Path) -> None:
    """The curator's hidden messages are left out; whoever ran the session is published by
    their display name from the database, the students as numbered participants."""
    recordings, media = recording.folder.parent.parent, tmp_path / "library"
    start = json.loads((recording.folder / "manifest.json").read_text())["tracks"][0][
        "media_offset"]
    classroom(recording.folder, base=start - 0.9)
    create_user(db, TEACHER, "a-long-password-1", Role.INSTRUCTOR, display_name="Dr. Ivan Petrov")
    create_user(db, "ana.k", "a-long-password-2", Role.STUDENT, display_name="Ana Kovač")
    lesson_id = _lesson(db, recording)
    lesson = get_lesson(db, lesson_id)
    save_edit(db, lesson_id, lesson.version, CurationEdit(
        trim_start=None, trim_end=None,
        chapters=[ChapterDraft(c.title, c.start, c.id) for c in lesson.chapters], hidden=[],
        hidden_messages=["c1"]))
    assert jobs.session_people(db, recording.folder) == {TEACHER: "Dr. Ivan Petrov"}
    confirm_privacy(db, lesson_id, consent=True, deidentified=True, user_id=None)
    jobs.request_publish(db, lesson_id, recordings, None)
    assert _claim_and_run(db, recordings, media).state == "done"
    folder = media / get_lesson(db, lesson_id).media_path  # type: ignore[operator]
    talk = json.loads((folder / "timeline.json").read_text())["conversation"]
    by_id = {i["id"]: i for i in talk}
    assert "c1" not in by_id and "c2" not in by_id  # hidden by the curator; deleted live
    assert by_id["c3"]["author"] == "Dr. Ivan Petrov"
    assert by_id["q1"]["author"].startswith("Participant ")
    text = (folder / "timeline.json").read_text()
    assert "Ana Kovač" not in text and "ana.k" not in text and TEACHER not in text

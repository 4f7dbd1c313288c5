"""The demo library: recordings generated, lessons curated and published by the real pipeline
(jobs run here as the server's runner runs them), one left waiting; a second run adds nothing."""

from __future__ import annotations

import json
from pathlib import Path

from library.courses import ensure_demo_courses
from library.db import Database
from library.demo_library import DemoLesson, ensure_demo_library
from library.lessons import LessonStatus, list_lessons
from library.publishing.curation_media import load_curation
from library.publishing.jobs import claim_next, run_job
from library.users import ensure_demo_users

SHORT = (
    DemoLesson("ent", "Septoplasty (demo)", "Septoplasty", 8.0,
               (("Exposure", 1.0), ("Resection", 5.0)), notes=((2.0, "Keep the flap."),),
               hidden=(3.0, 4.5), trim_start=0.5),
    DemoLesson("ent", "FESS (demo)", "FESS", 5.0, (("Uncinectomy", 1.0),), publish=False),
)


def test_demo_lessons_are_published_by_the_pipeline_once(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'medroom.db'}")
    try:
        db.migrate()
        ensure_demo_users(db)
        ensure_demo_courses(db)
        recordings, media = tmp_path / "recordings", tmp_path / "library"
        queued = ensure_demo_library(db, recordings, lessons=SHORT)
        assert len(queued) == 1
        while (job := claim_next(db)) is not None:
            assert run_job(db, job, recordings, media).state == "done"
        lessons = {x.title: x for x in list_lessons(db)}
        published, waiting = lessons["Septoplasty (demo)"], lessons["FESS (demo)"]
        assert published.status is LessonStatus.PUBLISHED
        assert waiting.status is LessonStatus.DRAFT and [c.title for c in waiting.chapters] == [
            "Uncinectomy"]
        assert load_curation(recordings / waiting.recording_folder) is not None

        meta = json.loads((media / str(published.media_path) / "lesson.json").read_text())
        # GOP of 2 s: the 0.5 s start cuts at the keyframe at 0 s; 8 s long.
        assert meta["trim"]["start"] == 0.0 and abs(meta["duration"] - 8.0) < 0.1
        assert meta["hidden"] == [{"start": 3.0, "end": 4.5}]
        assert [c["title"] for c in meta["chapters"]["items"]] == ["Exposure", "Resection"]
        assert {t["name"] for t in meta["tracks"]} == {"program", "iso-endoscope", "iso-room",
                                                        "audio"}
        timeline = json.loads((media / str(published.media_path) / "timeline.json").read_text())
        assert {e["type"] for e in timeline["events"]} >= {"marker", "stroke"}
        # The classroom, less the deleted line and the hidden part (3-4.5 s of the 8 s).
        talk = {i["id"]: i for i in timeline["conversation"]}
        assert "demo-c3" not in talk and "demo-c1" in talk and talk["demo-c1"]["author"] == \
            "Participant 1"
        assert [n.text for n in published.notes] == ["Keep the flap."]

        assert ensure_demo_library(db, recordings, lessons=SHORT) == []
        assert len(list_lessons(db)) == 2
    finally:
        db.dispose()

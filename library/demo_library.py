"""The demo library: a few published lessons in the demo courses and one recording waiting to be
curated, so a fresh ``make run`` shows the player, search and the curation editor with
something in them.

Each lesson starts as a recording written by ``recorder/synthetic.py`` (three views and sound,
markers, notes, drawings and chat on its timeline), becomes a lesson with the curator's
decisions (trim, chapters, a hidden part, notes), passes the privacy gate and is queued for the
real publishing pipeline (the server's publishing runner does the work, as for any lesson). The
editor's media (waveform, thumbnails, keyframes) are made here too.

Idempotent: a demo lesson whose title is already in the library is left alone, so a second
start (or one after an interrupted first) only adds what is missing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from library.courses import list_courses
from library.db import Database
from library.lessons import (
    MetadataEdit,
    Segment,
    add_note,
    confirm_privacy,
    create_lesson,
    list_lessons,
    set_hidden_segments,
    set_trim,
    update_metadata,
)
from library.publishing.curation_media import prepare_curation
from library.publishing.jobs import request_publish
from library.users import get_user_by_username
from recorder.manifest import Manifest
from recorder.synthetic import DEFAULT_VIEWS, SyntheticView, write_synthetic_recording
from recorder.timeline import (
    ChatMessage,
    Event,
    Marker,
    Note,
    Poll,
    PollResult,
    Question,
    QuestionStatus,
    Retraction,
    Speaker,
    Stroke,
)

logger = logging.getLogger(__name__)

DEMO_ROOM = "demo"


@dataclass(frozen=True)
class DemoLesson:
    course: str  # slug
    title: str
    procedure: str
    seconds: float
    chapters: tuple[tuple[str, float], ...]  # markers set during the session
    notes: tuple[tuple[float, str], ...] = ()  # the curator's notes on the lesson
    hidden: tuple[float, float] | None = None
    trim_start: float | None = None
    publish: bool = True
    tags: tuple[str, ...] = ()
    views: tuple[SyntheticView, ...] = DEFAULT_VIEWS
    description: str = ""
    session_notes: tuple[tuple[float, str], ...] = field(default=())


DEMO_LESSONS = (
    DemoLesson(
        "ent", "Endoscopic septoplasty", "Septoplasty", 36.0,
        (("Exposure", 2.0), ("Mucoperichondrial flap", 9.0), ("Cartilage resection", 17.0),
         ("Closure", 29.0)),
        notes=((10.0, "Keep the flap intact: a tear here is the usual cause of a perforation."),
               (18.0, "Leave a 1 cm L-strut dorsally and caudally.")),
        hidden=(22.0, 26.0), trim_start=1.5, tags=("septum", "endoscopy"),
        description="Endoscopic septoplasty for a deviated septum: flap elevation, resection "
                    "of the deviated cartilage and bone, closure.",
        session_notes=((5.0, "septum deviated to the left"),)),
    DemoLesson(
        "neurosurgery", "Microsurgical clipping of an MCA aneurysm", "Aneurysm clipping", 32.0,
        (("Sylvian fissure", 1.0), ("Proximal control", 10.0), ("Clip placement", 20.0)),
        notes=((21.0, "Check the clip with ICG before closing."),),
        hidden=(14.0, 17.0), tags=("aneurysm", "microsurgery"),
        views=(SyntheticView("program", "PROGRAM", 110), SyntheticView("iso-microscope",
               "MICROSCOPE", 15), SyntheticView("iso-ct", "CT", 0)),
        description="Pterional approach, opening of the Sylvian fissure and clipping of a "
                    "middle cerebral artery bifurcation aneurysm."),
    DemoLesson(
        "gastroenterology", "Diagnostic gastroscopy", "Gastroscopy", 28.0,
        (("Oesophagus", 1.0), ("Stomach", 9.0), ("Duodenum", 19.0)),
        notes=((12.0, "Retroflex to see the cardia."),), tags=("endoscopy",),
        views=(SyntheticView("program", "PROGRAM", 20), SyntheticView("iso-endoscope",
               "ENDOSCOPE", 175)),
        description="A complete diagnostic upper GI endoscopy, landmarks named."),
    DemoLesson(
        "ent", "Functional endoscopic sinus surgery", "FESS", 24.0,
        (("Uncinectomy", 3.0), ("Maxillary antrostomy", 12.0)), publish=False,
        tags=("sinus", "endoscopy")),
)


def _events(lesson: DemoLesson) -> list[Event]:
    events: list[Event] = [Marker(title, at=at, author="dr-ana") for title, at in lesson.chapters]
    events += [Note(text, at=at, author="dr-ana") for at, text in lesson.session_notes]
    # A drawing in each chapter: the instructor pointing at something.
    for i, (_title, at) in enumerate(lesson.chapters):
        start = at + 1.5
        points = tuple((0.35 + 0.25 * t / 8, 0.4 + 0.12 * math.sin(t + i)) for t in range(9))
        events.append(Stroke(points, "#00e676" if i % 2 else "#ffd54f", 5, start, start + 0.8,
                             at=start, author="dr-ana"))
    events += _classroom(lesson.seconds)
    return events


def _classroom(seconds: float) -> list[Event]:
    """A live classroom's conversation (published with students as numbered participants):
    chat, a deleted line, an answered question, a poll with its results, a talkback. The
    demo instructor's account ran it, so it is published under her display name."""
    at = [seconds * f for f in (0.15, 0.25, 0.3, 0.4, 0.45, 0.5, 0.6, 0.65, 0.7, 0.8)]
    return [
        ChatMessage("Good evening from Pleven!", at=at[0], author="student", id="demo-c1"),
        ChatMessage("Could you show the anatomy once more?", at=at[1], author="student",
                    id="demo-c2"),
        ChatMessage("off-topic line the instructor deleted", at=at[2], author="visitor",
                    id="demo-c3"),
        Retraction(target="demo-c3", at=at[2] + 0.5, author="instructor"),
        Question(question="demo-q1", text="Why the 30° scope rather than the 0°?", at=at[3],
                 author="visitor"),
        QuestionStatus(question="demo-q1", status="answered", votes=4, at=at[4],
                       author="instructor"),
        Poll(poll="demo-p1", question="Which approach would you choose here?",
             options=("Endoscopic", "Open", "Wait and see"), seconds=30, at=at[5],
             author="instructor"),
        PollResult(poll="demo-p1", counts=(9, 3, 1), answered=13, shown=True, at=at[6],
                   author="instructor"),
        Speaker(speaker="student", at=at[7], author="instructor"),
        Speaker(speaker="", at=at[8], author="instructor"),
        ChatMessage("Thank you, very clear.", at=at[9], author="visitor", id="demo-c4"),
    ]


def ensure_demo_library(db: Database, recordings_dir: Path, *,
                        should_stop: Callable[[], bool] = lambda: False,
                        lessons: Sequence[DemoLesson] = DEMO_LESSONS) -> list[int]:
    """Make the demo lessons that are missing; returns the ids of the lessons queued for
    publishing (the caller wakes the publishing runner)."""
    found = list_courses(db)
    courses = {c.slug: c.id for c in found}
    specialties = {c.slug: c.specialty for c in found}
    existing = {x.title for x in list_lessons(db)}
    curator = get_user_by_username(db, "curator")
    queued: list[int] = []
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    for number, demo in enumerate(lessons):
        if should_stop():
            break
        if demo.title in existing or demo.course not in courses:
            continue
        folder = write_synthetic_recording(
            recordings_dir, DEMO_ROOM, demo.title, seconds=demo.seconds, views=demo.views,
            events=_events(demo), started=base + timedelta(hours=3 * number))
        manifest = Manifest.read(folder)
        info = create_lesson(
            db, recording_id=manifest.id, room_id=DEMO_ROOM,
            recording_folder=str(folder.relative_to(recordings_dir)), title=demo.title,
            recording_duration=manifest.duration, markers=[
                e for e in _events(demo) if isinstance(e, Marker)],
            course_ids=[courses[demo.course]], instructors=["Dr. Ana Popescu"],
            specialty=specialties[demo.course],
            created_by=curator.id if curator else None)
        update_metadata(db, info.id, MetadataEdit(procedure=demo.procedure,
                                                  description=demo.description,
                                                  tags=list(demo.tags)))
        prepare_curation(folder)
        if not demo.publish:
            continue  # waiting for a curator
        if demo.trim_start is not None:
            set_trim(db, info.id, demo.trim_start, None)
        if demo.hidden is not None:
            set_hidden_segments(db, info.id, [Segment(*demo.hidden)])
        for at, text in demo.notes:
            add_note(db, info.id, at, text, "Dr. Ana Popescu")
        confirm_privacy(db, info.id, consent=True, deidentified=True,
                        user_id=curator.id if curator else None)
        job = request_publish(db, info.id, recordings_dir, curator.id if curator else None)
        queued.append(job.lesson_id)
        logger.info("demo lesson %r queued for publishing", demo.title)
    return queued

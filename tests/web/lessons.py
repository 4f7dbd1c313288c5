"""A published lesson on a running server: a real recording, published by the real pipeline
into the server's library folder, and the lesson rows in the server's own database.

Also: logging in to the pages with httpx, as a browser does (form, CSRF, session cookie).
"""

from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from library.courses import create_course, set_member
from library.db import Database
from library.lessons import (
    LessonStatus,
    MetadataEdit,
    Segment,
    add_note,
    change_status,
    create_lesson,
    lesson_row,
    set_hidden_segments,
    update_metadata,
)
from library.models import utcnow
from library.publishing.pipeline import PublishedLesson, publish_recording
from library.users import get_user_by_username
from recorder.timeline import (
    ChatMessage,
    Poll,
    PollResult,
    Question,
    QuestionStatus,
    Retraction,
    Speaker,
    Timeline,
)
from tests.conftest import PASSWORD, Server
from tests.library.publishing.conftest import record


@dataclass(frozen=True)
class PublishedFixture:
    lesson_id: int
    course_id: int
    folder: Path
    published: PublishedLesson
    markers: tuple[tuple[str, float], ...]


def login(server: Server, username: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=30)
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, page.text
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf": csrf.group(1), "next": "/"})
    assert response.status_code == 303, response.text
    # Logging in starts a fresh session with a fresh CSRF token: read it from a page.
    fresh = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text)
    assert fresh
    client.headers["X-CSRF-Token"] = fresh.group(1)
    return client


CLASSROOM_TEACHER = "dr-ana"


def add_classroom(folder: Path) -> None:
    """A live classroom's conversation on the recording's timeline, in lesson seconds from the
    program's first frame: two chat lines (one is markup), one deleted, a question answered,
    a poll with its results, and a talkback."""
    offset = json.loads((folder / "manifest.json").read_text())["tracks"][0]["media_offset"]
    t = Timeline(folder)
    t.append(ChatMessage(text="Why the 30° scope here?", at=offset + 1.0, author="marko",
                         id="c1"))
    t.append(ChatMessage(text='<img src=x onerror="document.title=\'owned\'">bold?',
                         at=offset + 1.5, author="ivan", id="c2"))
    t.append(ChatMessage(text="call me on 0888 123", at=offset + 1.8, author="ivan", id="c3"))
    t.append(Retraction(target="c3", at=offset + 1.9, author=CLASSROOM_TEACHER))
    t.append(Question(question="q1", text="Is the cartilage kept for grafting?",
                      at=offset + 3.0, author="marko"))
    t.append(QuestionStatus(question="q1", status="answered", votes=3, at=offset + 3.2,
                            author=CLASSROOM_TEACHER))
    t.append(Poll(poll="p1", question="Which approach would you take?",
                  options=("Endoscopic", "Open"), seconds=30, at=offset + 3.5,
                  author=CLASSROOM_TEACHER))
    t.append(PollResult(poll="p1", counts=(5, 2), answered=7, shown=True, at=offset + 4.0,
                        author=CLASSROOM_TEACHER))
    t.append(Speaker(speaker="marko", at=offset + 6.0, author=CLASSROOM_TEACHER))
    t.append(Speaker(speaker="", at=offset + 7.0, author=CLASSROOM_TEACHER))


def publish_lesson(server: Server, seconds: float = 6.0, *,
                   hidden: tuple[float, float] | None = None,
                   classroom: bool = False) -> PublishedFixture:
    """Record, publish and register one lesson; 'marko' enrolled, 'ivan' a student outside.
    ``classroom``: with a live classroom's conversation (``add_classroom``)."""
    # A thread of its own: the caller may be inside a running loop (Playwright's sync API).
    with ThreadPoolExecutor(1) as pool:
        recorded = pool.submit(asyncio.run,
                               record(server.data_dir / "recordings-src", seconds=seconds)).result()
    server.cli("user", "add", "ivan", "--role", "student", "--password", PASSWORD)
    db = Database(f"sqlite:///{server.data_dir / 'medroom.db'}")
    try:
        course = create_course(db, slug="ent-test", title="ENT", specialty="Otorhinolaryngology")
        marko = get_user_by_username(db, "marko")
        assert marko is not None
        set_member(db, course.id, marko.id, "student")
        markers = Timeline(recorded.folder).markers()
        info = create_lesson(db, recording_id=recorded.folder.name, room_id="demo",
                             recording_folder=f"demo/{recorded.folder.name}",
                             title="Septoplasty, endoscopic", recording_duration=seconds,
                             markers=markers, course_ids=[course.id],
                             instructors=["Dr. Ana Popescu"], specialty="Otorhinolaryngology")
        update_metadata(db, info.id, MetadataEdit(
            description="Endoscopic septoplasty: flap, cartilage resection, closure.",
            procedure="Septoplasty", tags=["septum", "endoscopy"]))
        media_path = f"lessons/{info.id}"
        folder = server.data_dir / "library" / media_path
        if classroom:
            add_classroom(recorded.folder)
        published = publish_recording(recorded.folder, folder, thumbnail_every=1.0,
                                      people={CLASSROOM_TEACHER: "Dr. Ana Popescu"})
        add_note(db, info.id, published.start + 1.0, "Keep the mucoperichondrial flap intact.",
                 "dr-ana")
        if hidden is not None:
            # Given on the lesson clock; kept on the session clock like every curation time.
            set_hidden_segments(db, info.id, [Segment(published.start + hidden[0],
                                                      published.start + hidden[1])])
        with db.session() as session:
            row = lesson_row(session, info.id)
            change_status(session, row, LessonStatus.PUBLISHING)
            change_status(session, row, LessonStatus.PUBLISHED)
            row.media_path, row.duration = media_path, published.duration
            row.published_start, row.published_at = published.start, utcnow()
        return PublishedFixture(info.id, course.id, folder, published, recorded.markers)
    finally:
        db.dispose()



"""Courses, members, lessons and their curation on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from library.courses import (
    CourseError,
    MemberRole,
    access_for,
    create_course,
    ensure_demo_courses,
    list_courses,
    list_members,
    set_member,
)
from library.db import Database
from library.lessons import (
    ChapterDraft,
    LessonConflict,
    LessonError,
    LessonStatus,
    MetadataEdit,
    Segment,
    add_note,
    confirm_privacy,
    create_lesson,
    get_lesson,
    list_lessons,
    set_chapters,
    set_hidden_segments,
    set_trim,
    update_metadata,
)
from library.models import Base, include_in_schema_comparison
from library.users import Role, create_user
from recorder.timeline import Marker


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_name": include_in_schema_comparison})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_demo_courses_are_seeded_once_with_the_demo_people(db: Database) -> None:
    teacher = create_user(db, "instructor", "password-1", Role.INSTRUCTOR)
    student = create_user(db, "student", "password-1", Role.STUDENT)
    first = ensure_demo_courses(db)
    again = ensure_demo_courses(db)
    assert [c.title for c in first] == ["ENT", "Gastroenterology", "Neurosurgery"]
    assert [c.id for c in again] == [c.id for c in first]
    access = access_for(db, teacher.id, Role.INSTRUCTOR)
    assert access.teaches == {c.id for c in first} and not access.everything
    enrolled = access_for(db, student.id, Role.STUDENT).enrolled
    assert {c.slug for c in first if c.id in enrolled} == {"neurosurgery", "ent"}
    assert access_for(db, None, Role.CURATOR).everything


def test_course_rules(db: Database) -> None:
    course = create_course(db, slug="spine-101", title="Spine", specialty="Neurosurgery")
    with pytest.raises(CourseError, match="already exists"):
        create_course(db, slug="spine-101", title="Again", specialty="Neurosurgery")
    with pytest.raises(CourseError, match="invalid course slug"):
        create_course(db, slug="Spine 101!", title="x", specialty="y")
    student = create_user(db, "marko", "password-1", Role.STUDENT)
    with pytest.raises(CourseError, match="only instructors"):
        set_member(db, course.id, student.id, MemberRole.INSTRUCTOR)
    set_member(db, course.id, student.id, "student")
    assert [(m.username, m.role) for m in list_members(db, course.id)] == [
        ("marko", MemberRole.STUDENT)]


def _lesson(db: Database, course_ids: tuple[int, ...] = ()) -> int:
    markers = [Marker("Resection", at=40.0, id="m2"), Marker("Exposure", at=10.0, id="m1")]
    return create_lesson(db, recording_id="rec1", room_id="demo",
                         recording_folder="demo/2026-11-23-rec1", title="Septoplasty",
                         recording_duration=60.0, markers=markers, course_ids=course_ids).id


def test_lesson_curation(db: Database) -> None:
    ent = create_course(db, slug="ent", title="ENT", specialty="ENT")
    lesson_id = _lesson(db, (ent.id,))
    lesson = get_lesson(db, lesson_id)
    assert lesson.status is LessonStatus.DRAFT and lesson.course_ids == (ent.id,)
    assert [(c.title, c.start, c.marker_id) for c in lesson.chapters] == [
        ("Exposure", 10.0, "m1"), ("Resection", 40.0, "m2")]
    with pytest.raises(LessonConflict, match="already is lesson"):
        _lesson(db)

    lesson = update_metadata(db, lesson_id, MetadataEdit(
        procedure="Septoplasty", tags=["septum", "septum", " nose "], language="ro"))
    assert lesson.tags == ("septum", "nose") and lesson.language == "ro"
    assert [c.title for c in list_courses(db)] == ["ENT"] and list_courses(db)[0].lessons == 1

    with pytest.raises(LessonError, match="not after trim start"):
        set_trim(db, lesson_id, 30.0, 20.0)
    with pytest.raises(LessonError, match="past the end"):
        set_trim(db, lesson_id, 5.0, 61.0)
    assert set_trim(db, lesson_id, 5.0, 50.0).trim_end == 50.0

    first, second = lesson.chapters
    renamed = set_chapters(db, lesson_id, [
        ChapterDraft("Approach", 2.0),
        ChapterDraft("Exposure of the septum", first.start, first.id),
        ChapterDraft("Resection", 45.0, second.id)])
    assert [(c.title, c.start, c.position) for c in renamed.chapters] == [
        ("Approach", 2.0, 0), ("Exposure of the septum", 10.0, 1), ("Resection", 45.0, 2)]
    with pytest.raises(LessonError, match="before the chapter above it"):
        set_chapters(db, lesson_id, [ChapterDraft("B", 20.0), ChapterDraft("A", 10.0)])
    with pytest.raises(LessonError, match="chapter 1: title is empty"):
        set_chapters(db, lesson_id, [ChapterDraft("  ", 20.0)])

    hidden = set_hidden_segments(db, lesson_id, [Segment(20, 25), Segment(24, 30)])
    assert hidden.hidden_segments == (Segment(20.0, 30.0),)
    with pytest.raises(LessonError, match="not after start"):
        set_hidden_segments(db, lesson_id, [Segment(30, 30)])
    note = add_note(db, lesson_id, 12.5, "Note the spur", author="cura")
    assert get_lesson(db, lesson_id).notes[0].text == "Note the spur" and note.at == 12.5

    assert get_lesson(db, lesson_id).privacy_problem is not None
    confirmed = confirm_privacy(db, lesson_id, consent=True, deidentified=True, user_id=None)
    assert confirmed.privacy_problem is None and confirmed.privacy_confirmed_at is not None
    assert [x.id for x in list_lessons(db, course_ids=frozenset({ent.id}))] == [lesson_id]
    assert list_lessons(db, statuses=[LessonStatus.PUBLISHED]) == []

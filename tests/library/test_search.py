"""Search on a real database (SQLite FTS5, and PostgreSQL tsvector when configured)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text

from library.courses import CourseAccess, access_for, create_course, set_member
from library.db import Database
from library.lessons import (
    ChapterDraft,
    LessonStatus,
    MetadataEdit,
    add_note,
    change_status,
    create_lesson,
    lesson_row,
    set_chapters,
    update_metadata,
)
from library.models import SearchDocument
from library.search.index import reindex_all
from library.search.query import Filters, SearchError, search
from library.search.text import fold, fts5_query, query_terms, tsquery
from library.users import Role, create_user

EVERYTHING = CourseAccess(True, frozenset(), frozenset())


def publish(db: Database, lesson_id: int, start: float = 0.0) -> None:
    with db.session() as session:
        row = lesson_row(session, lesson_id)
        change_status(session, row, LessonStatus.PUBLISHING)
        change_status(session, row, LessonStatus.PUBLISHED)
        row.published_start = start
        row.duration = 600.0


def lesson(db: Database, n: int, title: str, course: int, *, chapters: list[tuple[str, float]],
           notes: tuple[str, ...] = (), description: str = "", language: str = "en",
           instructors: tuple[str, ...] = ("Dr. Ana Popescu",), specialty: str = "ENT",
           published: bool = True) -> int:
    info = create_lesson(db, recording_id=f"rec-{n}", room_id="demo",
                         recording_folder=f"demo/rec-{n}", title=title, recording_duration=900,
                         course_ids=[course], instructors=instructors, specialty=specialty)
    update_metadata(db, info.id, MetadataEdit(description=description, language=language,
                                              tags=["demo"]))
    set_chapters(db, info.id, [ChapterDraft(t, at) for t, at in chapters])
    for i, note in enumerate(notes):
        add_note(db, info.id, 100 + i, note, "dr-ana")
    if published:
        publish(db, info.id, start=10.0)
    return info.id


@pytest.fixture
def library(db: Database) -> dict[str, int]:
    ent = create_course(db, slug="ent", title="ENT", specialty="ENT").id
    neuro = create_course(db, slug="neuro", title="Neurosurgery", specialty="Neurosurgery").id
    ids = {
        "ent": ent, "neuro": neuro,
        "septo": lesson(db, 1, "Septoplasty under endoscopy", ent,
                        chapters=[("Exposure", 20.0), ("Cartilage resection", 130.0)],
                        notes=("Watch the mucoperichondrial flap near the spine",),
                        description="A deviated septum corrected; OR team setup shown."),
        "ro": lesson(db, 2, "Ședință de chirurgie endoscopică", ent, language="ro",
                     chapters=[("Disecția țesutului", 40.0)], instructors=("Dr. Ion Ionescu",),
                     description="Tehnică; pacient anonimizat."),
        "bg": lesson(db, 3, "Хирургия на хипофизата", neuro, language="bg",
                     specialty="Neurosurgery",
                     chapters=[("Трансфеноидален достъп", 60.0)], instructors=("Д-р Петров",)),
        "sql": lesson(db, 4, "Drop table lessons; a talk about data loss", neuro,
                      specialty="Neurosurgery",
                      chapters=[("Tumor near the optic nerve", 70.0), ("C: the drive", 90.0)],
                      description="x-ray and \"quoted\" words; '; DROP TABLE lessons; -- and 5*"),
        "draft": lesson(db, 5, "Septoplasty draft, not published", ent,
                        chapters=[("Exposure", 15.0)], published=False),
    }
    return ids


def titles(results) -> list[str]:  # type: ignore[no-untyped-def]
    return [hit.title for hit in results.hits]


def test_chapter_title_finds_the_lesson_and_the_chapter_time(db: Database, library) -> None:  # type: ignore[no-untyped-def]
    results = search(db, "cartilage", EVERYTHING)
    assert titles(results) == ["Septoplasty under endoscopy"] and results.total == 1
    match = results.hits[0].match
    assert match is not None and match.kind == "chapter"
    # Curated at 130 s on the session clock; the lesson clock starts at 10 s.
    assert match.title == "Cartilage resection" and match.at == pytest.approx(120.0)
    assert [(f.text, f.hit) for f in match.snippet] == [("Cartilage", True), (" resection", False)]


def test_notes_descriptions_prefixes_and_diacritics(db: Database, library) -> None:  # type: ignore[no-untyped-def]
    note = search(db, "mucoperichondrial", EVERYTHING).hits[0].match
    assert note is not None and note.kind == "note" and note.at == pytest.approx(90.0)
    # Typed without diacritics, found with them; the snippet marks the word as written.
    ro = search(db, "disectia tesutului", EVERYTHING)
    assert titles(ro) == ["Ședință de chirurgie endoscopică"]
    assert [f.text for f in ro.hits[0].match.snippet if f.hit] == ["Disecția", "țesutului"]
    assert titles(search(db, "sedinta", EVERYTHING)) == ["Ședință de chirurgie endoscopică"]
    # Cyrillic, and the last word as a prefix while typing.
    assert titles(search(db, "трансфено", EVERYTHING)) == ["Хирургия на хипофизата"]
    assert titles(search(db, "хипофизата", EVERYTHING)) == ["Хирургия на хипофизата"]
    # Every word must match.
    assert search(db, "septoplasty cyrillic", EVERYTHING).total == 0
    both = search(db, "septoplasty", EVERYTHING)
    assert set(titles(both)) == {"Septoplasty under endoscopy", "Septoplasty draft, not published"}


@pytest.mark.parametrize("query, expected", [
    ('"quoted', ["Drop table lessons; a talk about data loss"]),
    ("5*", ["Drop table lessons; a talk about data loss"]),
    ("OR team", ["Septoplasty under endoscopy"]),
    ("NEAR(optic", ["Drop table lessons; a talk about data loss"]),
    ("'; DROP TABLE lessons; --", ["Drop table lessons; a talk about data loss"]),
    ("x-ray", ["Drop table lessons; a talk about data loss"]),
    ("C:", ["Drop table lessons; a talk about data loss"]),
    ("-exposure", ["Septoplasty draft, not published", "Septoplasty under endoscopy"]),
    ("tumor OR septoplasty", []),  # OR is a word to find, not an operator
    ("NEAR(tumor optic)", ["Drop table lessons; a talk about data loss"]),
])
def test_query_syntax_is_searched_literally(db: Database, library, query: str,  # type: ignore[no-untyped-def]
                                            expected: list[str]) -> None:
    assert sorted(titles(search(db, query, EVERYTHING))) == sorted(expected)
    with db.session() as session:  # and nothing was dropped
        assert session.execute(text("SELECT COUNT(*) FROM lessons")).scalar() == 5


@pytest.mark.parametrize("query", ['"', "*", "-", ":", "()", "NEAR(", "   ", "''"])
def test_queries_without_words_list_the_lessons(db: Database, library, query: str) -> None:  # type: ignore[no-untyped-def]
    results = search(db, query, EVERYTHING)
    words = query_terms(query).words
    if words:  # "NEAR(" is the word "near": a chapter of one, a note of the other
        assert sorted(titles(results)) == ["Drop table lessons; a talk about data loss",
                                           "Septoplasty under endoscopy"]
    else:
        assert results.total == 5 and all(hit.match is None for hit in results.hits)


def test_query_strings_never_carry_syntax() -> None:
    terms = query_terms('a"b NEAR(x* OR y) \'; DROP -- z:wx')
    assert terms.words == ("a", "b", "near", "x", "or", "y", "drop", "z", "wx")
    assert fts5_query(terms) == ('"a" AND "b" AND "near" AND "x" AND "or" AND "y" AND "drop" '
                                 'AND "z" AND "wx"*')
    assert tsquery(terms) == "'a' & 'b' & 'near' & 'x' & 'or' & 'y' & 'drop' & 'z' & 'wx':*"
    assert fold("ȘEDINȚĂ Ђурђевац й") == "sedinta djurdjevac y"
    assert not query_terms("polyp ").prefix and query_terms("polyp").prefix


def test_filters(db: Database, library) -> None:  # type: ignore[no-untyped-def]
    everyone = search(db, "", EVERYTHING)
    assert everyone.total == 5
    assert set(titles(search(db, "", EVERYTHING, Filters(specialty="Neurosurgery")))) == {
        "Хирургия на хипофизата", "Drop table lessons; a talk about data loss"}
    assert titles(search(db, "", EVERYTHING, Filters(language="ro"))) == [
        "Ședință de chirurgie endoscopică"]
    assert titles(search(db, "", EVERYTHING, Filters(instructor="Dr. Ion Ionescu"))) == [
        "Ședință de chirurgie endoscopică"]
    assert search(db, "", EVERYTHING, Filters(instructor="Dr. Ion")).total == 0  # exact name
    in_neuro = search(db, "", EVERYTHING, Filters(course_id=library["neuro"]))
    assert in_neuro.total == 2
    today = date.today()
    assert search(db, "", EVERYTHING, Filters(date_from=today - timedelta(days=1),
                                              date_to=today + timedelta(days=1))).total == 5
    assert search(db, "", EVERYTHING, Filters(date_from=today + timedelta(days=2))).total == 0
    with pytest.raises(SearchError, match="ends .* before it starts"):
        search(db, "", EVERYTHING, Filters(date_from=today, date_to=today - timedelta(days=3)))
    paged = search(db, "", EVERYTHING, limit=2, offset=2)
    assert paged.total == 5 and len(paged.hits) == 2


def test_only_lessons_the_person_may_see(db: Database, library) -> None:  # type: ignore[no-untyped-def]
    student = create_user(db, "marko", "password-1", Role.STUDENT)
    teacher = create_user(db, "dr-ana", "password-1", Role.INSTRUCTOR)
    set_member(db, library["ent"], student.id, "student")
    set_member(db, library["neuro"], teacher.id, "instructor")
    as_student = access_for(db, student.id, Role.STUDENT)
    # Enrolled in ENT: its published lessons only, never the draft, never Neurosurgery.
    assert set(titles(search(db, "", as_student))) == {
        "Septoplasty under endoscopy", "Ședință de chirurgie endoscopică"}
    assert titles(search(db, "septoplasty", as_student)) == ["Septoplasty under endoscopy"]
    assert search(db, "optic", as_student).total == 0
    # Teaching Neurosurgery: its lessons (drafts included), nothing of ENT.
    as_teacher = access_for(db, teacher.id, Role.INSTRUCTOR)
    assert search(db, "septoplasty", as_teacher).total == 0
    assert titles(search(db, "optic", as_teacher)) == ["Drop table lessons; a talk about data loss"]
    nobody = access_for(db, None, Role.STUDENT)
    assert search(db, "", nobody).total == 0


def test_index_follows_curation_and_rebuilds(db: Database, library) -> None:  # type: ignore[no-untyped-def]
    lesson_id = library["septo"]
    set_chapters(db, lesson_id, [ChapterDraft("Haemostasis", 50.0)])
    assert search(db, "cartilage", EVERYTHING).total == 0
    assert search(db, "haemostasis", EVERYTHING).hits[0].match.at == pytest.approx(40.0)
    update_metadata(db, lesson_id, MetadataEdit(title="Septorhinoplasty"))
    assert titles(search(db, "septorhinoplasty", EVERYTHING)) == ["Septorhinoplasty"]
    with db.session() as session:
        before = session.scalar(select(func.count()).select_from(SearchDocument))
        session.execute(text("DELETE FROM search_documents"))
        session.execute(text("DELETE FROM search_lessons"))
    assert search(db, "septorhinoplasty", EVERYTHING).total == 0
    assert reindex_all(db) == before
    assert titles(search(db, "septorhinoplasty", EVERYTHING)) == ["Septorhinoplasty"]

"""Finding lessons: full-text match, filters, access, and the chapter each result jumps to.

One query ranks the lessons a person may see (FTS5 ``bm25`` on SQLite, ``ts_rank`` on
PostgreSQL, over one row per lesson holding all its text, titles weighing more than the rest)
and counts them in the same pass. Then, for the page of results only, the lesson's chapters and
notes are read back and the one that holds the words is shown, with its time, so the link
starts the video there.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from sqlalchemy import bindparam, select, text

from library.courses import CourseAccess
from library.db import Database
from library.i18n import formats, lazy
from library.lessons import LessonStatus
from library.models import Course, Lesson, LessonCourse, SearchDocument
from library.search.text import (
    Fragment,
    Terms,
    fts5_query,
    query_terms,
    snippet,
    tsquery,
    words_held,
)

MAX_LIMIT = 100


class SearchError(ValueError):
    """A filter was refused; the message (a ``LazyText``) says which and why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Filters:
    specialty: str | None = None
    course_id: int | None = None
    instructor: str | None = None
    language: str | None = None
    date_from: date | None = None  # published (or, for drafts, created) on or after
    date_to: date | None = None  # on or before

    def check(self) -> None:
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise SearchError(lazy("the date range ends (%(end)s) before it starts (%(start)s)",
                                   "date_range_reversed", end=formats.format_date(self.date_to),
                                   start=formats.format_date(self.date_from)))


@dataclass(frozen=True)
class Match:
    """Where in the lesson the words are: a chapter, a note, or the lesson's own text."""

    kind: str  # "chapter", "note", "lesson"
    title: str
    at: float | None  # lesson seconds
    snippet: tuple[Fragment, ...]


@dataclass(frozen=True)
class SearchHit:
    lesson_id: int
    title: str
    specialty: str
    language: str
    status: str
    instructors: tuple[str, ...]
    courses: tuple[str, ...]
    duration: float | None
    date: datetime
    match: Match | None


@dataclass(frozen=True)
class SearchResults:
    terms: Terms
    hits: tuple[SearchHit, ...]
    total: int
    took_ms: float
    offset: int = 0
    limit: int = 20


def _visible(access: CourseAccess, params: dict[str, Any]) -> str:
    """SQL condition on ``l``: lessons this person may find."""
    if access.everything:
        return "1 = 1"
    clauses = []
    if access.enrolled:
        params["enrolled"] = sorted(access.enrolled)
        clauses.append("(l.status = :published AND l.id IN (SELECT lesson_id FROM lesson_courses "
                       "WHERE course_id IN :enrolled))")
    if access.teaches:
        # Instructors find their courses' drafts too: they curate them.
        params["teaches"] = sorted(access.teaches)
        clauses.append("l.id IN (SELECT lesson_id FROM lesson_courses WHERE course_id IN :teaches)")
    params["published"] = LessonStatus.PUBLISHED.value
    return "(" + " OR ".join(clauses) + ")" if clauses else "1 = 0"


def _filtered(filters: Filters, params: dict[str, Any], dialect: str) -> list[str]:
    where: list[str] = []
    if filters.specialty:
        params["specialty"] = filters.specialty
        where.append("l.specialty = :specialty")
    if filters.language:
        params["language"] = filters.language
        where.append("l.language = :language")
    if filters.course_id is not None:
        params["course_id"] = filters.course_id
        where.append("l.id IN (SELECT lesson_id FROM lesson_courses WHERE course_id = :course_id)")
    if filters.instructor:
        # Instructors are a JSON list of names; match one element exactly, on both backends.
        params["instructor"] = filters.instructor
        where.append("EXISTS (SELECT 1 FROM json_each(l.instructors) WHERE value = :instructor)"
                     if dialect == "sqlite" else
                     "l.instructors::jsonb ? :instructor")
    when = "COALESCE(l.published_at, l.created_at)"
    if filters.date_from:
        params["date_from"] = datetime.combine(filters.date_from, dtime(), UTC)
        where.append(f"{when} >= :date_from")
    if filters.date_to:
        params["date_to"] = datetime.combine(filters.date_to + timedelta(days=1), dtime(), UTC)
        where.append(f"{when} < :date_to")
    return where


def _bind_dates(params: dict[str, Any], dialect: str) -> None:
    # SQLite stores naive UTC (see UTCDateTime); text() bypasses the column type.
    if dialect == "sqlite":
        for key in ("date_from", "date_to"):
            if key in params:
                params[key] = params[key].replace(tzinfo=None)


def _ranked_sql(dialect: str, where: str) -> str:
    # One row per lesson (search_lessons): no grouping of thousands of chapter matches.
    if dialect == "sqlite":
        # bm25() works only in the MATCH query itself: rank first (materialized, so SQLite
        # does not fold it into the join), then filter by access and the filters.
        return f"""
            WITH hits AS MATERIALIZED (
                SELECT rowid AS lesson_id, bm25(lesson_fts, 4.0, 1.0) AS score
                FROM lesson_fts WHERE lesson_fts MATCH :match)
            SELECT h.lesson_id AS lesson_id, h.score AS score, COUNT(*) OVER () AS total
            FROM hits h JOIN lessons l ON l.id = h.lesson_id
            WHERE {where}
            ORDER BY h.score, h.lesson_id DESC
            LIMIT :limit OFFSET :offset"""
    return f"""
        SELECT s.lesson_id AS lesson_id, -ts_rank(s.tsv, q.query) AS score,
               COUNT(*) OVER () AS total
        FROM search_lessons s
        CROSS JOIN (SELECT to_tsquery('simple', :match) AS query) q
        JOIN lessons l ON l.id = s.lesson_id
        WHERE s.tsv @@ q.query AND {where}
        ORDER BY score, s.lesson_id DESC
        LIMIT :limit OFFSET :offset"""


def _browse_sql(where: str) -> str:
    return f"""
        SELECT l.id AS lesson_id, 0 AS score, COUNT(*) OVER () AS total FROM lessons l
        WHERE {where}
        ORDER BY COALESCE(l.published_at, l.created_at) DESC, l.id DESC
        LIMIT :limit OFFSET :offset"""


def search(db: Database, query: str, access: CourseAccess, filters: Filters | None = None, *,
           limit: int = 20, offset: int = 0) -> SearchResults:
    """The lessons matching ``query`` that ``access`` may see, best first.

    An empty query (or one with no words, like ``"*"``) lists the visible lessons that pass
    the filters, newest first.
    """
    started = time.perf_counter()
    filters = filters or Filters()
    filters.check()
    if not 1 <= limit <= MAX_LIMIT:
        raise SearchError(lazy("limit must be 1..%(max)s, got %(limit)s", "bad_limit",
                               max=MAX_LIMIT, limit=limit))
    if offset < 0:
        raise SearchError(lazy("offset must not be negative, got %(offset)s", "bad_offset",
                               offset=offset))
    terms = query_terms(query)
    dialect = "sqlite" if db.is_sqlite else "postgresql"
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    where = " AND ".join([_visible(access, params), *_filtered(filters, params, dialect)])
    _bind_dates(params, dialect)
    if terms:
        params["match"] = fts5_query(terms) if dialect == "sqlite" else tsquery(terms)
        sql = _ranked_sql(dialect, where)
    else:
        sql = _browse_sql(where)
    statement = text(sql)
    for name in ("enrolled", "teaches"):
        if name in params:
            statement = statement.bindparams(bindparam(name, expanding=True))
    with db.session() as session:
        rows = session.execute(statement, params).all()
        ids = [int(r.lesson_id) for r in rows]
        total = int(rows[0].total) if rows else 0
        hits = _hits(session, ids, terms)
    took = (time.perf_counter() - started) * 1000
    return SearchResults(terms, hits, total, round(took, 2), offset, limit)




def _hits(session: Any, ids: Sequence[int], terms: Terms) -> tuple[SearchHit, ...]:
    if not ids:
        return ()
    lessons = {l.id: l for l in session.scalars(select(Lesson).where(Lesson.id.in_(ids)))}
    courses: dict[int, list[str]] = {i: [] for i in ids}
    for lesson_id, title in session.execute(
            select(LessonCourse.lesson_id, Course.title).join(Course)
            .where(LessonCourse.lesson_id.in_(ids)).order_by(Course.title)):
        courses[lesson_id].append(title)
    documents: dict[int, list[Any]] = {i: [] for i in ids}
    if terms:
        # Plain rows, not ORM objects: a page of results reads a few hundred of them.
        columns = (SearchDocument.lesson_id, SearchDocument.kind, SearchDocument.at,
                   SearchDocument.title, SearchDocument.body, SearchDocument.folded_title,
                   SearchDocument.folded_body)
        for doc in session.execute(select(*columns).where(SearchDocument.lesson_id.in_(ids))
                                   .order_by(SearchDocument.at, SearchDocument.id)):
            documents[doc.lesson_id].append(doc)
    out = []
    for lesson_id in ids:
        lesson = lessons[lesson_id]
        out.append(SearchHit(
            lesson_id=lesson.id, title=lesson.title, specialty=lesson.specialty,
            language=lesson.language, status=lesson.status,
            instructors=tuple(lesson.instructors or ()), courses=tuple(courses[lesson_id]),
            duration=lesson.duration, date=lesson.published_at or lesson.created_at,
            match=_best_match(documents[lesson_id], terms) if terms else None,
        ))
    return tuple(out)


def _best_match(docs: Sequence[Any], terms: Terms) -> Match | None:
    # A chapter that holds every word is what the person is after; then a note; then the
    # lesson's own text (title, description, tags).
    order = {"chapter": 0, "note": 1, "lesson": 2}
    best: Any = None
    best_key: tuple[int, int] | None = None
    for doc in docs:
        key = (-words_held(doc.folded_title + "\n" + doc.folded_body, terms), order[doc.kind])
        if best_key is None or key < best_key:
            best, best_key = doc, key
    if best is None or best_key is None or best_key[0] == 0:
        return None
    # The snippet comes from the text that holds the words: a chapter's title, a note, or
    # the lesson's description (its title is shown anyway).
    shown = (best.title if best.kind == "chapter" or not words_held(best.folded_body, terms)
             else best.body)
    return Match(best.kind, best.title, best.at, snippet(shown, terms))

"""Keeping the search documents in step with the lessons, in the same transaction.

Whatever changes a lesson, its chapters or its notes through the ORM (curation, publishing,
the demo data) marks the lesson; just before that transaction commits, the lesson's search
documents are rewritten. The database's own triggers (SQLite) or generated column
(PostgreSQL) then update the full-text index. So a search never sees a lesson half-changed,
and no caller has to remember to reindex. ``reindex_all`` rebuilds everything (after a bulk
import that bypassed the ORM, or to check the index).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session, UOWTransaction

from library.db import Database
from library.models import Lesson, LessonChapter, LessonNote, SearchDocument, SearchLesson
from library.search.text import fold_for_index

_PENDING = "medroom.search.pending"
_installed = False
_install_lock = threading.Lock()


def lesson_clock_origin(lesson: Lesson) -> float:
    """Session seconds at which the lesson's own clock is 0 (published media starts there)."""
    if lesson.published_start is not None:
        return float(lesson.published_start)
    return float(lesson.trim_start or 0.0)


def _document(lesson_id: int, kind: str, title: str, body: str, at: float | None
              ) -> SearchDocument:
    return SearchDocument(lesson_id=lesson_id, kind=kind, at=at, title=title, body=body,
                          folded_title=fold_for_index(title),
                          folded_body=fold_for_index(body))


def documents_for(lesson: Lesson, chapters: Iterable[LessonChapter],
                  notes: Iterable[LessonNote]) -> list[SearchDocument]:
    """One document for the lesson's own text, one per chapter, one per note."""
    origin = lesson_clock_origin(lesson)
    about = [lesson.description, lesson.procedure, lesson.specialty, " ".join(lesson.tags or ()),
             " ".join(lesson.instructors or ())]
    docs = [_document(lesson.id, "lesson", lesson.title,
                      "\n".join(part for part in about if part), None)]
    docs += [_document(lesson.id, "chapter", c.title, "", round(max(0.0, c.start - origin), 3))
             for c in chapters]
    docs += [_document(lesson.id, "note", "", n.text, round(max(0.0, n.at - origin), 3))
             for n in notes]
    return docs


def lesson_row(lesson_id: int, docs: Iterable[SearchDocument]) -> SearchLesson:
    """The lesson's one ranking row: its documents' titles and texts gathered."""
    docs = list(docs)
    return SearchLesson(
        lesson_id=lesson_id,
        folded_title=" ".join(d.folded_title for d in docs if d.kind != "note" and d.folded_title),
        folded_body=" ".join(d.folded_body for d in docs if d.folded_body),
    )


def reindex_lessons(session: Session, lesson_ids: Iterable[int]) -> int:
    """Rewrite the search documents (and ranking row) of these lessons inside ``session``;
    returns the count of documents."""
    ids = sorted(set(lesson_ids))
    if not ids:
        return 0
    session.execute(delete(SearchDocument).where(SearchDocument.lesson_id.in_(ids)))
    session.execute(delete(SearchLesson).where(SearchLesson.lesson_id.in_(ids)))
    chapters: dict[int, list[LessonChapter]] = {i: [] for i in ids}
    notes: dict[int, list[LessonNote]] = {i: [] for i in ids}
    for chapter in session.scalars(select(LessonChapter).where(LessonChapter.lesson_id.in_(ids))
                                   .order_by(LessonChapter.position, LessonChapter.id)):
        chapters[chapter.lesson_id].append(chapter)
    for note in session.scalars(select(LessonNote).where(LessonNote.lesson_id.in_(ids))
                                .order_by(LessonNote.at, LessonNote.id)):
        notes[note.lesson_id].append(note)
    count = 0
    for lesson in session.scalars(select(Lesson).where(Lesson.id.in_(ids))):
        docs = documents_for(lesson, chapters[lesson.id], notes[lesson.id])
        session.add_all(docs)
        session.add(lesson_row(lesson.id, docs))
        count += len(docs)
    session.flush()
    return count


def reindex_all(db: Database, batch: int = 500) -> int:
    """Rebuild every lesson's documents; returns how many documents there are now."""
    with db.session() as session:
        ids = list(session.scalars(select(Lesson.id).order_by(Lesson.id)))
    total = 0
    for i in range(0, len(ids), batch):
        with db.session() as session:
            session.info[_PENDING] = set()  # this session indexes by hand
            total += reindex_lessons(session, ids[i:i + batch])
    return total


def _touched_lessons(session: Session) -> set[int]:
    ids: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Lesson) and obj.id is not None:
            ids.add(obj.id)
        elif isinstance(obj, LessonChapter | LessonNote) and obj.lesson_id is not None:
            ids.add(obj.lesson_id)
    return ids


def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    touched = _touched_lessons(session)
    if touched:
        session.info.setdefault(_PENDING, set()).update(touched)


def _before_commit(session: Session) -> None:
    # Commit calls this before its own flush: flush now so the last changes are seen too.
    session.flush()
    pending: set[int] | None = session.info.get(_PENDING)
    while pending:
        # Taken out first: the flush inside reindexing must not queue the same lessons again.
        ids, session.info[_PENDING] = set(pending), set()
        reindex_lessons(session, ids)
        session.flush()
        pending = session.info.get(_PENDING)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def install() -> None:
    """Hook the ORM events once per process (``Database`` does it)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_soft_rollback", lambda s, _t: _after_rollback(s))
        _installed = True

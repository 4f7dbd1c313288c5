"""Lessons: a recording's way into the library, with the curator's decisions and the gate.

A lesson is created from a finished recording (its markers become the first chapters) and is
curated on the recording's own clock, session media seconds: trim, chapters, notes and hidden
segments keep their meaning whatever the trim. Publishing (``library/publishing/jobs.py``) turns
it into media on the lesson clock, which starts at ``published_start``.

Hidden segments are skipped by the player, not cut out of the media: cutting in the middle
without re-encoding would splice two GOPs per track and re-time every ISO view to stay in sync,
for material that the curator only judged not worth watching. What must never be shown is kept
out by the room's burnt-in masks, by the trim, and by the privacy gate. The published chapters
and timeline skip hidden segments too.

Status moves ``draft -> publishing -> published | failed``; ``published -> unpublished``; a
failed or unpublished lesson may be published again, as may a published one after changes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from library.db import Database
from library.i18n import LazyText, lazy
from library.models import (
    Course,
    Lesson,
    LessonChapter,
    LessonCourse,
    LessonNote,
    utcnow,
)
from recorder.timeline import MAX_NOTE, MAX_TITLE, Marker, TimelineError

MAX_TAGS = 30
MAX_TAG = 50


class LessonError(ValueError):
    """Bad curation input (HTTP 422); the message says what to change."""


class LessonNotFound(LessonError):
    pass


class LessonConflict(LessonError):
    """The lesson's state forbids the operation now (HTTP 409): still publishing, gate closed."""


class LessonVersionConflict(LessonConflict):
    """The editor saved over a version someone else already changed (HTTP 412)."""

    def __init__(self, lesson_id: int, expected: int, current: int) -> None:
        super().__init__(lazy(
            "lesson %(id)s was changed by someone else (version %(current)s, your edits were "
            "made on version %(expected)s): reload it to see their changes, then make yours "
            "again", "lesson_version_conflict", id=lesson_id, current=current,
            expected=expected))
        self.current = current


@contextmanager
def _unit(db: Database) -> Iterator[Session]:
    """``db.session()`` for lesson work. Two people (or tabs) at once: when one deletes a lesson
    while the other edits it, the edit's UPDATE matches no row; say so (409) rather than 500."""
    try:
        with db.session() as session:
            yield session
    except StaleDataError:
        raise LessonConflict(lazy("the lesson was changed or deleted by someone else meanwhile: "
                                  "reload it and try again", "lesson_changed_meanwhile")) from None


class LessonStatus(str, Enum):
    DRAFT = "draft"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    UNPUBLISHED = "unpublished"


# The statuses as an error names them ("lesson 4 is published: unpublish it first").
STATUS_NAMES: dict[LessonStatus, LazyText] = {
    LessonStatus.DRAFT: lazy("a draft"),
    LessonStatus.PUBLISHING: lazy("being published"),
    LessonStatus.PUBLISHED: lazy("published"),
    LessonStatus.FAILED: lazy("not published (publishing failed)"),
    LessonStatus.UNPUBLISHED: lazy("out of the library"),
}


TRANSITIONS: dict[LessonStatus, frozenset[LessonStatus]] = {
    LessonStatus.DRAFT: frozenset({LessonStatus.PUBLISHING}),
    LessonStatus.PUBLISHING: frozenset({LessonStatus.PUBLISHED, LessonStatus.FAILED}),
    LessonStatus.PUBLISHED: frozenset({LessonStatus.PUBLISHING, LessonStatus.UNPUBLISHED}),
    LessonStatus.FAILED: frozenset({LessonStatus.PUBLISHING}),
    LessonStatus.UNPUBLISHED: frozenset({LessonStatus.PUBLISHING}),
}


@dataclass(frozen=True)
class Segment:
    start: float  # session seconds
    end: float


@dataclass(frozen=True)
class Mask:
    """A region of one view to blur when publishing: session seconds, picture fractions."""

    track: str
    start: float
    end: float
    x: float
    y: float
    w: float
    h: float


MAX_MASKS = 50
MAX_HIDDEN_MESSAGES = 5000
MESSAGE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class ChapterInfo:
    id: int
    title: str
    start: float  # session seconds
    position: int
    marker_id: str | None


@dataclass(frozen=True)
class ChapterDraft:
    """A chapter as the curator wants it; ``id`` of an existing one to keep its identity."""

    title: str
    start: float
    id: int | None = None


@dataclass(frozen=True)
class NoteInfo:
    id: int
    at: float  # session seconds
    text: str
    author: str
    created_at: datetime


@dataclass(frozen=True)
class LessonInfo:
    id: int
    recording_id: str
    room_id: str
    recording_folder: str
    status: LessonStatus
    title: str
    specialty: str
    procedure: str
    language: str
    description: str
    tags: tuple[str, ...]
    instructors: tuple[str, ...]
    recording_duration: float
    trim_start: float | None
    trim_end: float | None
    hidden_segments: tuple[Segment, ...]
    consent_confirmed: bool
    deidentification_confirmed: bool
    privacy_confirmed_by: int | None
    privacy_confirmed_at: datetime | None
    media_path: str | None
    duration: float | None
    published_start: float | None
    technical: dict[str, Any] | None
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    course_ids: tuple[int, ...] = ()
    chapters: tuple[ChapterInfo, ...] = ()
    notes: tuple[NoteInfo, ...] = ()
    version: int = 1
    masks: tuple[Mask, ...] = ()
    hidden_messages: tuple[str, ...] = ()

    @property
    def privacy_problem(self) -> str | None:
        """Why the privacy gate is closed, or None when it is open (a ``lazy`` message:
        shown in the language of whoever is refused)."""
        if not self.consent_confirmed and not self.deidentification_confirmed:
            return lazy("lesson %(id)s cannot be published: a curator must first confirm "
                        "patient consent and de-identification", "privacy_gate_closed",
                        id=self.id)
        if not self.consent_confirmed:
            return lazy("lesson %(id)s cannot be published: a curator must first confirm "
                        "patient consent", "privacy_gate_closed", id=self.id)
        if not self.deidentification_confirmed:
            return lazy("lesson %(id)s cannot be published: a curator must first confirm "
                        "de-identification", "privacy_gate_closed", id=self.id)
        return None


@dataclass(frozen=True)
class MetadataEdit:
    """Fields to change; None leaves a field as it is."""

    title: str | None = None
    specialty: str | None = None
    procedure: str | None = None
    language: str | None = None
    description: str | None = None
    tags: Sequence[str] | None = None
    instructors: Sequence[str] | None = None


_LIMITS = {"title": MAX_TITLE, "specialty": 100, "procedure": 200, "language": 35,
           "description": 20_000}


def _info(session: Session, row: Lesson) -> LessonInfo:
    courses = tuple(session.scalars(select(LessonCourse.course_id)
                                    .where(LessonCourse.lesson_id == row.id)
                                    .order_by(LessonCourse.course_id)))
    chapters = tuple(
        ChapterInfo(c.id, c.title, c.start, c.position, c.marker_id)
        for c in session.scalars(select(LessonChapter).where(LessonChapter.lesson_id == row.id)
                                 .order_by(LessonChapter.position, LessonChapter.id)))
    notes = tuple(
        NoteInfo(n.id, n.at, n.text, n.author, n.created_at)
        for n in session.scalars(select(LessonNote).where(LessonNote.lesson_id == row.id)
                                 .order_by(LessonNote.at, LessonNote.id)))
    return LessonInfo(
        id=row.id, recording_id=row.recording_id, room_id=row.room_id,
        recording_folder=row.recording_folder, status=LessonStatus(row.status), title=row.title,
        specialty=row.specialty, procedure=row.procedure, language=row.language,
        description=row.description, tags=tuple(row.tags or ()),
        instructors=tuple(row.instructors or ()), recording_duration=row.recording_duration,
        trim_start=row.trim_start, trim_end=row.trim_end,
        hidden_segments=tuple(Segment(float(s["start"]), float(s["end"]))
                              for s in row.hidden_segments or ()),
        consent_confirmed=row.consent_confirmed,
        deidentification_confirmed=row.deidentification_confirmed,
        privacy_confirmed_by=row.privacy_confirmed_by,
        privacy_confirmed_at=row.privacy_confirmed_at, media_path=row.media_path,
        duration=row.duration, published_start=row.published_start, technical=row.technical,
        published_at=row.published_at, created_at=row.created_at, updated_at=row.updated_at,
        course_ids=courses, chapters=chapters, notes=notes, version=row.version,
        masks=tuple(Mask(**m) for m in row.masks or ()),
        hidden_messages=tuple(row.hidden_messages or ()),
    )


def _row(session: Session, lesson_id: int) -> Lesson:
    row = session.get(Lesson, lesson_id)
    if row is None:
        raise LessonNotFound(lazy("no lesson with id %(id)s", "lesson_not_found", id=lesson_id))
    return row


def _editable(row: Lesson) -> None:
    if row.status == LessonStatus.PUBLISHING.value:
        raise LessonConflict(lazy("lesson %(id)s is being published; wait for the job to "
                                  "finish before changing it", "lesson_publishing", id=row.id))
    row.updated_at = utcnow()


def _seconds(name: str, value: float, duration: float) -> float:
    """``name``: what the time is, a ``lazy`` label ("trim start", "mask 2 end")."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise LessonError(lazy("%(name)s must be a number of seconds, got %(value)s",
                               "not_seconds", name=name, value=repr(value)))
    if value < 0:
        raise LessonError(lazy("%(name)s %(value)s s is negative", "negative_time", name=name,
                               value=format(value, "g")))
    if duration and value > duration:
        raise LessonError(lazy("%(name)s %(value)s s is past the end of the recording "
                               "(%(duration)s s)", "past_recording_end", name=name,
                               value=format(value, "g"), duration=format(duration, "g")))
    return float(value)


def checked_text(label: str, value: str, limit: int, *, required: bool = False,
                 error: type[ValueError] = LessonError) -> str:
    """``value`` stripped; ``error`` (naming ``label``) when empty but required, or too long.
    Shared by the library's records (lessons, courses)."""
    text = value.strip()
    if required and not text:
        raise error(lazy("the %(label)s is empty", "text_empty", label=label))
    if len(text) > limit:
        raise error(lazy("the %(label)s is %(length)s characters; the limit is %(limit)s",
                         "text_too_long", label=label, length=len(text), limit=limit))
    return text


# What the fields are called in an error ("the lesson title is empty").
_FIELD_LABELS = {
    "title": lazy("lesson title"), "specialty": lazy("lesson specialty"),
    "procedure": lazy("lesson procedure"), "language": lazy("lesson language"),
    "description": lazy("lesson description"), "tag": lazy("lesson tag"),
    "instructor": lazy("lesson instructor"), "note": lazy("lesson note"),
}


def _text(name: str | LazyText, value: str, limit: int, *, required: bool = False) -> str:
    label = name if isinstance(name, LazyText) else _FIELD_LABELS.get(name, f"lesson {name}")
    return checked_text(label, value, limit, required=required)


def _words(name: str, values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        word = _text(name, value, MAX_TAG)
        if word and word not in out:
            out.append(word)
    if len(out) > MAX_TAGS:
        raise LessonError(lazy("at most %(max)s instructors", "too_many", max=MAX_TAGS)
                          if name == "instructor" else
                          lazy("at most %(max)s tags", "too_many", max=MAX_TAGS))
    return out


def _set_courses(session: Session, lesson_id: int, course_ids: Iterable[int]) -> None:
    wanted = sorted(set(course_ids))
    known = set(session.scalars(select(Course.id).where(Course.id.in_(wanted))))
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise LessonError(lazy("no course with id %(id)s", "course_not_found",
                               id=", ".join(map(str, unknown))))
    session.execute(delete(LessonCourse).where(LessonCourse.lesson_id == lesson_id))
    session.add_all(LessonCourse(lesson_id=lesson_id, course_id=c) for c in wanted)


def create_lesson(
    db: Database, *, recording_id: str, room_id: str, recording_folder: str, title: str,
    recording_duration: float, markers: Sequence[Marker] = (), course_ids: Iterable[int] = (),
    instructors: Sequence[str] = (), specialty: str = "", created_by: int | None = None,
) -> LessonInfo:
    """A draft lesson of a finished recording; its markers become the chapters."""
    with _unit(db) as session:
        existing = session.scalar(select(Lesson.id).where(Lesson.recording_id == recording_id))
        if existing is not None:
            raise LessonConflict(lazy("recording %(recording)s already is lesson %(lesson)s",
                                      "recording_has_lesson", recording=recording_id,
                                      lesson=existing))
        now = utcnow()
        row = Lesson(
            recording_id=recording_id, room_id=room_id, recording_folder=recording_folder,
            status=LessonStatus.DRAFT.value, title=_text("title", title, MAX_TITLE,
                                                         required=True),
            specialty=_text("specialty", specialty, 100), procedure="", language="en",
            description="", tags=[], instructors=_words("instructor", instructors),
            recording_duration=float(recording_duration), hidden_segments=[],
            consent_confirmed=False, deidentification_confirmed=False, created_by=created_by,
            created_at=now, updated_at=now,
        )
        session.add(row)
        session.flush()
        _set_courses(session, row.id, course_ids)
        ordered = sorted(markers, key=lambda m: m.at)
        session.add_all(LessonChapter(lesson_id=row.id, marker_id=m.id, title=m.title,
                                      start=round(m.at, 3), position=i)
                        for i, m in enumerate(ordered))
        session.flush()
        return _info(session, row)


def get_lesson(db: Database, lesson_id: int) -> LessonInfo:
    with _unit(db) as session:
        return _info(session, _row(session, lesson_id))


def lesson_for_recording(db: Database, recording_id: str) -> LessonInfo | None:
    with _unit(db) as session:
        row = session.scalar(select(Lesson).where(Lesson.recording_id == recording_id))
        return None if row is None else _info(session, row)


def list_lessons(db: Database, *, course_ids: frozenset[int] | None = None,
                 statuses: Iterable[LessonStatus] | None = None) -> list[LessonInfo]:
    """Lessons, newest first; ``course_ids``: only lessons of these courses."""
    query = select(Lesson).order_by(Lesson.created_at.desc(), Lesson.id.desc())
    if course_ids is not None:
        query = query.where(Lesson.id.in_(select(LessonCourse.lesson_id)
                                          .where(LessonCourse.course_id.in_(course_ids))))
    if statuses is not None:
        query = query.where(Lesson.status.in_([s.value for s in statuses]))
    with _unit(db) as session:
        return [_info(session, row) for row in session.scalars(query)]


def update_metadata(db: Database, lesson_id: int, edit: MetadataEdit,
                    course_ids: Iterable[int] | None = None) -> LessonInfo:
    with _unit(db) as session:
        row = _row(session, lesson_id)
        _editable(row)
        for f in fields(edit):
            value = getattr(edit, f.name)
            if value is None:
                continue
            if f.name in ("tags", "instructors"):
                setattr(row, f.name, _words(f.name.rstrip("s"), value))
            else:
                setattr(row, f.name, _text(f.name, value, _LIMITS[f.name],
                                           required=f.name == "title"))
        if course_ids is not None:
            _set_courses(session, lesson_id, course_ids)
        session.flush()
        return _info(session, row)


def set_trim(db: Database, lesson_id: int, start: float | None, end: float | None
             ) -> LessonInfo:
    """The published part of the recording; the cut lands on the keyframe at or before start."""
    with _unit(db) as session:
        row = _row(session, lesson_id)
        _editable(row)
        _apply_trim(row, start, end)
        session.flush()
        return _info(session, row)


def _apply_trim(row: Lesson, start: float | None, end: float | None) -> None:
    duration = row.recording_duration
    start = None if start is None else _seconds(lazy("trim start"), start, duration)
    end = None if end is None else _seconds(lazy("trim end"), end, duration)
    if start is not None and end is not None and end <= start:
        raise LessonError(lazy("trim end %(end)s s is not after trim start %(start)s s",
                               "trim_reversed", end=format(end, "g"), start=format(start, "g")))
    if start is not None and duration and start >= duration:
        raise LessonError(lazy("trim start %(start)s s leaves nothing of the %(duration)s s "
                               "recording", "trim_empty", start=format(start, "g"),
                               duration=format(duration, "g")))
    if end is not None and end <= (start or 0.0):
        raise LessonError(lazy("trim end %(end)s s leaves nothing to publish", "trim_empty",
                               end=format(end, "g")))
    row.trim_start, row.trim_end = start, end


def set_chapters(db: Database, lesson_id: int, chapters: Sequence[ChapterDraft]) -> LessonInfo:
    """Replace the chapter list: rename, move (reorder), add or drop in one go.

    The list's order is the chapters' order, and it must follow their start times: a chapter
    is a place in the video, so moving it earlier in the list means giving it an earlier start.
    """
    with _unit(db) as session:
        row = _row(session, lesson_id)
        _editable(row)
        _apply_chapters(session, row, chapters)
        session.flush()
        return _info(session, row)


def _apply_chapters(session: Session, row: Lesson, chapters: Sequence[ChapterDraft]) -> None:
    lesson_id = row.id
    current = {c.id: c for c in session.scalars(
        select(LessonChapter).where(LessonChapter.lesson_id == lesson_id))}
    checked: list[tuple[ChapterDraft, str, float]] = []
    for number, draft in enumerate(chapters, 1):
        if draft.id is not None and draft.id not in current:
            raise LessonError(lazy("chapter %(chapter)s is not a chapter of lesson %(id)s",
                                   "chapter_not_found", chapter=draft.id, id=lesson_id))
        try:
            title = Marker(title=draft.title).title
        except TimelineError as exc:
            raise LessonError(lazy("chapter %(number)s: %(reason)s", "bad_chapter",
                                   number=number, reason=str(exc))) from None
        start = _seconds(lazy("chapter %(number)s start", number=number), draft.start,
                         row.recording_duration)
        if checked and start < checked[-1][2]:
            raise LessonError(lazy(
                "chapter %(number)s (%(title)s) starts at %(start)s s, before the chapter "
                "above it (%(previous)s s): give it a later start or move it up the list",
                "chapters_out_of_order", number=number, title=repr(title), start=format(start, "g"),
                previous=format(checked[-1][2], "g")))
        checked.append((draft, title, start))
    kept = {d.id for d, _, _ in checked if d.id is not None}
    for chapter_id, chapter in current.items():
        if chapter_id not in kept:
            session.delete(chapter)
    for position, (draft, title, start) in enumerate(checked):
        chapter = current[draft.id] if draft.id is not None else LessonChapter(
            lesson_id=lesson_id, marker_id=None)
        chapter.title, chapter.start, chapter.position = title, round(start, 3), position
        session.add(chapter)


def add_note(db: Database, lesson_id: int, at: float, text: str, author: str = "") -> NoteInfo:
    with _unit(db) as session:
        row = _row(session, lesson_id)
        _editable(row)
        at = _seconds(lazy("note time"), at, row.recording_duration)
        body = _text("note", text, MAX_NOTE, required=True)
        note = LessonNote(lesson_id=lesson_id, at=round(at, 3), text=body,
                          author=author[:200], created_at=utcnow())
        session.add(note)
        session.flush()
        return NoteInfo(note.id, note.at, note.text, note.author, note.created_at)


def delete_note(db: Database, lesson_id: int, note_id: int) -> None:
    with _unit(db) as session:
        _editable(_row(session, lesson_id))
        note = session.get(LessonNote, note_id)
        if note is None or note.lesson_id != lesson_id:
            raise LessonNotFound(lazy("no note %(note)s in lesson %(id)s", "note_not_found",
                                      note=note_id, id=lesson_id))
        session.delete(note)


def set_hidden_segments(db: Database, lesson_id: int, segments: Sequence[Segment]
                        ) -> LessonInfo:
    """Segments the published lesson skips; overlapping ones are merged."""
    with _unit(db) as session:
        row = _row(session, lesson_id)
        _editable(row)
        _apply_hidden(row, segments)
        session.flush()
        return _info(session, row)


def _apply_hidden(row: Lesson, segments: Sequence[Segment]) -> None:
    checked: list[Segment] = []
    for number, seg in enumerate(segments, 1):
        start = _seconds(lazy("hidden part %(number)s start", number=number), seg.start,
                         row.recording_duration)
        end = _seconds(lazy("hidden part %(number)s end", number=number), seg.end,
                       row.recording_duration)
        if end <= start:
            raise LessonError(lazy("hidden segment %(number)s: end %(end)s s is not after "
                                   "start %(start)s s", "segment_reversed", number=number,
                                   end=format(end, "g"), start=format(start, "g")))
        checked.append(Segment(round(start, 3), round(end, 3)))
    row.hidden_segments = [{"start": s.start, "end": s.end} for s in merge_segments(checked)]


def _fraction(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 <= value <= 1:
        raise LessonError(lazy("%(name)s must be a fraction of the picture (0..1), got "
                               "%(value)s", "not_fraction", name=name, value=repr(value)))
    return float(value)


def _apply_masks(row: Lesson, masks: Sequence[Mask]) -> None:
    if len(masks) > MAX_MASKS:
        raise LessonError(lazy("at most %(max)s masks per lesson", "too_many", max=MAX_MASKS))
    checked: list[dict[str, Any]] = []
    for number, mask in enumerate(masks, 1):
        track = _text(lazy("mask %(number)s view", number=number), mask.track, 64,
                      required=True)
        start = _seconds(lazy("mask %(number)s start", number=number), mask.start,
                         row.recording_duration)
        end = _seconds(lazy("mask %(number)s end", number=number), mask.end,
                       row.recording_duration)
        if end <= start:
            raise LessonError(lazy("mask %(number)s: end %(end)s s is not after start "
                                   "%(start)s s", "mask_reversed", number=number,
                                   end=format(end, "g"), start=format(start, "g")))
        x, y = _fraction(f"mask {number} x", mask.x), _fraction(f"mask {number} y", mask.y)
        w, h = _fraction(f"mask {number} w", mask.w), _fraction(f"mask {number} h", mask.h)
        if w <= 0 or h <= 0 or x + w > 1.0001 or y + h > 1.0001:
            raise LessonError(lazy("mask %(number)s: the region must have a size and lie "
                                   "inside the picture", "mask_outside", number=number))
        checked.append({"track": track, "start": round(start, 3), "end": round(end, 3),
                        "x": round(x, 4), "y": round(y, 4), "w": round(w, 4), "h": round(h, 4)})
    row.masks = checked


def _apply_hidden_messages(row: Lesson, ids: Sequence[str]) -> None:
    """Chat and question ids of the recording's timeline to leave out of the published
    conversation (``library.publishing.conversation``). An id the timeline does not have
    hides nothing, so it is not looked up here; its shape and the count are checked."""
    if len(ids) > MAX_HIDDEN_MESSAGES:
        raise LessonError(lazy("at most %(max)s hidden messages per lesson", "too_many",
                               max=MAX_HIDDEN_MESSAGES))
    checked: list[str] = []
    for number, value in enumerate(ids, 1):
        if not isinstance(value, str) or not MESSAGE_ID.fullmatch(value):
            raise LessonError(lazy("hidden message %(number)s is not a message id (1 to 64 "
                                   "letters, digits, '-' or '_')", "bad_message_id",
                                   number=number))
        if value not in checked:
            checked.append(value)
    row.hidden_messages = checked


@dataclass(frozen=True)
class CurationEdit:
    """Everything the editor changes on the picture, saved in one go (trim, chapters, hidden
    segments, masks), against the version it was made on."""

    trim_start: float | None
    trim_end: float | None
    chapters: Sequence[ChapterDraft]
    hidden: Sequence[Segment]
    masks: Sequence[Mask] = ()
    hidden_messages: Sequence[str] = ()


def save_edit(db: Database, lesson_id: int, version: int, edit: CurationEdit) -> LessonInfo:
    """Apply ``edit`` if the lesson is still at ``version``; ``LessonVersionConflict`` if
    someone changed it meanwhile. All or nothing: a bad field leaves the lesson as it was."""
    with _unit(db) as session:
        row = _row(session, lesson_id)
        if row.version != version:
            raise LessonVersionConflict(lesson_id, version, row.version)
        # One UPDATE of the row, so one version step per save (each flush bumps it).
        with session.no_autoflush:
            _editable(row)
            _apply_trim(row, edit.trim_start, edit.trim_end)
            _apply_chapters(session, row, edit.chapters)
            _apply_hidden(row, edit.hidden)
            _apply_masks(row, edit.masks)
            _apply_hidden_messages(row, edit.hidden_messages)
        session.flush()
        return _info(session, row)


def merge_segments(segments: Iterable[Segment]) -> list[Segment]:
    merged: list[Segment] = []
    for seg in sorted(segments, key=lambda s: s.start):
        if merged and seg.start <= merged[-1].end:
            merged[-1] = Segment(merged[-1].start, max(merged[-1].end, seg.end))
        else:
            merged.append(seg)
    return merged


def confirm_privacy(db: Database, lesson_id: int, *, consent: bool, deidentified: bool,
                    user_id: int | None) -> LessonInfo:
    """Record the curator's confirmation (or withdrawal) of consent and de-identification."""
    with _unit(db) as session:
        row = _row(session, lesson_id)
        _editable(row)
        row.consent_confirmed, row.deidentification_confirmed = consent, deidentified
        row.privacy_confirmed_by = user_id
        row.privacy_confirmed_at = utcnow()
        session.flush()
        return _info(session, row)


def change_status(session: Session, row: Lesson, status: LessonStatus) -> None:
    """Move a lesson to ``status`` inside the caller's transaction; refuses invalid moves."""
    current = LessonStatus(row.status)
    if status not in TRANSITIONS[current]:
        raise LessonConflict(lazy("lesson %(id)s is %(current)s: it cannot become %(wanted)s",
                                  "lesson_status_conflict", id=row.id,
                                  current=STATUS_NAMES[current], wanted=STATUS_NAMES[status]))
    row.status = status.value
    row.updated_at = utcnow()


def lesson_row(session: Session, lesson_id: int) -> Lesson:
    """The row, for the publishing jobs that change a lesson inside their own transaction."""
    return _row(session, lesson_id)


def lesson_info(session: Session, row: Lesson) -> LessonInfo:
    return _info(session, row)


@dataclass(frozen=True)
class Published:
    """What a finished publishing job writes into the lesson."""

    media_path: str
    duration: float
    published_start: float
    technical: dict[str, Any] = field(default_factory=dict)


def delete_lesson(db: Database, lesson_id: int) -> None:
    """Forget a lesson that is not in the library (draft, failed, unpublished)."""
    with _unit(db) as session:
        row = _row(session, lesson_id)
        if row.status in (LessonStatus.PUBLISHING.value, LessonStatus.PUBLISHED.value):
            raise LessonConflict(lazy("lesson %(id)s is %(status)s: unpublish it first",
                                      "lesson_in_library", id=lesson_id,
                                      status=STATUS_NAMES[LessonStatus(row.status)]))
        session.delete(row)

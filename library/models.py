"""ORM models. Private to ``library/``: everything outside gets plain dataclasses instead.

Every timestamp is UTC and timezone-aware in Python. Viewer sessions are the raw material for
CME attendance, so a naive datetime that could be read as local time is never let through.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names, so later migrations can drop or alter them by name on
# PostgreSQL and in SQLite batch mode alike. 0001_initial.py spells out the same names.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLE_VALUES = ("admin", "instructor", "curator", "student")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zone type and hands back naive values,
    which we stamp as UTC because we only ever write UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: MedRoom stores only aware UTC times")
        value = value.astimezone(UTC)
        # SQLite would store the offset text and compare strings; storing naive UTC keeps
        # ordering and comparisons right.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'instructor', 'curator', 'student')", name="role_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Bumped by a password change, disabling and "sign out everywhere": every bearer token
    # carries the generation it was issued under and is refused once it differs.
    token_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The person's own choices (None: follow the browser); see library/i18n.
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True)


class WebSession(Base):
    """One logged-in browser. The cookie holds a random key; only its SHA-256 is stored, so a
    copy of the database lets nobody ride on a live session."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)


class LiveSession(Base):
    """One stretch of a room being live (from 'go live' to 'end'), the unit CME counts against."""

    __tablename__ = "live_sessions"
    __table_args__ = (Index("ix_live_sessions_room_id_started_at", "room_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # SET NULL: deleting an account must not erase the record that the session happened.
    started_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )


class ViewerSession(Base):
    """One viewer's presence in one live session (one WebRTC connection, join to leave)."""

    __tablename__ = "viewer_sessions"
    __table_args__ = (
        Index("ix_viewer_sessions_live_session_id", "live_session_id"),
        Index("ix_viewer_sessions_user_id", "user_id"),
    )

    # The streaming layer's viewer id, a UUID stored in canonical hyphenated form so that
    # 'abcd...' (uuid4().hex) and 'abcd-...' name the same row.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # RESTRICT (the default): attendance evidence outlives nothing by accident.
    live_session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id"))
    room_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    # Who it was even without an account: the username, or a guest token's subject.
    subject: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    left_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)


SCHEDULE_STATES = ("planned", "recording", "done", "cancelled", "missed", "failed")


class ScheduledSession(Base):
    """A session planned ahead: the room records it on time, console open or not."""

    __tablename__ = "scheduled_sessions"
    __table_args__ = (
        Index("ix_scheduled_sessions_room_id_starts_at", "room_id", "starts_at"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    course: Mapped[str | None] = mapped_column(String(200), nullable=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(20), default="planned")
    recording_ids: Mapped[str] = mapped_column(String(400), default="")  # comma separated
    message: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# -- library: courses, lessons, publishing jobs -------------------------------------------------
# Curation times (trim, hidden segments, chapters, notes) are session media seconds, the
# recording's own clock, so they stay right whatever the trim; a published lesson's clock starts
# at ``Lesson.published_start`` (lesson seconds = session seconds - published_start).

COURSE_MEMBER_ROLES = ("instructor", "student")
LESSON_STATUSES = ("draft", "publishing", "published", "failed", "unpublished")
JOB_STATES = ("queued", "running", "done", "failed")


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    specialty: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CourseMember(Base):
    """A user's place in a course: 'instructor' (curates its lessons) or enrolled 'student'."""

    __tablename__ = "course_members"
    __table_args__ = (
        CheckConstraint("role IN ('instructor', 'student')", name="role_valid"),
        Index("ix_course_members_user_id", "user_id"),
    )

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Lesson(Base):
    """A recording on its way to (or in) the library, with the curator's decisions."""

    __tablename__ = "lessons"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'publishing', 'published', 'failed', 'unpublished')",
            name="status_valid",
        ),
        CheckConstraint("trim_end IS NULL OR trim_start IS NULL OR trim_end > trim_start",
                        name="trim_end_after_start"),
        Index("ix_lessons_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[str] = mapped_column(String(64), unique=True)
    room_id: Mapped[str] = mapped_column(String(64))
    # Relative to the recordings folder: '<room>/<date>-<id>'.
    recording_folder: Mapped[str] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    title: Mapped[str] = mapped_column(String(200))
    specialty: Mapped[str] = mapped_column(String(100), default="")
    procedure: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(35), default="en")
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    instructors: Mapped[list[str]] = mapped_column(JSON, default=list)  # names as shown
    recording_duration: Mapped[float] = mapped_column(Float, default=0.0)  # session seconds
    trim_start: Mapped[float | None] = mapped_column(Float, nullable=True)
    trim_end: Mapped[float | None] = mapped_column(Float, nullable=True)
    # [{"start": s, "end": s}] in session seconds; the player skips them (see lessons.py).
    hidden_segments: Mapped[list[dict[str, float]]] = mapped_column(JSON, default=list)
    consent_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    deidentification_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    privacy_confirmed_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    privacy_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Filled when published: the lesson folder (relative to the library media folder), the
    # lesson's length and where it starts on the session clock, and lesson.json as written.
    media_path: Mapped[str | None] = mapped_column(String(400), nullable=True)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    published_start: Mapped[float | None] = mapped_column(Float, nullable=True)
    technical: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Bumped by every UPDATE of the row (SQLAlchemy's version counter, which also makes a
    # concurrent update fail instead of winning silently); the editor's ETag.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1,
                                         server_default="1")
    # [{"track": name, "start": s, "end": s, "x": 0..1, "y", "w", "h"}] session seconds and
    # picture fractions: regions blurred into a view when it is published (lessons.py).
    masks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    # Chat message and question ids of the session's timeline the curator left out of the
    # published conversation.
    hidden_messages: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read once by the mapper


class LessonCourse(Base):
    __tablename__ = "lesson_courses"
    __table_args__ = (Index("ix_lesson_courses_course_id", "course_id"),)

    lesson_id: Mapped[int] = mapped_column(
        ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True
    )
    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )


class LessonChapter(Base):
    """A chapter as curated: starts from a recording marker (``marker_id``) or a curator."""

    __tablename__ = "lesson_chapters"
    __table_args__ = (Index("ix_lesson_chapters_lesson_id", "lesson_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    marker_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    title: Mapped[str] = mapped_column(String(200))
    start: Mapped[float] = mapped_column(Float)  # session seconds
    position: Mapped[int] = mapped_column(Integer)  # 0-based order in the chapter list


class LessonNote(Base):
    __tablename__ = "lesson_notes"
    __table_args__ = (Index("ix_lesson_notes_lesson_id", "lesson_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    at: Mapped[float] = mapped_column(Float)  # session seconds
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LessonAttachment(Base):
    """De-identified material stored with a lesson (a DICOM series after PS3.15 Annex E)."""

    __tablename__ = "lesson_attachments"
    __table_args__ = (Index("ix_lesson_attachments_lesson_id", "lesson_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default="dicom")
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(400))  # relative to the library media folder
    files: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PublishJob(Base):
    """One attempt series at publishing a lesson; the runner works the oldest queued one."""

    __tablename__ = "publish_jobs"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="state_valid"),
        Index("ix_publish_jobs_lesson_id", "lesson_id"),
        Index("ix_publish_jobs_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20), default="queued")
    step: Mapped[str] = mapped_column(String(40), default="")
    percent: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    requested_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# -- watching and finding lessons: progress, views, the search documents ----------------------
# Times here are lesson seconds (the published media's clock), which is what a player knows.

VIEW_KINDS = ("page", "media")
SEARCH_DOCUMENT_KINDS = ("lesson", "chapter", "note")


class LessonProgress(Base):
    """Where one person left a lesson, so the player resumes there."""

    __tablename__ = "lesson_progress"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"),
                                           primary_key=True)
    position: Mapped[float] = mapped_column(Float, default=0.0)
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LessonView(Base):
    """One opening of a lesson page, or one start of its media; pings add the seconds watched."""

    __tablename__ = "lesson_views"
    __table_args__ = (
        CheckConstraint("kind IN ('page', 'media')", name="kind_valid"),
        Index("ix_lesson_views_lesson_id_started_at", "lesson_id", "started_at"),
        Index("ix_lesson_views_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    # SET NULL: the count of views outlives an account; ``subject`` says who it was.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    subject: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    seconds_watched: Mapped[float] = mapped_column(Float, default=0.0)


class SearchDocument(Base):
    """A searchable piece of a lesson: its own text, one chapter, or one note.

    The full-text index over it lives outside the ORM (see ``SEARCH_INDEX_OBJECTS``): an FTS5
    table kept in sync by triggers on SQLite, a generated tsvector column with a GIN index on
    PostgreSQL. ``folded_*`` is the text as indexed (lower case, without diacritics); ``title``
    and ``body`` are as written, for the result snippets.
    """

    __tablename__ = "search_documents"
    __table_args__ = (
        CheckConstraint("kind IN ('lesson', 'chapter', 'note')", name="kind_valid"),
        Index("ix_search_documents_lesson_id", "lesson_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    at: Mapped[float | None] = mapped_column(Float, nullable=True)  # lesson seconds
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    folded_title: Mapped[str] = mapped_column(Text, default="")
    folded_body: Mapped[str] = mapped_column(Text, default="")


class SearchLesson(Base):
    """All of a lesson's searchable text in one row: what the ranking query matches.

    Ranking one row per lesson, rather than grouping the matches of its documents, keeps a
    common word (thousands of chapters) cheap; the lesson then matches when its words are
    anywhere in it. ``SearchDocument`` still says which chapter or note holds them. Indexed like
    it, outside the ORM: FTS5 ``lesson_fts`` (SQLite), generated ``tsv`` + GIN (PostgreSQL).
    """

    __tablename__ = "search_lessons"

    lesson_id: Mapped[int] = mapped_column(
        ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    folded_title: Mapped[str] = mapped_column(Text, default="")  # lesson and chapter titles
    folded_body: Mapped[str] = mapped_column(Text, default="")  # description, tags, notes


# Schema objects the migrations create by hand because the ORM cannot describe them on both
# backends: comparing the models with a database must leave them out.
SEARCH_INDEX_OBJECTS = frozenset({
    "search_fts", "search_fts_data", "search_fts_idx", "search_fts_docsize", "search_fts_config",
    "search_fts_content", "ix_search_documents_tsv", "tsv",
    "lesson_fts", "lesson_fts_data", "lesson_fts_idx", "lesson_fts_docsize", "lesson_fts_config",
    "ix_search_lessons_tsv",
})


def include_in_schema_comparison(name: str | None, type_: str, _parents: Any = None) -> bool:
    """Alembic ``include_name``: everything but the hand-made search index objects."""
    return name not in SEARCH_INDEX_OBJECTS


class LiveInteraction(Base):
    """One thing said, asked, voted, answered or polled in a live session's classroom, with
    its author and time (``room_controller.interaction``; written by ``library.interactions``).

    A deleted chat message keeps its row with ``text`` cleared and ``deleted_at`` set: what it
    said is kept only in the access log.
    """

    __tablename__ = "live_interactions"
    __table_args__ = (
        Index("ix_live_interactions_live_session_id_seq", "live_session_id", "seq"),
        Index("ix_live_interactions_actor_user_id", "actor_user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    live_session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id"))
    seq: Mapped[int] = mapped_column(Integer)  # the classroom event's number
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)  # None: the server
    actor_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    target: Mapped[str] = mapped_column(String(64))  # message, question or poll id; a user key
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
# The classroom tables live in their own module; importing it here puts them on Base.metadata
# wherever the models are (migrations compared with the models, ``create_all`` in tests).
import library.classroom_models  # noqa: F401

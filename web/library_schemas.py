"""API schemas of the library: courses, lessons and their curation, publishing jobs.

Where the library's own frozen dataclass says exactly what the API shows (a course, a chapter,
a note, a publishing job), FastAPI serves the dataclass as it is; the models here are the
requests, and the answers whose form differs from the library's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from library.lessons import ChapterInfo, NoteInfo
from library.publishing.jobs import JobInfo


class CourseIn(BaseModel):
    slug: str = Field(description="short name in URLs: a-z, 0-9 and '-'")
    title: str
    specialty: str
    description: str = ""


class MemberIn(BaseModel):
    role: str = Field(description="instructor or student")


class MemberOut(BaseModel):
    user_id: int
    username: str
    display_name: str
    role: str


class LessonCreateIn(BaseModel):
    recording_id: str
    course_ids: list[int] = Field(default_factory=list)
    title: str | None = Field(None, description="default: the recording's title")


class LessonEditIn(BaseModel):
    title: str | None = None
    specialty: str | None = None
    procedure: str | None = None
    language: str | None = None
    description: str | None = None
    tags: list[str] | None = None
    instructors: list[str] | None = None
    course_ids: list[int] | None = None


class TrimIn(BaseModel):
    start: float | None = Field(None, description="session seconds; null: from the beginning")
    end: float | None = Field(None, description="session seconds; null: to the end")


class ChapterIn(BaseModel):
    id: int | None = Field(None, description="an existing chapter's id; null: a new chapter")
    title: str
    start: float = Field(description="session seconds")


class SegmentIn(BaseModel):
    start: float
    end: float


class NoteIn(BaseModel):
    at: float = Field(description="session seconds")
    text: str


class PrivacyIn(BaseModel):
    consent: bool = Field(description="the patient consented to teaching use")
    deidentified: bool = Field(description="the video and attachments show no patient identity")


class AttachmentOut(BaseModel):
    id: int
    kind: str
    name: str
    files: int
    report: dict[str, Any]
    created_at: datetime


class LessonOut(BaseModel):
    id: int
    recording_id: str
    room_id: str
    status: str
    title: str
    specialty: str
    procedure: str
    language: str
    description: str
    tags: list[str]
    instructors: list[str]
    course_ids: list[int]
    recording_duration: float
    trim_start: float | None
    trim_end: float | None
    hidden_segments: list[SegmentIn]
    chapters: list[ChapterInfo]
    notes: list[NoteInfo]
    consent_confirmed: bool
    deidentification_confirmed: bool
    privacy_confirmed_by: int | None
    privacy_confirmed_at: datetime | None
    privacy_problem: str | None
    duration: float | None
    published_start: float | None
    published_at: datetime | None
    technical: dict[str, Any] | None
    # The publishing job is the library's own JobInfo, served as it is.
    job: JobInfo | None = None


class RecordingEntryOut(BaseModel):
    id: str
    room: str
    title: str
    state: str
    started_at: str
    duration: float
    lesson_id: int | None
    lesson_status: str | None


# -- the curation editor -------------------------------------------------------------------------
# A week of session seconds: longer than any recording, small enough for every database.
MAX_SESSION_SECONDS = 7 * 24 * 3600.0
Seconds = Annotated[float, Field(ge=0, le=MAX_SESSION_SECONDS, allow_inf_nan=False)]
Fraction01 = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class EditChapterIn(BaseModel):
    id: int | None = Field(None, ge=1, le=2**62, description="an existing chapter's id; null: new")
    title: str = Field(max_length=200)
    start: Seconds


class EditSegmentIn(BaseModel):
    start: Seconds
    end: Seconds


class MaskIn(BaseModel):
    track: str = Field(min_length=1, max_length=64, description="the view's track name")
    start: Seconds
    end: Seconds
    x: Fraction01 = Field(description="left edge, fraction of the picture's width")
    y: Fraction01
    w: Fraction01
    h: Fraction01


MessageId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$", max_length=64)]


class CurationEditIn(BaseModel):
    """The whole on-the-picture edit, saved at once against the version it was made on
    (send the lesson's ETag in ``If-Match``)."""

    trim_start: Seconds | None = None
    trim_end: Seconds | None = None
    chapters: list[EditChapterIn] = Field(default_factory=list, max_length=200)
    hidden: list[EditSegmentIn] = Field(default_factory=list, max_length=200)
    masks: list[MaskIn] = Field(default_factory=list, max_length=50)
    hidden_messages: list[MessageId] = Field(
        default_factory=list, max_length=5000,
        description="Chat message and question ids (of the timeline's events) left out of the "
                    "published conversation")


class CurationTrackOut(BaseModel):
    name: str
    kind: str
    source_id: str | None
    url: str
    offset: float
    duration: float
    width: int
    height: int
    keyframes: list[float]
    fps: int


class CurationStateOut(BaseModel):
    """The lesson's on-the-picture edit and its version (also sent as the ETag)."""

    version: int
    status: str
    trim_start: float | None
    trim_end: float | None
    chapters: list[ChapterInfo]
    hidden: list[EditSegmentIn]
    masks: list[MaskIn]
    hidden_messages: list[str] = Field(default_factory=list)


class CurationOut(BaseModel):
    """What the editor shows: the recording's tracks, waveform, thumbnails and timeline events
    (session seconds), and the lesson's edit."""

    edit: CurationStateOut
    recording_duration: float
    tracks: list[CurationTrackOut]
    thumbnails: dict[str, Any]
    waveform_url: str | None
    events: list[dict[str, Any]]

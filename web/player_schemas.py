"""API schemas of the player and search: what a lesson's playback and a search answer hold."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from library.viewing import ViewCounts


class PlaybackTrackOut(BaseModel):
    name: str
    kind: str = Field(description="program or iso")
    label: str
    url: str = Field(description="Signed, expiring link to the faststart MP4")
    offset: float = Field(description="Lesson seconds at which this view's first frame plays")
    width: int
    height: int
    duration: float


class ChapterOut(BaseModel):
    title: str
    start: float
    end: float


class NoteOut(BaseModel):
    at: float
    text: str
    author: str


class SegmentOut(BaseModel):
    start: float
    end: float


class PlaybackOut(BaseModel):
    lesson_id: int
    title: str
    duration: float
    view_id: int = Field(description="The media session this page reports progress for")
    resume_at: float = Field(description="Where this person left off (lesson seconds)")
    links_expire_at: datetime
    tracks: list[PlaybackTrackOut]
    poster_url: str
    audio_url: str | None = Field(default=None, description="The program sound, when recorded")
    audio_offset: float = Field(default=0.0, description="Lesson seconds where the sound starts")
    chapters_url: str
    thumbnails_url: str | None = Field(description="WebVTT of the scrubbing thumbnails")
    sprite_url: str | None = Field(description="The thumbnails' image (the VTT names it)")
    chapters: list[ChapterOut]
    notes: list[NoteOut]
    strokes: list[dict[str, Any]] = Field(description="Drawings: points 0..1, lesson times")
    conversation: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The classroom conversation as published (chat, questions, polls, who had "
                    "the floor; lesson times; students as numbered participants)")
    hidden: list[SegmentOut] = Field(description="Segments the player skips (lesson seconds)")
    # The library's ViewCounts, served as it is.
    counts: ViewCounts | None = Field(default=None, description="Curators and instructors")


class ProgressIn(BaseModel):
    view_id: int
    position: float = Field(ge=0, description="Lesson seconds now")
    watched: float = Field(ge=0, le=3600, description="Seconds played since the last ping")


class ProgressOut(BaseModel):
    position: float
    duration: float


class FragmentOut(BaseModel):
    text: str
    hit: bool


class MatchOut(BaseModel):
    kind: str = Field(description="chapter, note or lesson")
    title: str
    at: float | None
    snippet: list[FragmentOut]


class SearchHitOut(BaseModel):
    lesson_id: int
    title: str
    url: str = Field(description="The player page, at the matching chapter when there is one")
    specialty: str
    language: str
    status: str
    instructors: list[str]
    courses: list[str]
    duration: float | None
    date: datetime
    match: MatchOut | None


class SearchOut(BaseModel):
    query: str
    words: list[str] = Field(description="The words searched for, as the index sees them")
    total: int
    offset: int
    limit: int
    took_ms: float
    hits: list[SearchHitOut]

"""Watching a lesson: who may, where they left off, and the log of every view.

A student watches published lessons of the courses they are enrolled in; instructors the
lessons of the courses they teach, curators and admins every lesson; only a published lesson
has media to play. Every opening of the lesson page and every start of its media is a row in
``lesson_views``; the player's progress pings add the seconds really watched to the media
view (never more than the wall time since the last ping, so a client cannot inflate them) and
keep the person's position for resuming.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import distinct, func, select

from library.courses import access_for
from library.db import Database
from library.i18n import lazy
from library.lessons import LessonInfo, LessonNotFound, LessonStatus, get_lesson
from library.models import LessonProgress, LessonView, utcnow
from library.users import Role

# A ping may claim a little more than the wall time since the previous one: the two clocks
# and the request's own travel differ.
PING_SLACK_SECONDS = 2.0
# Near the end counts as finished: the next visit starts from the beginning. "Near": the last
# 5 seconds, or the last 5 % of a short lesson.
FINISHED_MARGIN_SECONDS = 5.0
FINISHED_MARGIN_SHARE = 0.05


class WatchError(Exception):
    """Why a person may not watch a lesson; ``status`` is the HTTP status the web layer uses."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message  # a LazyText: shown in the language of whoever reads it
        self.status = status


@dataclass(frozen=True)
class Watcher:
    """The person asking, as the library knows them."""

    user_id: int | None
    subject: str
    role: Role


@dataclass(frozen=True)
class Progress:
    position: float  # lesson seconds to resume at
    duration: float
    updated_at: datetime | None


@dataclass(frozen=True)
class ViewCounts:
    page_views: int
    media_sessions: int
    viewers: int
    seconds_watched: float


def watchable_lesson(db: Database, lesson_id: int, viewer: Watcher, *,
                     need_media: bool = True) -> LessonInfo:
    """The lesson if ``viewer`` may watch it, else ``WatchError`` (404, 403 or 409)."""
    try:
        lesson = get_lesson(db, lesson_id)
    except LessonNotFound:
        raise WatchError(lazy("no lesson with id %(id)s", "lesson_not_found", id=lesson_id),
                         404) from None
    access = access_for(db, viewer.user_id, viewer.role)
    courses = set(lesson.course_ids)
    if not access.may_watch(courses):
        raise WatchError(lazy("lesson %(id)s belongs to a course you are not enrolled in: ask "
                              "the course's instructor to enrol you", "not_enrolled",
                              id=lesson_id), 403)
    published = lesson.status is LessonStatus.PUBLISHED and lesson.media_path
    if not published and not access.may_curate(courses):
        # Students never learn a draft exists.
        raise WatchError(lazy("lesson %(id)s is not published", "lesson_not_published",
                              id=lesson_id), 403)
    if need_media and not published:
        raise WatchError(lazy("lesson %(id)s is not published yet: it has no media to play "
                              "until it is published", "lesson_has_no_media", id=lesson_id), 409)
    return lesson


def may_see_counts(db: Database, lesson: LessonInfo, viewer: Watcher) -> bool:
    """Curators, admins and the instructors of the lesson's courses see its view counts."""
    return access_for(db, viewer.user_id, viewer.role).may_curate(set(lesson.course_ids))


def start_view(db: Database, lesson_id: int, viewer: Watcher, kind: str) -> int:
    if kind not in ("page", "media"):
        raise ValueError(f"unknown view kind {kind!r}")
    with db.session() as session:
        now = utcnow()
        view = LessonView(lesson_id=lesson_id, user_id=viewer.user_id, subject=viewer.subject,
                          kind=kind, started_at=now, last_seen_at=now, seconds_watched=0.0)
        session.add(view)
        session.flush()
        return view.id


def _number(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or value < 0:
        raise WatchError(lazy("%(name)s must be a non-negative number of seconds, got %(value)s",
                              "invalid_seconds", name=name, value=repr(value)), 422)
    return float(value)


def record_ping(db: Database, lesson: LessonInfo, viewer: Watcher, view_id: int, *,
                position: float, watched: float) -> Progress:
    """The player's ping: ``watched`` seconds played since the last one, now at ``position``."""
    position, watched = _number("position", position), _number("watched", watched)
    duration = float(lesson.duration or 0.0)
    position = min(position, duration) if duration else position
    with db.session() as session:
        view = session.get(LessonView, view_id)
        if view is None or view.lesson_id != lesson.id or view.kind != "media" \
                or view.subject != viewer.subject:
            raise WatchError(lazy("no media session %(view)s of yours for lesson %(id)s: "
                                  "reload the page", "no_media_session", view=view_id,
                                  id=lesson.id), 404)
        now = utcnow()
        elapsed = (now - view.last_seen_at).total_seconds()
        view.seconds_watched += min(watched, max(0.0, elapsed) + PING_SLACK_SECONDS)
        view.last_seen_at = now
        if viewer.user_id is None:
            return Progress(position, duration, now)
        margin = min(FINISHED_MARGIN_SECONDS, duration * FINISHED_MARGIN_SHARE)
        if duration and position >= duration - margin:
            position = 0.0
        progress = session.get(LessonProgress, (viewer.user_id, lesson.id))
        if progress is None:
            progress = LessonProgress(user_id=viewer.user_id, lesson_id=lesson.id)
            session.add(progress)
        progress.position, progress.duration, progress.updated_at = position, duration, now
        return Progress(position, duration, now)


def get_progress(db: Database, lesson_id: int, user_id: int | None) -> Progress | None:
    if user_id is None:
        return None
    with db.session() as session:
        row = session.get(LessonProgress, (user_id, lesson_id))
        return None if row is None else Progress(row.position, row.duration, row.updated_at)


def view_counts(db: Database, lesson_id: int) -> ViewCounts:
    with db.session() as session:
        rows = dict(session.execute(
            select(LessonView.kind, func.count()).where(LessonView.lesson_id == lesson_id)
            .group_by(LessonView.kind)).all())
        viewers = session.scalar(select(func.count(distinct(LessonView.subject)))
                                 .where(LessonView.lesson_id == lesson_id))
        watched = session.scalar(select(func.coalesce(func.sum(LessonView.seconds_watched), 0.0))
                                 .where(LessonView.lesson_id == lesson_id))
    return ViewCounts(page_views=int(rows.get("page", 0)),
                      media_sessions=int(rows.get("media", 0)), viewers=int(viewers or 0),
                      seconds_watched=round(float(watched or 0.0), 1))

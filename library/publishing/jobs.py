"""Publishing jobs: the database side of turning a lesson's recording into library media.

A job row is the lesson's publishing state that survives a restart: ``queued -> running ->
done | failed``; a failed job can be retried. ``run_job`` does one job's blocking work (check,
remux, stills, chapters, metadata) through ``publish_recording``, which builds the lesson in a
staging folder and renames it into place as its last act; only then does the lesson become
``published``, in the same transaction that marks the job done. A crash anywhere before that
commit leaves the job ``running``: ``requeue_interrupted`` (called when the runner starts) puts
it back in the queue and it is redone from scratch (the stale staging folder is wiped, an
earlier complete output replaced), so a lesson is published exactly once and never half.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from library.db import Database
from library.i18n import lazy
from library.lessons import (
    LessonConflict,
    LessonInfo,
    LessonNotFound,
    LessonStatus,
    change_status,
    get_lesson,
    lesson_info,
    lesson_row,
)
from library.models import Lesson, PublishJob, User, utcnow
from library.publishing.conversation import moderators
from library.publishing.errors import PublishError
from library.publishing.masking import MaskRegion
from library.publishing.pipeline import LESSON_JSON, PublishedLesson, Trim, publish_recording
from recorder.manifest import ACTIVE, Manifest, ManifestError, RecordingState
from recorder.timeline import Marker, Timeline, TimelineError

logger = logging.getLogger(__name__)

LESSONS_FOLDER = "lessons"
PROGRESS_INTERVAL = 0.5  # seconds between progress writes to the job row


class JobState:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobNotFound(LookupError):
    pass


class JobCancelled(Exception):
    """Raised from the progress callback when the server stops: the job goes back to the queue."""


@dataclass(frozen=True)
class JobInfo:
    id: int
    lesson_id: int
    state: str
    step: str
    percent: float
    error: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


def _info(job: PublishJob) -> JobInfo:
    return JobInfo(id=job.id, lesson_id=job.lesson_id, state=job.state, step=job.step,
                   percent=round(job.percent, 1), error=job.error, attempts=job.attempts,
                   created_at=job.created_at, started_at=job.started_at,
                   finished_at=job.finished_at, updated_at=job.updated_at)


def lesson_media_path(lesson_id: int) -> str:
    """Where a lesson's media lives, relative to the library media folder."""
    return f"{LESSONS_FOLDER}/{lesson_id}"


def recording_problem(folder: Path) -> str | None:
    """Why this recording cannot be published now (still running), or None."""
    try:
        manifest = Manifest.read(folder)
    except ManifestError:
        return None  # the job's own check names what is wrong with the folder
    if manifest.state is RecordingState.PAUSED:
        return lazy("recording %(id)s is still paused: stop it before publishing",
                    "recording_in_progress", id=manifest.id)
    if manifest.state in ACTIVE:
        return lazy("recording %(id)s is still recording: stop it before publishing",
                    "recording_in_progress", id=manifest.id)
    return None


def request_publish(db: Database, lesson_id: int, recordings_dir: Path,
                    requested_by: int | None) -> JobInfo:
    """Queue a publishing job; ``LessonConflict`` (409) when the gate is closed or the
    recording still runs, ``LessonNotFound`` when there is no such lesson."""
    with db.session() as session:
        row = lesson_row(session, lesson_id)
        info = lesson_info(session, row)
        problem = info.privacy_problem or recording_problem(recordings_dir / row.recording_folder)
        if problem:
            raise LessonConflict(problem)
        if row.status == LessonStatus.PUBLISHING.value:
            raise LessonConflict(lazy("lesson %(id)s is already being published",
                                      "already_publishing", id=lesson_id))
        change_status(session, row, LessonStatus.PUBLISHING)
        now = utcnow()
        job = PublishJob(lesson_id=lesson_id, state=JobState.QUEUED, step="queued",
                         percent=0.0, attempts=0, requested_by=requested_by, created_at=now,
                         updated_at=now)
        session.add(job)
        session.flush()
        return _info(job)


def retry_job(db: Database, job_id: int, recordings_dir: Path) -> JobInfo:
    """Queue a failed job again (after the recording's files were fixed, for instance)."""
    with db.session() as session:
        job = _job(session, job_id)
        if job.state != JobState.FAILED:
            raise LessonConflict(lazy("job %(id)s has not failed: only a failed job can be "
                                      "retried", "job_not_failed", id=job_id))
        row = lesson_row(session, job.lesson_id)
        problem = lesson_info(session, row).privacy_problem or recording_problem(
            recordings_dir / row.recording_folder)
        if problem:
            raise LessonConflict(problem)
        change_status(session, row, LessonStatus.PUBLISHING)
        job.state, job.step, job.percent, job.error = JobState.QUEUED, "queued", 0.0, None
        job.finished_at, job.updated_at = None, utcnow()
        session.flush()
        return _info(job)


def _job(session: Session, job_id: int) -> PublishJob:
    job = session.get(PublishJob, job_id)
    if job is None:
        raise JobNotFound(lazy("no publishing job with id %(id)s", "job_not_found", id=job_id))
    return job


def get_job(db: Database, job_id: int) -> JobInfo:
    with db.session() as session:
        return _info(_job(session, job_id))


def latest_job(db: Database, lesson_id: int) -> JobInfo | None:
    with db.session() as session:
        job = session.scalars(select(PublishJob).where(PublishJob.lesson_id == lesson_id)
                              .order_by(PublishJob.id.desc())).first()
        return None if job is None else _info(job)


def requeue_interrupted(db: Database) -> list[int]:
    """Jobs left running by a stop or a crash go back to the queue, to be redone from scratch."""
    with db.session() as session:
        jobs = list(session.scalars(select(PublishJob)
                                    .where(PublishJob.state == JobState.RUNNING)))
        for job in jobs:
            job.state, job.step, job.percent = JobState.QUEUED, "queued (restarted)", 0.0
            job.updated_at = utcnow()
        return [job.id for job in jobs]


def claim_next(db: Database) -> JobInfo | None:
    """The oldest queued job, now running (one runner per database)."""
    with db.session() as session:
        job = session.scalars(select(PublishJob).where(PublishJob.state == JobState.QUEUED)
                              .order_by(PublishJob.id)).first()
        if job is None:
            return None
        now = utcnow()
        job.state, job.step, job.percent = JobState.RUNNING, "check", 0.0
        job.attempts += 1
        job.started_at = job.updated_at = now
        session.flush()
        return _info(job)


def report_progress(db: Database, job_id: int, step: str, percent: float) -> None:
    with db.session() as session:
        job = _job(session, job_id)
        if job.state == JobState.RUNNING:
            job.step, job.percent, job.updated_at = step, round(percent, 1), utcnow()


def _finish(db: Database, job_id: int, lesson: PublishedLesson | None, error: str | None,
            media_path: str) -> None:
    with db.session() as session:
        job = _job(session, job_id)
        row = session.get(Lesson, job.lesson_id)
        now = utcnow()
        job.finished_at = job.updated_at = now
        if lesson is None:
            job.state, job.error = JobState.FAILED, error
            if row is not None and row.status == LessonStatus.PUBLISHING.value:
                change_status(session, row, LessonStatus.FAILED)
            return
        job.state, job.step, job.percent, job.error = JobState.DONE, "done", 100.0, None
        if row is not None:
            change_status(session, row, LessonStatus.PUBLISHED)
            row.media_path = media_path
            row.duration = lesson.duration
            row.published_start = lesson.start
            row.technical = json.loads((lesson.folder / LESSON_JSON).read_text("utf-8"))
            row.published_at = now


def published_markers(info: LessonInfo) -> tuple[list[Marker], list[tuple[float, float]]]:
    """The curated chapters as markers, moved out of hidden segments; the hidden segments."""
    hidden = [(s.start, s.end) for s in info.hidden_segments]
    markers = []
    for chapter in info.chapters:
        start = chapter.start
        for lo, hi in hidden:
            if lo <= start < hi:
                start = hi  # a chapter that begins in a skipped part begins after it
        markers.append(Marker(title=chapter.title, at=start, id=f"chapter-{chapter.id}"))
    return markers, hidden


def session_people(db: Database, folder: Path) -> dict[str, str]:
    """The display names of the people who ran the recorded session (its moderators, found on
    its timeline), by account name: they are published by name, every other author as a
    numbered participant (``conversation.py`` says why)."""
    try:
        staff = moderators(Timeline(folder).raw_events)
    except (OSError, TimelineError):
        return {}
    if not staff:
        return {}
    with db.session() as session:
        rows = session.execute(select(User.username, User.display_name)
                               .where(User.username.in_(sorted(staff)))).all()
    return {username: display or username for username, display in rows}


def run_job(db: Database, job: JobInfo, recordings_dir: Path, media_dir: Path,
            should_stop: Callable[[], bool] = lambda: False) -> JobInfo:
    """Do one claimed job's work (blocking: call it from a worker thread)."""
    try:
        info = get_lesson(db, job.lesson_id)
    except LessonNotFound as exc:
        _finish(db, job.id, None, str(exc), "")
        return get_job(db, job.id)
    last_time, last_step = 0.0, ""

    def progress(step: str, fraction: float) -> None:
        nonlocal last_time, last_step
        if should_stop():
            raise JobCancelled(f"job {job.id} interrupted by a server stop")
        now = time.monotonic()
        # Throttled: a row write per progress call would cost more than the remux itself.
        if step != last_step or now - last_time >= PROGRESS_INTERVAL or fraction >= 1.0:
            last_time, last_step = now, step
            report_progress(db, job.id, step, fraction * 100)

    markers, hidden = published_markers(info)
    masks: dict[str, list[MaskRegion]] = {}
    for m in info.masks:
        masks.setdefault(m.track, []).append(MaskRegion(m.start, m.end, m.x, m.y, m.w, m.h))
    media_path = lesson_media_path(info.id)
    try:
        lesson = publish_recording(
            recordings_dir / info.recording_folder, media_dir / media_path,
            trim=Trim(info.trim_start, info.trim_end), markers=markers, hidden=hidden,
            masks=masks, hidden_messages=info.hidden_messages,
            people=session_people(db, recordings_dir / info.recording_folder),
            progress=progress, replace_existing=True)
    except JobCancelled:
        raise
    except PublishError as exc:
        logger.warning("publishing lesson %s failed: %s", info.id, exc)
        _finish(db, job.id, None, str(exc), media_path)
        return get_job(db, job.id)
    except Exception as exc:  # a bug or a full disk must fail the job, not kill the runner
        logger.exception("publishing lesson %s failed", info.id)
        _finish(db, job.id, None, f"unexpected error: {exc}", media_path)
        return get_job(db, job.id)
    _finish(db, job.id, lesson, None, media_path)
    return get_job(db, job.id)


def unpublish(db: Database, lesson_id: int, media_dir: Path) -> LessonInfo:
    """Take a lesson out of the library: students lose it at once, its media is removed."""
    with db.session() as session:
        row = lesson_row(session, lesson_id)
        change_status(session, row, LessonStatus.UNPUBLISHED)
        media_path, row.media_path = row.media_path, None
        info = lesson_info(session, row)
    if media_path:
        shutil.rmtree(media_dir / media_path, ignore_errors=True)
    return info

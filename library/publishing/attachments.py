"""DICOM material attached to a lesson: de-identified (PS3.15 Annex E) before it is stored.

The uploaded files arrive in a temporary folder; ``attach_dicom`` runs them through
``deidentify_series`` into the lesson's attachment folder (staged and renamed there, so a
refusal stores nothing) and records what was done. The originals are never kept.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from library.db import Database
from library.lessons import LessonNotFound
from library.models import Lesson, LessonAttachment, utcnow
from library.publishing.deidentify import deidentify_series

ATTACHMENTS_FOLDER = "attachments"


@dataclass(frozen=True)
class AttachmentInfo:
    id: int
    lesson_id: int
    kind: str
    name: str
    path: str
    files: int
    report: dict[str, Any]
    created_at: datetime


def deidentification_secret(app_secret: str) -> str:
    """A secret of its own for UID remapping, derived from the installation's key."""
    return hmac.new(app_secret.encode(), b"medroom.deidentify.v1", hashlib.sha256).hexdigest()


def _info(row: LessonAttachment) -> AttachmentInfo:
    return AttachmentInfo(row.id, row.lesson_id, row.kind, row.name, row.path, row.files,
                          row.report, row.created_at)


def attach_dicom(db: Database, lesson_id: int, upload_folder: Path, media_dir: Path, *,
                 name: str, secret: str, user_id: int | None) -> AttachmentInfo:
    """De-identify the DICOM files in ``upload_folder`` and store them with the lesson.

    Raises ``DeidentificationError`` naming the file when one is not DICOM (or has burned-in
    annotation); nothing is stored then.
    """
    with db.session() as session:
        if session.get(Lesson, lesson_id) is None:
            raise LessonNotFound(f"no lesson with id {lesson_id}")
    relative = f"{ATTACHMENTS_FOLDER}/{lesson_id}/{uuid.uuid4().hex[:12]}"
    target = media_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    report = deidentify_series(upload_folder, target, secret, pseudonym=f"LESSON-{lesson_id}")
    summary = {
        "profile": report.profile, "studies": report.studies, "series": report.series,
        "distinct_uids": report.distinct_uids,
        "files": [{k: v for k, v in asdict(f).items() if k != "source"} for f in report.files],
        "needs_review": [f.output for f in report.needs_review],
    }
    with db.session() as session:
        row = LessonAttachment(lesson_id=lesson_id, kind="dicom", name=name[:200] or "DICOM",
                               path=relative, files=len(report.files), report=summary,
                               created_by=user_id, created_at=utcnow())
        session.add(row)
        session.flush()
        return _info(row)


def list_attachments(db: Database, lesson_id: int) -> list[AttachmentInfo]:
    with db.session() as session:
        return [_info(r) for r in session.scalars(
            select(LessonAttachment).where(LessonAttachment.lesson_id == lesson_id)
            .order_by(LessonAttachment.id))]

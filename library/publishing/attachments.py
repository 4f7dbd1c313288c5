"""DICOM material attached to a lesson: de-identified (PS3.15 Annex E) before it is stored.

``attach_dicom`` receives the uploaded files the way a room's series source does
(``receive_upload``: the same limits, counted while zips unpack, and the same check of every
file, so a truncated DICOM is refused here as it is there), into a hidden folder beside the
attachments, then runs them through ``deidentify_series`` into the lesson's attachment folder
(staged and renamed there, so a refusal stores nothing) and records what was done. The
originals are never kept.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from library.db import Database
from library.i18n import LazyText, lazy
from library.lessons import LessonNotFound
from library.models import Lesson, LessonAttachment, utcnow
from library.publishing.deidentify import DeidentificationError, deidentify_series
from room_controller.dicom.upload import UploadedFile, UploadLimits, receive_upload, uploaded_names

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


def attach_dicom(db: Database, lesson_id: int, files: Iterable[UploadedFile], media_dir: Path,
                 *, limits: UploadLimits, secret: str, user_id: int | None) -> AttachmentInfo:
    """De-identify the uploaded DICOM files (zips unpacked) and store them with the lesson.

    Raises ``UploadError`` (``UploadTooLarge`` past a limit) naming the file when one is not a
    complete DICOM file, or ``DeidentificationError`` (burned-in annotation); nothing of the
    upload is left on disk then.
    """
    with db.session() as session:
        if session.get(Lesson, lesson_id) is None:
            raise LessonNotFound(lazy("no lesson with id %(id)s", "lesson_not_found",
                                      id=lesson_id))
    relative = f"{ATTACHMENTS_FOLDER}/{lesson_id}/{uuid.uuid4().hex[:12]}"
    target = media_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = media_dir / ATTACHMENTS_FOLDER / f".incoming-{uuid.uuid4().hex[:12]}"
    try:
        count = receive_upload(files, incoming, limits)
        try:
            report = deidentify_series(incoming, target, secret,
                                       pseudonym=f"LESSON-{lesson_id}")
        except DeidentificationError as exc:
            said = exc.args[0] if exc.args else ""
            # A translatable refusal names no stored file; any other message is rewritten to
            # speak of the files as they were uploaded.
            raise DeidentificationError(said if isinstance(said, LazyText)
                                        else uploaded_names(str(exc), incoming)) from None
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
    name = f"DICOM ({count} files)"
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

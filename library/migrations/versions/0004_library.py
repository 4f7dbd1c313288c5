"""Library: courses and their members, lessons (curation, privacy gate), publishing jobs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"],
                                   name=f"fk_{table}_{column}_{target}", ondelete=ondelete)


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("specialty", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_courses"),
        sa.UniqueConstraint("slug", name="uq_courses_slug"),
    )
    op.create_table(
        "course_members",
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        _when("added_at"),
        sa.PrimaryKeyConstraint("course_id", "user_id", name="pk_course_members"),
        sa.CheckConstraint("role IN ('instructor', 'student')",
                           name="ck_course_members_role_valid"),
        _fk("course_members", "course_id", "courses", "CASCADE"),
        _fk("course_members", "user_id", "users", "CASCADE"),
    )
    op.create_index("ix_course_members_user_id", "course_members", ["user_id"])
    op.create_table(
        "lessons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.String(64), nullable=False),
        sa.Column("room_id", sa.String(64), nullable=False),
        sa.Column("recording_folder", sa.String(400), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("specialty", sa.String(100), nullable=False),
        sa.Column("procedure", sa.String(200), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("instructors", sa.JSON(), nullable=False),
        sa.Column("recording_duration", sa.Float(), nullable=False),
        sa.Column("trim_start", sa.Float(), nullable=True),
        sa.Column("trim_end", sa.Float(), nullable=True),
        sa.Column("hidden_segments", sa.JSON(), nullable=False),
        sa.Column("consent_confirmed", sa.Boolean(), nullable=False),
        sa.Column("deidentification_confirmed", sa.Boolean(), nullable=False),
        sa.Column("privacy_confirmed_by", sa.Integer(), nullable=True),
        _when("privacy_confirmed_at", nullable=True),
        sa.Column("media_path", sa.String(400), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("published_start", sa.Float(), nullable=True),
        sa.Column("technical", sa.JSON(), nullable=True),
        _when("published_at", nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _when("created_at"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_lessons"),
        sa.UniqueConstraint("recording_id", name="uq_lessons_recording_id"),
        sa.CheckConstraint(
            "status IN ('draft', 'publishing', 'published', 'failed', 'unpublished')",
            name="ck_lessons_status_valid",
        ),
        sa.CheckConstraint("trim_end IS NULL OR trim_start IS NULL OR trim_end > trim_start",
                           name="ck_lessons_trim_end_after_start"),
        _fk("lessons", "privacy_confirmed_by", "users", "SET NULL"),
        _fk("lessons", "created_by", "users", "SET NULL"),
    )
    op.create_index("ix_lessons_status", "lessons", ["status"])
    op.create_table(
        "lesson_courses",
        sa.Column("lesson_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("lesson_id", "course_id", name="pk_lesson_courses"),
        _fk("lesson_courses", "lesson_id", "lessons", "CASCADE"),
        _fk("lesson_courses", "course_id", "courses", "CASCADE"),
    )
    op.create_index("ix_lesson_courses_course_id", "lesson_courses", ["course_id"])
    op.create_table(
        "lesson_chapters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.Integer(), nullable=False),
        sa.Column("marker_id", sa.String(64), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lesson_chapters"),
        _fk("lesson_chapters", "lesson_id", "lessons", "CASCADE"),
    )
    op.create_index("ix_lesson_chapters_lesson_id", "lesson_chapters", ["lesson_id"])
    op.create_table(
        "lesson_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_lesson_notes"),
        _fk("lesson_notes", "lesson_id", "lessons", "CASCADE"),
    )
    op.create_index("ix_lesson_notes_lesson_id", "lesson_notes", ["lesson_id"])
    op.create_table(
        "lesson_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("path", sa.String(400), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_lesson_attachments"),
        _fk("lesson_attachments", "lesson_id", "lessons", "CASCADE"),
        _fk("lesson_attachments", "created_by", "users", "SET NULL"),
    )
    op.create_index("ix_lesson_attachments_lesson_id", "lesson_attachments", ["lesson_id"])
    op.create_table(
        "publish_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("step", sa.String(40), nullable=False),
        sa.Column("percent", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        _when("created_at"),
        _when("started_at", nullable=True),
        _when("finished_at", nullable=True),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_publish_jobs"),
        sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed')",
                           name="ck_publish_jobs_state_valid"),
        _fk("publish_jobs", "lesson_id", "lessons", "CASCADE"),
        _fk("publish_jobs", "requested_by", "users", "SET NULL"),
    )
    op.create_index("ix_publish_jobs_lesson_id", "publish_jobs", ["lesson_id"])
    op.create_index("ix_publish_jobs_state", "publish_jobs", ["state"])


def downgrade() -> None:
    for table, indexes in (
        ("publish_jobs", ("ix_publish_jobs_state", "ix_publish_jobs_lesson_id")),
        ("lesson_attachments", ("ix_lesson_attachments_lesson_id",)),
        ("lesson_notes", ("ix_lesson_notes_lesson_id",)),
        ("lesson_chapters", ("ix_lesson_chapters_lesson_id",)),
        ("lesson_courses", ("ix_lesson_courses_course_id",)),
        ("lessons", ("ix_lessons_status",)),
        ("course_members", ("ix_course_members_user_id",)),
        ("courses", ()),
    ):
        for index in indexes:
            op.drop_index(index, table_name=table)
        op.drop_table(table)

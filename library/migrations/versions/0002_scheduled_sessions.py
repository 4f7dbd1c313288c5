"""Scheduled sessions: recordings planned ahead.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scheduled_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("course", sa.String(200), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("recording_ids", sa.String(400), nullable=False),
        sa.Column("message", sa.String(500), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scheduled_sessions"),
        sa.CheckConstraint("ends_at > starts_at", name="ck_scheduled_sessions_ends_after_start"),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name="fk_scheduled_sessions_created_by_users",
            ondelete="SET NULL",
        ),
    )
    op.create_index(
        "ix_scheduled_sessions_room_id_starts_at", "scheduled_sessions", ["room_id", "starts_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_scheduled_sessions_room_id_starts_at", table_name="scheduled_sessions")
    op.drop_table("scheduled_sessions")

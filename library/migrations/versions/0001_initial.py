"""Initial schema: users, live sessions, viewer sessions.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Hand-written to match library/models.py, constraint names included (see NAMING_CONVENTION).
Times are ``DateTime(timezone=True)``: timestamptz on PostgreSQL, naive UTC text on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sa.CheckConstraint(
            "role IN ('admin', 'instructor', 'curator', 'student')", name="ck_users_role_valid"
        ),
    )
    op.create_table(
        "live_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_live_sessions"),
        sa.ForeignKeyConstraint(
            ["started_by"],
            ["users.id"],
            name="fk_live_sessions_started_by_users",
            ondelete="SET NULL",
        ),
    )
    op.create_index(
        "ix_live_sessions_room_id_started_at", "live_sessions", ["room_id", "started_at"]
    )
    op.create_table(
        "viewer_sessions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("live_session_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_reason", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_viewer_sessions"),
        sa.ForeignKeyConstraint(
            ["live_session_id"],
            ["live_sessions.id"],
            name="fk_viewer_sessions_live_session_id_live_sessions",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_viewer_sessions_user_id_users",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_viewer_sessions_live_session_id", "viewer_sessions", ["live_session_id"])
    op.create_index("ix_viewer_sessions_user_id", "viewer_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_viewer_sessions_user_id", table_name="viewer_sessions")
    op.drop_index("ix_viewer_sessions_live_session_id", table_name="viewer_sessions")
    op.drop_table("viewer_sessions")
    op.drop_index("ix_live_sessions_room_id_started_at", table_name="live_sessions")
    op.drop_table("live_sessions")
    op.drop_table("users")

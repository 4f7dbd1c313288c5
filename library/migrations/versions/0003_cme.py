"""CME programmes and the live sessions that carry them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cme_programmes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("organiser", sa.String(300), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("drop_tolerance_seconds", sa.Integer(), nullable=False),
        sa.Column("programme", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cme_programmes"),
        sa.UniqueConstraint("ref", name="uq_cme_programmes_ref"),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted')", name="ck_cme_programmes_status_valid"
        ),
        sa.CheckConstraint("ends_on >= starts_on", name="ck_cme_programmes_ends_after_start"),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name="fk_cme_programmes_created_by_users",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_cme_programmes_starts_on", "cme_programmes", ["starts_on"])
    op.create_table(
        "cme_programme_live_sessions",
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("live_session_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "programme_id", "live_session_id", name="pk_cme_programme_live_sessions"
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"], ["cme_programmes.id"],
            name="fk_cme_programme_live_sessions_programme_id_cme_programmes",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["live_session_id"], ["live_sessions.id"],
            name="fk_cme_programme_live_sessions_live_session_id_live_sessions",
        ),
    )
    op.create_index(
        "ix_cme_programme_live_sessions_live_session_id",
        "cme_programme_live_sessions",
        ["live_session_id"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_cme_programme_live_sessions_live_session_id", table_name="cme_programme_live_sessions"
    )
    op.drop_table("cme_programme_live_sessions")
    op.drop_index("ix_cme_programmes_starts_on", table_name="cme_programmes")
    op.drop_table("cme_programmes")

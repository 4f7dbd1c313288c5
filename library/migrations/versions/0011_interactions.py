"""Live classroom interactions: chat, questions, votes, hands and polls of a live session.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_interactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("live_session_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("actor_name", sa.String(200), nullable=True),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_live_interactions"),
        sa.ForeignKeyConstraint(
            ["live_session_id"], ["live_sessions.id"],
            name="fk_live_interactions_live_session_id_live_sessions",
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"], ["users.id"],
            name="fk_live_interactions_actor_user_id_users", ondelete="SET NULL",
        ),
    )
    op.create_index("ix_live_interactions_live_session_id_seq", "live_interactions",
                    ["live_session_id", "seq"])
    op.create_index("ix_live_interactions_actor_user_id", "live_interactions",
                    ["actor_user_id"])


def downgrade() -> None:
    op.drop_index("ix_live_interactions_actor_user_id", table_name="live_interactions")
    op.drop_index("ix_live_interactions_live_session_id_seq", table_name="live_interactions")
    op.drop_table("live_interactions")

"""CME programme organisers: the accounts a programme names besides its creator.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cme_programme_organisers",
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("programme_id", "user_id", name="pk_cme_programme_organisers"),
        sa.ForeignKeyConstraint(
            ["programme_id"], ["cme_programmes.id"],
            name="fk_cme_programme_organisers_programme_id_cme_programmes", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"],
            name="fk_cme_programme_organisers_user_id_users", ondelete="CASCADE",
        ),
    )
    op.create_index("ix_cme_programme_organisers_user_id", "cme_programme_organisers",
                    ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_cme_programme_organisers_user_id", "cme_programme_organisers")
    op.drop_table("cme_programme_organisers")

"""CME participant profiles (CNP encrypted at rest) and certificates.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cme_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("cnp_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("cnp_lookup", sa.String(64), nullable=False),
        sa.Column("cnp_key_id", sa.String(16), nullable=False),
        sa.Column("specialty", sa.String(200), nullable=False),
        sa.Column("grade", sa.String(20), nullable=False),
        sa.Column("workplace", sa.String(300), nullable=False),
        sa.Column("titles", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cme_participants"),
        sa.UniqueConstraint("user_id", name="uq_cme_participants_user_id"),
        sa.UniqueConstraint("cnp_lookup", name="uq_cme_participants_cnp_lookup"),
        sa.CheckConstraint(
            "grade IN ('rezident', 'specialist', 'primar', 'medic')",
            name="ck_cme_participants_grade_valid",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_cme_participants_user_id_users",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "cme_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(200), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("holder_name", sa.String(200), nullable=False),
        sa.Column("holder_initials", sa.String(20), nullable=False),
        sa.Column("programme_ref", sa.String(64), nullable=False),
        sa.Column("programme_title", sa.String(300), nullable=False),
        sa.Column("programme_kind", sa.String(40), nullable=False),
        sa.Column("organiser", sa.String(300), nullable=False),
        sa.Column("venue", sa.String(300), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("credits", sa.Integer(), nullable=False),
        sa.Column("test_passed", sa.Boolean(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(300), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cme_certificates"),
        sa.UniqueConstraint("number", name="uq_cme_certificates_number"),
        sa.UniqueConstraint("programme_id", "person_id", name="uq_cme_certificates_holder"),
        sa.CheckConstraint(
            "kind IN ('completion', 'participation')", name="ck_cme_certificates_kind_valid"
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"], ["cme_programmes.id"],
            name="fk_cme_certificates_programme_id_cme_programmes",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_cme_certificates_user_id_users",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["issued_by"], ["users.id"], name="fk_cme_certificates_issued_by_users",
            ondelete="SET NULL",
        ),
        # AUTOINCREMENT on SQLite: ids (and so registration numbers) are never reused.
        sqlite_autoincrement=True,
    )
    op.create_index("ix_cme_certificates_user_id", "cme_certificates", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_cme_certificates_user_id", table_name="cme_certificates")
    op.drop_table("cme_certificates")
    op.drop_table("cme_participants")

"""Remote classrooms: classrooms, their paired screens, presence checks and check-ins (issue 18).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "classrooms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("institution", sa.String(200), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("room_id", sa.String(64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_classrooms"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name="fk_classrooms_created_by_users", ondelete="SET NULL"),
    )
    op.create_table(
        "classroom_screens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=True),
        sa.Column("code_expires_at", _TZ, nullable=False),
        sa.Column("classroom_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("created_from", sa.String(64), nullable=False),
        sa.Column("paired_at", _TZ, nullable=True),
        sa.Column("paired_by", sa.Integer(), nullable=True),
        sa.Column("revoked_at", _TZ, nullable=True),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.Column("last_seen_at", _TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_classroom_screens"),
        sa.UniqueConstraint("key_hash", name="uq_classroom_screens_key_hash"),
        sa.UniqueConstraint("code_hash", name="uq_classroom_screens_code_hash"),
        sa.ForeignKeyConstraint(["classroom_id"], ["classrooms.id"],
                                name="fk_classroom_screens_classroom_id_classrooms",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["paired_by"], ["users.id"],
                                name="fk_classroom_screens_paired_by_users", ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["revoked_by"], ["users.id"],
                                name="fk_classroom_screens_revoked_by_users", ondelete="SET NULL"),
    )
    op.create_index("ix_classroom_screens_classroom_id", "classroom_screens", ["classroom_id"])
    op.create_table(
        "presence_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("live_session_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("opened_at", _TZ, nullable=False),
        sa.Column("opened_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_presence_checks"),
        sa.UniqueConstraint("live_session_id", "seq", name="uq_presence_checks_live_session_id_seq"),
        sa.CheckConstraint("kind IN ('start', 'instructor', 'random')",
                           name="ck_presence_checks_kind_valid"),
        sa.ForeignKeyConstraint(["live_session_id"], ["live_sessions.id"],
                                name="fk_presence_checks_live_session_id_live_sessions"),
        sa.ForeignKeyConstraint(["opened_by"], ["users.id"],
                                name="fk_presence_checks_opened_by_users", ondelete="SET NULL"),
    )
    op.create_table(
        "check_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("live_session_id", sa.Integer(), nullable=False),
        sa.Column("classroom_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.Column("device_hash", sa.String(64), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_check_ins"),
        sa.UniqueConstraint("check_id", "user_id", name="uq_check_ins_check_id_user_id"),
        sa.ForeignKeyConstraint(["check_id"], ["presence_checks.id"],
                                name="fk_check_ins_check_id_presence_checks"),
        sa.ForeignKeyConstraint(["live_session_id"], ["live_sessions.id"],
                                name="fk_check_ins_live_session_id_live_sessions"),
        sa.ForeignKeyConstraint(["classroom_id"], ["classrooms.id"],
                                name="fk_check_ins_classroom_id_classrooms"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_check_ins_user_id_users"),
    )
    op.create_index("ix_check_ins_user_id", "check_ins", ["user_id"])
    op.create_index("ix_check_ins_live_session_id", "check_ins", ["live_session_id"])
    op.create_table(
        "programme_random_checks",
        sa.Column("programme_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("min_minutes", sa.Integer(), nullable=False),
        sa.Column("max_minutes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("programme_id", name="pk_programme_random_checks"),
        sa.CheckConstraint("min_minutes >= 1 AND max_minutes >= min_minutes",
                           name="ck_programme_random_checks_limits_valid"),
        sa.ForeignKeyConstraint(["programme_id"], ["cme_programmes.id"],
                                name="fk_programme_random_checks_programme_id_cme_programmes",
                                ondelete="CASCADE"),
    )


def downgrade() -> None:
    op.drop_table("programme_random_checks")
    op.drop_index("ix_check_ins_live_session_id", table_name="check_ins")
    op.drop_index("ix_check_ins_user_id", table_name="check_ins")
    op.drop_table("check_ins")
    op.drop_table("presence_checks")
    op.drop_index("ix_classroom_screens_classroom_id", table_name="classroom_screens")
    op.drop_table("classroom_screens")
    op.drop_table("classrooms")

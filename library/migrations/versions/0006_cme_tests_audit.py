"""CME final tests (question banks, attempts) and the append-only access log.

The access log (art. 12 alin. (2) lit. a) refuses UPDATE and DELETE in the database itself:
a trigger on both PostgreSQL and SQLite, so not even a bug or a hand-typed statement through
the application's connection can rewrite history.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSAL = "cme_audit_log is append-only: entries are never changed or deleted"

PG_FUNCTION = f"""
CREATE FUNCTION cme_audit_log_refuse() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{REFUSAL} (% refused)', TG_OP;
END
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "cme_audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=True),
        sa.Column("target_kind", sa.String(20), nullable=False),
        sa.Column("target_id", sa.String(100), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cme_audit_log"),
    )
    op.create_index("ix_cme_audit_log_programme_id_at", "cme_audit_log", ["programme_id", "at"])
    op.create_index("ix_cme_audit_log_actor_at", "cme_audit_log", ["actor", "at"])
    op.create_index("ix_cme_audit_log_action", "cme_audit_log", ["action"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER cme_audit_log_append_only BEFORE UPDATE OR DELETE ON cme_audit_log"
            " FOR EACH ROW EXECUTE FUNCTION cme_audit_log_refuse()"
        )
        op.execute(
            "CREATE TRIGGER cme_audit_log_no_truncate BEFORE TRUNCATE ON cme_audit_log"
            " FOR EACH STATEMENT EXECUTE FUNCTION cme_audit_log_refuse()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER cme_audit_log_no_{operation.lower()} BEFORE {operation}"
                f" ON cme_audit_log BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
            )

    op.create_table(
        "cme_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("text", sa.String(2000), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("correct", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cme_questions"),
        sa.CheckConstraint("kind IN ('single', 'multiple')", name="ck_cme_questions_kind_valid"),
        sa.ForeignKeyConstraint(
            ["programme_id"], ["cme_programmes.id"],
            name="fk_cme_questions_programme_id_cme_programmes", ondelete="CASCADE",
        ),
    )
    op.create_index("ix_cme_questions_programme_id", "cme_questions", ["programme_id"])

    op.create_table(
        "cme_test_attempts",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(200), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drawn", sa.JSON(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=True),
        sa.Column("correct", sa.Integer(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cme_test_attempts"),
        sa.UniqueConstraint(
            "programme_id", "person_id", "number", name="uq_cme_test_attempts_number"
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"], ["cme_programmes.id"],
            name="fk_cme_test_attempts_programme_id_cme_programmes",
        ),
    )
    op.create_index(
        "ix_cme_test_attempts_programme_id_person_id",
        "cme_test_attempts", ["programme_id", "person_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_cme_test_attempts_programme_id_person_id", table_name="cme_test_attempts")
    op.drop_table("cme_test_attempts")
    op.drop_index("ix_cme_questions_programme_id", table_name="cme_questions")
    op.drop_table("cme_questions")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS cme_audit_log_no_truncate ON cme_audit_log")
        op.execute("DROP TRIGGER IF EXISTS cme_audit_log_append_only ON cme_audit_log")
        op.execute("DROP FUNCTION IF EXISTS cme_audit_log_refuse()")
    else:
        op.execute("DROP TRIGGER IF EXISTS cme_audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS cme_audit_log_no_delete")
    for index in ("ix_cme_audit_log_action", "ix_cme_audit_log_actor_at",
                  "ix_cme_audit_log_programme_id_at"):
        op.drop_index(index, table_name="cme_audit_log")
    op.drop_table("cme_audit_log")

"""Lesson-level search rows: one full-text row per lesson for ranking.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_INDEX = [
    """CREATE VIRTUAL TABLE lesson_fts USING fts5(
        folded_title, folded_body, content='search_lessons', content_rowid='lesson_id',
        tokenize='unicode61 remove_diacritics 2', prefix='2 3')""",
    """CREATE TRIGGER search_lessons_ai AFTER INSERT ON search_lessons BEGIN
        INSERT INTO lesson_fts(rowid, folded_title, folded_body)
        VALUES (new.lesson_id, new.folded_title, new.folded_body);
    END""",
    """CREATE TRIGGER search_lessons_ad AFTER DELETE ON search_lessons BEGIN
        INSERT INTO lesson_fts(lesson_fts, rowid, folded_title, folded_body)
        VALUES ('delete', old.lesson_id, old.folded_title, old.folded_body);
    END""",
    """CREATE TRIGGER search_lessons_au AFTER UPDATE ON search_lessons BEGIN
        INSERT INTO lesson_fts(lesson_fts, rowid, folded_title, folded_body)
        VALUES ('delete', old.lesson_id, old.folded_title, old.folded_body);
        INSERT INTO lesson_fts(rowid, folded_title, folded_body)
        VALUES (new.lesson_id, new.folded_title, new.folded_body);
    END""",
]
POSTGRES_INDEX = [
    """ALTER TABLE search_lessons ADD COLUMN tsv tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', folded_title), 'A') ||
        setweight(to_tsvector('simple', folded_body), 'B')) STORED""",
    "CREATE INDEX ix_search_lessons_tsv ON search_lessons USING gin (tsv)",
]
# The existing lessons' rows, from their search documents (the same text, gathered).
BACKFILL = """
    INSERT INTO search_lessons (lesson_id, folded_title, folded_body)
    SELECT lesson_id,
           COALESCE({agg}(CASE WHEN kind <> 'note' THEN folded_title END, ' '), ''),
           COALESCE({agg}(CASE WHEN folded_body <> '' THEN folded_body END, ' '), '')
    FROM search_documents GROUP BY lesson_id"""


def upgrade() -> None:
    op.create_table(
        "search_lessons",
        sa.Column("lesson_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("folded_title", sa.Text(), nullable=False),
        sa.Column("folded_body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("lesson_id", name="pk_search_lessons"),
        sa.ForeignKeyConstraint(["lesson_id"], ["lessons.id"],
                                name="fk_search_lessons_lesson_id_lessons", ondelete="CASCADE"),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_INDEX if sqlite else POSTGRES_INDEX:
        op.execute(statement)
    op.execute(BACKFILL.format(agg="group_concat" if sqlite else "string_agg"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("search_lessons_ai", "search_lessons_ad", "search_lessons_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS lesson_fts")
    op.drop_table("search_lessons")

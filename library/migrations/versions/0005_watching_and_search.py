"""Watching and finding lessons: progress, views, search documents and their full-text index.

SQLite: an FTS5 table over ``search_documents`` (external content, so the text is stored once)
kept in step by triggers on insert, update and delete. PostgreSQL: a generated ``tsvector``
column with a GIN index, using the ``simple`` configuration: lessons are in Romanian, Serbian,
Bulgarian and English, often mixed in one lesson, and PostgreSQL has no Bulgarian stemmer; a
stemmer of the wrong language mangles words, while ``simple`` only lower-cases and keeps every
word (no stop words either, so "or" and "near" are searchable words). Diacritics are folded by
MedRoom before the text reaches either index, so both backends match the same words.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_INDEX = [
    # prefix='2 3': the last word of a query matches as a prefix (search as you type) without
    # scanning every term of the vocabulary.
    """CREATE VIRTUAL TABLE search_fts USING fts5(
        folded_title, folded_body, content='search_documents', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2', prefix='2 3')""",
    """CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN
        INSERT INTO search_fts(rowid, folded_title, folded_body)
        VALUES (new.id, new.folded_title, new.folded_body);
    END""",
    """CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN
        INSERT INTO search_fts(search_fts, rowid, folded_title, folded_body)
        VALUES ('delete', old.id, old.folded_title, old.folded_body);
    END""",
    """CREATE TRIGGER search_documents_au AFTER UPDATE ON search_documents BEGIN
        INSERT INTO search_fts(search_fts, rowid, folded_title, folded_body)
        VALUES ('delete', old.id, old.folded_title, old.folded_body);
        INSERT INTO search_fts(rowid, folded_title, folded_body)
        VALUES (new.id, new.folded_title, new.folded_body);
    END""",
]
POSTGRES_INDEX = [
    """ALTER TABLE search_documents ADD COLUMN tsv tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', folded_title), 'A') ||
        setweight(to_tsvector('simple', folded_body), 'B')) STORED""",
    "CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (tsv)",
]


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"],
                                   name=f"fk_{table}_{column}_{target}", ondelete=ondelete)


def _when(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "lesson_progress",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Float(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("user_id", "lesson_id", name="pk_lesson_progress"),
        _fk("lesson_progress", "user_id", "users", "CASCADE"),
        _fk("lesson_progress", "lesson_id", "lessons", "CASCADE"),
    )
    op.create_table(
        "lesson_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        _when("started_at"),
        _when("last_seen_at"),
        sa.Column("seconds_watched", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lesson_views"),
        sa.CheckConstraint("kind IN ('page', 'media')", name="ck_lesson_views_kind_valid"),
        _fk("lesson_views", "lesson_id", "lessons", "CASCADE"),
        _fk("lesson_views", "user_id", "users", "SET NULL"),
    )
    op.create_index("ix_lesson_views_lesson_id_started_at", "lesson_views",
                    ["lesson_id", "started_at"])
    op.create_index("ix_lesson_views_user_id", "lesson_views", ["user_id"])
    op.create_table(
        "search_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("at", sa.Float(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("folded_title", sa.Text(), nullable=False),
        sa.Column("folded_body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_search_documents"),
        sa.CheckConstraint("kind IN ('lesson', 'chapter', 'note')",
                           name="ck_search_documents_kind_valid"),
        _fk("search_documents", "lesson_id", "lessons", "CASCADE"),
    )
    op.create_index("ix_search_documents_lesson_id", "search_documents", ["lesson_id"])
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_INDEX if dialect == "sqlite" else POSTGRES_INDEX:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("search_documents")
    op.drop_table("lesson_views")
    op.drop_table("lesson_progress")

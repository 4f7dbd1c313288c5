"""Search: the stored folded text rebuilt with the script-neutral fold (Cyrillic in Latin).

The search index matches ``folded_title``/``folded_body`` of ``search_documents`` and
``search_lessons``; until now Cyrillic stayed Cyrillic there, while a query is now folded to
Latin ('хирургија' -> 'hirurgija'), so an index left as it was would no longer find Cyrillic
lessons at all. Every search document keeps its text as written (``title``, ``body``), so the
folded columns are recomputed from it, and each lesson's ranking row is gathered again from its
documents, as ``library.search.index.lesson_row`` gathers them. The full-text indexes follow by
themselves: the FTS5 triggers on SQLite, the generated ``tsv`` column on PostgreSQL.

This uses the application's current fold (``fold_for_index``) on purpose: the folded columns
are derived data and must match what the running code folds queries with. Run again later (a
database restored from an old backup) it still produces what the code of that day expects.
Downgrading folds the text back the old way (kept below, frozen), so the code of 0015 finds
what it found before.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from library.search.text import fold_for_index

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500  # lessons at a time: a large library is rebuilt without holding it all in memory


def fold_before_0016(text: str) -> str:
    """The fold up to 0015: lower case without diacritics, Cyrillic left Cyrillic."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", kept).casefold()


def upgrade() -> None:
    _refold_all(fold_for_index)


def downgrade() -> None:
    _refold_all(fold_before_0016)


def _refold_all(fold: Callable[[str], str]) -> None:
    bind = op.get_bind()
    last = -1
    while True:
        lessons = list(bind.execute(sa.text(
            "SELECT DISTINCT lesson_id FROM search_documents WHERE lesson_id > :last "
            "ORDER BY lesson_id LIMIT :batch"), {"last": last, "batch": BATCH}).scalars())
        if not lessons:
            break
        last = lessons[-1]
        _refold(bind, lessons, fold)


def _refold(bind: sa.Connection, lessons: list[int], fold: Callable[[str], str]) -> None:
    docs = bind.execute(sa.text(
        "SELECT id, lesson_id, kind, title, body FROM search_documents "
        "WHERE lesson_id IN :ids ORDER BY lesson_id, id"
    ).bindparams(sa.bindparam("ids", expanding=True)), {"ids": lessons}).all()
    updates = []
    titles: dict[int, list[str]] = {i: [] for i in lessons}
    bodies: dict[int, list[str]] = {i: [] for i in lessons}
    for doc in docs:
        title, body = fold(doc.title), fold(doc.body)
        updates.append({"id": doc.id, "title": title, "body": body})
        if doc.kind != "note" and title:
            titles[doc.lesson_id].append(title)
        if body:
            bodies[doc.lesson_id].append(body)
    bind.execute(sa.text("UPDATE search_documents SET folded_title = :title, "
                         "folded_body = :body WHERE id = :id"), updates)
    # Delete and insert rather than update: a lesson whose ranking row went missing gets one.
    bind.execute(sa.text("DELETE FROM search_lessons WHERE lesson_id IN :ids")
                 .bindparams(sa.bindparam("ids", expanding=True)), {"ids": lessons})
    bind.execute(sa.text("INSERT INTO search_lessons (lesson_id, folded_title, folded_body) "
                         "VALUES (:lesson_id, :title, :body)"),
                 [{"lesson_id": i, "title": " ".join(titles[i]), "body": " ".join(bodies[i])}
                  for i in lessons])


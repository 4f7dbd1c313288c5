from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from library.db import Database, DatabaseError, masked_url

TABLES = {
    "users", "live_sessions", "viewer_sessions", "scheduled_sessions", "cme_programmes",
    "cme_programme_live_sessions", "alembic_version", "courses", "course_members", "lessons",
    "lesson_courses", "lesson_chapters", "lesson_notes", "lesson_attachments", "publish_jobs",
    "cme_audit_log", "cme_questions", "cme_test_attempts",
    "cme_participants", "cme_certificates", "web_sessions", "cme_programme_organisers", "live_interactions",
}


def test_migrate_creates_tables_and_is_idempotent(db_url: str) -> None:
    database = Database(db_url)
    try:
        database.migrate()
        database.migrate()  # second run: nothing to do, no error
        assert TABLES <= set(inspect(database.engine).get_table_names())
        with database.session() as session:
            versions = session.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [v for (v,) in versions] == ["0016"]
    finally:
        database.dispose()


def test_migrate_does_not_depend_on_current_directory(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    database = Database(db_url)
    try:
        database.migrate()
        assert TABLES <= set(inspect(database.engine).get_table_names())
    finally:
        database.dispose()


def test_sqlite_creates_folder_and_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "medroom.db"
    database = Database(f"sqlite:///{path}")
    try:
        database.migrate()
        assert path.exists()
        with database.session() as session:
            assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        database.dispose()


def test_session_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError), db.session() as session:
        session.execute(
            text(
                "INSERT INTO live_sessions (room_id, title, started_at) VALUES ('or-1', 't', :now)"
            ),
            {"now": datetime.now(UTC)},
        )
        raise RuntimeError("boom")
    with db.session() as session:
        assert session.execute(text("SELECT count(*) FROM live_sessions")).scalar() == 0


def test_unreachable_postgres_names_url_and_masks_password() -> None:
    database = Database("postgresql+psycopg://medroom:s3cret@127.0.0.1:1/medroom")
    with pytest.raises(DatabaseError) as info:
        database.migrate()
    message = str(info.value)
    assert "127.0.0.1:1/medroom" in message
    assert "s3cret" not in message
    assert "***" in message
    assert "MEDROOM_DATABASE_URL" in message


def test_unreachable_postgres_in_session_too() -> None:
    database = Database("postgresql+psycopg://medroom@127.0.0.1:1/medroom")
    with pytest.raises(DatabaseError, match="cannot connect"), database.session():
        pass


def test_unusable_sqlite_folder_is_database_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DatabaseError, match="cannot create the folder") as info:
        Database(f"sqlite:///{blocker / 'sub' / 'medroom.db'}")
    assert "MEDROOM_DATA_DIR" in str(info.value)


@pytest.mark.parametrize("url", ["nonsense", "mysql+nodriver://u:pw@h/db", "mysql://u:pw@h/db"])
def test_bad_url_is_database_error(url: str) -> None:
    with pytest.raises(DatabaseError) as info:
        Database(url)
    assert "pw" not in str(info.value)


def test_missing_schema_says_to_migrate(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with (
            pytest.raises(DatabaseError, match="Run the migrations"),
            database.session() as session,
        ):
            session.execute(text("SELECT * FROM users"))
    finally:
        database.dispose()


def test_masked_url() -> None:
    assert (
        masked_url("postgresql+psycopg://u:pw@h:5432/db") == "postgresql+psycopg://u:***@h:5432/db"
    )

"""Database fixtures: every library test runs on a real SQLite file and, when
``MEDROOM_TEST_POSTGRES_URL`` is set, on a real PostgreSQL database of its own.

For PostgreSQL the run creates one fresh ``medroom_test_<random>`` database through the given
URL (dropped at the end), and each test gets a schema of its own in it, selected with
``search_path``; parallel or interrupted runs never see each other's rows, and a schema costs
far less than a database per test.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from library.db import Database, throwaway_postgres_database

PG_ENV = "MEDROOM_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def pg_run_url() -> Iterator[str]:
    """A PostgreSQL database of this test run (skips when none is configured)."""
    admin_url = os.environ.get(PG_ENV)
    if not admin_url:
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV}=postgresql+psycopg://user@host/db")
    with throwaway_postgres_database(admin_url, "medroom_test") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database (not migrated)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'var' / 'medroom.db'}"
    run_url: str = request.getfixturevalue("pg_run_url")
    schema = f"t_{secrets.token_hex(6)}"
    engine = create_engine(run_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        engine.dispose()
    url = make_url(run_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated, empty database."""
    database = Database(db_url)
    database.migrate()
    try:
        yield database
    finally:
        database.dispose()

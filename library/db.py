"""The database handle: one engine, Alembic migrations, and a transactional session scope.

SQLite (the embedded default) and PostgreSQL (via psycopg 3) are both first-class. Nothing is
connected at import time; ``Database(url)`` is built by whoever owns the process and passed down.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.exc import OperationalError as SAOperationalError
from sqlalchemy.exc import ProgrammingError as SAProgrammingError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class DatabaseError(Exception):
    """The database cannot be reached or used; the message says which one and what to do."""


def masked_url(url: str | URL) -> str:
    """The URL as text with any password replaced by ``***`` (safe for logs and errors)."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        # Unparseable: we cannot tell where a password would be, so show only the scheme.
        text = str(url)
        return text.split("://", 1)[0] + "://…" if "://" in text else "<unparseable URL>"
    return parsed.render_as_string(hide_password=True)


def _is_sqlite_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or (url.database or "").startswith(
        "file::memory:"
    )


class Database:
    """Owns the SQLAlchemy engine for one database URL."""

    def __init__(self, url: str) -> None:
        try:
            self._url = make_url(url)
        except ArgumentError as exc:
            raise DatabaseError(
                f"cannot parse database URL {masked_url(url)!r}: {exc}. Use e.g. "
                "'sqlite:///var/medroom.db' or 'postgresql+psycopg://user@host:5432/medroom' "
                "(MEDROOM_DATABASE_URL)."
            ) from exc
        self.masked_url = masked_url(self._url)
        # The search index follows the lessons in the same transactions (library/search).
        from library.search.index import install as keep_search_index

        keep_search_index()
        self.is_sqlite = self._url.get_backend_name() == "sqlite"
        try:
            self._engine = self._create_engine()
        except (NoSuchModuleError, ImportError) as exc:
            # NoSuchModuleError: unknown dialect; ImportError: known dialect, driver missing.
            raise DatabaseError(
                f"unsupported database URL {self.masked_url!r}: {exc}. MedRoom supports "
                "'sqlite:///path/to/file.db' and 'postgresql+psycopg://user@host/db'."
            ) from exc

    @property
    def url(self) -> URL:
        return self._url

    @property
    def engine(self) -> Engine:
        return self._engine

    def _create_engine(self) -> Engine:
        if not self.is_sqlite:
            # pool_pre_ping: a PostgreSQL restart must not leave the server holding dead
            # connections that fail the next request.
            return create_engine(self._url, pool_pre_ping=True)

        kwargs: dict[str, Any] = {
            # The web server hands sessions to worker threads; SQLite's default check would
            # reject a connection used from a thread other than its creator.
            "connect_args": {"check_same_thread": False},
        }
        if _is_sqlite_memory(self._url):
            # Every new connection to :memory: is a new, empty database: keep exactly one.
            kwargs["poolclass"] = StaticPool
        elif self._url.database is not None and not self._url.database.startswith("file:"):
            folder = Path(self._url.database).expanduser().resolve().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(
                    f"cannot create the folder {str(folder)!r} for the SQLite database "
                    f"{self.masked_url!r}: {exc.strerror or exc}. Choose a writable data_dir "
                    "(MEDROOM_DATA_DIR) or set MEDROOM_DATABASE_URL."
                ) from exc
        engine = create_engine(self._url, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine

    # -- connecting ----------------------------------------------------------------------

    def _connect(self) -> Connection:
        try:
            return self._engine.connect()
        except (DBAPIError, sqlite3.Error) as exc:
            raise DatabaseError(
                f"cannot connect to the database {self.masked_url!r}: "
                f"{_first_line(exc)}. Check that the server is running and reachable, and "
                "that the user, password and database name in MEDROOM_DATABASE_URL are right."
            ) from exc

    def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic ``upgrade head``); idempotent."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        # Built in code so it works from any current directory and from an installed wheel.
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("path_separator", "os")
        with self._connect() as connection:
            # env.py uses this connection rather than building its own engine, so the password
            # never passes through configparser and SQLite gets our connect-time pragmas.
            config.attributes["connection"] = connection
            try:
                command.upgrade(config, "head")
            except DBAPIError as exc:
                raise DatabaseError(
                    f"migrating the database {self.masked_url!r} failed: {_first_line(exc)}. "
                    "Check that the user may create tables, or restore a backup if the schema "
                    "was changed by hand."
                ) from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits when the block ends normally, rolls back on any error.

        Objects stay readable after the commit (``expire_on_commit=False``) so callers can turn
        them into plain values after the block without another round trip.
        """
        with (
            self._connect() as connection,
            Session(bind=connection, expire_on_commit=False) as session,
        ):
            try:
                yield session
                session.commit()
            except (SAOperationalError, SAProgrammingError) as exc:
                session.rollback()
                if _is_missing_table(exc):
                    raise DatabaseError(
                        f"the database {self.masked_url!r} has no MedRoom schema "
                        f"({_first_line(exc)}). Run the migrations first "
                        "(Database.migrate(), done by 'medroom serve' on start)."
                    ) from exc
                raise
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        """Close every pooled connection (call on shutdown, and in tests)."""
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.masked_url!r})"


@contextmanager
def throwaway_postgres_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database named ``<prefix>_<random>`` on the server of ``admin_url``,
    dropped at the end (FORCE: a leaked connection must not keep it alive). Yields its URL."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers (the web pages) run while a writer (attendance events) commits.
        cursor.execute("PRAGMA journal_mode=WAL")
        # SQLite ignores FOREIGN KEY clauses unless asked, per connection.
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip()
    return text.splitlines()[0] if text else type(original).__name__


def _is_missing_table(exc: DBAPIError) -> bool:
    text = str(exc.orig)
    return "no such table" in text or ("relation" in text and "does not exist" in text)

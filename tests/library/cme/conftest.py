"""Fixtures of the CME participant tests: a CNP vault, and the demo programme built from the
demo room's sessions (as `make run` builds it) on the test's database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from library.cme.demo import ensure_demo_programme
from library.cme.vault import CnpVault
from library.db import Database
from library.users import ensure_demo_users

DEMO_NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # the demo morning is 22 November


@pytest.fixture
def vault() -> CnpVault:
    return CnpVault("a CNP master key for the tests, 40+ chars")


@pytest.fixture
def demo(db: Database, vault: CnpVault) -> int:
    """The demo programme's id, with its profiles, attendance and certificates."""
    ensure_demo_users(db)
    programme_id = ensure_demo_programme(db, vault, now=DEMO_NOW)
    assert programme_id is not None
    return programme_id

"""Server-side sessions and token generations on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import select

from library.db import Database
from library.models import WebSession
from library.users import (
    Role,
    create_user,
    set_active,
    set_password,
    sign_out_everywhere,
    token_generation,
)
from library.web_sessions import EndReason, end_session, find_session, start_session


def ended_reasons(db: Database) -> list[str | None]:
    with db.session() as session:
        return list(session.scalars(select(WebSession.end_reason).order_by(WebSession.id)))


def test_only_the_hash_of_the_key_is_stored(db: Database) -> None:
    ana = create_user(db, "ana", "password1", Role.STUDENT)
    key = start_session(db, ana.id, 3600)
    with db.session() as session:
        stored = session.scalars(select(WebSession.key_hash)).one()
    assert key not in stored and len(stored) == 64
    found = find_session(db, key)
    assert found is not None and found.username == "ana" and found.role == "student"
    assert find_session(db, key + "x") is None


def test_a_session_ends_by_logout_or_by_expiry(db: Database) -> None:
    ana = create_user(db, "ana", "password1", Role.STUDENT)
    key = start_session(db, ana.id, 3600)
    found = find_session(db, key)
    assert found is not None
    end_session(db, found.id, EndReason.LOGOUT)
    assert find_session(db, key) is None
    assert find_session(db, start_session(db, ana.id, 0)) is None  # already past its end
    assert ended_reasons(db) == ["logout", None]


def test_password_disable_and_sign_out_end_sessions_and_bump_the_generation(db: Database) -> None:
    ana = create_user(db, "ana", "password1", Role.STUDENT)
    bob = create_user(db, "bob", "password1", Role.STUDENT)
    bobs = start_session(db, bob.id, 3600)
    assert token_generation(db, ana.id) == 0
    first, second = start_session(db, ana.id, 3600), start_session(db, ana.id, 3600)
    set_password(db, ana.id, "password2")
    assert find_session(db, first) is None and find_session(db, second) is None
    assert token_generation(db, ana.id) == 1
    third = start_session(db, ana.id, 3600)
    assert sign_out_everywhere(db, ana.id) == 1 and find_session(db, third) is None
    fourth = start_session(db, ana.id, 3600)
    set_active(db, ana.id, False)
    assert find_session(db, fourth) is None and token_generation(db, ana.id) is None
    set_active(db, ana.id, True)
    assert token_generation(db, ana.id) == 3
    assert find_session(db, bobs) is not None and token_generation(db, bob.id) == 0
    assert ended_reasons(db) == [None, "password changed", "password changed",
                                 "signed out everywhere", "account disabled"]

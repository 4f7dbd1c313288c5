from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from library.db import Database
from library.models import User
from library.users import (
    Role,
    UserError,
    UserInfo,
    authenticate,
    create_user,
    ensure_demo_users,
    get_user,
    get_user_by_username,
    list_users,
    set_active,
    set_password,
)


def _stored_hash(db: Database, username: str) -> str:
    with db.session() as session:
        value = session.scalar(select(User.password_hash).where(User.username == username))
    assert value is not None
    return value


def test_create_and_authenticate(db: Database) -> None:
    user = create_user(db, "ana.popescu", "correct horse", Role.INSTRUCTOR, "Dr. Ana Popescu")
    assert user == UserInfo(user.id, "ana.popescu", "Dr. Ana Popescu", Role.INSTRUCTOR, True)
    assert authenticate(db, "ana.popescu", "correct horse") == user
    assert authenticate(db, "Ana.Popescu ", "correct horse") == user  # case-insensitive
    assert authenticate(db, "ana.popescu", "wrong horse!") is None
    assert authenticate(db, "nobody", "correct horse") is None
    assert get_user(db, user.id) == user
    assert get_user(db, user.id + 1000) is None
    assert get_user_by_username(db, "ana.popescu") == user
    assert get_user_by_username(db, "nobody") is None


def test_display_name_defaults_to_username_and_role_accepts_string(db: Database) -> None:
    user = create_user(db, "m_j-2", "12345678", "student")
    assert user.display_name == "m_j-2"
    assert user.role is Role.STUDENT


def test_password_is_stored_as_argon2_hash(db: Database) -> None:
    create_user(db, "curator", "plain-text-secret", Role.CURATOR)
    stored = _stored_hash(db, "curator")
    assert "plain-text-secret" not in stored
    assert stored.startswith("$argon2id$")
    assert PasswordHasher().verify(stored, "plain-text-secret")


def test_rehash_when_parameters_changed(db: Database) -> None:
    user = create_user(db, "old", "password1", Role.STUDENT)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("password1")
    with db.session() as session:
        row = session.get(User, user.id)
        assert row is not None
        row.password_hash = weak
    assert authenticate(db, "old", "password1") == user
    assert _stored_hash(db, "old") != weak
    assert not PasswordHasher().check_needs_rehash(_stored_hash(db, "old"))


@pytest.mark.parametrize(
    ("username", "password", "role", "message"),
    [
        ("ab", "password1", Role.STUDENT, "invalid username 'ab'"),
        ("a" * 65, "password1", Role.STUDENT, "3 to 64 characters"),
        ("ana popescu", "password1", Role.STUDENT, "invalid username"),
        ("ana/../x", "password1", Role.STUDENT, "invalid username"),
        ("ana", "short", Role.STUDENT, "password too short: use at least 8"),
        ("ana", "password1", "surgeon", "unknown role 'surgeon': expected one of admin"),
    ],
)
def test_invalid_input_is_refused(
    db: Database, username: str, password: str, role: str, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        create_user(db, username, password, role)
    assert list_users(db) == []


def test_duplicate_username(db: Database) -> None:
    create_user(db, "ana", "password1", Role.STUDENT)
    with pytest.raises(UserError, match="user 'ana' already exists"):
        create_user(db, "ANA", "password2", Role.ADMIN)
    assert [u.username for u in list_users(db)] == ["ana"]


def test_set_password_and_deactivate(db: Database) -> None:
    user = create_user(db, "ana", "password1", Role.STUDENT)
    set_password(db, user.id, "password2")
    assert authenticate(db, "ana", "password1") is None
    assert authenticate(db, "ana", "password2") == user
    set_active(db, user.id, False)
    assert authenticate(db, "ana", "password2") is None
    with pytest.raises(UserError, match="no user with id"):
        set_password(db, user.id + 1000, "password3")
    with pytest.raises(UserError, match="too short"):
        set_password(db, user.id, "x")


def test_ensure_demo_users_only_once(db: Database) -> None:
    created = ensure_demo_users(db)
    assert [(name, role) for name, _, role in created] == [
        ("admin", Role.ADMIN),
        ("instructor", Role.INSTRUCTOR),
        ("curator", Role.CURATOR),
        ("student", Role.STUDENT),
    ]
    for name, password, _ in created:
        assert len(password) >= 12
        assert authenticate(db, name, password) is not None
    users = {u.username: u for u in list_users(db)}
    assert users["instructor"].display_name == "Dr. Ana Popescu"
    assert users["student"].display_name == "Student Marko Jovanović"
    assert ensure_demo_users(db) == []
    assert len(list_users(db)) == 4


def test_ensure_demo_users_not_when_any_user_exists(db: Database) -> None:
    create_user(db, "someone", "password1", Role.ADMIN)
    assert ensure_demo_users(db) == []
    assert [u.username for u in list_users(db)] == ["someone"]

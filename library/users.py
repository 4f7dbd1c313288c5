"""User accounts: creation, password checks (argon2id), look-ups, and the demo accounts.

Usernames are case-insensitive: they are stripped and lower-cased before validation and
look-up, so "Ana.Popescu" and "ana.popescu" are the same account.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from enum import Enum
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from library.db import Database
from library.i18n import LOCALES, known_locale, known_zone
from library.models import User
from library.web_sessions import EndReason, end_user_sessions

USERNAME_RE = re.compile(r"[a-z0-9._-]{3,64}")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # argon2 would take any length; this only stops absurd input.
MAX_DISPLAY_NAME_LENGTH = 200


class UserError(Exception):
    """A user operation was refused; the message says why and is safe to show the admin."""


class Role(str, Enum):
    ADMIN = "admin"
    INSTRUCTOR = "instructor"
    CURATOR = "curator"
    STUDENT = "student"


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    display_name: str
    role: Role
    is_active: bool


# argon2-cffi's defaults (argon2id, RFC 9106 low-memory profile): about 50 ms per hash.
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    # Verified against when the username is unknown, so "no such user" costs the same time
    # as "wrong password" and does not reveal which usernames exist.
    return _hasher.hash(secrets.token_urlsafe(16))


def _info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        is_active=user.is_active,
    )


def normalize_username(username: str) -> str:
    return username.strip().lower()


def _valid_username(username: str) -> str:
    name = normalize_username(username)
    if not USERNAME_RE.fullmatch(name):
        raise UserError(
            f"invalid username {username!r}: use 3 to 64 characters from a-z, 0-9, '.', '_' and '-'"
        )
    return name


def _valid_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password too short: use at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"password too long: use at most {MAX_PASSWORD_LENGTH} characters")
    return password


def _valid_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        expected = ", ".join(r.value for r in Role)
        raise UserError(f"unknown role {role!r}: expected one of {expected}") from None


def _valid_display_name(display_name: str | None, username: str) -> str:
    if display_name is None:
        return username
    name = display_name.strip()
    if not name:
        raise UserError("display name is empty: give a name or leave it out to use the username")
    if len(name) > MAX_DISPLAY_NAME_LENGTH:
        raise UserError(f"display name too long: use at most {MAX_DISPLAY_NAME_LENGTH} characters")
    return name


def create_user(
    db: Database,
    username: str,
    password: str,
    role: Role | str,
    display_name: str | None = None,
) -> UserInfo:
    """Create an active account; raises ``UserError`` for invalid input or a taken username."""
    name = _valid_username(username)
    checked_role = _valid_role(role)
    shown = _valid_display_name(display_name, name)
    password_hash = _hasher.hash(_valid_password(password))
    try:
        with db.session() as session:
            if session.scalar(select(User.id).where(User.username == name)) is not None:
                raise UserError(f"user {name!r} already exists")
            user = User(
                username=name,
                display_name=shown,
                role=checked_role.value,
                password_hash=password_hash,
                is_active=True,
            )
            session.add(user)
            session.flush()
            return _info(user)
    except IntegrityError as exc:
        # Lost a race with another process creating the same username.
        raise UserError(f"user {name!r} already exists") from exc


def authenticate(db: Database, username: str, password: str) -> UserInfo | None:
    """The user when the password is right and the account active, otherwise None."""
    name = normalize_username(username)
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == name))
        if user is None:
            _verify(_dummy_hash(), password)
            return None
        if not _verify(user.password_hash, password) or not user.is_active:
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            # Parameters were raised since this hash was made: upgrade it while we hold the
            # plain password, the only moment we can.
            user.password_hash = _hasher.hash(password)
        return _info(user)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def get_user(db: Database, user_id: int) -> UserInfo | None:
    with db.session() as session:
        user = session.get(User, user_id)
        return None if user is None else _info(user)


def get_user_by_username(db: Database, username: str) -> UserInfo | None:
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == normalize_username(username)))
        return None if user is None else _info(user)


def list_users(db: Database) -> list[UserInfo]:
    with db.session() as session:
        return [_info(u) for u in session.scalars(select(User).order_by(User.username))]


def set_password(db: Database, user_id: int, password: str) -> None:
    """Replace a user's password and end every session and token of theirs (whoever knew the
    old password may be logged in with it); raises ``UserError`` if the user does not exist."""
    password_hash = _hasher.hash(_valid_password(password))
    with db.session() as session:
        user = _user_or_error(session, user_id)
        user.password_hash = password_hash
        _revoke_credentials(session, user, EndReason.PASSWORD_CHANGED)


def set_active(db: Database, user_id: int, is_active: bool) -> None:
    """Enable or disable an account (disabled accounts cannot log in; history is kept).
    Disabling ends the account's sessions and tokens at once."""
    with db.session() as session:
        user = _user_or_error(session, user_id)
        user.is_active = is_active
        if not is_active:
            _revoke_credentials(session, user, EndReason.ACCOUNT_DISABLED)


def sign_out_everywhere(db: Database, user_id: int) -> int:
    """End every session and token of the user (a lost laptop); how many sessions ended."""
    with db.session() as session:
        return _revoke_credentials(
            session, _user_or_error(session, user_id), EndReason.SIGNED_OUT_EVERYWHERE)


def set_preferences(db: Database, user_id: int, *, locale: str | None,
                    time_zone: str | None) -> None:
    """The language and time zone a person reads MedRoom in; None for either follows the
    browser. Unknown values are refused, never stored."""
    if locale is not None and known_locale(locale) is None:
        raise UserError(f"unknown language {locale!r}; one of {', '.join(LOCALES)}")
    if time_zone is not None and known_zone(time_zone) is None:
        raise UserError(f"unknown time zone {time_zone!r} (an IANA name, e.g. Europe/Belgrade)")
    with db.session() as session:
        user = _user_or_error(session, user_id)
        user.locale = known_locale(locale)
        user.time_zone = time_zone


def token_generation(db: Database, user_id: int) -> int | None:
    """The generation a token of ``user_id`` must carry; None when the account is gone or
    disabled (its tokens are refused)."""
    with db.session() as session:
        row = session.execute(
            select(User.token_generation, User.is_active).where(User.id == user_id)
        ).one_or_none()
        return None if row is None or not row.is_active else int(row.token_generation)


def _user_or_error(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise UserError(f"no user with id {user_id}")
    return user


def _revoke_credentials(session: Session, user: User, reason: EndReason) -> int:
    # One transaction with the change that caused it: a password is never changed while the
    # sessions opened with the old one live on.
    user.token_generation = (user.token_generation or 0) + 1
    return end_user_sessions(session, user.id, reason)


DEMO_ACCOUNTS: tuple[tuple[str, str, Role], ...] = (
    ("admin", "Administrator", Role.ADMIN),
    ("instructor", "Dr. Ana Popescu", Role.INSTRUCTOR),
    ("curator", "Library Curator", Role.CURATOR),
    ("student", "Student Marko Jovanović", Role.STUDENT),
)


def ensure_demo_users(db: Database) -> list[tuple[str, str, Role]]:
    """Create the demo accounts with random passwords, but only in an empty user table.

    Returns ``(username, password, role)`` for each account created, so the caller can print
    the passwords once; they are not stored anywhere in plain text. Returns ``[]`` when any
    user already exists (an installation that has users is never given known accounts).
    """
    created: list[tuple[str, str, Role]] = []
    try:
        with db.session() as session:
            if session.scalar(select(func.count()).select_from(User)):
                return []
            for username, display_name, role in DEMO_ACCOUNTS:
                password = secrets.token_urlsafe(9)
                session.add(
                    User(
                        username=username,
                        display_name=display_name,
                        role=role.value,
                        password_hash=_hasher.hash(password),
                        is_active=True,
                    )
                )
                created.append((username, password, role))
    except IntegrityError:
        # Another process starting at the same moment created them first; its passwords
        # are the ones printed, ours were rolled back.
        return []
    return created

"""Participant profiles: who a doctor is on the participant list (art. 6 alin. (5), 12 alin. (3)).

A profile belongs to an account and holds the list's columns (full name, CNP, specialty,
professional grade, workplace) and the professional titles of art. 29. The CNP is validated
(``library.cme.cnp``), then kept only encrypted with a keyed hash beside it
(``library.cme.vault``): everything this module returns carries it masked, except
``reveal_cnp``, which the caller must log (the access log, ``library.cme.audit``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from library.cme.cnp import CnpError, mask, validate
from library.cme.errors import ProgrammeError
from library.cme.titles import Title, TitleKind
from library.cme.vault import CnpVault
from library.cme_models import CmeParticipant
from library.db import Database
from library.models import User, utcnow

MAX_NAME = 200
MAX_WORKPLACE = 300


class ParticipantError(ValueError):
    """A profile cannot be saved as given; the message says what to change."""


class ParticipantConflict(ParticipantError):
    """The CNP is already on another account's profile."""


class Grade(str, Enum):
    """Gradul profesional, as the participant list names it."""

    REZIDENT = "rezident"
    SPECIALIST = "specialist"
    PRIMAR = "primar"
    MEDIC = "medic"

    @property
    def label(self) -> str:
        return {
            Grade.REZIDENT: "medic rezident",
            Grade.SPECIALIST: "medic specialist",
            Grade.PRIMAR: "medic primar",
            Grade.MEDIC: "medic (fără specialitate)",
        }[self]


@dataclass(frozen=True)
class ProfileInput:
    """What a doctor enters; ``cnp=None`` on an update keeps the stored one."""

    full_name: str
    cnp: str | None
    specialty: str
    grade: Grade
    workplace: str
    titles: tuple[Title, ...] = ()


@dataclass(frozen=True)
class Profile:
    """A profile as anyone may see it: the CNP masked."""

    user_id: int
    username: str
    full_name: str
    cnp_masked: str
    specialty: str
    grade: Grade
    workplace: str
    titles: tuple[Title, ...]

    @property
    def initials(self) -> str:
        return initials(self.full_name)


def initials(full_name: str) -> str:
    """"Ana-Maria Popescu" -> "A.-M. P.": what a public page may show of a name."""
    parts = []
    for word in full_name.split():
        pieces = [p for p in word.split("-") if p]
        parts.append("-".join(f"{p[0].upper()}." for p in pieces))
    return " ".join(parts)


def titles_to_json(titles: Iterable[Title]) -> list[dict[str, Any]]:
    return [
        {"kind": t.kind.value, "obtained_on": t.obtained_on.isoformat(), "subject": t.subject,
         "years": list(t.years)}
        for t in titles
    ]


def titles_from_json(data: Sequence[dict[str, Any]]) -> tuple[Title, ...]:
    try:
        return tuple(
            Title(
                kind=TitleKind(item["kind"]), obtained_on=date.fromisoformat(item["obtained_on"]),
                subject=str(item.get("subject", "")), years=tuple(int(y) for y in item.get("years", ())),
            )
            for item in data
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ProgrammeError):
            raise ParticipantError(str(exc)) from None
        kinds = ", ".join(k.value for k in TitleKind)
        raise ParticipantError(
            f"a professional title needs kind (one of {kinds}), obtained_on (YYYY-MM-DD),"
            f" optional subject and years: {exc}"
        ) from None


def _text(value: str, what: str, limit: int, *, required: bool = True) -> str:
    text = " ".join(value.split())
    if required and not text:
        raise ParticipantError(f"{what} is required on the participant list (art. 6 alin. (5))")
    if len(text) > limit:
        raise ParticipantError(f"{what} is {len(text)} characters; at most {limit}")
    return text


def _profile(row: CmeParticipant, username: str, vault: CnpVault) -> Profile:
    return Profile(
        user_id=row.user_id, username=username, full_name=row.full_name,
        cnp_masked=mask(vault.open(row.cnp_sealed, user_id=row.user_id, key_id=row.cnp_key_id)),
        specialty=row.specialty, grade=Grade(row.grade), workplace=row.workplace,
        titles=titles_from_json(row.titles),
    )


def _check_cnp_free(session: Session, lookup: str, user_id: int) -> None:
    owner = session.scalar(
        select(CmeParticipant.user_id).where(CmeParticipant.cnp_lookup == lookup)
    )
    if owner is not None and owner != user_id:
        raise ParticipantConflict(
            "this CNP is already on another account's participant profile; a doctor has one"
            " profile: log in with that account, or ask an admin to correct the other profile"
        )


def save_profile(
    db: Database, vault: CnpVault, user_id: int, data: ProfileInput, *, today: date | None = None
) -> Profile:
    """Create or replace the profile of account ``user_id``; the CNP is validated first."""
    full_name = _text(data.full_name, "the full name", MAX_NAME)
    specialty = _text(data.specialty, "the specialty", MAX_NAME)
    workplace = _text(data.workplace, "the workplace", MAX_WORKPLACE)
    cnp = None
    if data.cnp is not None:
        try:
            cnp = validate(data.cnp, today=today).digits
        except CnpError as exc:
            raise ParticipantError(str(exc)) from None
    with db.session() as session:
        user = session.get(User, user_id)
        if user is None:
            raise ParticipantError(f"no account {user_id}")
        row = session.scalar(select(CmeParticipant).where(CmeParticipant.user_id == user_id))
        if row is None and cnp is None:
            raise ParticipantError(
                "the CNP is required on the participant list (art. 6 alin. (5)): enter the"
                " 13 digits"
            )
        if cnp is not None:
            # Checked before a new row joins the session, so no half-filled row is flushed.
            lookup = vault.lookup_hash(cnp)
            _check_cnp_free(session, lookup, user_id)
        if row is None:
            row = CmeParticipant(user_id=user_id, created_at=utcnow())
        if cnp is not None:
            row.cnp_sealed = vault.seal(cnp, user_id=user_id)
            row.cnp_lookup = lookup
            row.cnp_key_id = vault.key_id
        row.full_name, row.specialty, row.workplace = full_name, specialty, workplace
        row.grade = Grade(data.grade).value
        row.titles = titles_to_json(data.titles)
        row.updated_at = utcnow()
        session.add(row)
        session.flush()
        return _profile(row, user.username, vault)


def get_profile(db: Database, vault: CnpVault, user_id: int) -> Profile | None:
    with db.session() as session:
        found = session.execute(
            select(CmeParticipant, User.username)
            .join(User, User.id == CmeParticipant.user_id)
            .where(CmeParticipant.user_id == user_id)
        ).first()
        return None if found is None else _profile(found[0], found[1], vault)


def profiles_by_username(
    db: Database, vault: CnpVault, usernames: Iterable[str]
) -> dict[str, Profile]:
    """The profiles of the accounts named (attendance knows people by username)."""
    wanted = sorted(set(usernames))
    if not wanted:
        return {}
    with db.session() as session:
        rows = session.execute(
            select(CmeParticipant, User.username)
            .join(User, User.id == CmeParticipant.user_id)
            .where(User.username.in_(wanted))
        ).all()
        return {username: _profile(row, username, vault) for row, username in rows}


def reveal_cnp(db: Database, vault: CnpVault, user_ids: Iterable[int]) -> dict[int, str]:
    """The plain CNPs of the accounts named. Only for an organiser's or admin's export or
    reveal, which the caller logs."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    with db.session() as session:
        rows = session.scalars(
            select(CmeParticipant).where(CmeParticipant.user_id.in_(wanted))
        ).all()
        return {
            row.user_id: vault.open(row.cnp_sealed, user_id=row.user_id, key_id=row.cnp_key_id)
            for row in rows
        }


def account_with_cnp(db: Database, vault: CnpVault, cnp: str) -> int | None:
    """The account whose profile has this CNP, found by its keyed hash (nothing decrypted)."""
    try:
        digits = validate(cnp).digits
    except CnpError as exc:
        raise ParticipantError(str(exc)) from None
    with db.session() as session:
        return session.scalar(
            select(CmeParticipant.user_id).where(
                CmeParticipant.cnp_lookup == vault.lookup_hash(digits)
            )
        )

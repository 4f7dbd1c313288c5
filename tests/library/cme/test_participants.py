"""Participant profiles (art. 6 alin. (5)): the CNP validated, encrypted at rest, unique by a
keyed hash, and never readable from the database without the key."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from library.cme.cnp import check_digit
from library.cme.participants import (
    Grade,
    ParticipantConflict,
    ParticipantError,
    ProfileInput,
    account_with_cnp,
    get_profile,
    initials,
    profiles_by_username,
    reveal_cnp,
    save_profile,
)
from library.cme.titles import Title, TitleKind
from library.cme.vault import CnpVault, VaultError
from library.db import Database
from library.users import Role, create_user

KEY = "k" * 48
CNP_A = "285071112345" + str(check_digit("285071112345"))
CNP_B = "180010122001" + str(check_digit("180010122001"))


def profile(cnp: str | None, name: str = "Maria-Ștefania Ionescu") -> ProfileInput:
    return ProfileInput(name, cnp, "neurochirurgie", Grade.SPECIALIST, "SCJU Cluj-Napoca",
                        (Title(TitleKind.SPECIALIST, date(2024, 6, 1), "neurochirurgie"),))


@pytest.fixture
def vault() -> CnpVault:
    return CnpVault(KEY)


@pytest.fixture
def users(db: Database) -> tuple[int, int]:
    return (create_user(db, "dr.ionescu", "password-1", Role.STUDENT).id,
            create_user(db, "dr.pop", "password-1", Role.STUDENT).id)


def raw_rows(db: Database) -> list[tuple[object, ...]]:
    with db.session() as session:
        return [tuple(r) for r in session.execute(text("SELECT * FROM cme_participants"))]


def test_art_6_5_profile_round_trip_with_the_cnp_masked(
    db: Database, vault: CnpVault, users: tuple[int, int]
) -> None:
    saved = save_profile(db, vault, users[0], profile(CNP_A))
    assert saved.cnp_masked == "•••••••••" + CNP_A[-4:]
    again = get_profile(db, vault, users[0])
    assert again == saved and again.titles[0].kind is TitleKind.SPECIALIST
    assert profiles_by_username(db, vault, ["dr.ionescu", "nobody"]) == {"dr.ionescu": saved}
    assert initials(saved.full_name) == "M.-Ș. I."


def test_the_cnp_is_not_in_the_database_in_plain_text(
    db: Database, vault: CnpVault, users: tuple[int, int]
) -> None:
    save_profile(db, vault, users[0], profile(CNP_A))
    [row] = raw_rows(db)
    dump = " ".join(bytes(v).hex() if isinstance(v, (bytes, memoryview)) else str(v) for v in row)
    assert CNP_A not in dump and CNP_A.encode().hex() not in dump
    # Neither as a plain hash anyone could reverse by trying every code.
    import hashlib

    assert hashlib.sha256(CNP_A.encode()).hexdigest() not in dump
    assert reveal_cnp(db, vault, [users[0]]) == {users[0]: CNP_A}
    # The keyed hash finds the account without decrypting anything.
    assert account_with_cnp(db, vault, CNP_A) == users[0]
    assert account_with_cnp(db, vault, CNP_B) is None


def test_a_cnp_belongs_to_one_profile(db: Database, vault: CnpVault,
                                      users: tuple[int, int]) -> None:
    save_profile(db, vault, users[0], profile(CNP_A))
    with pytest.raises(ParticipantConflict, match="already on another account's"):
        save_profile(db, vault, users[1], profile(CNP_A, "Ion Pop"))
    # Saving one's own profile again with the same CNP is fine; leaving it out keeps it.
    save_profile(db, vault, users[0], profile(CNP_A))
    kept = save_profile(db, vault, users[0], profile(None, "Maria Ionescu"))
    assert kept.full_name == "Maria Ionescu" and kept.cnp_masked.endswith(CNP_A[-4:])


def test_bad_profiles_are_refused_with_the_reason(db: Database, vault: CnpVault,
                                                   users: tuple[int, int]) -> None:
    with pytest.raises(ParticipantError, match="check digit"):
        save_profile(db, vault, users[0], profile(CNP_A[:12] + "0" if CNP_A[12] != "0"
                                                  else CNP_A[:12] + "1"))
    with pytest.raises(ParticipantError, match="the CNP is required"):
        save_profile(db, vault, users[0], profile(None))
    with pytest.raises(ParticipantError, match="the full name is required"):
        save_profile(db, vault, users[0], profile(CNP_A, "   "))
    assert raw_rows(db) == []


def test_a_database_opened_with_another_key_says_so(db: Database, vault: CnpVault,
                                                    users: tuple[int, int]) -> None:
    save_profile(db, vault, users[0], profile(CNP_A))
    with pytest.raises(VaultError, match="set MEDROOM_CNP_KEY"):
        get_profile(db, CnpVault("another key, also long enough to be a key"), users[0])
    with pytest.raises(VaultError, match="at least 32"):
        CnpVault("short")


def test_a_ciphertext_copied_to_another_account_does_not_decrypt(
    db: Database, vault: CnpVault, users: tuple[int, int]
) -> None:
    """The ciphertext is bound to its account: moving it moves no CNP."""
    save_profile(db, vault, users[0], profile(CNP_A))
    save_profile(db, vault, users[1], profile(CNP_B, "Ion Pop"))
    with db.session() as session:
        session.execute(
            text("UPDATE cme_participants SET cnp_sealed = (SELECT cnp_sealed FROM"
                 " cme_participants WHERE user_id = :a) WHERE user_id = :b"),
            {"a": users[0], "b": users[1]},
        )
    with pytest.raises(VaultError, match="does not decrypt"):
        reveal_cnp(db, vault, [users[1]])

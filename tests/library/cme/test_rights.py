"""The one rule of who acts on a CME programme (issue 16): a relation, not a role."""

from __future__ import annotations

from dataclasses import replace

from library.cme.rights import (
    SYSTEM,
    Account,
    may_create_programme,
    may_link_live_session,
    may_organise,
    may_read_whole_log,
    may_see_certificate,
)
from library.cme.store import ProgrammeInfo
from library.users import Role

CREATOR, NAMED, STRANGER, HOLDER = 1, 2, 3, 4


def info() -> ProgrammeInfo:
    fields = {name: None for name in ProgrammeInfo.__dataclass_fields__}
    return replace(ProgrammeInfo(**fields), created_by=CREATOR, organiser_ids=(NAMED,))  # type: ignore[arg-type]


def test_only_the_creator_the_named_and_admins_organise() -> None:
    p = info()
    assert may_organise(Account(CREATOR, Role.INSTRUCTOR), p)
    assert may_organise(Account(NAMED, Role.CURATOR), p)
    assert may_organise(Account(None, Role.ADMIN), p) and may_organise(SYSTEM, p)
    for role in (Role.INSTRUCTOR, Role.CURATOR, Role.STUDENT):
        assert not may_organise(Account(STRANGER, role), p)
    assert not may_organise(Account(None, Role.INSTRUCTOR), p)  # a script token is nobody
    assert not may_organise(Account(CREATOR, Role.STUDENT), p)  # demoted: the role goes too


def test_a_certificate_to_its_holder_the_organisers_and_admins() -> None:
    p = info()
    assert may_see_certificate(Account(HOLDER, Role.STUDENT), HOLDER, p)
    assert may_see_certificate(Account(NAMED, Role.INSTRUCTOR), HOLDER, p)
    assert not may_see_certificate(Account(STRANGER, Role.INSTRUCTOR), HOLDER, p)
    assert not may_see_certificate(Account(None, Role.STUDENT), None, p)


def test_a_live_session_is_linked_by_whoever_started_it_or_an_admin() -> None:
    assert may_link_live_session(Account(CREATOR, Role.INSTRUCTOR), CREATOR)
    assert not may_link_live_session(Account(STRANGER, Role.INSTRUCTOR), CREATOR)
    assert not may_link_live_session(Account(STRANGER, Role.CURATOR), CREATOR)
    assert not may_link_live_session(Account(None, Role.INSTRUCTOR), None)
    assert may_link_live_session(Account(None, Role.ADMIN), None)


def test_creating_needs_an_account_and_the_whole_log_an_admin() -> None:
    assert may_create_programme(Account(STRANGER, Role.CURATOR))
    assert not may_create_programme(Account(None, Role.INSTRUCTOR))
    assert not may_create_programme(Account(STRANGER, Role.STUDENT))
    assert may_read_whole_log(Account(None, Role.ADMIN))
    assert not may_read_whole_log(Account(CREATOR, Role.INSTRUCTOR))

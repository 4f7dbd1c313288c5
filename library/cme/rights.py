"""Who may act on a CME programme: the one place that says so (issue 16).

A role says what kind of work a person does; it does not make them the organiser of every
programme. Each programme has organisers: the account that created it and the accounts it names
(``ProgrammeInfo.organiser_ids``). Only they and admins edit it, keep its test bank, see its
attendance and participants (CNPs too), issue and revoke its certificates and read its part of
the access log. A certificate goes to its holder, its programme's organisers and admins.

Attendance flows into a programme through the live sessions its agenda links, so linking one is
a right over that session: rooms keep no list of their instructors, and the one person the data
ties to a live session is the account that started it (``live_sessions.started_by``). Anyone
else, a curator above all (curators start no session), would be reading strangers' attendance.

Pure functions over a person and what the store returns: no database, no HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from library.users import Role

if TYPE_CHECKING:  # the store asks these rules when it links live sessions
    from library.cme.store import ProgrammeInfo

#: The roles that may create programmes; acting on one takes being its organiser.
ORGANISER_ROLES = (Role.ADMIN, Role.INSTRUCTOR, Role.CURATOR)


class Person(Protocol):
    """Whoever asks: a logged-in account, a token, or MedRoom itself (``SYSTEM``)."""

    @property
    def user_id(self) -> int | None: ...

    @property
    def role(self) -> Role: ...


@dataclass(frozen=True)
class Account:
    user_id: int | None
    role: Role


#: MedRoom acting on its own (the demo, the command line): what an admin may do.
SYSTEM = Account(None, Role.ADMIN)


def may_create_programme(person: Person) -> bool:
    """An admin, or an organising role with an account to be the programme's organiser (a script
    token names nobody: the programme would have no organiser but the admins)."""
    if person.role is Role.ADMIN:
        return True
    return person.role in ORGANISER_ROLES and person.user_id is not None


def may_organise(person: Person, info: ProgrammeInfo) -> bool:
    """Act on the programme: an admin, or one of its organisers who still has an organising
    role (an organiser made a student loses the programme with the role)."""
    if person.role is Role.ADMIN:
        return True
    if person.role not in ORGANISER_ROLES or person.user_id is None:
        return False
    return person.user_id == info.created_by or person.user_id in info.organiser_ids


def may_see_certificate(person: Person, holder_id: int | None, info: ProgrammeInfo) -> bool:
    """A certificate: its holder, its programme's organisers, admins."""
    mine = person.user_id is not None and person.user_id == holder_id
    return mine or may_organise(person, info)


def may_link_live_session(person: Person, started_by: int | None) -> bool:
    """Put a live session (and so its viewers' attendance) into a programme's agenda: an admin,
    or the account that started the session."""
    if person.role is Role.ADMIN:
        return True
    return (person.role in ORGANISER_ROLES and person.user_id is not None
            and person.user_id == started_by)


def may_read_whole_log(person: Person) -> bool:
    """The access log beyond one's own programmes (logins, profiles, every programme): admins."""
    return person.role is Role.ADMIN

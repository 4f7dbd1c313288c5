"""A programme's organiser accounts in the database, and the live sessions a person may link.

The rules are ``library.cme.rights``; this module only reads and writes what they look at: the
accounts a programme names (``cme_programme_organisers``), who started a live session, and
which programmes a person organises (to show them their part of the access log).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from library.cme.rights import ORGANISER_ROLES, Person, may_link_live_session
from library.cme_models import CmeProgramme, CmeProgrammeOrganiser
from library.db import Database
from library.models import LiveSession, User
from library.users import Role, normalize_username


def named(session: Session, programme_id: int) -> list[tuple[int, str]]:
    """The accounts the programme names, as (user id, username), by username."""
    rows = session.execute(
        select(User.id, User.username)
        .join(CmeProgrammeOrganiser, CmeProgrammeOrganiser.user_id == User.id)
        .where(CmeProgrammeOrganiser.programme_id == programme_id)
        .order_by(User.username)
    )
    return [(user_id, username) for user_id, username in rows]


def accounts(session: Session, usernames: Sequence[str]) -> tuple[list[int], list[str]]:
    """The user ids of ``usernames``, and what is wrong with those that cannot organise."""
    wanted = list(dict.fromkeys(normalize_username(u) for u in usernames if u.strip()))
    found = {u.username: u for u in session.scalars(select(User).where(User.username.in_(wanted)))}
    ids, problems = [], []
    for name in wanted:
        user = found.get(name)
        if user is None:
            problems.append(f"there is no account {name!r}")
        elif not user.is_active:
            problems.append(f"the account {name!r} is disabled")
        elif Role(user.role) not in ORGANISER_ROLES:
            problems.append(f"{name!r} is a {user.role}: organisers are admins, instructors or"
                            " curators")
        else:
            ids.append(user.id)
    return ids, problems


def replace_named(session: Session, programme_id: int, user_ids: Iterable[int]) -> None:
    session.execute(
        delete(CmeProgrammeOrganiser).where(CmeProgrammeOrganiser.programme_id == programme_id)
    )
    session.add_all(CmeProgrammeOrganiser(programme_id=programme_id, user_id=user_id)
                    for user_id in sorted(set(user_ids)))


def refused_links(session: Session, by: Person, live_ids: Iterable[int]) -> list[int]:
    """The live sessions among ``live_ids`` that ``by`` may not link into a programme."""
    wanted = sorted(set(live_ids))
    if not wanted:
        return []
    rows = session.execute(
        select(LiveSession.id, LiveSession.started_by).where(LiveSession.id.in_(wanted))
    )
    return [live_id for live_id, started_by in rows
            if not may_link_live_session(by, started_by)]


def organised_by(db: Database, user_id: int) -> set[int]:
    """The programmes ``user_id`` created or is named an organiser of."""
    with db.session() as session:
        return set(session.scalars(
            select(CmeProgramme.id)
            .outerjoin(CmeProgrammeOrganiser, CmeProgrammeOrganiser.programme_id == CmeProgramme.id)
            .where(or_(CmeProgramme.created_by == user_id,
                       CmeProgrammeOrganiser.user_id == user_id))
        ))

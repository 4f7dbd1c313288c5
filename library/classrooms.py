"""Remote classrooms and their paired screens.

An admin registers a classroom (name, institution, city, IANA time zone, and the training room
its screen shows). A shared PC in the hall opens the screen page, which makes it a *pending
screen*: a random device key in a cookie (only its SHA-256 here) and a short pairing code
shown on the screen, good for ``PAIRING_MINUTES`` and once. An admin types the code on their own
device and the screen becomes that classroom's: no personal password is ever typed on the
shared PC. Unpairing (revoking) ends it at once; the web layer then closes its video.

Pairing codes are 8 characters from an alphabet without look-alikes (about 40 bits): only
admins can try them, and a wrong one is a plain refusal, so they need no more.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from library.classroom_models import Classroom, ClassroomScreen
from library.db import Database
from library.i18n import lazy
from library.models import utcnow

PAIRING_MINUTES = 10
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
CODE_LENGTH = 8
# Anyone may open the screen page; pending screens beyond this many are refused until older
# codes expire, so the table cannot be filled by a script.
MAX_PENDING = 500
MAX_NAME = 200
MAX_CITY = 100
# The role a classroom screen's video connection is recorded with: a screen is not a person,
# so CME attendance leaves these connections out (``library.cme.store``).
SCREEN_ROLE = "classroom"


class ClassroomError(Exception):
    """A classroom or screen request that cannot be done; the message says why and what to do."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ClassroomInfo:
    id: int
    name: str
    institution: str
    city: str
    timezone: str
    room_id: str
    screens: int  # paired, not revoked


@dataclass(frozen=True)
class ScreenInfo:
    id: int
    classroom_id: int | None
    paired_at: datetime | None
    last_seen_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class PendingScreen:
    """A screen waiting to be paired: the code to show (stored only as a hash) and its expiry."""

    key: str | None  # a new device key for the cookie, or None when the screen has one already
    code: str
    expires_at: datetime


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalize_code(code: str) -> str:
    """What a person typed, as stored: upper case, without spaces or dashes."""
    return "".join(ch for ch in code.upper()[:40] if ch.isalnum())


def format_code(code: str) -> str:
    """``K7QM4PX2`` shown as ``K7QM-4PX2``, easier to read across a hall."""
    return code[:4] + "-" + code[4:]


_EMPTY = {
    "name": lazy("the classroom's name is empty", "classroom_field_empty"),
    "institution": lazy("the classroom's institution is empty", "classroom_field_empty"),
    "city": lazy("the classroom's city is empty", "classroom_field_empty"),
}
# Filled in with the limit when raised (a message is marked where it is written).
_TOO_LONG = {
    "name": lazy("the classroom's name is longer than %(limit)s characters"),
    "institution": lazy("the classroom's institution is longer than %(limit)s characters"),
    "city": lazy("the classroom's city is longer than %(limit)s characters"),
}


def _text(value: str, what: str, limit: int) -> str:
    text = " ".join(value.split())
    if not text:
        raise ClassroomError(_EMPTY[what])
    if len(text) > limit:
        raise ClassroomError(lazy(_TOO_LONG[what].message, "classroom_field_too_long",
                                  limit=limit))
    return text


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ClassroomError(lazy(
            "time zone '%(zone)s' is unknown; use an IANA name such as 'Europe/Sofia'",
            "unknown_time_zone", zone=name[:64])) from None
    return name


def _info(row: Classroom, screens: int) -> ClassroomInfo:
    return ClassroomInfo(row.id, row.name, row.institution, row.city, row.timezone, row.room_id,
                         screens)


# -- classrooms ------------------------------------------------------------------------------


def create_classroom(db: Database, *, name: str, institution: str, city: str, timezone: str,
                     room_id: str, room_ids: set[str], created_by: int | None) -> ClassroomInfo:
    """Register a classroom that follows training room ``room_id`` (one of ``room_ids``)."""
    if room_id not in room_ids:
        raise ClassroomError(lazy("no room '%(room)s' (rooms: %(rooms)s)", "room_not_found",
                                  room=room_id[:64], rooms=", ".join(sorted(room_ids))))
    row = Classroom(
        name=_text(name, "name", MAX_NAME), institution=_text(institution, "institution", MAX_NAME),
        city=_text(city, "city", MAX_CITY), timezone=_zone(timezone), room_id=room_id,
        created_by=created_by,
    )
    with db.session() as session:
        session.add(row)
        session.flush()
        return _info(row, 0)


def update_classroom(db: Database, classroom_id: int, *, room_ids: set[str],
                     name: str | None = None, institution: str | None = None,
                     city: str | None = None, timezone: str | None = None,
                     room_id: str | None = None) -> ClassroomInfo:
    """Change what was given; its screens and past check-ins stay the classroom's."""
    if room_id is not None and room_id not in room_ids:
        raise ClassroomError(lazy("no room '%(room)s' (rooms: %(rooms)s)", "room_not_found",
                                  room=room_id[:64], rooms=", ".join(sorted(room_ids))))
    with db.session() as session:
        row = session.get(Classroom, classroom_id)
        if row is None:
            raise ClassroomError(lazy("no classroom %(id)s", "classroom_not_found",
                                      id=classroom_id), 404)
        if name is not None:
            row.name = _text(name, "name", MAX_NAME)
        if institution is not None:
            row.institution = _text(institution, "institution", MAX_NAME)
        if city is not None:
            row.city = _text(city, "city", MAX_CITY)
        if timezone is not None:
            row.timezone = _zone(timezone)
        if room_id is not None:
            row.room_id = room_id
        session.flush()
        return _info(row, _paired_counts(session).get(row.id, 0))


def _paired_counts(session: Session) -> dict[int, int]:
    rows = session.execute(
        select(ClassroomScreen.classroom_id, func.count())
        .where(ClassroomScreen.classroom_id.is_not(None), ClassroomScreen.revoked_at.is_(None))
        .group_by(ClassroomScreen.classroom_id)
    )
    return {int(cid): int(n) for cid, n in rows if cid is not None}


def list_classrooms(db: Database) -> list[ClassroomInfo]:
    with db.session() as session:
        counts = _paired_counts(session)
        rows = session.scalars(select(Classroom).order_by(Classroom.city, Classroom.name))
        return [_info(row, counts.get(row.id, 0)) for row in rows]


def get_classroom(db: Database, classroom_id: int) -> ClassroomInfo | None:
    with db.session() as session:
        row = session.get(Classroom, classroom_id)
        return None if row is None else _info(row, _paired_counts(session).get(row.id, 0))


def classrooms_of_room(db: Database, room_id: str) -> list[ClassroomInfo]:
    return [c for c in list_classrooms(db) if c.room_id == room_id]


# -- screens: pending, paired, revoked -------------------------------------------------------


def new_device_key() -> str:
    return secrets.token_urlsafe(32)


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def pending_screen(db: Database, key: str | None, *, client: str) -> PendingScreen:
    """A pairing code for the screen holding ``key`` (None: a new screen, given a new key).

    A pending screen gets a fresh code each time it asks (the old one stops working): the page
    asks again when its code expires. A key that is paired or revoked is not pending: asking
    with it is an error the caller turns into the screen page or a new key.
    """
    now = utcnow()
    code = _new_code()
    with db.session() as session:
        # Expired codes of screens never paired are of no further use.
        session.execute(delete(ClassroomScreen).where(
            ClassroomScreen.classroom_id.is_(None), ClassroomScreen.revoked_at.is_(None),
            ClassroomScreen.code_expires_at < now - timedelta(minutes=PAIRING_MINUTES)))
        row = None
        if key is not None:
            row = session.scalar(select(ClassroomScreen).where(
                ClassroomScreen.key_hash == _hash(key)))
            if row is not None and (row.classroom_id is not None or row.revoked_at is not None):
                raise ClassroomError(lazy("this screen is paired already, or was unpaired",
                                          "screen_paired_already"), 409)
        new_key = None
        if row is None:
            pending = session.scalar(select(func.count()).select_from(ClassroomScreen).where(
                ClassroomScreen.classroom_id.is_(None), ClassroomScreen.revoked_at.is_(None),
                ClassroomScreen.code_expires_at > now))
            if (pending or 0) >= MAX_PENDING:
                raise ClassroomError(lazy(
                    "too many screens are waiting to be paired; try again in a few minutes",
                    "too_many_pending_screens"), 429)
            new_key = new_device_key()
            row = ClassroomScreen(key_hash=_hash(new_key), created_at=now,
                                  created_from=client[:64])
            session.add(row)
        row.code_hash = _hash(code)
        row.code_expires_at = now + timedelta(minutes=PAIRING_MINUTES)
        session.flush()
        return PendingScreen(new_key, code, row.code_expires_at)


def pair_screen(db: Database, classroom_id: int, code: str, *, by: int | None) -> ScreenInfo:
    """Pair the screen showing ``code`` with the classroom; the code is then spent."""
    typed = normalize_code(code)
    if len(typed) != CODE_LENGTH:
        raise ClassroomError(lazy(
            "a pairing code has %(length)s letters and digits (as on the screen, e.g. "
            "%(example)s)", "pairing_code_malformed", length=CODE_LENGTH, example="K7QM-4PX2"))
    now = utcnow()
    with db.session() as session:
        if session.get(Classroom, classroom_id) is None:
            raise ClassroomError(lazy("no classroom %(id)s", "classroom_not_found",
                                      id=classroom_id), 404)
        row = session.scalar(select(ClassroomScreen).where(
            ClassroomScreen.code_hash == _hash(typed)))
        if row is None:
            raise ClassroomError(lazy(
                "no screen shows this code: it was used already, or mistyped. The screen "
                "shows a new code when you reload it", "pairing_code_unknown"), 404)
        if row.code_expires_at <= now:
            raise ClassroomError(lazy(
                "this pairing code has expired (codes last %(minutes)s minutes); reload the "
                "screen's page for a new one", "pairing_code_expired", minutes=PAIRING_MINUTES),
                410)
        row.code_hash = None  # single use
        row.classroom_id = classroom_id
        row.paired_at = now
        row.paired_by = by
        row.last_seen_at = now
        session.flush()
        return ScreenInfo(row.id, row.classroom_id, row.paired_at, row.last_seen_at, None)


@dataclass(frozen=True)
class PairedScreen:
    screen_id: int
    classroom: ClassroomInfo


def screen_of_key(db: Database, key: str) -> PairedScreen | None:
    """The paired, unrevoked screen holding ``key``, with its classroom; None otherwise."""
    now = utcnow()
    with db.session() as session:
        row = session.execute(
            select(ClassroomScreen, Classroom)
            .join(Classroom, Classroom.id == ClassroomScreen.classroom_id)
            .where(ClassroomScreen.key_hash == _hash(key), ClassroomScreen.revoked_at.is_(None))
        ).one_or_none()
        if row is None:
            return None
        screen, classroom = row
        if screen.last_seen_at is None or now - screen.last_seen_at > timedelta(minutes=1):
            screen.last_seen_at = now
        return PairedScreen(screen.id, _info(classroom, 0))


def screens_of(db: Database, classroom_id: int) -> list[ScreenInfo]:
    with db.session() as session:
        rows = session.scalars(select(ClassroomScreen).where(
            ClassroomScreen.classroom_id == classroom_id).order_by(ClassroomScreen.id))
        return [ScreenInfo(r.id, r.classroom_id, r.paired_at, r.last_seen_at, r.revoked_at)
                for r in rows]


def revoke_screen(db: Database, classroom_id: int, screen_id: int, *, by: int | None) -> None:
    """Unpair a screen (a stolen PC, a hall that changed): its key is refused from now on."""
    with db.session() as session:
        row = session.get(ClassroomScreen, screen_id)
        if row is None or row.classroom_id != classroom_id:
            raise ClassroomError(lazy("classroom %(classroom)s has no screen %(screen)s",
                                      "screen_not_found", classroom=classroom_id,
                                      screen=screen_id), 404)
        if row.revoked_at is not None:
            raise ClassroomError(lazy("screen %(screen)s is unpaired already",
                                      "screen_unpaired_already", screen=screen_id), 409)
        row.revoked_at = utcnow()
        row.revoked_by = by


def screen_labels(db: Database, screen_ids: list[int]) -> dict[int, str]:
    """'Name, City' of the classroom of each screen (for the console's viewer list)."""
    if not screen_ids:
        return {}
    with db.session() as session:
        rows = session.execute(
            select(ClassroomScreen.id, Classroom.name, Classroom.city)
            .join(Classroom, Classroom.id == ClassroomScreen.classroom_id)
            .where(ClassroomScreen.id.in_(screen_ids)))
        return {int(sid): f"{name}, {city}" for sid, name, city in rows}

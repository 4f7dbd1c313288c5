"""The demo CME programme: a morning in the demo room, so ``make run`` shows the participant
list, the certificates, a doctor's page and the access log with something in them.

Built once, only where the demo accounts exist (``medroom serve`` with ``MEDROOM_DEMO`` creates
them in an empty database): the demo room's two live sessions of yesterday morning, who watched
them (one doctor dropped out for 20 minutes, a guest has no profile), the programme that those
sessions carried, submitted, the participants' profiles and the certificates. Running it again
changes nothing: the programme's ref marks it as built.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from library.cme.certificates import issue_certificates
from library.cme.cnp import check_digit
from library.cme.participants import Grade, ProfileInput, save_profile
from library.cme.programme import (
    AgendaItem,
    ItemKind,
    Level,
    Organiser,
    Programme,
    ProgrammeKind,
    Speaker,
)
from library.cme.rights import Account
from library.cme.store import (
    DEFAULT_TIMEZONE,
    create_programme,
    list_programmes,
    submit_programme,
)
from library.cme.titles import Title, TitleKind
from library.cme.vault import CnpVault
from library.db import Database
from library.models import LiveSession, User, ViewerSession
from library.users import Role, create_user, get_user_by_username

logger = logging.getLogger(__name__)

DEMO_REF = "MR-DEMO-ORL-01"
DEMO_ROOM = "demo"
ZONE = ZoneInfo(DEFAULT_TIMEZONE)


@dataclass(frozen=True)
class DemoDoctor:
    username: str
    full_name: str
    cnp12: str
    specialty: str
    grade: Grade
    workplace: str
    titles: tuple[Title, ...]
    joins: tuple[tuple[int, str, str], ...]
    """(live session 1 or 2, from, to) in local time of the programme's day."""

    @property
    def cnp(self) -> str:
        return self.cnp12 + str(check_digit(self.cnp12))


def _doctors(day: date) -> tuple[DemoDoctor, ...]:
    full = ((1, "08:55", "10:40"), (2, "10:40", "12:20"))
    return (
        DemoDoctor(
            "student", "Marko Jovanović", "198031522001", "otorinolaringologie",
            Grade.REZIDENT, "Spitalul Clinic de Recuperare Iași",
            (Title(TitleKind.RESIDENT, day.replace(year=day.year - 2, month=1, day=15), "ORL"),),
            full,
        ),
        DemoDoctor(
            "demo.ionescu", "Maria-Ștefania Ionescu", "285071112345", "neurochirurgie",
            Grade.SPECIALIST, "Spitalul Clinic Județean de Urgență Cluj-Napoca",
            (
                Title(TitleKind.SPECIALIST, day.replace(year=day.year - 1, month=6, day=1),
                      "neurochirurgie"),
                Title(TitleKind.DOCTORATE, date(2019, 10, 1), "neuro-oncologie"),
            ),
            ((1, "08:50", "12:30"), (2, "10:30", "12:30")),
        ),
        DemoDoctor(
            "demo.turcanu", "Andrei Țurcanu", "178112204567", "gastroenterologie",
            Grade.PRIMAR, "Institutul Clinic Fundeni, București",
            (Title(TitleKind.PRIMAR, day.replace(year=day.year - 3, month=3, day=1),
                   "gastroenterologie"),),
            ((1, "08:58", "09:50"), (1, "10:10", "10:45"), (2, "10:44", "12:15")),
        ),
    )


def _programme(day: date, live1: int, live2: int) -> Programme:
    host = Speaker("Ana Popescu", "Dr., medic primar ORL", person_id="instructor")

    def item(ref: str, kind: ItemKind, start: str, end: str, title: str, live: int | None,
             speaker: Speaker | None = None, session: str | None = None) -> AgendaItem:
        return AgendaItem(ref, kind, day, time.fromisoformat(start), time.fromisoformat(end),
                          title, speaker, session, live_session_id=str(live) if live else None)

    return Programme(
        ref=DEMO_REF,
        title="Endoscopie nazosinusală: ședință demonstrativă din sala de operații",
        kind=ProgrammeKind.SCIENTIFIC_EVENT, level=Level.NATIONAL,
        starts_on=day, ends_on=day,
        organisers=(Organiser("Societatea Română de ORL — filiala Iași"),),
        venue="MedRoom, sala demonstrativă (transmisie live)",
        agenda=(
            item("open", ItemKind.OPENING, "09:00", "09:10", "Deschidere", live1, host),
            item("l1", ItemKind.LECTURE, "09:10", "10:10",
                 "Anatomia endoscopică a peretelui lateral nazal", live1, host, "s1"),
            item("d1", ItemKind.DISCUSSION, "10:10", "10:30", "Întrebări și discuții", live1,
                 session="s1"),
            item("b1", ItemKind.BREAK, "10:30", "10:45", "Pauză", None),
            item("demo", ItemKind.PRACTICAL_DEMONSTRATION, "10:45", "12:00",
                 "Demonstrație live: meatotomie medie și etmoidectomie anterioară", live2, host),
            item("close", ItemKind.CLOSING, "12:00", "12:10", "Închidere", live2, host),
        ),
        request_filed_on=day - timedelta(days=40),
        final_programme_filed_on=day - timedelta(days=10),
    )


def _at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), ZONE).astimezone(UTC)


def ensure_demo_programme(
    db: Database, vault: CnpVault, *, now: datetime | None = None
) -> int | None:
    """The demo programme's id, built on first call; None where there are no demo accounts."""
    for info in list_programmes(db):
        if info.ref == DEMO_REF:
            return info.id
    instructor = get_user_by_username(db, "instructor")
    student = get_user_by_username(db, "student")
    if instructor is None or student is None or instructor.role is not Role.INSTRUCTOR:
        return None
    now = now or datetime.now(UTC)
    day = now.astimezone(ZONE).date() - timedelta(days=1)
    doctors = _doctors(day)
    users = {"student": student.id}
    for doctor in doctors:
        if doctor.username not in users:
            found = get_user_by_username(db, doctor.username)
            users[doctor.username] = found.id if found else create_user(
                db, doctor.username, secrets.token_urlsafe(12), Role.STUDENT, doctor.full_name
            ).id
    with db.session() as session:
        lives = [
            LiveSession(room_id=DEMO_ROOM, title=title, started_at=_at(day, start),
                        ended_at=_at(day, end), started_by=instructor.id)
            for title, start, end in (
                ("Endoscopie nazosinusală · prelegere", "08:50", "10:35"),
                ("Endoscopie nazosinusală · demonstrație live", "10:40", "12:25"),
            )
        ]
        session.add_all(lives)
        session.flush()
        live_ids = [live.id for live in lives]
        for doctor in doctors:
            user = session.get(User, users[doctor.username])
            assert user is not None
            for which, start, end in doctor.joins:
                session.add(_viewer(live_ids[which - 1], user.id, doctor.username,
                                    _at(day, start), _at(day, end)))
        # A guest who followed by a link: on the list, but with no profile to certify.
        for live_id, start, end in ((live_ids[0], "08:59", "10:35"),
                                    (live_ids[1], "10:41", "12:12")):
            session.add(_viewer(live_id, None, "guest-rezident-7f3a", _at(day, start),
                                _at(day, end)))
    info = create_programme(db, _programme(day, *live_ids),
                            by=Account(instructor.id, Role.INSTRUCTOR))
    submit_programme(db, info.id)
    for doctor in doctors:
        save_profile(db, vault, users[doctor.username], ProfileInput(
            doctor.full_name, doctor.cnp, doctor.specialty, doctor.grade, doctor.workplace,
            doctor.titles,
        ))
    submitted = next(i for i in list_programmes(db) if i.id == info.id)
    report = issue_certificates(db, vault, submitted, issued_by=instructor.id, now=now)
    logger.info("demo CME programme %s built: %d certificates", DEMO_REF, len(report.issued))
    return info.id


def _viewer(live_id: int, user_id: int | None, subject: str, joined: datetime,
            left: datetime) -> ViewerSession:
    return ViewerSession(
        id=str(uuid.uuid4()), live_session_id=live_id, room_id=DEMO_ROOM, user_id=user_id,
        subject=subject, role="student", joined_at=joined, left_at=left,
        left_reason="closed",
    )


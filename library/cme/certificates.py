"""Certificates (art. 26): issued from the participant list, numbered once, verifiable by anyone.

A course earns a completion certificate (certificat de absolvire, art. 26 alin. (2)) that says
the final evaluation was passed; a scientific event a participation certificate (certificat de
participare, art. 26 alin. (3)) that carries the credits. Distance programmes are courses
(art. 2 lit. a). Certificates are issued from the participant list (art. 24 alin. (5)) to those
the engine qualifies: present throughout (art. 5 lit. a) and, where there is a test, passed.

Registration numbers are ``MR-<year of issue>-<000123>`` from the row's AUTOINCREMENT id:
never reused, because rows are never deleted and the id never goes back. Issuing again for the
same participant returns the certificate they already have. The public verification
(``verification``) shows the programme, the dates, the credits and the holder's initials only.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from library.cme.participant_list import ParticipantRow, participant_list
from library.cme.participants import initials
from library.cme.programme import ProgrammeKind
from library.cme.store import ProgrammeInfo, ProgrammeStatus
from library.cme.vault import CnpVault
from library.cme_models import CmeCertificate
from library.db import Database
from library.i18n import formats, gettext, lazy
from library.models import utcnow

NUMBER_PREFIX = "MR"
NUMBER_RE = re.compile(r"MR-(\d{4})-(\d{6,})")


class CertificateError(ValueError):
    """Certificates cannot be issued as asked; the message says why and what to do."""


class CertificateNotFound(CertificateError):
    """No certificate has that number."""


class CertificateKind(str, Enum):
    COMPLETION = "completion"
    """Certificat de absolvire (art. 26 alin. (2))."""
    PARTICIPATION = "participation"
    """Certificat de participare (art. 26 alin. (3))."""

    @staticmethod
    def for_programme(kind: ProgrammeKind) -> CertificateKind:
        if kind is ProgrammeKind.SCIENTIFIC_EVENT:
            return CertificateKind.PARTICIPATION
        return CertificateKind.COMPLETION


@dataclass(frozen=True)
class Certificate:
    id: int
    number: str
    kind: CertificateKind
    programme_id: int
    person_id: str
    user_id: int | None
    holder_name: str
    holder_initials: str
    programme_ref: str
    programme_title: str
    programme_kind: ProgrammeKind
    organiser: str
    venue: str
    starts_on: date
    ends_on: date
    credits: int
    test_passed: bool | None
    issued_at: datetime
    revoked_at: datetime | None

    @property
    def valid(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class Skipped:
    person_id: str
    name: str
    reason: str


@dataclass(frozen=True)
class IssueReport:
    issued: tuple[Certificate, ...]
    already: tuple[Certificate, ...]
    skipped: tuple[Skipped, ...]


def _certificate(row: CmeCertificate) -> Certificate:
    return Certificate(
        id=row.id, number=row.number, kind=CertificateKind(row.kind),
        programme_id=row.programme_id, person_id=row.person_id, user_id=row.user_id,
        holder_name=row.holder_name, holder_initials=row.holder_initials,
        programme_ref=row.programme_ref, programme_title=row.programme_title,
        programme_kind=ProgrammeKind(row.programme_kind), organiser=row.organiser,
        venue=row.venue, starts_on=row.starts_on, ends_on=row.ends_on, credits=row.credits,
        test_passed=row.test_passed, issued_at=row.issued_at, revoked_at=row.revoked_at,
    )


def programme_end(info: ProgrammeInfo) -> datetime:
    """When the programme's last agenda item ends (UTC), or the end of its last day."""
    zone = ZoneInfo(info.timezone)
    ends = [item.ends_at for item in info.programme.agenda]
    last = max(ends) if ends else datetime.combine(info.ends_on, datetime.max.time())
    return last.replace(tzinfo=zone).astimezone(UTC)


def _refuse_unless_issuable(info: ProgrammeInfo, now: datetime) -> None:
    if info.status is not ProgrammeStatus.SUBMITTED:
        raise CertificateError(lazy(
            "programme '%(ref)s' is a draft: certificates are issued for a programme submitted"
            " for crediting (art. 6 alin. (1)); submit it first", "programme_is_draft",
            ref=info.ref))
    end = programme_end(info)
    if now < end:
        local = end.astimezone(ZoneInfo(info.timezone))
        raise CertificateError(lazy(
            "programme '%(ref)s' ends at %(end)s: presence for the whole programme (art. 5"
            " lit. a) is known only after it ends; issue the certificates then",
            "programme_not_ended", ref=info.ref,
            end=formats.format_datetime(local, "medium", zone=info.timezone, with_zone=True)))


def _skip_reason(row: ParticipantRow) -> str | None:
    if not row.qualified:
        return gettext("does not qualify: %(why)s (art. 5 lit. a)",
                       why=str(row.note) or gettext("not present throughout"))
    if row.credits <= 0:
        return gettext("no credits to certify")
    if row.user_id is None:
        return gettext("no participant profile: the certificate needs the full name the"
                       " participant list carries (art. 24 alin. (5)); ask them to fill in"
                       " their CME profile")
    return None


def issue_certificates(
    db: Database,
    vault: CnpVault,
    info: ProgrammeInfo,
    *,
    issued_by: int | None,
    now: datetime | None = None,
) -> IssueReport:
    """Issue a certificate to every qualifying participant who has none yet."""
    now = now or utcnow()
    _refuse_unless_issuable(info, now)
    plist = participant_list(db, vault, info)
    kind = CertificateKind.for_programme(info.kind)
    issued: list[Certificate] = []
    already: list[Certificate] = []
    skipped: list[Skipped] = []
    with db.session() as session:
        existing = {
            row.person_id: row
            for row in session.scalars(
                select(CmeCertificate).where(CmeCertificate.programme_id == info.id)
            )
        }
        for row in plist.rows:
            if row.person_id in existing:
                already.append(_certificate(existing[row.person_id]))
                continue
            reason = _skip_reason(row)
            if reason is not None:
                skipped.append(Skipped(row.person_id, row.full_name, reason))
                continue
            cert = CmeCertificate(
                # A unique placeholder until the id is known; replaced in this transaction.
                number=f"pending-{secrets.token_hex(8)}", kind=kind.value,
                programme_id=info.id, person_id=row.person_id, user_id=row.user_id,
                holder_name=row.full_name, holder_initials=initials(row.full_name),
                programme_ref=info.ref, programme_title=info.title,
                programme_kind=info.kind.value, organiser=info.organiser,
                venue=info.programme.venue, starts_on=info.starts_on, ends_on=info.ends_on,
                credits=row.credits, test_passed=row.test_passed, issued_at=now,
                issued_by=issued_by,
            )
            session.add(cert)
            try:
                session.flush()
            except IntegrityError:
                raise CertificateError(
                    f"certificates of programme {info.ref!r} were being issued at the same"
                    " time by someone else; issue again to see the result"
                ) from None
            cert.number = f"{NUMBER_PREFIX}-{now.year}-{cert.id:06d}"
            session.flush()
            issued.append(_certificate(cert))
    return IssueReport(tuple(issued), tuple(already), tuple(skipped))


def revoke_certificate(db: Database, number: str, now: datetime | None = None) -> Certificate:
    """Revoke a certificate issued in error: its verification page says so from then on.

    The row stays (numbers are never reused and the audit log refers to it); revoking twice is
    refused so the first date stands.
    """
    canonical = parse_number(number)
    with db.session() as session:
        row = None if canonical is None else session.scalar(
            select(CmeCertificate).where(CmeCertificate.number == canonical))
        if row is None:
            raise CertificateNotFound(f"no certificate {number.strip()!r}")
        if row.revoked_at is not None:
            raise CertificateError(lazy(
                "certificate %(number)s was already revoked on %(date)s", "already_revoked",
                number=row.number, date=formats.format_date(row.revoked_at)))
        row.revoked_at = now or utcnow()
        session.flush()
        return _certificate(row)


def parse_number(text: str) -> str | None:
    """The number in canonical form, or None when it cannot be one of ours."""
    number = text.strip().upper()
    return number if NUMBER_RE.fullmatch(number) else None


def get_certificate(db: Database, number: str) -> Certificate | None:
    canonical = parse_number(number)
    if canonical is None:
        return None
    with db.session() as session:
        row = session.scalar(select(CmeCertificate).where(CmeCertificate.number == canonical))
        return None if row is None else _certificate(row)


def certificates_of_programme(db: Database, programme_id: int) -> list[Certificate]:
    with db.session() as session:
        rows = session.scalars(
            select(CmeCertificate)
            .where(CmeCertificate.programme_id == programme_id)
            .order_by(CmeCertificate.id)
        )
        return [_certificate(r) for r in rows]


def certificates_of_user(db: Database, user_id: int) -> list[Certificate]:
    with db.session() as session:
        rows = session.scalars(
            select(CmeCertificate)
            .where(CmeCertificate.user_id == user_id)
            .order_by(CmeCertificate.starts_on.desc(), CmeCertificate.id.desc())
        )
        return [_certificate(r) for r in rows]


@dataclass(frozen=True)
class Verification:
    """What the public verification page shows: nothing that identifies the holder.

    Initials let whoever holds the paper see that it matches the person presenting it; the
    full name, the CNP, the specialty and the workplace stay out, so the page cannot be used to
    find out who attended what (numbers are sequential and can be guessed).
    """

    number: str
    valid: bool
    kind: CertificateKind
    holder_initials: str
    programme_title: str
    programme_ref: str
    programme_kind: ProgrammeKind
    organiser: str
    starts_on: date
    ends_on: date
    credits: int
    issued_on: date
    revoked_on: date | None


def verification(db: Database, number: str) -> Verification | None:
    cert = get_certificate(db, number)
    if cert is None:
        return None
    return Verification(
        number=cert.number, valid=cert.valid, kind=cert.kind,
        holder_initials=cert.holder_initials, programme_title=cert.programme_title,
        programme_ref=cert.programme_ref, programme_kind=cert.programme_kind,
        organiser=cert.organiser, starts_on=cert.starts_on, ends_on=cert.ends_on,
        credits=cert.credits, issued_on=cert.issued_at.date(),
        revoked_on=cert.revoked_at.date() if cert.revoked_at else None,
    )

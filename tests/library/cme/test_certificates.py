"""Certificates (art. 26): issued to those who qualify, numbered once, the PDF reopened (text by
pypdf, the QR code rendered with pdfium and decoded by OpenCV's detector), the public
verification without personal data."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import cv2
import numpy as np
import pypdfium2
import pytest
from pypdf import PdfReader
from sqlalchemy import text

from library.cme.certificate_pdf import certificate_pdf
from library.cme.certificates import (
    CertificateError,
    CertificateKind,
    certificates_of_programme,
    certificates_of_user,
    get_certificate,
    issue_certificates,
    verification,
)
from library.cme.programme import AgendaItem, ItemKind, ProgrammeKind
from library.cme.rights import SYSTEM, Account
from library.cme.store import create_programme, get_programme, submit_programme
from library.cme.vault import CnpVault
from library.db import Database
from library.users import get_user_by_username
from tests.library.cme.conftest import DEMO_NOW as NOW

URL = "http://127.0.0.1:8000/verify/"


def qr_text(pdf: bytes) -> str:
    """Render the first page at 200 dpi and read its QR code, as a phone camera would."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[0].render(scale=200 / 72).to_numpy()
    finally:
        document.close()
    grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2GRAY)
    decoded, _points, _ = cv2.QRCodeDetector().detectAndDecode(grey)
    return str(decoded)


def test_art_26_3_participation_certificates_for_those_present_throughout(
    db: Database, vault: CnpVault, demo: int
) -> None:
    certs = certificates_of_programme(db, demo)
    # Built with the demo: Ionescu and Jovanović qualify; Țurcanu was absent 20 minutes,
    # the guest has no profile to put a name on a certificate.
    assert sorted(c.holder_name for c in certs) == ["Maria-Ștefania Ionescu", "Marko Jovanović"]
    assert {c.kind for c in certs} == {CertificateKind.PARTICIPATION}
    assert {c.credits for c in certs} == {3}
    numbers = [c.number for c in certs]
    assert numbers == [f"MR-2026-{i:06d}" for i in (1, 2)]
    # Issuing again: nothing new, the same numbers, and why the others have none.
    info = get_programme(db, demo)
    assert info is not None
    report = issue_certificates(db, vault, info, issued_by=None, now=NOW)
    assert report.issued == () and [c.number for c in report.already] == numbers
    reasons = {s.person_id: s.reason for s in report.skipped}
    assert "art. 5 lit. a" in reasons["demo.turcanu"]
    assert "no participant profile" in reasons["guest-rezident-7f3a"]


def test_art_26_certificate_pdf_text_and_qr(db: Database, vault: CnpVault, demo: int) -> None:
    [cert] = [c for c in certificates_of_programme(db, demo) if c.person_id == "demo.ionescu"]
    pdf = certificate_pdf(cert, URL + cert.number)
    # Long lines wrap: compare the words, whatever the line breaks.
    text_ = " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    for expected in ("CERTIFICAT DE PARTICIPARE", f"Nr. de înregistrare: {cert.number}",
                     "Maria-Ștefania Ionescu", "a participat la manifestarea științifică",
                     "Endoscopie nazosinusală: ședință demonstrativă din sala de operații",
                     "3 credite EMC", "Societatea Română de ORL — filiala Iași",
                     "la data de 22.11.2026"):
        assert expected in text_, expected
    # The QR code, decoded from the rendered page, opens the certificate's verification page.
    assert qr_text(pdf) == URL + cert.number


def test_art_26_2_courses_get_a_completion_certificate(db: Database, vault: CnpVault,
                                                        demo: int) -> None:
    info = get_programme(db, demo)
    assert info is not None
    course = replace(info.programme, ref="MR-DEMO-CURS", kind=ProgrammeKind.CONTINUING_EDUCATION_COURSE)
    instructor = get_user_by_username(db, "instructor")
    stored = create_programme(
        db, course, by=Account(instructor.id, instructor.role) if instructor else SYSTEM)
    submitted = submit_programme(db, stored.id)
    report = issue_certificates(db, vault, submitted, issued_by=None, now=NOW)
    assert {c.kind for c in report.issued} == {CertificateKind.COMPLETION}
    cert = report.issued[0]
    assert int(cert.number[-6:]) == 3  # after the demo's two
    words = PdfReader(io.BytesIO(certificate_pdf(cert, URL + cert.number))).pages[0].extract_text()
    assert "CERTIFICAT DE ABSOLVIRE" in words and "a absolvit cursul" in words


def test_art_26_no_certificates_for_a_draft_or_before_the_end(db: Database, vault: CnpVault,
                                                              demo: int) -> None:
    info = get_programme(db, demo)
    assert info is not None
    draft = create_programme(db, replace(info.programme, ref="MR-DEMO-DRAFT"), by=SYSTEM)
    with pytest.raises(CertificateError, match="is a draft"):
        issue_certificates(db, vault, draft, issued_by=None, now=NOW)
    # The same programme held today at 09:00-12:10 Bucharest: at 09:30 UTC it has not ended.
    today = date(2026, 11, 23)
    agenda = tuple(replace(i, day=today) for i in info.programme.agenda)
    live = create_programme(db, replace(info.programme, ref="MR-DEMO-TODAY", agenda=agenda,
                                        starts_on=today, ends_on=today), by=SYSTEM)
    live = submit_programme(db, live.id)
    with pytest.raises(CertificateError, match="ends at Nov 23, 2026, 12:10"):
        issue_certificates(db, vault, live, issued_by=None, now=NOW + timedelta(minutes=30))


def test_registration_numbers_are_never_reused(db: Database, vault: CnpVault, demo: int) -> None:
    """Even if rows were deleted by hand, the next number goes on (AUTOINCREMENT)."""
    info = get_programme(db, demo)
    assert info is not None
    with db.session() as session:
        session.execute(text("DELETE FROM cme_certificates"))
    report = issue_certificates(db, vault, info, issued_by=None, now=NOW)
    assert sorted(c.number for c in report.issued) == ["MR-2026-000003", "MR-2026-000004"]


def test_art_26_public_verification_shows_initials_only(db: Database, vault: CnpVault,
                                                        demo: int) -> None:
    student = get_user_by_username(db, "student")
    assert student is not None
    [cert] = certificates_of_user(db, student.id)
    seen = verification(db, cert.number.lower())  # typed by hand, in lower case
    assert seen is not None and seen.valid
    assert (seen.holder_initials, seen.credits, seen.starts_on) == ("M. J.", 3, date(2026, 11, 22))
    shown = " ".join(str(v) for v in vars(seen).values())
    assert "Jovanović" not in shown and "Marko" not in shown
    for forged in ("MR-2026-999999", "MR-2026-00000X", "not-a-number", ""):
        assert verification(db, forged) is None
    assert get_certificate(db, cert.number) == cert


def test_demo_programme_held_yesterday_in_bucharest(db: Database, vault: CnpVault,
                                                    demo: int) -> None:
    info = get_programme(db, demo)
    assert info is not None
    assert info.starts_on == date(2026, 11, 22)
    first: AgendaItem = info.programme.agenda[0]
    assert (first.kind, first.start) == (ItemKind.OPENING, time(9, 0))


def test_art_26_2_completion_certificate_only_after_passing_the_final_test(
    db: Database, vault: CnpVault, demo: int
) -> None:
    """The demo morning as a course with a 10-question test: Jovanović passes (10/10) and gets
    a completion certificate that says so; Ionescu, present too, scores 5/10 (under 75%,
    art. 10 lit. c) and gets none."""
    from library.cme import audit
    from library.cme.programme import FinalTest
    from library.cme.quiz import Question, QuestionKind
    from library.cme.quiz_store import save_bank, start_attempt, submit_attempt

    info = get_programme(db, demo)
    assert info is not None
    course = replace(info.programme, ref="MR-DEMO-CURS-TEST",
                     kind=ProgrammeKind.CONTINUING_EDUCATION_COURSE,
                     final_test=FinalTest(question_count=10))
    draft = create_programme(db, course, by=SYSTEM)
    organiser = audit.Actor("instructor", "instructor")
    save_bank(db, draft.id, [
        Question(QuestionKind.SINGLE, f"Întrebarea {n}", ("da", "nu", "poate"), frozenset({0}))
        for n in range(10)
    ], organiser)
    stored = submit_programme(db, draft.id)
    during = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)  # 13:00 in Bucharest, on the day
    for person, right in (("student", 10), ("demo.ionescu", 5)):
        actor = audit.Actor(person, "student")
        attempt = start_attempt(db, stored.id, actor, now=during)
        answers = {str(q.question_id): [q.options.index("da") if i < right else
                                        q.options.index("nu")]
                   for i, q in enumerate(attempt.questions)}
        submit_attempt(db, attempt.id, actor, answers, now=during + timedelta(minutes=5))
    report = issue_certificates(db, vault, stored, issued_by=None, now=NOW)
    [cert] = report.issued
    assert (cert.person_id, cert.kind, cert.test_passed) == (
        "student", CertificateKind.COMPLETION, True)
    skipped = {s.person_id: s.reason for s in report.skipped}
    assert "test not passed" in skipped["demo.ionescu"]
    words = " ".join(PdfReader(io.BytesIO(certificate_pdf(cert, URL + cert.number)))
                     .pages[0].extract_text().split())
    assert "și a promovat proba de evaluare finală (art. 26 alin. (2))" in words

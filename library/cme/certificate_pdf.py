"""A certificate as a printable A4 PDF with a QR code that opens its public verification page.

The layout follows what art. 24 and 26 ask a certificate to say: its kind, the registration
number, the holder, the programme and its organiser, the dates, the credits (art. 26 alin. (3))
and, for a course, that the final evaluation was passed (art. 26 alin. (2)); with room for the
provider's and the territorial college's stamps and signatures (art. 24 alin. (1)). The QR code
is drawn as vector squares (it prints sharp at any size) and is also a link in the PDF.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import segno
from fpdf import FPDF

from library.cme.certificates import Certificate, CertificateKind
from library.cme.pdf import FAMILY, MUTED, RULE, new_document, to_bytes
from library.cme.programme import ProgrammeKind
from library.i18n import LazyText, current, formats, gettext, lazy, ngettext, shown, use

#: The College's language: every certificate is written in it.
DOCUMENT_LOCALE = "ro"

KIND_TEXT = {
    CertificateKind.COMPLETION: lazy("CERTIFICATE OF COMPLETION"),
    CertificateKind.PARTICIPATION: lazy("CERTIFICATE OF PARTICIPATION"),
}
VERB = {
    ProgrammeKind.POSTGRADUATE_COURSE: lazy("has completed the postgraduate course"),
    ProgrammeKind.CONTINUING_EDUCATION_COURSE: lazy(
        "has completed the continuing medical education course"),
    ProgrammeKind.DISTANCE_BY_POST: lazy("has completed the distance CME programme"),
    ProgrammeKind.DISTANCE_ONLINE: lazy("has completed the distance CME programme (online)"),
    ProgrammeKind.SCIENTIFIC_EVENT: lazy("has attended the scientific event"),
}
QR_SIZE_MM = 38.0
Text = Callable[[], str]
"""A line of the certificate, made in whichever language is in use when it is called."""


def _date(day: date | datetime) -> str:
    """03.12.2026 on the Romanian lines (as the College's documents write it); the other
    language's usual form on its lines ('3.12.2026 г.', '3. 12. 2026.')."""
    return formats.format_date(day, "short" if current().locale == DOCUMENT_LOCALE else "medium")


def _dates(cert: Certificate) -> str:
    if cert.starts_on == cert.ends_on:
        return gettext("on %(date)s", date=_date(cert.starts_on))
    return gettext("from %(start)s to %(end)s", start=_date(cert.starts_on),
                   end=_date(cert.ends_on))


class _Writer:
    """Writes each line in Romanian and, for a bilingual certificate, the same line in the
    holder's language under it (smaller, grey)."""

    def __init__(self, pdf: FPDF, width: float, also: str | None) -> None:
        self.pdf, self.width, self.also = pdf, width, also

    def line(self, text: Text, size: float, height: float, *, bold: bool = False,
             multi: bool = False) -> None:
        with use(DOCUMENT_LOCALE):
            main = text()
        self.pdf.set_text_color(0, 0, 0)
        self.pdf.set_font(FAMILY, "B" if bold else "", size)
        if multi:
            self.pdf.multi_cell(self.width, height, main, align="C", new_x="LMARGIN",
                                new_y="NEXT")
        else:
            self.pdf.cell(self.width, height, main, align="C", new_x="LMARGIN", new_y="NEXT")
        self.second(text, size)

    def second(self, text: Text, size: float) -> None:
        if not self.also:
            return
        with use(self.also):
            other = text()
        self.pdf.set_text_color(*MUTED)
        self.pdf.set_font(FAMILY, "", max(7.5, size * 0.62))
        self.pdf.multi_cell(self.width, max(3.8, size * 0.36), other, align="C",
                            new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_text_color(0, 0, 0)


def certificate_pdf(cert: Certificate, verify_url: str, also: str | None = None) -> bytes:
    """The certificate in Romanian, as the College requires; with ``also`` (a locale other
    than Romanian), each line is followed by the same line in that language."""
    also = None if also in (None, DOCUMENT_LOCALE) else also
    with use(DOCUMENT_LOCALE):
        title = shown(KIND_TEXT[cert.kind])
    pdf = new_document(title=f"{title.title()} {cert.number}", author=cert.organiser)
    pdf.add_page()
    pdf.set_auto_page_break(auto=False)
    width = pdf.w - pdf.l_margin - pdf.r_margin
    gap = 0.55 if also else 1.0  # a bilingual certificate tightens the spacing
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.8)
    pdf.rect(8, 8, pdf.w - 16, pdf.h - 16)
    write = _Writer(pdf, width, also)

    pdf.set_y(22 if also else 24)
    pdf.set_font(FAMILY, "", 10)
    pdf.set_text_color(*MUTED)
    pdf.cell(width, 6, cert.organiser, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10 * gap)
    write.line(lambda: shown(KIND_TEXT[cert.kind]), 22, 11, bold=True)
    pdf.ln(2 * gap)
    write.line(lambda: gettext("Registration no.: %(number)s", number=cert.number), 11, 7,
               bold=True)
    pdf.ln(14 * gap)

    write.line(lambda: gettext("This is to certify that"), 12, 7)
    pdf.ln(3 * gap)
    pdf.set_font(FAMILY, "B", 20)
    pdf.multi_cell(width, 10, cert.holder_name, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3 * gap)
    write.line(lambda: shown(VERB[cert.programme_kind]), 12, 7)
    pdf.ln(2 * gap)
    pdf.set_font(FAMILY, "B", 15)
    pdf.multi_cell(width, 8, f"„{cert.programme_title}”", align="C",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3 * gap)
    where = f", {cert.venue}" if cert.venue else ""
    write.line(lambda: _dates(cert) + where, 11, 6, multi=True)
    write.line(lambda: gettext("organiser: %(organiser)s · programme no. %(ref)s",
                                organiser=cert.organiser, ref=cert.programme_ref),
               11, 6, multi=True)
    if cert.kind is CertificateKind.COMPLETION and cert.test_passed:
        pdf.ln(2 * gap)
        write.line(lambda: gettext("and has passed the final evaluation (art. 26 alin. (2))."),
                   11, 6, multi=True)
    pdf.ln(8 * gap)
    write.line(lambda: ngettext("%(num)s CME credit", "%(num)s CME credits", cert.credits),
               16, 9, bold=True)
    with use(DOCUMENT_LOCALE):
        basis = gettext("awarded under the standard crediting procedure of the Romanian"
                         " College of Physicians")
    pdf.set_font(FAMILY, "", 9)
    pdf.set_text_color(*MUTED)
    pdf.cell(width, 5, basis, align="C", new_x="LMARGIN", new_y="NEXT")
    write.second(lambda: gettext("awarded under the standard crediting procedure of the"
                                  " Romanian College of Physicians"), 9)

    _signatures(pdf, cert, also)
    _qr(pdf, verify_url, also)
    return to_bytes(pdf)


SIGNATURES: tuple[tuple[float, LazyText], ...] = (
    (22.0, lazy("CME provider (signature, stamp)")),
    (112.0, lazy("Programme coordinator (signature)")),
)


def _both(text: Text, also: str | None, sep: str = " / ") -> str:
    """A short label in Romanian, and in the holder's language after a slash."""
    with use(DOCUMENT_LOCALE):
        main = text()
    if not also:
        return main
    with use(also):
        return f"{main}{sep}{text()}"


def _signatures(pdf: FPDF, cert: Certificate, also: str | None) -> None:
    y = 214.0 if also else 212.0
    pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(120, 120, 120)
    pdf.set_line_width(0.3)
    for x, label in SIGNATURES:
        pdf.line(x, y, x + 76, y)
        pdf.set_xy(x, y + 1.5)
        pdf.set_font(FAMILY, "", 8.5 if not also else 7.5)
        pdf.multi_cell(76, 3.8, _both(label.render, also, "\n"), align="C")
    pdf.set_xy(22, y + 12)
    pdf.set_font(FAMILY, "", 9)
    pdf.set_text_color(0, 0, 0)
    pdf.cell(120, 5, _both(lambda: gettext(
        "Issued on %(date)s", date=_date(cert.issued_at)), also))


def _qr(pdf: FPDF, url: str, also: str | None) -> None:
    qr = segno.make(url, error="m")
    rows = [list(row) for row in qr.matrix]
    module = QR_SIZE_MM / len(rows)
    x0 = pdf.w - 22 - QR_SIZE_MM
    y0 = pdf.h - 26 - QR_SIZE_MM
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x0 - 4 * module, y0 - 4 * module, QR_SIZE_MM + 8 * module,
             QR_SIZE_MM + 8 * module, style="F")
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(rows):
        c = 0
        while c < len(row):
            if row[c]:
                run = c
                while run < len(row) and row[run]:
                    run += 1
                # One rectangle per run of dark modules: a smaller file, no hairline seams.
                pdf.rect(x0 + c * module, y0 + r * module, (run - c) * module, module, style="F")
                c = run
            else:
                c += 1
    pdf.link(x0, y0, QR_SIZE_MM, QR_SIZE_MM, url)
    pdf.set_xy(22, y0 + 6)
    pdf.set_font(FAMILY, "B", 9)
    pdf.cell(120, 5, _both(lambda: gettext("Verify this certificate:"), also))
    pdf.set_xy(22, y0 + 12)
    pdf.set_font(FAMILY, "", 9)
    pdf.set_text_color(*MUTED)
    pdf.cell(120, 5, url, link=url)
    pdf.set_xy(22, y0 + 18)
    def note() -> str:
        return gettext("The verification page confirms the number, the programme, the date and"
                       " the credits; it shows no personal data beyond the holder's initials.")

    with use(DOCUMENT_LOCALE):
        pdf.multi_cell(120, 4.5, note(), align="L", new_x="LMARGIN", new_y="NEXT")
    if also:
        with use(also):
            pdf.set_x(22)
            pdf.set_font(FAMILY, "", 7.5)
            pdf.multi_cell(120, 3.8, note(), align="L")

"""A certificate as a printable A4 PDF with a QR code that opens its public verification page.

The layout follows what art. 24 and 26 ask a certificate to say: its kind, the registration
number, the holder, the programme and its organiser, the dates, the credits (art. 26 alin. (3))
and, for a course, that the final evaluation was passed (art. 26 alin. (2)); with room for the
provider's and the territorial college's stamps and signatures (art. 24 alin. (1)). The QR code
is drawn as vector squares (it prints sharp at any size) and is also a link in the PDF.
"""

from __future__ import annotations

import segno
from fpdf import FPDF

from library.cme.certificates import Certificate, CertificateKind
from library.cme.pdf import FAMILY, MUTED, RULE, new_document, to_bytes
from library.cme.programme import ProgrammeKind

KIND_TEXT = {
    CertificateKind.COMPLETION: ("CERTIFICAT DE ABSOLVIRE", "Certificate of completion"),
    CertificateKind.PARTICIPATION: ("CERTIFICAT DE PARTICIPARE", "Certificate of participation"),
}
VERB = {
    ProgrammeKind.POSTGRADUATE_COURSE: "a absolvit cursul de învățământ postuniversitar",
    ProgrammeKind.CONTINUING_EDUCATION_COURSE: "a absolvit cursul de educație medicală continuă",
    ProgrammeKind.DISTANCE_BY_POST: "a absolvit programul de EMC la distanță",
    ProgrammeKind.DISTANCE_ONLINE: "a absolvit programul de EMC la distanță (online)",
    ProgrammeKind.SCIENTIFIC_EVENT: "a participat la manifestarea științifică",
}
QR_SIZE_MM = 38.0


def _dates(cert: Certificate) -> str:
    if cert.starts_on == cert.ends_on:
        return f"{cert.starts_on:%d.%m.%Y}"
    return f"{cert.starts_on:%d.%m.%Y} – {cert.ends_on:%d.%m.%Y}"


def certificate_pdf(cert: Certificate, verify_url: str) -> bytes:
    title, subtitle = KIND_TEXT[cert.kind]
    pdf = new_document(title=f"{title.title()} {cert.number}", author=cert.organiser)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.8)
    pdf.rect(8, 8, pdf.w - 16, pdf.h - 16)

    pdf.set_y(24)
    pdf.set_font(FAMILY, "", 10)
    pdf.set_text_color(*MUTED)
    pdf.cell(width, 6, cert.organiser, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(FAMILY, "B", 22)
    pdf.cell(width, 11, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, "", 10)
    pdf.set_text_color(*MUTED)
    pdf.cell(width, 6, subtitle, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(FAMILY, "B", 11)
    pdf.set_text_color(0, 0, 0)
    pdf.cell(width, 7, f"Nr. de înregistrare: {cert.number}", align="C",
             new_x="LMARGIN", new_y="NEXT")
    pdf.ln(14)

    pdf.set_font(FAMILY, "", 12)
    pdf.cell(width, 7, "Se certifică faptul că", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(FAMILY, "B", 20)
    pdf.multi_cell(width, 10, cert.holder_name, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(FAMILY, "", 12)
    pdf.cell(width, 7, VERB[cert.programme_kind], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(FAMILY, "B", 15)
    pdf.multi_cell(width, 8, f"„{cert.programme_title}”", align="C",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(FAMILY, "", 11)
    where = f", {cert.venue}" if cert.venue else ""
    when = "la data de" if cert.starts_on == cert.ends_on else "în perioada"
    pdf.multi_cell(width, 6, f"{when} {_dates(cert)}{where}", align="C",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(width, 6, f"organizator: {cert.organiser} · nr. program {cert.programme_ref}",
                   align="C", new_x="LMARGIN", new_y="NEXT")
    if cert.kind is CertificateKind.COMPLETION and cert.test_passed:
        pdf.ln(2)
        pdf.multi_cell(width, 6, "și a promovat proba de evaluare finală (art. 26 alin. (2)).",
                       align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font(FAMILY, "B", 16)
    pdf.cell(width, 9, f"{cert.credits} credite EMC", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, "", 9)
    pdf.set_text_color(*MUTED)
    pdf.cell(width, 5, "acordate conform Procedurii standard de creditare a Colegiului"
             " Medicilor din România", align="C", new_x="LMARGIN", new_y="NEXT")

    _signatures(pdf, cert)
    _qr(pdf, verify_url)
    return to_bytes(pdf)


def _signatures(pdf: FPDF, cert: Certificate) -> None:
    y = 212.0
    pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(120, 120, 120)
    pdf.set_line_width(0.3)
    for x, label in ((22.0, "Furnizorul de EMC (semnătura, ștampila)"),
                     (112.0, "Coordonatorul programului (semnătura)")):
        pdf.line(x, y, x + 76, y)
        pdf.set_xy(x, y + 1.5)
        pdf.set_font(FAMILY, "", 8.5)
        pdf.cell(76, 5, label, align="C")
    pdf.set_xy(22, y + 12)
    pdf.set_font(FAMILY, "", 9)
    pdf.cell(100, 5, f"Eliberat la {cert.issued_at:%d.%m.%Y}")


def _qr(pdf: FPDF, url: str) -> None:
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
    pdf.cell(120, 5, "Verificați acest certificat / Verify this certificate:")
    pdf.set_xy(22, y0 + 12)
    pdf.set_font(FAMILY, "", 9)
    pdf.set_text_color(*MUTED)
    pdf.cell(120, 5, url, link=url)
    pdf.set_xy(22, y0 + 18)
    pdf.multi_cell(
        120, 4.5,
        "Pagina de verificare confirmă numărul, programul, data și creditele; nu afișează"
        " date personale în afara inițialelor titularului.",
        align="L",
    )

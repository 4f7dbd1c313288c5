"""The PDF documents' common ground: fpdf2 with the shipped DejaVu Sans embedded.

fpdf2's built-in fonts are Latin-1 and cannot write ș or ț; the subset of DejaVu Sans in
``library/cme/fonts`` (see its README) is embedded instead, so the documents print the same
on any machine, whatever fonts it has.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

FONT_DIR = Path(__file__).parent / "fonts"
FAMILY = "DejaVu"
INK = (20, 28, 40)
MUTED = (95, 105, 120)
RULE = (200, 206, 214)


def new_document(*, landscape: bool = False, title: str = "", author: str = "MedRoom") -> FPDF:
    """An A4 document with DejaVu Sans (regular and bold) registered and selected."""
    pdf = FPDF(orientation="L" if landscape else "P", unit="mm", format="A4")
    pdf.add_font(FAMILY, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FAMILY, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_font(FAMILY, size=10)
    pdf.set_text_color(*INK)
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_creator("MedRoom")
    pdf.set_auto_page_break(auto=True, margin=15)
    return pdf


def to_bytes(pdf: FPDF) -> bytes:
    return bytes(pdf.output())

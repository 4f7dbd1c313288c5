"""The participant list (art. 6 alin. (5), art. 12 alin. (3)) and its files, built from the demo
programme's recorded attendance, and each file reopened and read back."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Iterator

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from library.cme.demo import DEMO_REF, ensure_demo_programme
from library.cme.participant_list import (
    ParticipantList,
    headers,
    participant_list,
    spreadsheet_cell,
    to_csv,
    to_pdf,
    to_xlsx,
)
from library.cme.store import get_programme
from library.cme.vault import CnpVault
from library.db import Database
from library.i18n import use
from tests.library.cme.conftest import DEMO_NOW as NOW


def the_list(db: Database, vault: CnpVault, programme_id: int, reveal: bool) -> ParticipantList:
    info = get_programme(db, programme_id)
    assert info is not None
    return participant_list(db, vault, info, reveal=reveal)


@pytest.fixture(autouse=True)
def romanian() -> Iterator[None]:
    """The College's copy: the list rendered in Romanian (it follows its reader's language)."""
    with use("ro"):
        yield


def test_a_serbian_reader_gets_the_list_in_serbian_with_serbian_dates(
        db: Database, vault: CnpVault, demo: int) -> None:
    with use("sr_Cyrl"):
        plist = the_list(db, vault, demo, reveal=False)
        rows = list(csv.reader(io.StringIO(to_csv(plist).decode("utf-8-sig"))))
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(to_pdf(plist))).pages)
    assert rows[0][:2] == ["Бр.", "Име и презиме"] and "Радно место" in rows[0]
    assert "Списак учесника" in text and "Lista participanților" not in text
    start = plist.info.starts_on
    serbian_date = f"{start.day}. {start.month}. {start.year}."  # 23. 11. 2026.
    assert serbian_date in text, text[:400]
    assert f"{start:%d.%m.%Y}" not in text  # not the Romanian form
    assert re.search(r"\d+ бод(а|ова)? КМЕ за пуно присуство", text)


def test_demo_is_built_once(db: Database, vault: CnpVault, demo: int) -> None:
    assert ensure_demo_programme(db, vault, now=NOW) == demo
    info = get_programme(db, demo)
    assert info is not None and info.ref == DEMO_REF and info.status.value == "submitted"


def test_art_6_5_rows_carry_the_columns_and_the_engines_credits(
    db: Database, vault: CnpVault, demo: int
) -> None:
    plist = the_list(db, vault, demo, reveal=False)
    # 2 h 35 min effective at a national event: 2.58 h -> 3 credits (art. 14 lit. b, 5 lit. h).
    assert plist.programme_credits == 3
    rows = {r.person_id: r for r in plist.rows}
    assert [r.person_id for r in plist.rows][:2] == ["guest-rezident-7f3a", "demo.ionescu"]
    ionescu = rows["demo.ionescu"]
    assert (ionescu.full_name, ionescu.specialty, ionescu.grade, ionescu.credits) == (
        "Maria-Ștefania Ionescu", "neurochirurgie", "medic specialist", 3)
    assert ionescu.cnp.startswith("•••••••••") and ionescu.qualified
    # Țurcanu dropped out 09:50-10:10: absent, no credits (art. 5 lit. a).
    turcanu = rows["demo.turcanu"]
    assert (turcanu.qualified, turcanu.credits) == (False, 0)
    assert "art. 5 lit. a" in turcanu.note and "art. 5 lit. a" in turcanu.explanation
    # The guest was there throughout but has no profile: on the list, flagged.
    assert plist.missing_profiles == ("guest-rezident-7f3a",)
    assert rows["guest-rezident-7f3a"].cnp == "" and "fără profil" in rows[
        "guest-rezident-7f3a"].note


def test_art_6_5_csv_reopened(db: Database, vault: CnpVault, demo: int) -> None:
    plist = the_list(db, vault, demo, reveal=True)
    data = to_csv(plist)
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM spreadsheet programs need for ș ț
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == headers() and "Nume și prenume" in rows[0]
    by_name = {r[1]: r for r in rows[1:]}
    assert by_name["Andrei Țurcanu"][6] == "0"
    assert by_name["Marko Jovanović"][6] == "3"
    assert len(by_name["Marko Jovanović"][2]) == 13 and by_name["Marko Jovanović"][2].isdigit()
    assert len(rows) == 1 + 4


def test_art_6_5_xlsx_reopened(db: Database, vault: CnpVault, demo: int) -> None:
    plist = the_list(db, vault, demo, reveal=True)
    sheet = load_workbook(io.BytesIO(to_xlsx(plist))).active
    assert sheet is not None and sheet.title == "Participanți"
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    header_at = values.index(list(headers()))
    body = {r[1]: r for r in values[header_at + 1:]}
    assert "Endoscopie nazosinusală" in str(values[0][0])
    assert body["Maria-Ștefania Ionescu"][6] == 3
    cnp = body["Maria-Ștefania Ionescu"][2]
    assert isinstance(cnp, str) and len(cnp) == 13  # kept as text, every digit
    assert body["Andrei Țurcanu"][4] == "medic primar"


def test_art_6_5_printable_pdf_reopened(db: Database, vault: CnpVault, demo: int) -> None:
    masked = the_list(db, vault, demo, reveal=False)
    pdf = PdfReader(io.BytesIO(to_pdf(masked)))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    for expected in ("Lista participanților", "Maria-Ștefania Ionescu", "Andrei Țurcanu",
                     "Locul de muncă", "Spitalul Clinic Județean de Urgență", "neurochirurgie",
                     "art. 6 alin. (5)", "3 credite EMC"):
        assert expected in text, expected
    # The masked PDF carries no full CNP; the revealed one does.
    full = the_list(db, vault, demo, reveal=True)
    cnps = [r.cnp for r in full.rows if r.cnp]
    assert not any(c in text for c in cnps)
    revealed = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(to_pdf(full))).pages)
    assert all(c in revealed for c in cnps)
    # The font is embedded (the document prints the same anywhere).
    fonts = {str(f) for page in pdf.pages for f in page["/Resources"]["/Font"].values()}
    assert fonts
    descriptor = pdf.pages[0]["/Resources"]["/Font"]
    first = next(iter(descriptor.values())).get_object()
    assert "DejaVu" in str(first["/BaseFont"])


#: Names a participant could type (or a guest's display name could carry) that a spreadsheet
#: would evaluate: a link that leaks the row, a command, arithmetic, a function, and the tab and
#: carriage return that Excel skips before looking for a formula.
FORMULAS = ('=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-1+1", "@SUM(1+1)",
            "\t=1+1", "\r=1+1")


def _with_names(plist: ParticipantList) -> ParticipantList:
    rows = tuple(dataclasses.replace(row, full_name=name, workplace=name)
                 for row, name in zip(plist.rows, FORMULAS, strict=False))
    return dataclasses.replace(plist, rows=rows)


def test_formula_names_are_plain_text_in_the_csv(db: Database, vault: CnpVault, demo: int) -> None:
    plist = _with_names(the_list(db, vault, demo, reveal=True))
    rows = list(csv.reader(io.StringIO(to_csv(plist).decode("utf-8-sig"), newline="")))
    names = [r[1] for r in rows[1:]]
    assert names == ["'" + name for name in FORMULAS[:len(names)]]
    assert [r[5] for r in rows[1:]] == names
    assert all(r[6].isdigit() for r in rows[1:])  # credits stay numbers
    assert spreadsheet_cell("Maria-Ștefania Ionescu") == "Maria-Ștefania Ionescu"
    assert spreadsheet_cell(-3) == -3


def test_formula_names_are_string_cells_in_the_xlsx(db: Database, vault: CnpVault, demo: int) -> None:
    plist = _with_names(the_list(db, vault, demo, reveal=True))
    sheet = load_workbook(io.BytesIO(to_xlsx(plist))).active
    assert sheet is not None
    rows = list(sheet.iter_rows())
    header_at = [[c.value for c in r] for r in rows].index(list(headers()))
    body = rows[header_at + 1:]
    assert len(body) == len(plist.rows) >= 4
    for row, name in zip(body, FORMULAS, strict=False):
        for cell in (row[1], row[5]):
            assert cell.data_type == "s" and cell.value == "'" + name, (cell.value, name)
        assert row[6].data_type == "n" and isinstance(row[6].value, int)

"""The participant list of a programme (art. 6 alin. (5), art. 12 alin. (3)), as rows and files.

After a programme the organiser sends the College the list of participants, printed and
electronic, with each one's name, CNP, specialty, professional grade and workplace; MedRoom adds
the credits the engine computed from the recorded attendance (and the final test, where there
is one), so the list is also what certificates are issued from (art. 24 alin. (5)).

Rows carry the CNP masked unless the caller asks to reveal it (an organiser's or an admin's
export, which the caller logs). The files are CSV (UTF-8 with a byte-order mark, which
spreadsheet programs need to read diacritics right), xlsx and a printable A4 PDF.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from fpdf.fonts import FontFace
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from library.cme.attendance import ChecksMissed, Participation, test_outcome
from library.cme.credits import attendee_credits, programme_credits
from library.cme.participants import Profile, profiles_by_username, reveal_cnp
from library.cme.participation import describe
from library.cme.pdf import FAMILY, MUTED, new_document, to_bytes
from library.cme.store import ProgrammeInfo, presence_for
from library.cme.vault import CnpVault
from library.db import Database
from library.i18n import formats, gettext, lazy, ngettext, shown

HEADINGS_TEXT = (
    lazy("No."), lazy("Full name"), "CNP", lazy("Specialty"), lazy("Professional grade"),
    lazy("Workplace"), lazy("CME credits"), lazy("Remarks"),
    lazy("Participation in the live sessions"),
)


def headers() -> tuple[str, ...]:
    """The columns, in the current language (the viewer's; Romanian for the College's copy)."""
    return tuple(shown(h) for h in HEADINGS_TEXT)


#: The columns in English (the source language), as code and tests name them.
HEADERS = tuple(str(h) for h in HEADINGS_TEXT)

#: What a spreadsheet takes for the start of a formula (OWASP "CSV Injection"): = + - @, and a
#: tab, carriage return or line feed, which some programs skip before looking for one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")

HEADINGS = FontFace(family=FAMILY, emphasis="BOLD", color=(255, 255, 255),
                    fill_color=(31, 58, 95))


@dataclass(frozen=True)
class ParticipantRow:
    person_id: str
    user_id: int | None
    full_name: str
    cnp: str
    """Masked, plain when revealed, empty when the participant has no profile."""
    specialty: str
    grade: str
    workplace: str
    credits: int
    qualified: bool
    test_passed: bool | None
    """None when the programme has no final test."""
    note: str
    """What a reader should know, in the language of whoever the list is made for."""
    explanation: str
    proof: str = ""
    """How presence was proven: "own device", "in Hall A, Pleven with 3 of 4 checks"."""
    sessions: tuple[SessionParticipation, ...] = ()
    """What they did in each live session's classroom, and its presence-check outcome."""

    @property
    def participation(self) -> str:
        """"live 7: 2 questions · presence checks 1 of 4 (50 % asked: not met)", in the
        current language."""
        return "; ".join(filter(None, (s.summary() for s in self.sessions)))


@dataclass(frozen=True)
class SessionParticipation:
    live_session_id: int
    done: Participation
    required_percent: int
    """The programme's presence-check share (0: none asked)."""

    @property
    def checks_met(self) -> bool | None:
        """None when nothing is required of this person here (no share, or no check theirs)."""
        if not self.required_percent or not self.done.checks_asked:
            return None
        return self.done.checks_answered * 100 >= self.required_percent * self.done.checks_asked

    def summary(self) -> str:
        words = describe(self.done)
        if not words:
            return ""
        met = self.checks_met
        if met is not None:
            percent = formats.format_percent(self.required_percent / 100)
            words = (gettext("%(activity)s (%(percent)s asked: met)", activity=words,
                             percent=percent) if met else
                     gettext("%(activity)s (%(percent)s asked: not met)", activity=words,
                             percent=percent))
        return gettext("live %(id)s: %(activity)s", id=self.live_session_id, activity=words)


@dataclass(frozen=True)
class ParticipantList:
    info: ProgrammeInfo
    programme_credits: int
    rows: tuple[ParticipantRow, ...]
    revealed: bool

    @property
    def missing_profiles(self) -> tuple[str, ...]:
        return tuple(r.person_id for r in self.rows if r.user_id is None)


@dataclass(frozen=True)
class LazyNote:
    """A participant's remarks, phrased when shown (``str()``) in the current language."""

    qualified: bool
    test_passed: bool | None
    has_profile: bool
    gaps: int
    missed: tuple[ChecksMissed, ...] = ()

    def __str__(self) -> str:
        parts = []
        if self.qualified:
            parts.append(gettext("present throughout, test passed") if self.test_passed
                         else gettext("present throughout"))
        else:
            if self.gaps:
                parts.append(gettext("absent for part of the programme (art. 5 lit. a)"))
            for m in self.missed:
                parts.append(ngettext(
                    "answered %(answered)s of %(num)s presence check in live session %(unit)s;"
                    " the programme asks for %(percent)s",
                    "answered %(answered)s of %(num)s presence checks in live session %(unit)s;"
                    " the programme asks for %(percent)s",
                    m.asked, answered=m.answered, unit=m.unit,
                    percent=formats.format_percent(m.required_percent / 100)))
            if self.test_passed is False:
                parts.append(gettext("test not passed"))
        if not self.has_profile:
            parts.append(gettext("no profile: CNP and professional data missing"))
        return "; ".join(parts)

    def __html__(self) -> str:
        from markupsafe import escape

        return str(escape(str(self)))


def _note(qualified: bool, test_passed: bool | None, has_profile: bool, gaps: int,
          missed: tuple[ChecksMissed, ...] = ()) -> str:
    return str(LazyNote(qualified, test_passed, has_profile, gaps, missed))


def participant_list(
    db: Database, vault: CnpVault, info: ProgrammeInfo, *, reveal: bool = False
) -> ParticipantList:
    """Everyone who attended, with the engine's credits; qualified participants first."""
    presence = presence_for(db, info)
    results = attendee_credits(
        info.programme, [p.record for p in presence], tolerance_seconds=info.drop_tolerance_seconds
    )
    profiles = profiles_by_username(db, vault, (p.person_id for p in presence))
    plain = (
        reveal_cnp(db, vault, (pr.user_id for pr in profiles.values())) if reveal else {}
    )
    tested = info.programme.final_test is not None or info.programme.kind.is_distance
    rows = []
    for p in presence:
        result = results[p.person_id]
        outcome = test_outcome(info.programme, p.record)
        profile: Profile | None = profiles.get(p.person_id)
        test_passed = outcome.passed if tested else None
        rows.append(ParticipantRow(
            person_id=p.person_id,
            user_id=profile.user_id if profile else None,
            full_name=profile.full_name if profile else p.display_name,
            cnp=(plain[profile.user_id] if reveal else profile.cnp_masked) if profile else "",
            specialty=profile.specialty if profile else "",
            grade=profile.grade.label if profile else "",
            workplace=profile.workplace if profile else "",
            credits=result.credits, qualified=result.qualified, test_passed=test_passed,
            note=_note(result.qualified, test_passed, profile is not None, len(result.gaps),
                       result.checks_missed),
            explanation=result.explain(), proof="; ".join(p.proof),
            sessions=tuple(
                SessionParticipation(int(live), done, info.programme.presence_check_percent)
                for live, done in sorted(p.record.participation.items(),
                                         key=lambda kv: int(kv[0]))),
        ))
    rows.sort(key=lambda r: (not r.qualified, r.full_name.casefold(), r.person_id))
    return ParticipantList(
        info, programme_credits(info.programme).credits, tuple(rows), revealed=reveal
    )


def _cells(index: int, row: ParticipantRow) -> list[str | int]:
    return [index, row.full_name, row.cnp, row.specialty, row.grade, row.workplace, row.credits,
            str(row.note), row.participation]


def spreadsheet_cell(value: str | int) -> str | int:
    """A cell as a spreadsheet must read it, for the CSV and the xlsx alike: numbers stay
    numbers; text that a spreadsheet would evaluate (a participant named ``=HYPERLINK(...)``)
    gets a leading single quote, so Excel and LibreOffice show it instead of running it."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _append(sheet: Worksheet, values: list[str | int]) -> None:
    """One xlsx row; text cells are stored as strings (``t="s"``), never as formulas."""
    sheet.append([spreadsheet_cell(v) for v in values])
    for column, value in enumerate(values, start=1):
        if isinstance(value, str):
            sheet.cell(row=sheet.max_row, column=column).data_type = "s"


def filename(plist: ParticipantList, extension: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in plist.info.ref)
    # Translators: a file name: lower case, no spaces, Latin letters only.
    return gettext("participant-list-%(ref)s.%(extension)s", ref=safe, extension=extension)


def to_csv(plist: ParticipantList) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers())
    for index, row in enumerate(plist.rows, start=1):
        writer.writerow([spreadsheet_cell(c) for c in _cells(index, row)])
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(plist: ParticipantList) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = gettext("Participants")[:31]
    info = plist.info
    _append(sheet, [gettext("Participant list — %(title)s", title=info.title)])
    dates = _dates(info.starts_on, info.ends_on)
    credits = ngettext("%(num)s CME credit", "%(num)s CME credits", plist.programme_credits)
    _append(sheet, [f"{info.ref} · {info.organiser} · {dates} · {credits}"])
    sheet.append([])
    _append(sheet, list(headers()))
    header_row = sheet.max_row
    for index, row in enumerate(plist.rows, start=1):
        _append(sheet, _cells(index, row))
        # A CNP is an identifier, not a number: as text it keeps every digit exactly.
        sheet.cell(row=sheet.max_row, column=3).number_format = "@"
    sheet["A1"].font = Font(bold=True, size=13)
    for cell in sheet[header_row]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="1F3A5F")
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    for column, width in zip("ABCDEFGHI", (5, 30, 16, 22, 20, 34, 12, 40, 40), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _dates(start: date, end: date) -> str:
    """The programme's dates in the reader's language ('3. 12. 2026.' in Serbian)."""
    first = formats.format_date(start, "medium")
    return first if start == end else f"{first} – {formats.format_date(end, 'medium')}"


def to_pdf(plist: ParticipantList) -> bytes:
    info = plist.info
    pdf = new_document(landscape=True,
                       title=gettext("Participant list — %(title)s", title=info.title))
    pdf.add_page()
    pdf.set_font(FAMILY, "B", 14)
    pdf.multi_cell(0, 7, gettext("Participant list"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, "", 11)
    pdf.multi_cell(0, 6, info.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, "", 9)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(
        0, 5,
        " · ".join((
            info.ref, gettext("organiser: %(name)s", name=info.organiser),
            _dates(info.starts_on, info.ends_on),
            ngettext("%(num)s CME credit for full attendance",
                     "%(num)s CME credits for full attendance", plist.programme_credits),
            gettext("art. 6 alin. (5) and art. 12 alin. (3) of the standard crediting procedure"
                    " (CMR)"))),
        new_x="LMARGIN", new_y="NEXT", align="L",
    )
    pdf.set_text_color(0, 0, 0)
    pdf.ln(3)
    pdf.set_font(FAMILY, "", 8.5)
    with pdf.table(
        col_widths=(7, 36, 27, 27, 24, 36, 13, 50, 47),
        text_align=("RIGHT", "LEFT", "LEFT", "LEFT", "LEFT", "LEFT", "RIGHT", "LEFT", "LEFT"),
        line_height=4.6, repeat_headings=1,
        headings_style=HEADINGS,
    ) as table:
        table.row(headers())
        for index, row in enumerate(plist.rows, start=1):
            table.row([str(c) for c in _cells(index, row)])
    pdf.ln(4)
    pdf.set_font(FAMILY, "", 8)
    pdf.set_text_color(*MUTED)
    qualified = sum(r.qualified for r in plist.rows)
    percent = info.programme.presence_check_percent
    pdf.multi_cell(
        0, 4.5,
        " ".join(filter(None, (
            ngettext("%(num)s participant, %(qualified)s of them present throughout.",
                     "%(num)s participants, %(qualified)s of them present throughout.",
                     len(plist.rows), qualified=qualified),
            gettext("MedRoom computes the credits from the attendance recorded in the live"
                    " sessions."),
            gettext("The programme asks each attendee to answer at least %(percent)s of the"
                    " presence checks of every live session watched on their own device.",
                    percent=formats.format_percent(percent / 100)) if percent else "",
            "" if plist.revealed else gettext("CNP masked: only the organiser can export it in"
                                              " full."),
        ))),
        new_x="LMARGIN", new_y="NEXT", align="L",
    )
    return to_bytes(pdf)


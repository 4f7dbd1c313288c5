"""CME (EMC) credits under the Romanian College of Physicians' standard crediting procedure.

Pure domain code: frozen dataclasses and enums in, plain values out. ``programme`` describes
a programme, ``checker`` lists what breaks the procedure, ``credits`` computes credits for the
programme and for each participant, ``attendance`` decides full presence and test results, ``totals`` adds a doctor's credits
across programmes.
"""

from library.cme.attendance import AttendeeRecord, Gap, TestAttempt, presence_gaps, test_outcome
from library.cme.checker import Finding, Severity, check_programme
from library.cme.credits import (
    AttendeeCredits,
    CreditResult,
    Step,
    attendee_credits,
    creditable_hours,
    programme_credits,
    round_credits,
)
from library.cme.errors import ProgrammeError
from library.cme.programme import (
    AgendaItem,
    Contributor,
    ContributorRole,
    DistanceMaterial,
    FinalTest,
    ItemKind,
    Lesson,
    Level,
    Organiser,
    OrganiserKind,
    Paper,
    Programme,
    ProgrammeKind,
    Speaker,
    Sponsor,
)
from library.cme.totals import Award, Exclusion, Total, total_credits

__all__ = [
    "AgendaItem",
    "AttendeeCredits",
    "AttendeeRecord",
    "Award",
    "Contributor",
    "ContributorRole",
    "CreditResult",
    "DistanceMaterial",
    "Exclusion",
    "FinalTest",
    "Finding",
    "Gap",
    "ItemKind",
    "Lesson",
    "Level",
    "Organiser",
    "OrganiserKind",
    "Paper",
    "Programme",
    "ProgrammeError",
    "ProgrammeKind",
    "Severity",
    "Speaker",
    "Sponsor",
    "Step",
    "TestAttempt",
    "Total",
    "attendee_credits",
    "check_programme",
    "creditable_hours",
    "presence_gaps",
    "programme_credits",
    "round_credits",
    "test_outcome",
    "total_credits",
]

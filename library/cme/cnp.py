"""The Romanian personal numeric code (codul numeric personal, CNP), which the participant list
of a CME programme must carry for every doctor (art. 6 alin. (5), art. 12 alin. (3)).

A CNP is ``S YY MM DD JJ NNN C``: S gives sex and century of birth, YYMMDD the birth date, JJ the
county (or Bucharest sector) of registration, NNN a serial number and C a check digit computed
with the key 279146358279. ``validate`` refuses a code for the first rule it breaks, with a
message that says what is wrong and what to check; ``mask`` is how everyone but an organiser or
an admin who asked to reveal it sees a CNP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

CHECK_KEY = "279146358279"
LENGTH = 13

# S: sex and century. 1/2 born 1900-1999, 3/4 1800-1899, 5/6 2000-2099 (odd: male, even:
# female); 7/8 foreign residents and 9 foreigners, whose century the code does not say.
CENTURY_BY_SEX_DIGIT = {"1": 1900, "2": 1900, "3": 1800, "4": 1800, "5": 2000, "6": 2000}
FOREIGN_SEX_DIGITS = frozenset("789")

# JJ: 01-46 the counties in alphabetical order and Bucharest (40) with its sectors 1-6 (41-46),
# 47-48 the former Bucharest sectors 7 and 8, 51 Călărași, 52 Giurgiu, 70 a code given
# regardless of county (foreign citizens).
COUNTY_CODES = frozenset(
    {f"{n:02d}" for n in range(1, 49)} | {"51", "52", "70"}
)

MASK_CHAR = "•"
VISIBLE_DIGITS = 4


class CnpError(ValueError):
    """A CNP that cannot be a real one; the message says which rule it breaks."""


@dataclass(frozen=True)
class Cnp:
    """A valid CNP and what it says."""

    digits: str
    birth_date: date
    county: str

    def __str__(self) -> str:
        return self.digits

    @property
    def masked(self) -> str:
        return mask(self.digits)


def check_digit(first_twelve: str) -> int:
    """The 13th digit: the first twelve weighted by 279146358279, modulo 11 (10 becomes 1)."""
    total = sum(int(d) * int(k) for d, k in zip(first_twelve, CHECK_KEY, strict=True))
    rest = total % 11
    return 1 if rest == 10 else rest


def validate(text: str, *, today: date | None = None) -> Cnp:
    """The CNP in ``text`` (spaces allowed between groups), or ``CnpError`` naming the fault."""
    digits = "".join(text.split())
    if not digits:
        raise CnpError("the CNP is empty: enter the 13 digits of your personal numeric code")
    if not digits.isascii() or not digits.isdigit():
        raise CnpError(
            "the CNP must contain digits only; the one entered contains"
            f" {_first_non_digit(digits)!r}"
        )
    if len(digits) != LENGTH:
        raise CnpError(
            f"a CNP has {LENGTH} digits; the one entered has {len(digits)}: check for a"
            " missing or an extra digit"
        )
    sex = digits[0]
    if sex == "0":
        raise CnpError(
            "the first digit of a CNP (sex and century of birth) is 1 to 9, not 0: check the"
            " first digit"
        )
    today = today or date.today()
    year_in_century, month, day = int(digits[1:3]), int(digits[3:5]), int(digits[5:7])
    if sex in FOREIGN_SEX_DIGITS:
        # The code does not say the century: the latest one that is not in the future.
        year = 2000 + year_in_century
        if year > today.year:
            year -= 100
    else:
        year = CENTURY_BY_SEX_DIGIT[sex] + year_in_century
    if not 1 <= month <= 12:
        raise CnpError(
            f"digits 4-5 of a CNP are the month of birth (01-12), not {digits[3:5]}: check the"
            " birth date part (digits 2-7, YYMMDD)"
        )
    try:
        born = date(year, month, day)
    except ValueError:
        raise CnpError(
            f"digits 2-7 of the CNP ({digits[1:7]}) are not a real birth date: {year}-{month:02d}"
            f" has no day {day:02d}; check the birth date part (YYMMDD)"
        ) from None
    if born > today:
        raise CnpError(
            f"the CNP's birth date {born.isoformat()} is in the future: check the first digit"
            " (century) and digits 2-7 (YYMMDD)"
        )
    county = digits[7:9]
    if county not in COUNTY_CODES:
        raise CnpError(
            f"digits 8-9 of a CNP are the county code (01-48, 51, 52 or 70), not {county}: check"
            " those two digits"
        )
    if digits[9:12] == "000":
        raise CnpError(
            "digits 10-12 of a CNP are a serial number from 001 to 999, not 000: check those"
            " three digits"
        )
    expected = check_digit(digits[:12])
    if int(digits[12]) != expected:
        raise CnpError(
            f"the CNP's check digit (the last one) is {digits[12]}, but the first twelve digits"
            f" give {expected}: one of the digits is mistyped, check them all"
        )
    return Cnp(digits, born, county)


def mask(digits: str) -> str:
    """Only the last four digits (serial number and check digit), e.g. ``•••••••••3456``.

    The first seven digits are sex, century and birth date, and digits 8-9 the county of
    birth or registration: personal data a list must not show to whoever reads it. The last
    four tell two participants apart on a screen and can be matched against a paper list, and
    say nothing about the person.
    """
    if len(digits) <= VISIBLE_DIGITS:
        return MASK_CHAR * len(digits)
    return MASK_CHAR * (len(digits) - VISIBLE_DIGITS) + digits[-VISIBLE_DIGITS:]


def _first_non_digit(text: str) -> str:
    return next(c for c in text if not (c.isascii() and c.isdigit()))

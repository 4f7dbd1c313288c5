"""The CNP on the participant list (art. 6 alin. (5), art. 12 alin. (3)): validated digit by
digit with a message per fault, and masked so that nothing of the birth date shows."""

from __future__ import annotations

from datetime import date

import pytest

from library.cme.cnp import CnpError, check_digit, mask, validate

TODAY = date(2026, 11, 23)


def cnp(first_twelve: str) -> str:
    return first_twelve + str(check_digit(first_twelve))


def test_art_6_5_a_valid_cnp_gives_birth_date_and_county() -> None:
    # 1 = man born 1900-1999; 800101 = 1 January 1980; 22 = Iași; 001; check digit.
    code = cnp("180010122001")
    parsed = validate(code, today=TODAY)
    assert (parsed.birth_date, parsed.county) == (date(1980, 1, 1), "22")
    # Spaces between the groups are how people copy it from an ID card.
    assert validate("1 800101 22 001 " + code[-1], today=TODAY).digits == code


def test_art_6_5_check_digit_uses_the_279146358279_key() -> None:
    # By hand: 1*2+8*7+0*9+0*1+1*4+0*6+1*3+2*5+2*8+0*2+0*7+1*9 = 100; 100 mod 11 = 1.
    assert check_digit("180010122001") == 1
    # A remainder of 10 becomes 1 (the first such code of Iași, found by search).
    twelve = next(f"1800101{n:05d}" for n in range(22001, 22999)
                  if sum(int(d) * int(k) for d, k in zip(f"1800101{n:05d}", "279146358279",
                                                         strict=True)) % 11 == 10)
    assert check_digit(twelve) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the CNP is empty"),
        ("18001012200a1", "digits only; the one entered contains 'a'"),
        ("180010122001", "a CNP has 13 digits; the one entered has 12"),
        ("18001012200111", "the one entered has 14"),
        ("080010122001" + "1", "first digit of a CNP (sex and century of birth) is 1 to 9"),
        (cnp("180130122001"), "month of birth (01-12), not 13"),
        (cnp("190022922001"), "1990-02 has no day 29"),  # 1990 is not a leap year
        (cnp("550010122001"), "in the future"),  # 5 = born 2000-2099: 2055
        (cnp("180010149001"), "county code (01-48, 51, 52 or 70), not 49"),
        (cnp("180010122000"), "serial number from 001 to 999, not 000"),
    ],
)
def test_art_6_5_each_fault_has_its_own_message(text: str, message: str) -> None:
    with pytest.raises(CnpError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate(text, today=TODAY)


def test_art_6_5_a_mistyped_digit_is_caught_by_the_check_digit() -> None:
    good = cnp("285071112345")
    wrong = good[:12] + str((int(good[12]) + 1) % 10)
    with pytest.raises(CnpError, match=f"check digit .* is {wrong[12]}, but the first twelve"
                                       f" digits give {good[12]}"):
        validate(wrong, today=TODAY)


def test_art_6_5_leap_day_and_the_centuries() -> None:
    assert validate(cnp("600022940001"), today=TODAY).birth_date == date(2000, 2, 29)
    assert validate(cnp("300010140001"), today=TODAY).birth_date == date(1800, 1, 1)
    # 7/8/9 (foreign residents): the century is the latest that is not in the future.
    assert validate(cnp("790010170001"), today=TODAY).birth_date == date(1990, 1, 1)
    assert validate(cnp("705010170001"), today=TODAY).birth_date == date(2005, 1, 1)


def test_the_error_never_quotes_the_cnp() -> None:
    """Messages reach logs and screens: a mistyped CNP is still nearly someone's CNP."""
    wrong = cnp("180010122001")[:12] + "9"
    with pytest.raises(CnpError) as caught:
        validate(wrong, today=TODAY)
    assert "1800101" not in str(caught.value)


def test_mask_shows_nothing_of_sex_birth_date_or_county() -> None:
    code = cnp("285071112345")
    masked = mask(code)
    assert masked == "•••••••••" + code[-4:]
    assert len(masked) == 13 and code[:9] not in masked

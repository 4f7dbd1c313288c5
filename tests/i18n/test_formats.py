"""Dates, times, numbers, durations and plurals as each language writes them, on each viewer's
own clock; the daylight-saving changes of 2026 (the last Sundays of March and October, 29 March
and 25 October, at 01:00 UTC in the whole EU) in Bucharest (EET/EEST) and Belgrade (CET/CEST);
Serbian Latin derived letter for letter from Cyrillic."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from library.i18n import formats, gettext, lazy, ngettext, shown, use
from library.i18n.catalogs import translations
from library.i18n.serbian import to_latin
from library.login_throttle import LoginThrottle, LoginThrottled
from web.throttle_text import login_throttled, span

BUCHAREST = ZoneInfo("Europe/Bucharest")
# A session planned in Timișoara for 10:00 on a winter Saturday: 08:00 UTC.
PLANNED = datetime(2026, 12, 5, 10, 0, tzinfo=BUCHAREST)


def test_a_session_planned_in_bucharest_at_ten_is_at_nine_in_belgrade() -> None:
    stored = PLANNED.astimezone(UTC).replace(tzinfo=None)  # as SQLite hands it back
    with use("ro", "Europe/Bucharest"):
        assert formats.format_time(stored) == "10:00"
        assert formats.format_datetime(stored, "medium", with_zone=True) == "5 dec. 2026, 10:00:00 EET"
        assert formats.zone_name() == "București"
    with use("sr_Cyrl", "Europe/Belgrade"):
        assert formats.format_time(stored) == "09:00"
        assert formats.format_datetime(stored, with_zone=True) == "5. 12. 2026. 09:00:00 CET"
        assert formats.zone_name() == "Београд"
    with use("sr_Latn", "Europe/Belgrade"):
        assert formats.format_datetime(stored, "full") == (
            "subota, 5. decembar 2026. 09:00:00 Srednjeevropsko standardno vreme")
    with use("bg", "Europe/Sofia"):
        assert formats.format_time(stored) == "10:00"
        assert formats.format_date(stored, "long") == "5 декември 2026\u202fг."  # narrow space
    # The zone of the viewer, not the language, moves the clock.
    with use("ro", "Europe/Belgrade"):
        assert formats.format_time(stored) == "09:00"


@pytest.mark.parametrize(("utc", "bucharest", "belgrade"), [
    # Spring forward, 29 March 2026: 03:00 EET -> 04:00 EEST, 02:00 CET -> 03:00 CEST.
    (datetime(2026, 3, 29, 0, 59), "02:59 EET", "01:59 CET"),
    (datetime(2026, 3, 29, 1, 0), "04:00 EEST", "03:00 CEST"),
    (datetime(2026, 3, 29, 8, 0), "11:00 EEST", "10:00 CEST"),
    # Fall back, 25 October 2026: 04:00 EEST -> 03:00 EET, 03:00 CEST -> 02:00 CET; the hour
    # before the change and the hour after read the same on the wall, an hour apart.
    (datetime(2026, 10, 25, 0, 30), "03:30 EEST", "02:30 CEST"),
    (datetime(2026, 10, 25, 1, 30), "03:30 EET", "02:30 CET"),
    (datetime(2026, 10, 25, 8, 0), "10:00 EET", "09:00 CET"),
])
def test_daylight_saving_changes_in_both_zones(utc: datetime, bucharest: str,
                                               belgrade: str) -> None:
    with use("ro", "Europe/Bucharest"):
        assert formats.format_time(utc, with_zone=True) == bucharest
    with use("ro", "Europe/Belgrade"):
        assert formats.format_time(utc, with_zone=True) == belgrade


def test_ten_oclock_in_bucharest_is_nine_in_belgrade_on_either_side_of_each_change() -> None:
    for day in (28, 29, 30):  # March: the Saturday before, the Sunday of, the Monday after
        stored = datetime(2026, 3, day, 10, 0, tzinfo=BUCHAREST).astimezone(UTC)
        with use("sr_Cyrl", "Europe/Belgrade"):
            assert formats.format_time(stored) == "09:00"
    for day in (24, 25, 26):  # October
        stored = datetime(2026, 10, day, 10, 0, tzinfo=BUCHAREST).astimezone(UTC)
        with use("sr_Cyrl", "Europe/Belgrade"):
            assert formats.format_time(stored) == "09:00"
    # The clock moved, not the offset between the two cities: 10:00 on the Sunday is 07:00 UTC
    # in March (EEST) and 08:00 UTC in October (EET).
    assert datetime(2026, 3, 29, 10, tzinfo=BUCHAREST).astimezone(UTC).hour == 7
    assert datetime(2026, 10, 25, 10, tzinfo=BUCHAREST).astimezone(UTC).hour == 8


def test_a_session_across_the_change_lasts_its_real_length() -> None:
    # 02:00 to 05:00 on the wall in Bucharest on 29 March is two hours, not three.
    start = datetime(2026, 3, 29, 2, 0, tzinfo=BUCHAREST)
    end = datetime(2026, 3, 29, 5, 0, tzinfo=BUCHAREST)
    seconds = (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds()
    with use("ro"):
        assert formats.format_duration(seconds) == "2 ore"
    # 02:00 to 05:00 on 25 October is four.
    start = datetime(2026, 10, 25, 2, 0, tzinfo=BUCHAREST)
    end = datetime(2026, 10, 25, 5, 0, tzinfo=BUCHAREST)
    seconds = (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds()
    with use("bg"):
        assert formats.format_duration(seconds) == "4 часа"


MINUTES = ("%(num)s minute", "%(num)s minutes")


@pytest.mark.parametrize(("locale", "num", "expected"), [
    # Romanian: one; few (0, 2-19 and numbers ending in 01-19); other takes "de".
    ("ro", 1, "1 minut"), ("ro", 2, "2 minute"), ("ro", 19, "19 minute"),
    ("ro", 20, "20 de minute"), ("ro", 101, "101 minute"), ("ro", 120, "120 de minute"),
    # Serbian: one (ends in 1, not 11); few (ends in 2-4, not 12-14); other.
    ("sr_Cyrl", 1, "1 минут"), ("sr_Cyrl", 2, "2 минута"), ("sr_Cyrl", 5, "5 минута"),
    ("sr_Cyrl", 11, "11 минута"), ("sr_Cyrl", 21, "21 минут"), ("sr_Cyrl", 22, "22 минута"),
    ("sr_Latn", 21, "21 minut"), ("sr_Latn", 22, "22 minuta"),
    # Bulgarian: one and other.
    ("bg", 1, "1 минута"), ("bg", 2, "2 минути"),
    ("en", 1, "1 minute"), ("en", 2, "2 minutes"),
])
def test_plural_forms(locale: str, num: int, expected: str) -> None:
    with use(locale):
        assert ngettext(*MINUTES, num) == expected


@pytest.mark.parametrize(("locale", "num", "expected"), [
    ("ro", 1, "1 secundă"), ("ro", 2, "2 secunde"), ("ro", 19, "19 secunde"),
    ("ro", 20, "20 de secunde"), ("ro", 101, "101 secunde"),
    # Serbian "try again in ...": the accusative, "за 1 секунду".
    ("sr_Cyrl", 1, "1 секунду"), ("sr_Cyrl", 2, "2 секунде"), ("sr_Cyrl", 5, "5 секунди"),
    ("sr_Cyrl", 11, "11 секунди"), ("sr_Cyrl", 21, "21 секунду"), ("sr_Cyrl", 22, "22 секунде"),
    ("bg", 1, "1 секунда"), ("bg", 2, "2 секунди"),
])
def test_plural_forms_of_seconds(locale: str, num: int, expected: str) -> None:
    with use(locale):
        assert ngettext("%(num)s second", "%(num)s seconds", num) == expected


def test_the_login_throttle_says_how_long_in_each_language() -> None:
    throttle = LoginThrottle(per_account=3, account_window=900, per_address=100,
                             address_window=60, clock=lambda: 1000.0)
    for _ in range(3):
        throttle.begin("marko", "10.0.0.1")
    with pytest.raises(LoginThrottled) as caught:
        throttle.begin("marko", "10.0.0.2")
    exc = caught.value
    with use("en"):  # as before: the English the log-in tests read
        assert login_throttled(exc) == str(exc) == (
            "Too many failed log-ins for this account (at most 3 in 15 minutes). "
            "Try again in 15 minutes.")
    with use("ro"):
        assert login_throttled(exc) == (
            "Prea multe încercări eșuate de autentificare pentru acest cont (cel mult 3 în "
            "15 minute). Încercați din nou peste 15 minute.")
    with use("sr_Cyrl"):
        assert login_throttled(exc) == ("Превише неуспелих пријава за овај налог (највише 3 "
                                        "за 15 минута). Покушајте поново за 15 минута.")
    with use("sr_Latn"):
        assert "Pokušajte ponovo za 15 minuta." in login_throttled(exc)
    with use("bg"):
        assert login_throttled(exc).endswith("Опитайте отново след 15 минути.")
    with use("ro"):
        assert span(60) == "60 de secunde" and span(1200) == "20 de minute"
        assert span(89) == "89 de secunde" and span(90) == "2 minute"


@pytest.mark.parametrize(("locale", "seconds", "expected"), [
    ("ro", 5400, "1 oră și 30 de minute"), ("ro", 45, "45 de secunde"),
    ("ro", 7260, "2 ore și 1 minut"),
    ("sr_Cyrl", 5400, "1 сат и 30 минута"), ("sr_Latn", 7260, "2 sata i 1 minut"),
    ("bg", 5400, "1 час и 30 минути"), ("bg", 7260, "2 часа и 1 минута"),
    ("en", 5400, "1 hour and 30 minutes"),
])
def test_durations(locale: str, seconds: int, expected: str) -> None:
    with use(locale):
        assert formats.format_duration(seconds) == expected


@pytest.mark.parametrize(("locale", "number", "percent"), [
    ("ro", "1.234,5", "50 %"), ("sr_Cyrl", "1.234,5", "50%"), ("sr_Latn", "1.234,5", "50%"),
    ("bg", "1 234,5", "50%"), ("en", "1,234.5", "50%"),
])
def test_numbers(locale: str, number: str, percent: str) -> None:
    with use(locale):
        assert formats.format_number(1234.5).replace("\u00a0", " ") == number
        assert formats.format_percent(0.5).replace("\u00a0", " ") == percent
        assert formats.format_clock(3723) == "1:02:03"  # a clock is the same everywhere


@pytest.mark.parametrize(("cyrillic", "latin"), [
    ("Љубав", "Ljubav"), ("ЉУБАВ", "LJUBAV"), ("Њива", "Njiva"), ("Џеп", "Džep"),
    ("ђак ћуприја жаба чаша шума", "đak ćuprija žaba čaša šuma"),
    ("Удаљене учионице", "Udaljene učionice"),
    ("%(num)s минута у %(place)s", "%(num)s minuta u %(place)s"),  # placeholders untouched
    ("MedRoom, DICOM, K7QM-4PX2", "MedRoom, DICOM, K7QM-4PX2"),
])
def test_serbian_latin_is_cyrillic_letter_for_letter(cyrillic: str, latin: str) -> None:
    assert to_latin(cyrillic) == latin


def test_the_latin_catalog_is_the_cyrillic_one_transliterated() -> None:
    cyrillic, latin = translations("sr_Cyrl"), translations("sr_Latn")
    for message in ("Classrooms", "Check in", ("Codes change every 30 seconds. During the "
                    "session the screen may ask for a new check: scan again then. One phone "
                    "checks in one person.")):
        assert cyrillic.gettext(message) != message
        assert latin.gettext(message) == to_latin(cyrillic.gettext(message))


def test_an_error_made_in_the_library_is_read_in_the_language_that_shows_it() -> None:
    message = lazy("You are checked in at %(place)s.", place=lazy("the operating room"))
    assert message == "You are checked in at the operating room."  # English as a str
    with use("ro"):
        assert shown(message) == "Prezența dumneavoastră a fost înregistrată: sala de operație."
    with use("bg"):
        assert shown(message) == "Присъствието ви е отбелязано: операционната зала."
    with use("sr_Latn"):
        assert gettext("Check in") == "Prijava prisustva"

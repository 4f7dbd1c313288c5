"""The remote classroom in the hall's and the phone's own language and clock (issue 13).

Headless Chromium as a Bulgarian hall's screen (a PC whose own clock is in New York: the screen
shows the classroom's time), as phones checking in in Romanian and Bulgarian (the account's
language wins over the phone's), and as two instructors planning across the border: a session
planned in Bucharest at 10:00 reads 10:00 in Timișoara and 09:00 in Smederevo. API errors follow
the request's language and keep their code. Screenshots in test-artifacts/ (and in
$MEDROOM_SHOTS/rooms/ when MEDROOM_SHOTS is set).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from library.db import Database
from library.users import Role, get_user_by_username, set_preferences
from tests.conftest import PASSWORD, Server, start_server
from tests.e2e.test_browser import ARTIFACTS, browser  # noqa: F401  (fixture)
from tests.web.classroom_helpers import add_users, login, open_screen, register

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
HD = {"width": 1366, "height": 768}


def shots_dir(part: str) -> Path | None:
    """Where a person looks at the screenshots too: $MEDROOM_SHOTS/<part> ("1": /work/wt/shots)."""
    value = os.environ.get("MEDROOM_SHOTS", "")
    if not value:
        return None
    root = Path("/work/wt/shots") if value.lower() in ("1", "true", "yes") else Path(value)
    (root / part).mkdir(parents=True, exist_ok=True)
    return root / part


def shoot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"i18n-{name}.png"))
    extra = shots_dir("rooms")
    if extra is not None:
        page.screenshot(path=str(extra / f"{name}.png"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    for server in start_server(tmp_path_factory.mktemp("classrooms-languages")):
        add_users(server, ("root", Role.ADMIN), ("ana", Role.STUDENT), ("ion", Role.STUDENT),
                  ("ro-doc", Role.INSTRUCTOR), ("sr-doc", Role.INSTRUCTOR))
        prefer(server, "ion", "bg", "Europe/Sofia")
        prefer(server, "ro-doc", "ro", "Europe/Bucharest")
        prefer(server, "sr-doc", "sr_Cyrl", "Europe/Belgrade")
        yield server


def prefer(server: Server, username: str, locale: str | None, zone: str | None) -> None:
    db = Database(f"sqlite:///{server.data_dir / 'medroom.db'}")
    try:
        user = get_user_by_username(db, username)
        assert user is not None
        set_preferences(db, user.id, locale=locale, time_zone=zone)
    finally:
        db.dispose()


def page_in(chromium, server: Server, username: str | None, locale: str, zone: str,  # type: ignore[no-untyped-def]
            link: str = "/", viewport: dict[str, int] = HD):
    """A browser speaking ``locale`` on ``zone``'s clock; logged in as ``username``."""
    context = chromium.new_context(viewport=viewport, locale=locale, timezone_id=zone,
                                   bypass_csp=True)
    page = context.new_page()
    page.goto(server.url + link)
    if username is not None:
        assert "/login" in page.url
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
    return context, page


def hall_clock(zone: str, back: int = 0) -> set[str]:
    """The wall clock of ``zone`` now and a minute on (the page may tick in between), and
    ``back`` minutes before."""
    now = datetime.now(UTC)
    return {(now + timedelta(minutes=m)).astimezone(ZoneInfo(zone)).strftime("%H:%M")
            for m in range(-back, 2)}


def test_the_hall_screen_and_the_phones_speak_their_languages(browser, server: Server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    admin, instructor = login(server, "root"), login(server, "dr-ana")
    pleven = register(admin, "Amfiteatrul Pleven", "Pleven")
    contexts = []
    try:
        # The hall's PC speaks Bulgarian; its own clock is set to New York.
        screen_ctx, screen = page_in(browser, server, None, "bg-BG", "America/New_York",
                                     "/screen")
        contexts.append(screen_ctx)
        assert screen.get_attribute("html", "lang") == "bg"
        assert "Изчаква се сдвояване" in screen.inner_text("#pair-status")
        screen.wait_for_function("document.getElementById('pair-left').textContent"
                                 ".includes('минут')")
        shoot(screen, "screen-pairing-bg")
        code = screen.inner_text("#pair-code")
        paired = admin.post(f"/api/classrooms/{pleven}/screens", json={"code": code})
        assert paired.status_code == 201, paired.text
        screen.wait_for_selector(".screen[data-state='waiting']", timeout=15_000)
        assert screen.get_attribute("html", "lang") == "bg"
        assert screen.inner_text("#overlay-text").startswith("Сесията още не е започнала")
        assert screen.inner_text("#conn-state") == "Изчаква се сесията"
        # The hall's clock: Sofia's time (the classroom's zone), not the PC's.
        screen.wait_for_function("document.getElementById('clock').textContent !== ''")
        assert screen.inner_text("#clock") in hall_clock("Europe/Sofia")
        assert screen.inner_text("#clock") not in hall_clock("America/New_York")
        shoot(screen, "screen-waiting-bg")

        live = instructor.post("/api/rooms/demo/live", json={"title": "Septoplastie"})
        assert live.status_code in (200, 201), live.text
        screen.wait_for_selector("#checkin-panel:not([hidden]) #checkin-qr[src^='data:image/svg']",
                                 timeout=20_000)
        assert screen.inner_text("#checkin-heading") == "Отбелязване на присъствие"
        assert "сканирайте, след като седнете" in screen.inner_text("#checkin-panel")
        shoot(screen, "screen-live-bg")

        # The same hall PC with its browser set to Romanian (its device cookie moved over).
        cookies = screen_ctx.cookies()
        screen_ctx, screen = page_in(browser, server, None, "ro-RO", "America/New_York",
                                     "/login")
        contexts.append(screen_ctx)
        screen_ctx.add_cookies(cookies)
        screen.goto(server.url + "/screen")
        screen.wait_for_selector("#checkin-panel:not([hidden]) #checkin-qr[src^='data:image/svg']",
                                 timeout=20_000)
        assert screen.get_attribute("html", "lang") == "ro"
        assert screen.inner_text("#checkin-heading") == "Înregistrarea prezenței"
        assert "Cod nou la fiecare 30 s" in screen.inner_text("#checkin-panel")
        assert screen.inner_text("#clock") in hall_clock("Europe/Sofia")
        shoot(screen, "screen-live-ro")

        # A Romanian phone scans the QR code: logged in, checked in, in Romanian, at its time.
        shown = screen.inner_text("#checkin-code").replace("-", "")
        ana_ctx, ana = page_in(browser, server, "ana", "ro-RO", "Europe/Bucharest",
                               f"/checkin?at={pleven}&code={shown}", PHONE)
        contexts.append(ana_ctx)
        ana.wait_for_selector(".phone-card[data-result='ok']")
        assert ana.get_attribute("html", "lang") == "ro"
        result = ana.inner_text("#checkin-result")
        assert "Prezență înregistrată" in result
        assert "Prezența dumneavoastră a fost înregistrată: Amfiteatrul Pleven, Pleven." in result
        at = re.search(r"ora (\d\d:\d\d)", result)
        assert at and at.group(1) in hall_clock("Europe/Bucharest", back=1), result
        shoot(ana, "checkin-ok-ro")
        ana.fill("#checkin-code", screen.inner_text("#checkin-code"))
        ana.click("#checkin-submit")
        ana.wait_for_selector(".phone-card[data-result='refused']")
        refused = ana.inner_text("#checkin-result")
        assert "Prezența nu a fost înregistrată" in refused
        assert "Prezența dumneavoastră este deja înregistrată pentru această verificare" in refused
        shoot(ana, "checkin-replay-ro")

        # Ion's account reads Bulgarian; his phone is set to English: the account wins.
        ion_ctx, ion = page_in(browser, server, "ion", "en-US", "Europe/Sofia",
                               f"/checkin?at={pleven}", PHONE)
        contexts.append(ion_ctx)
        assert ion.get_attribute("html", "lang") == "bg"
        ion.fill("#checkin-code", "AAAA-BBBB")
        ion.click("#checkin-submit")
        ion.wait_for_selector(".phone-card[data-result='refused']")
        assert "Това не е код за присъствие на сесия" in ion.inner_text("#checkin-result")
        shoot(ion, "checkin-unknown-bg")
        ion.fill("#checkin-code", screen.inner_text("#checkin-code"))
        ion.click("#checkin-submit")
        ion.wait_for_selector(".phone-card[data-result='ok']")
        assert "Присъствието ви е отбелязано: Amfiteatrul Pleven, Pleven." in ion.inner_text(
            "#checkin-result")
        shoot(ion, "checkin-ok-bg")
        screen.wait_for_function("document.getElementById('present-now').textContent === '2'",
                                 timeout=10_000)

        # The admin's page, on an account in Serbian (Belgrade) in a browser on UTC: the times
        # are the account's zone, formatted in Serbian.
        prefer(server, "root", "sr_Cyrl", "Europe/Belgrade")
        root_ctx, root = page_in(browser, server, "root", "en-GB", "UTC", "/classrooms")
        contexts.append(root_ctx)
        root.wait_for_selector(".screen-row")
        assert root.get_attribute("html", "lang") == "sr-Cyrl"
        row = root.inner_text(".screen-row").lower()  # the badge is in capitals (CSS)
        assert "приказује слику" in row or "неактиван" in row
        times = set(re.findall(r"\d\d:\d\d", row))
        assert times and times <= hall_clock("Europe/Belgrade", back=10), (row, times)
        assert not times & hall_clock("UTC", back=10), row
        shoot(root, "classrooms-admin-sr-Cyrl")
    finally:
        instructor.delete("/api/rooms/demo/live")
        for ctx in contexts:
            ctx.close()


def test_a_session_planned_in_bucharest_reads_ten_there_and_nine_in_belgrade(  # type: ignore[no-untyped-def]
        browser, server: Server) -> None:  # noqa: F811
    """The console lists the planned sessions: each instructor reads them on their own clock.
    Each browser is in its owner's city (as on the day); the test reads the time string only,
    whatever words surround it."""
    planner = login(server, "ro-doc")
    day = (datetime.now(ZoneInfo("Europe/Bucharest")) + timedelta(days=3)).date()
    starts = datetime(day.year, day.month, day.day, 10, 0, tzinfo=ZoneInfo("Europe/Bucharest"))
    planned = planner.post("/api/rooms/demo/schedule", json={
        "title": "Rinoplastie, demonstrație", "course": None,
        "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(minutes=30)).isoformat()})
    assert planned.status_code == 201, planned.text
    seen = {}
    contexts = []
    try:
        for user, locale, zone in (("ro-doc", "ro-RO", "Europe/Bucharest"),
                                   ("sr-doc", "sr-RS", "Europe/Belgrade")):
            context, page = page_in(browser, server, user, locale, zone, "/rooms/demo/console")
            contexts.append(context)
            page.wait_for_function("document.querySelector('#schedule-list')"
                                   ".textContent.includes('Rinoplastie')", timeout=15_000)
            item = page.locator("#schedule-list li", has_text="Rinoplastie")
            seen[user] = item.inner_text()
            item.screenshot(path=str(ARTIFACTS / f"i18n-schedule-{user}.png"))
            extra = shots_dir("rooms")
            if extra is not None:
                item.screenshot(path=str(extra / f"schedule-{user}.png"))
    finally:
        for context in contexts:
            context.close()
        planner.delete(f"/api/schedule/{planned.json()['id']}")
    assert re.search(r"\b10[:.]00\b", seen["ro-doc"]), seen
    assert not re.search(r"\b0?9[:.]00\b", seen["ro-doc"]), seen
    assert re.search(r"\b0?9[:.]00\b", seen["sr-doc"]), seen
    assert not re.search(r"\b10[:.]00\b", seen["sr-doc"]), seen


def test_api_errors_follow_the_request_language_and_keep_their_code(server: Server) -> None:
    admin = login(server, "root")
    for accept, detail in (
        ("en", "no classroom 9999"),
        ("ro-RO", "nu există sala la distanță 9999"),
        ("sr-Latn-RS", "nema udaljene učionice 9999"),
        ("sr-RS", "нема удаљене учионице 9999"),
        ("bg", "няма отдалечена зала 9999"),
    ):
        # The admin's own account setting (Serbian, from the test above) would win: reset it.
        prefer(server, "root", None, None)
        r = admin.get("/api/classrooms/9999/screens", headers={"Accept-Language": accept})
        assert r.status_code == 404 and r.json() == {"detail": detail,
                                                     "code": "classroom_not_found"}, r.text
    # A request that does not validate: the field list as it was, behind a translated prefix.
    r = admin.post("/api/classrooms", json={"name": "X"}, headers={"Accept-Language": "ro"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"
    assert r.json()["detail"].startswith("cerere nevalidă: institution: ")
    r = admin.post("/api/classrooms", json={"name": "X"}, headers={"Accept-Language": "en"})
    assert r.json()["detail"].startswith("institution: ")
    # A wrong time zone, in Bulgarian, with the zone named as typed.
    r = admin.post("/api/classrooms", headers={"Accept-Language": "bg"}, json={
        "name": "X", "institution": "Y", "city": "Z", "timezone": "Europe/Nowhere",
        "room_id": "demo"})
    assert r.status_code == 400 and r.json()["code"] == "unknown_time_zone"
    assert r.json()["detail"].startswith("часовата зона „Europe/Nowhere“ е непозната")
    # Not logged in, in Serbian Latin: the code says what it is whatever the words.
    r = httpx.get(f"{server.url}/api/classrooms", headers={"Accept-Language": "sr-Latn"})
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"  # every 401
    assert r.json()["detail"] == "prijavite se ili pošaljite 'Authorization: Bearer <token>'"
    # A screen that is not paired, in Romanian.
    screen = open_screen(server)
    r = screen.client.get("/api/screen/state", headers={"Accept-Language": "ro"})
    assert r.status_code == 401 and r.json()["detail"] == "nu este un ecran de sală asociat"

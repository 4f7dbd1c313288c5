"""Headless Chromium: a Romanian-speaking instructor working from Smederevo (Serbia, one hour
behind Romania) opens the console. The page speaks Romanian, and a session planned for 08:00 UTC
shows at 09:00 with the zone named, on the instructor's own clock rather than the server's
(Bucharest, where it would read 10:00); an API error about that session arrives in Romanian with
the same local time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import PASSWORD, Server
from tests.e2e.test_browser import browser  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def test_romanian_instructor_in_serbia_sees_the_console_in_romanian_on_her_clock(  # type: ignore[no-untyped-def]
    browser, server: Server  # noqa: F811
) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, bypass_csp=True,
                                  locale="ro-RO", timezone_id="Europe/Belgrade")
    page = context.new_page()
    try:
        page.goto(server.url + "/")
        assert "/login" in page.url
        assert page.inner_text("button[type=submit]") == "Autentificare"
        page.fill("input[name=username]", "dr-ana")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(server.url + "/")
        assert page.inner_text("h1") == "Săli de instruire"
        page.click("text=Deschide consola")
        page.wait_for_selector("#go-live")
        assert page.get_attribute("html", "lang") == "ro"
        assert page.inner_text("#go-live") == "Pornește transmisia"
        assert page.inner_text(".program-panel h2") == "Program"
        assert page.inner_text(".recording-panel h2") == "Înregistrare"
        assert page.text_content("#rec-badge") == "Nu se înregistrează"
        assert page.inner_text(".schedule-panel h2") == "Sesiuni planificate"

        # A session planned (by another instructor, through the API) for 08:00-09:30 UTC on a
        # winter day: Serbia is UTC+1 then, so 09:00-10:30 here, with the zone named.
        day = (datetime.now(UTC) + timedelta(days=30)).date()
        while day.month in range(4, 11):  # keep daylight saving time out of the arithmetic
            day += timedelta(days=30)
        start = datetime(day.year, day.month, day.day, 8, 0, tzinfo=UTC)
        planned = page.evaluate(
            """([starts, ends]) => MedRoom.api('/api/rooms/demo/schedule', {method: 'POST',
                 json: {title: 'Septoplastie endoscopică', starts_at: starts, ends_at: ends}})""",
            [start.isoformat(), (start + timedelta(minutes=90)).isoformat()])
        assert planned["state"] == "planned"
        row = page.wait_for_selector("#schedule-list li:has-text('Septoplastie endoscopică')",
                                     timeout=15_000)
        when = row.inner_text()
        assert re.search(r"09:00 – 10:30 (CET|GMT\+1|GMT\+01:00)", when), when
        assert "10:00" not in when  # not the server's Bucharest clock
        assert "planificată" in when.lower() and "Anulează" in when
        assert "Europe/Belgrade" not in page.inner_text("#schedule-zone")
        # Planning over it is refused in Romanian, naming the clash on the same local clock.
        page.fill("#plan-title", "Rinoplastie")
        page.fill("#plan-date", day.isoformat())
        page.fill("#plan-start", "09:30")
        page.fill("#plan-end", "10:00")
        page.click("#schedule-form button[type=submit]")
        message = page.wait_for_selector("#console-message.message-error").inner_text()
        assert "are deja planificată sesiunea „Septoplastie endoscopică”" in message, message
        assert "09:00" in message and "10:30" in message, message
    finally:
        context.close()

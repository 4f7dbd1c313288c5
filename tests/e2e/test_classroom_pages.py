"""Headless Chromium as a classroom screen and as phones (issue 18): pairing, the program on
the screen, checking in from two phones, a replayed code refused; screenshots of each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from library.users import Role
from tests.conftest import PASSWORD, Server, start_server
from tests.e2e.test_browser import ARTIFACTS, browser, log_in  # noqa: F401  (fixture)
from tests.web.classroom_helpers import add_users, login

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    for server in start_server(tmp_path_factory.mktemp("classroom-pages")):
        add_users(server, ("root", Role.ADMIN), ("ana", Role.STUDENT), ("ion", Role.STUDENT))
        yield server


def phone(browser, server: Server, username: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                  device_scale_factor=2, bypass_csp=True)
    page = context.new_page()
    page.goto(server.url + "/checkin")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/checkin")
    return context, page


def test_a_classroom_screen_is_paired_shows_the_program_and_phones_check_in(  # type: ignore[no-untyped-def]
        browser, server: Server) -> None:  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    admin_ctx, admin = log_in(browser, server, "root", width=1366, height=768)
    screen_ctx = browser.new_context(viewport={"width": 1366, "height": 768}, bypass_csp=True)
    screen = screen_ctx.new_page()
    instructor = login(server, "dr-ana")
    contexts = [admin_ctx, screen_ctx]
    try:
        admin.goto(server.url + "/classrooms")
        admin.fill("input[name=name]", "Amphitheatre 2")
        admin.fill("input[name=institution]", "Medical University of Pleven")
        admin.fill("input[name=city]", "Pleven")
        admin.fill("input[name=timezone]", "Europe/Sofia")
        admin.click("#classroom-form button[type=submit]")
        admin.wait_for_selector(".classroom-row")

        screen.goto(server.url + "/screen")
        code = screen.inner_text("#pair-code")
        assert len(code) == 9 and code[4] == "-"
        screen.screenshot(path=str(ARTIFACTS / "classroom-screen-pairing.png"))

        admin.fill(".pair-form input", code)
        admin.click(".pair-form button")
        admin.wait_for_selector(".screen-row")
        admin.screenshot(path=str(ARTIFACTS / "classrooms-admin.png"))
        # The screen notices by itself and becomes the classroom's screen, waiting.
        screen.wait_for_selector(".screen[data-state='waiting']", timeout=15_000)
        assert "Amphitheatre 2" in screen.content()
        screen.screenshot(path=str(ARTIFACTS / "classroom-screen-waiting.png"))

        live = instructor.post("/api/rooms/demo/live", json={"title": "Septoplasty, live"})
        assert live.status_code in (200, 201), live.text
        screen.wait_for_selector(".screen[data-state='live']", timeout=20_000)
        screen.wait_for_function(
            "Number(document.getElementById('screen-video').dataset.frames || 0) > 30",
            timeout=20_000)
        screen.wait_for_selector("#checkin-panel:not([hidden]) #checkin-qr[src^='data:image/svg']")
        assert screen.inner_text("#session-title") == "Septoplasty, live"
        screen.screenshot(path=str(ARTIFACTS / "classroom-screen-live.png"))

        # Two phones check in with the code on the screen (the QR code's link).
        classroom_id = int(admin.get_attribute(".classroom-row", "data-classroom") or 0)
        results = []
        for name in ("ana", "ion"):
            ctx, page = phone(browser, server, name)
            contexts.append(ctx)
            shown = screen.inner_text("#checkin-code").replace("-", "")
            page.goto(f"{server.url}/checkin?at={classroom_id}&code={shown}")
            page.wait_for_selector(".phone-card[data-result]")
            results.append((page, page.get_attribute(".phone-card", "data-result"),
                            page.inner_text("#checkin-result")))
        assert [r[1] for r in results] == ["ok", "ok"], [r[2] for r in results]
        assert "Amphitheatre 2, Pleven" in results[0][2]
        results[0][0].screenshot(path=str(ARTIFACTS / "phone-checked-in.png"))
        screen.wait_for_function("document.getElementById('present-now').textContent === '2'",
                                 timeout=10_000)

        # A replay from Ion's phone: refused, with the reason on the phone.
        ion = results[1][0]
        ion.fill("#checkin-code", screen.inner_text("#checkin-code"))
        ion.click("#checkin-submit")
        ion.wait_for_selector(".phone-card[data-result='refused']")
        assert "already checked in" in ion.inner_text("#checkin-result")
        ion.screenshot(path=str(ARTIFACTS / "phone-refused.png"))

        # The console lists the classroom with its link figures, and its presence panel.
        console = admin_ctx.new_page()
        console.goto(server.url + "/rooms/demo/console")
        console.wait_for_function(
            "document.getElementById('viewer-list').textContent.includes('Amphitheatre 2')",
            timeout=15_000)
        console.wait_for_selector("#classroom-presence li")
        console.wait_for_timeout(1500)
        console.locator(".presence-panel").screenshot(path=str(ARTIFACTS / "console-presence.png"))
        console.locator(".viewers-panel").screenshot(
            path=str(ARTIFACTS / "console-viewers-classroom.png"))
    finally:
        instructor.delete("/api/rooms/demo/live")
        for ctx in contexts:
            ctx.close()

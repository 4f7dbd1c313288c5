"""Headless Chromium: an accepted hand is the word. The instructor accepts a student's raised
hand in the console's classroom panel; the student's page speaks at once (fake microphone, by
WHIP with the acceptance's own credential) and may draw; the student's Stop ends the speech in
the hand queue; a second acceptance ended by the instructor takes both rights back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Server
from tests.e2e.test_browser import ARTIFACTS, log_in
from tests.e2e.test_talkback_browser import FAKE_MEDIA, launch, playwright, speakers, wait_for  # noqa: F401
from tests.web.lessons import login

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def instructor(server: Server) -> Iterator[httpx.Client]:
    client = login(server, "dr-ana")
    yield client
    client.delete("/api/rooms/demo/live")
    client.close()


def test_an_accepted_hand_speaks_and_draws_until_the_word_ends(
        playwright: Any, server: Server, instructor: httpx.Client) -> None:  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    browser = launch(playwright, FAKE_MEDIA)
    console_ctx, console = log_in(browser, server, "dr-ana")
    student_ctx, student = log_in(browser, server, "marko")
    try:
        console.goto(server.url + "/rooms/demo/console")
        console.fill("#session-title", "The word in the classroom")
        console.click("#go-live")
        console.wait_for_selector("#live-badge.badge-live", timeout=30_000)
        console.wait_for_selector("#console-classroom[data-link='open']", timeout=15_000)
        student.goto(server.url + "/rooms/demo/watch")
        student.wait_for_selector(".watch[data-state='live']", timeout=30_000)
        student.wait_for_selector("#classroom[data-link='open']", timeout=15_000)
        assert student.is_hidden("#draw-toggle")

        # Accepted: the page speaks without the student doing anything more, and may draw.
        student.click("#hand-btn")
        console.wait_for_selector("#mod-hands li:has-text('marko')")
        console.click("body")
        console.keyboard.press("a")
        student.wait_for_selector("#talkback[data-state='speaking']", timeout=20_000)
        student.wait_for_selector("#draw-toggle:not([hidden])", timeout=10_000)
        got = wait_for(lambda: [s for s in speakers(instructor) if s["received_seconds"] > 0.5])
        assert got, speakers(instructor)
        console.wait_for_selector("#cls-speaker:has-text('marko is speaking')")
        student.screenshot(path=str(ARTIFACTS / "the-word-student-speaking.png"))

        # The student's own Stop ends the speech in the hand queue too.
        student.click("#talkback-stop")
        console.wait_for_selector("#cls-speaker:has-text('No one is speaking')", timeout=10_000)
        student.wait_for_selector("#hand-state.cls-speaking", state="detached")
        student.wait_for_selector("#draw-toggle", state="hidden", timeout=10_000)
        assert wait_for(lambda: speakers(instructor) == [], 10)

        # Accepted again, ended by the instructor (E): both rights are taken back at once.
        student.click("#hand-btn")
        console.wait_for_selector("#mod-hands li:has-text('marko')")
        console.click("body")
        console.keyboard.press("a")
        student.wait_for_selector("#talkback[data-state='speaking']", timeout=20_000)
        console.keyboard.press("e")
        student.wait_for_selector("#talkback[data-state='ended']", timeout=10_000)
        student.wait_for_selector("#draw-toggle", state="hidden", timeout=10_000)
        assert wait_for(lambda: speakers(instructor) == [], 10)
        assert "ended" in student.inner_text("#talkback-title")
    finally:
        student_ctx.close()
        console_ctx.close()
        browser.close()

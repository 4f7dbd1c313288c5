"""Headless Chromium: the instructor's console and two students' watch pages run a live
classroom: chat, a moderated anonymous question with a vote, a hand raised, accepted and ended,
a poll answered and its results shown, a deleted message, HTML and script posted as text that
runs nowhere, a dropped link that rejoins and shows what it missed. Screenshots at laptop and
phone sizes are kept in test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from library.db import Database
from library.users import Role, create_user
from tests.conftest import PASSWORD, Server, start_server
from tests.e2e.test_browser import ARTIFACTS, browser, log_in  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

IMG = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "<script>window.__pwned=2</script>"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("classroom-pages")
    db = Database(f"sqlite:///{folder / 'medroom.db'}")
    try:
        db.migrate()
        create_user(db, "ioana", PASSWORD, Role.STUDENT, display_name="Ioana from Pleven")
    finally:
        db.dispose()
    yield from start_server(folder)


def text_of(page, selector: str) -> str:  # type: ignore[no-untyped-def]
    return str(page.inner_text(selector))


def test_a_live_classroom_between_a_console_and_two_students(browser, server: Server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    console_ctx, console = log_in(browser, server, "dr-ana", width=1366, height=768)
    marko_ctx, marko = log_in(browser, server, "marko", width=1366, height=768)
    # Ioana's page runs under the Content-Security-Policy: no test probe runs script in it.
    ioana_ctx, ioana = log_in(browser, server, "ioana", width=390, height=844, enforce_csp=True)
    violations: list[str] = []
    ioana.on("console", lambda m: violations.append(m.text)
             if "Content Security Policy" in m.text else None)
    try:
        console.goto(server.url + "/rooms/demo/console")
        console.fill("#session-title", "Endoscopic sinus surgery, live")
        console.click("#go-live")
        console.wait_for_selector("#live-badge.badge-live", timeout=30_000)
        console.wait_for_selector("#console-classroom[data-link='open']", timeout=15_000)
        for page in (marko, ioana):
            page.goto(server.url + "/rooms/demo/watch")
            page.wait_for_selector("#classroom[data-link='open']", timeout=15_000)

        # Chat, with the names of the accounts.
        marko.fill("#chat-input", "Hello from Smederevo")
        marko.press("#chat-input", "Enter")
        ioana.wait_for_selector("#chat-list li:has-text('Hello from Smederevo')")
        assert "marko" in text_of(ioana, "#chat-list li:has-text('Hello from Smederevo') .cls-author")
        console.wait_for_selector("#chat-list li:has-text('Hello from Smederevo')")

        # HTML and script from a student are text on every other page, and run nowhere.
        ioana.fill("#chat-input", IMG)
        ioana.press("#chat-input", "Enter")
        ioana.wait_for_selector("#chat-list li:has-text('onerror')")
        ioana.fill("#chat-input", SCRIPT)
        ioana.press("#chat-input", "Enter")
        marko.wait_for_selector("#chat-list li:has-text('window.__pwned=2')")
        texts = marko.eval_on_selector_all("#chat-list .cls-text", "ns => ns.map(n => n.textContent)")
        assert IMG in texts and SCRIPT in texts
        assert marko.eval_on_selector_all("#chat-list img, #chat-list script", "ns => ns.length") == 0
        assert marko.evaluate("window.__pwned") is None
        assert console.evaluate("window.__pwned") is None
        assert "Ioana from Pleven" in text_of(marko, "#chat-list li:has-text('onerror') .cls-author")

        # The instructor deletes the image message: gone on every page.
        console.click("#chat-list li:has-text('onerror') .cls-del")
        marko.wait_for_selector("#chat-list li:has-text('onerror')", state="detached")
        ioana.wait_for_selector("#chat-list li:has-text('onerror')", state="detached")

        # A question, anonymous to the other student but not to the instructor.
        marko.click("#tab-btn-questions")
        marko.fill("#question-input", "Why the 30 degree scope here?")
        marko.check("#question-anon")
        marko.click("#question-form button[type=submit]")
        console.wait_for_selector("#mod-questions li:has-text('30 degree')")
        assert "marko" in text_of(console, "#mod-questions li:has-text('30 degree') .cls-author")
        ioana.click("#tab-btn-questions")
        ioana.wait_for_timeout(500)
        assert ioana.locator("#question-list li:has-text('30 degree')").count() == 0  # pending
        console.keyboard.press("q")  # keyboard: into the question queue, first action = Approve
        console.keyboard.press("Enter")
        ioana.wait_for_selector("#question-list li:has-text('30 degree')")
        assert "Anonymous" in text_of(ioana, "#question-list li:has-text('30 degree') .cls-author")
        ioana.click("#question-list li:has-text('30 degree') .cls-vote")
        console.wait_for_selector("#mod-questions li:has-text('30 degree') .cls-vote:has-text('1')")
        console.click("#mod-questions li:has-text('30 degree') button:has-text('Answer live')")
        marko.wait_for_selector("#question-list li.cls-q-answering:has-text('Being answered now')")
        ioana.screenshot(path=str(ARTIFACTS / "classroom-student-phone-questions.png"))

        # Hands: a queue with places; the instructor accepts (A) and ends (E).
        marko.click("#hand-btn")
        marko.wait_for_selector("#hand-state:has-text('you are next')")
        ioana.click("#hand-btn")
        ioana.wait_for_selector("#hand-state:has-text('2 in the queue')")
        console.wait_for_selector("#mod-hands li:nth-child(2):has-text('Ioana from Pleven')")
        console.click("body")
        console.keyboard.press("a")
        marko.wait_for_selector("#hand-state.cls-speaking")
        console.wait_for_selector("#cls-speaker:has-text('marko is speaking')")
        ioana.wait_for_selector("#hand-state:has-text('you are next')")
        console.screenshot(path=str(ARTIFACTS / "classroom-console-laptop.png"), full_page=True)
        console.keyboard.press("e")
        console.wait_for_selector("#cls-speaker:has-text('No one is speaking')")
        marko.wait_for_selector("#hand-state.cls-speaking", state="detached")
        ioana.click("#hand-btn")  # lowers her own hand
        ioana.wait_for_selector("#hand-btn[aria-pressed='false']")

        # A presence-check poll: answered, counted live, results shown to everyone.
        console.fill("#poll-question", "Which sinus is opened first?")
        console.fill("#poll-options", "Maxillary\nEthmoid\nSphenoid")
        console.check("#poll-presence")
        console.click("#poll-form button[type=submit]")
        marko.wait_for_selector("#poll-box .cls-poll-presence:has-text('Which sinus')")
        marko.click("#poll-box button:has-text('Ethmoid')")
        ioana.click("#poll-box button:has-text('Ethmoid')")
        console.wait_for_selector("#mod-polls li:has-text('2 answered')")
        ioana.wait_for_selector("#poll-box:has-text('Answer sent')")
        marko.screenshot(path=str(ARTIFACTS / "classroom-student-laptop-poll.png"))
        console.click("#mod-polls button:has-text('Show results')")
        ioana.wait_for_selector("#poll-box .cls-result:has-text('Ethmoid'):has-text('2 · 100%')")
        ioana.screenshot(path=str(ARTIFACTS / "classroom-student-phone-results.png"))

        # The link drops: what was said meanwhile is shown, marked, when it is back.
        marko.click("#tab-btn-chat")
        marko.evaluate("MedRoom.classroomLink.delay = 2500; MedRoom.classroomLink.ws.close()")
        marko.wait_for_selector("#classroom[data-link='down']")
        console.fill("#chat-input", "Said while you were away")
        console.press("#chat-input", "Enter")
        marko.wait_for_selector("#chat-list li.cls-missed:has-text('Said while you were away')",
                                timeout=15_000)
        assert "you missed" in text_of(marko, "#cls-notice")

        # A burst: the page shows the rate limit with its countdown.
        for i in range(6):
            marko.fill("#chat-input", f"burst {i}")
            marko.press("#chat-input", "Enter")
        marko.wait_for_selector("#cls-notice.cls-notice-warn:has-text('You can send again in')")
        marko.screenshot(path=str(ARTIFACTS / "classroom-student-laptop-ratelimit.png"))

        ioana.click("#tab-btn-chat")
        ioana.screenshot(path=str(ARTIFACTS / "classroom-student-phone-chat.png"))
        ioana.screenshot(path=str(ARTIFACTS / "classroom-student-phone-full.png"), full_page=True)
        console.set_viewport_size({"width": 390, "height": 844})
        console.locator("#console-classroom").screenshot(
            path=str(ARTIFACTS / "classroom-console-phone.png"))
        assert violations == []
    finally:
        for context in (console_ctx, marko_ctx, ioana_ctx):
            context.close()

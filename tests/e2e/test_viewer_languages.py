"""Headless Chromium as a Bulgarian browser (Accept-Language bg-BG, zone Europe/Sofia): the
library search, the lesson player and the watch page speak Bulgarian, with Bulgarian dates,
numbers and plural forms, and nothing of the interface left in English."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.conftest import PASSWORD, Server, start_server
from tests.web.lessons import PublishedFixture, publish_lesson

from .test_browser import ARTIFACTS, browser  # noqa: F401  (browser is a fixture)

pytestmark = pytest.mark.browser

# A Bulgarian long date: "5 декември 2026 г." (CLDR), never "05 Dec 2026".
BULGARIAN_MONTHS = ("януари", "февруари", "март", "април", "май", "юни", "юли", "август",
                    "септември", "октомври", "ноември", "декември")
# (CLDR separates "г." from the year with a narrow no-break space.)
LONG_DATE = re.compile(r"\b\d{1,2} (" + "|".join(BULGARIAN_MONTHS) + r") \d{4}\s?г\.")
# Medium date in the search results: "5.12.2026 г.".
MEDIUM_DATE = re.compile(r"\b\d{1,2}\.\d{2}\.\d{4}\s?г\.")
# Interface words of the English pages that must not show through.
ENGLISH = re.compile(r"\b(Chapters|Notes|Classroom|Keyboard|Search|Specialty|Course|Language|"
                     r"lessons?|newest first|Waiting|Connecting|Raise hand|Chat|Questions|Send|"
                     r"Multi-view|Sound on|Full screen|About this session|Library)\b")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("medroom-bg"))


@pytest.fixture(scope="module")
def lesson(server: Server) -> PublishedFixture:
    return publish_lesson(server, seconds=4.0, classroom=True)


def bulgarian_student(browser, server: Server):  # type: ignore[no-untyped-def]  # noqa: F811
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="bg-BG",
                                  timezone_id="Europe/Sofia", bypass_csp=True)
    page = context.new_page()
    page.goto(server.url + "/")
    assert "/login" in page.url
    page.fill("input[name=username]", "marko")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/")
    return context, page


def visible_text(page, selector: str) -> str:  # type: ignore[no-untyped-def]
    """What a person reads in ``selector``, less what people wrote (translate="no")."""
    return str(page.eval_on_selector(selector, """root => {
        const copy = root.cloneNode(true);
        copy.querySelectorAll('[translate="no"], [hidden], script, style').forEach(n => n.remove());
        return copy.innerText;
    }"""))


def test_a_bulgarian_browser_reads_the_library_and_the_player_in_bulgarian(  # type: ignore[no-untyped-def]
        browser, server: Server, lesson: PublishedFixture) -> None:  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = bulgarian_student(browser, server)
    try:
        # Search: labels, the result count with its Bulgarian plural, a Bulgarian date.
        page.goto(server.url + "/library/search?q=septoplasty")
        page.wait_for_selector("#results .result")
        assert page.get_attribute("html", "lang") == "bg"
        assert page.inner_text("button[type=submit].btn-primary") == "Търси"
        assert page.get_attribute("input[name=q]", "placeholder").startswith("Търсете в заглавия")
        assert page.inner_text("#search-summary").startswith("1 урок с")
        assert MEDIUM_DATE.search(page.inner_text("#results .result-date")), \
            page.inner_text("#results .result-date")
        page.goto(server.url + "/library/search")
        assert re.match(r"\d+ урока?, първо най-новите", page.inner_text("#search-summary"))
        leftover = ENGLISH.findall(visible_text(page, "main"))
        assert not leftover, f"English on the Bulgarian search page: {leftover}"

        # The lesson player: headings, buttons' labels, keyboard help, the date of publication.
        page.goto(f"{server.url}/library/lessons/{lesson.lesson_id}")
        page.wait_for_selector("#lesson[data-first-frame-ms]", timeout=20_000)
        assert page.inner_text(".lesson-side").count("Глави") == 1
        assert "Бележки" in page.inner_text(".lesson-side")
        assert page.get_attribute("#help-button", "aria-label") == "Клавишни комбинации"
        assert page.get_attribute("#fullscreen", "title") == "Цял екран (F)"
        page.click("#help-button")
        help_text = page.inner_text("#help")
        assert "Интервал" in help_text and "Пусни / пауза" in help_text, help_text
        date = page.inner_text("#lesson-date")
        assert LONG_DATE.search(date), f"not a Bulgarian date: {date!r}"
        # The classroom's conversation counts its items with the Bulgarian plural.
        assert re.fullmatch(r"\d+ записа?", page.inner_text("#classroom-count"))
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "lesson-player-bg.png"))
        leftover = ENGLISH.findall(visible_text(page, "main"))
        assert not leftover, f"English on the Bulgarian lesson player: {leftover}"

        # The watch page of a room that is not live: its state, its buttons, its classroom.
        page.goto(server.url + "/rooms/demo/watch")
        page.wait_for_selector("#classroom[data-link='waiting']", timeout=15_000)
        assert page.inner_text("#hand-btn") == "Вдигни ръка"
        assert page.inner_text("#tab-btn-chat") == "Чат"
        assert page.inner_text("#cls-status") == "Учебната зала се отваря, когато сесията започне на живо."
        assert page.get_attribute("#chat-input", "placeholder") == "Напишете съобщение до залата"
        page.wait_for_function("document.getElementById('room-state').textContent !== '…'")
        assert page.text_content("#room-state") == "Още не е на живо"
        assert re.fullmatch(r"\d+ зрители?", page.text_content("#watching") or "")
        page.screenshot(path=str(ARTIFACTS / "watch-bg.png"))
        leftover = ENGLISH.findall(visible_text(page, "main"))
        assert not leftover, f"English on the Bulgarian watch page: {leftover}"
    finally:
        context.close()

"""Headless Chromium: a participant takes the final test against the clock; an organiser edits
a programme and watches the checker's findings follow the form. Screenshots in test-artifacts/."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.conftest import Server
from tests.e2e.test_browser import ARTIFACTS, browser, log_in  # noqa: F401  (fixture)
from tests.web.test_cme_api import auth, organiser_token
from tests.web.test_cme_quiz_api import BANK, TODAY, emcd

pytestmark = pytest.mark.browser


def test_art_10e_participant_takes_the_test_with_the_timer(browser, server: Server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    organiser = auth(organiser_token(server, "dr-ana"))
    r = httpx.post(f"{server.url}/api/cme/programmes", json=emcd(TODAY), headers=organiser)
    programme = r.json()["id"]
    url = f"{server.url}/api/cme/programmes/{programme}"
    assert httpx.put(f"{url}/questions", json={"questions": BANK}, headers=organiser).is_success
    assert httpx.post(f"{url}/submit", headers=organiser).is_success
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = log_in(browser, server, "marko", width=1280, height=900)
    try:
        page.goto(f"{server.url}/cme/programmes/{programme}/test")
        assert "at most 2 attempts" in page.inner_text(".chips")
        page.click("#quiz-start")
        page.wait_for_selector("#quiz-questions > li")
        assert page.locator("#quiz-questions > li").count() == 10
        first = page.inner_text("#quiz-timer")
        assert first.startswith(("19:", "20:")), first
        page.wait_for_function(f"document.getElementById('quiz-timer').textContent !== '{first}'")
        # Answer from what is shown: the right options read 'yes' or 'true' (see BANK).
        for option in page.locator("#quiz-questions label").all():
            if option.inner_text().startswith(("yes", "true")):
                option.locator("input").check()
        assert page.inner_text("#quiz-progress") == "10 of 10 answered"
        page.screenshot(path=str(ARTIFACTS / "cme_test_running.png"), full_page=False)
        page.click("#quiz-submit")
        page.wait_for_selector("#quiz-result:not([hidden])")
        result = page.inner_text("#quiz-result")
        assert "Passed" in result and "10 of 10 correct (100%)" in result
        page.screenshot(path=str(ARTIFACTS / "cme_test_passed.png"), full_page=False)
        page.goto(f"{server.url}/cme/programmes/{programme}/test")
        assert "passed" in page.inner_text(".quiz-intro table")
        # The doctor's own page lists the test with where it stands, and no way back in.
        page.goto(f"{server.url}/cme/me")
        tests = page.inner_text("#my-tests")
        assert "passed with 100%" in tests and "Take the test" not in tests
        page.screenshot(path=str(ARTIFACTS / "cme_doctor_tests.png"), full_page=True)
    finally:
        context.close()


def test_art_5d_organiser_edits_a_programme_and_sees_findings(browser, server: Server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = log_in(browser, server, "dr-ana", width=1600, height=1000)
    day = (TODAY + timedelta(days=45)).isoformat()
    try:
        page.goto(f"{server.url}/cme")
        page.click("text=New programme")
        page.wait_for_url("**/cme/new")
        page.fill("input[name=title]", "Endoscopic sinus surgery update")
        page.fill("input[name=ref]", "EMC-IS-2026-07")
        page.select_option("select[name=kind]", "scientific_event")
        page.fill("input[name=starts_on]", day)
        page.fill("input[name=ends_on]", day)
        page.fill("input[name=venue]", "Iasi, UMF, Aula Magna")
        page.fill("input[name=request_filed_on]", (TODAY - timedelta(days=1)).isoformat())
        page.fill("input[name=final_programme_filed_on]", TODAY.isoformat())
        page.fill("#ed-organisers input[name=name]", "UMF Iasi")
        rows = page.locator("#ed-agenda > li")
        for n, (title, speaker) in enumerate((
            ("Anatomy of the ostiomeatal complex", "Ana Popescu"),
            ("Balloon sinuplasty: evidence", "Radu Stoica"),
        )):
            page.click("button[data-add=item]")
            row = rows.nth(n)
            row.locator("input[name=title]").fill(title)
            row.locator("input[name=speaker_title]").fill("Prof. dr.")
            row.locator("input[name=speaker_name]").fill(speaker)
        page.click("button[data-add=break]")
        rows.nth(2).locator("input[name=start]").fill("13:00")
        rows.nth(2).locator("input[name=end]").fill("13:15")
        page.wait_for_selector("#ed-credits:text('2')")
        assert not page.locator(".finding-error:has-text('art. 5 lit. d')").count()
        # A lecture of three hours: the finding appears beside the form, with its article.
        rows.nth(1).locator("input[name=end]").fill("13:00")
        finding = page.locator(".finding-error", has_text="a single lecture lasts at most 2 h")
        finding.wait_for()
        assert finding.locator(".article").inner_text() == "art. 5 lit. d"
        assert "flag-error" in (rows.nth(1).get_attribute("class") or "")
        page.screenshot(path=str(ARTIFACTS / "cme_editor_finding.png"), full_page=True)
        # An end before the start, and an overlap: clear errors on the rows themselves.
        rows.nth(0).locator("input[name=end]").fill("08:30")
        rows.nth(0).locator(".row-error", has_text="not after its start at 09:00").wait_for()
        page.locator("#ed-form-error", has_text="not after its start").wait_for()
        rows.nth(0).locator("input[name=end]").fill("10:30")
        overlap = rows.nth(0).locator(".row-error", has_text="overlaps")
        overlap.wait_for()
        assert "overlaps “Balloon sinuplasty: evidence” 10:00–13:00" in overlap.inner_text()
        page.screenshot(path=str(ARTIFACTS / "cme_editor_overlap.png"), full_page=True)
        page.click("#ed-save")
        assert "Fix the agenda rows" in page.inner_text("#ed-message")
        # Fixed, moved first-to-last and back, saved: the draft exists and reopens as saved.
        rows.nth(0).locator("input[name=end]").fill("10:00")
        rows.nth(1).locator("input[name=end]").fill("12:00")
        page.wait_for_selector("#ed-agenda > li.bad", state="detached")
        rows.nth(0).locator("button[data-tool=down]").click()
        assert rows.nth(0).locator("input[name=title]").input_value().startswith("Balloon")
        rows.nth(1).locator("button[data-tool=up]").click()
        page.click("#ed-save")
        page.wait_for_url("**/edit?created=1")
        assert page.locator("#ed-agenda > li").count() == 3
        assert page.locator("#ed-agenda input[name=title]").first.input_value().startswith("Anatomy")
        page.wait_for_selector("#ed-credits:text('3')")
        page.screenshot(path=str(ARTIFACTS / "cme_editor_saved.png"), full_page=True)
    finally:
        context.close()

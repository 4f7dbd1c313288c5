"""Headless Chromium: a curator turns a demo-room recording into a published lesson."""

from __future__ import annotations

import httpx

from tests.conftest import Server
from tests.e2e.test_browser import ARTIFACTS, browser, log_in  # noqa: F401  (fixture)
from tests.web.test_library_api import record, token


def test_curator_publishes_a_lesson_from_the_page(browser, server: Server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    rid = record(server, 4.0, ("Exposure", "Resection"))
    context, page = log_in(browser, server, "cura", width=1440, height=1000)
    try:
        page.goto(server.url + "/library/curate")
        row = page.locator("#recordings tbody tr", has_text=rid)
        row.locator("select").select_option(label="ENT")
        page.screenshot(path=str(ARTIFACTS / "curation-list.png"), full_page=True)
        row.locator("button", has_text="Make lesson").click()
        page.wait_for_url("**/library/lessons/*/edit")
        page.wait_for_selector("#chapters input[aria-label='chapter 1 title']")
        assert page.locator("#lesson-status").inner_text() == "draft"
        assert page.is_disabled("#publish")  # the privacy gate is closed

        # The editor's media were made when the recording stopped: start a second in.
        page.wait_for_selector("#cut-editor[data-strip-ready]", timeout=60_000)
        page.locator("#cut-editor").focus()
        page.keyboard.press("Shift+ArrowRight")  # a second in: the cut falls on a keyframe
        page.keyboard.press("i")
        page.wait_for_selector("#cut-editor[data-save-state=saved][data-last-edit=in]")
        page.fill("#chapters input[aria-label='chapter 1 title']", "Exposure of the septum")
        page.keyboard.press("Tab")
        page.wait_for_selector(".tl-flag:has-text('Exposure of the septum')")
        page.wait_for_selector("#cut-editor[data-save-state=saved][data-last-edit=rename]")
        page.fill("#note-at", "2")
        page.fill("#note-text", "Spur removed with the chisel")
        page.click("#add-note")
        page.wait_for_selector("#notes :text('Spur removed with the chisel')")
        page.fill("#f-procedure", "Septoplasty")
        page.click("#save-details")
        page.wait_for_selector(".flash:has-text('Details saved')")
        page.check("#consent")
        page.check("#deidentified")
        page.click("#save-privacy")
        page.wait_for_selector(".gate-open")
        page.click("#publish")
        page.wait_for_selector("#job:not([hidden])")
        page.wait_for_selector("#lesson-status:text('published')", timeout=120_000)
        assert page.locator("#job-percent").inner_text() == "100%"  # the language's percent form
        assert "Exposure of the septum" in page.locator("#tl-chapters").inner_text()
        page.screenshot(path=str(ARTIFACTS / "curation-editor.png"), full_page=True)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "curation-failure.png"), full_page=True)
        raise
    finally:
        context.close()
    lessons = httpx.get(f"{server.url}/api/library/lessons", timeout=30,
                        headers={"Authorization": f"Bearer {token(server, 'curator')}"}).json()
    [lesson] = [x for x in lessons if x["recording_id"] == rid]
    assert lesson["status"] == "published" and lesson["procedure"] == "Septoplasty"
    assert [c["title"] for c in lesson["technical"]["chapters"]["items"]] == [
        "Exposure of the septum", "Resection"]

"""Headless Chromium: a curator whose browser asks for Romanian opens the cut editor. The
editor's controls, readouts and keyboard help are Romanian, positions use the decimal comma,
and the refusals the API sends (an empty title, someone else's save first) reach the page in
Romanian, with the machine-readable codes unchanged."""

from __future__ import annotations

import re
from contextlib import closing

from tests.conftest import PASSWORD, Server
from tests.e2e.test_browser import ARTIFACTS, browser  # noqa: F401  (fixture)
from tests.e2e.test_cut_editor import _lesson, _press, _saved, _time, _wait_time

# English labels of the editor that must not be left on a Romanian page.
ENGLISH = ["Start here", "End here", "+ Chapter", "Hide selection", "Preview", "Keys",
           "Playhead", "Chapters", "Hidden parts", "Classroom", "Notes", "Details",
           "Privacy", "Publishing", "Publish", "Saved", "No chapters", "keyframe",
           "start of the recording", "Save details", "Confirm", "DICOM attachments"]


def test_romanian_curator_edits_in_romanian(browser, server: Server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    http, lesson_id = _lesson(server)
    # The browser's language, as a Romanian curator's browser sends it (Accept-Language).
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="ro-RO",
                                  bypass_csp=True)
    page = context.new_page()
    with closing(http):
        try:
            page.goto(server.url + "/")
            page.fill("input[name=username]", "cura")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(server.url + "/")
            page.goto(f"{server.url}/library/lessons/{lesson_id}/edit")
            page.wait_for_selector("#cut-editor[data-strip-ready]", timeout=60_000)
            assert page.get_attribute("html", "lang") == "ro"

            # The controls, the readouts, the privacy gate: Romanian, with diacritics.
            assert page.inner_text("#ed-in") == "Începe aici"
            assert page.inner_text("#ed-out") == "Termină aici"
            assert page.inner_text("#ed-preview") == "Previzualizare"
            assert page.get_attribute("#ed-hide", "title") == "Ascunde porțiunea selectată (H)"
            assert page.inner_text("#ro-cut") == "începutul înregistrării"
            assert "Publicarea este blocată" in page.inner_text("#gate")
            assert page.is_disabled("#publish")
            assert page.locator("#talk .talk-row[data-id='s1-c9'] button").last.inner_text() == "Ascunde"
            page.click("#ed-keys-help")
            assert "Spațiu" in page.inner_text("#ed-help")

            # A cut: positions with the decimal comma, the keyframe readout in Romanian.
            page.locator("#cut-editor").focus()
            _press(page, ".", 2)
            _wait_time(page, 4.0)
            _press(page, "ArrowRight", 5)
            assert abs(_time(page) - 4.2) < 0.03, _time(page)
            _press(page, "i")
            _saved(page)
            assert page.inner_text("#ro-cut") == (
                "0:04,00 (cadru cheie, cu 0,20 s înainte de începutul ales)")
            assert page.inner_text("#save-state").startswith("Salvat la ")
            page.screenshot(path=str(ARTIFACTS / "cut-editor-ro.png"), full_page=True)
            shown = page.inner_text("#editor")
            left = [word for word in ENGLISH if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", shown)]
            assert not left, f"English left on the Romanian page: {left}"

            # The API refuses an empty title: its reason arrives in Romanian.
            page.fill("#f-title", " ")
            page.click("#save-details")
            flash = page.wait_for_selector(".flash.error")
            assert flash.inner_text() == "câmpul „titlul lecției” este gol"

            # Another curator saves first: the 412's reason is Romanian too.
            current = http.get(f"/api/library/lessons/{lesson_id}/curation")
            theirs = current.json()["edit"]
            r = http.put(f"/api/library/lessons/{lesson_id}/edit",
                         headers={"If-Match": current.headers["etag"]}, json={
                             "trim_start": theirs["trim_start"], "trim_end": 12.0,
                             "chapters": [{"id": c["id"], "title": c["title"],
                                           "start": c["start"]} for c in theirs["chapters"]],
                             "hidden": theirs["hidden"], "masks": theirs["masks"]})
            assert r.status_code == 200, r.text
            page.locator("#cut-editor").focus()
            _press(page, "Shift+ArrowRight", 4)
            _press(page, "o")
            page.wait_for_selector("#conflict:not([hidden])")
            assert page.inner_text("#save-state") == "Conflict: nesalvat"
            assert page.inner_text("#conflict-text").startswith(
                f"lecția {lesson_id} a fost modificată de altcineva")
            assert page.inner_text("#conflict-reload") == "Încărcați versiunea lor"
            page.screenshot(path=str(ARTIFACTS / "cut-editor-ro-conflict.png"))
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "cut-editor-ro-failure.png"), full_page=True)
            raise
        finally:
            context.close()

        # The same refusal to an API client: the text in its language, the code unchanged.
        for language, start in (("ro-RO", "lecția"), ("bg", "урок"), ("sr-Latn", "lekcija"),
                                ("en", "lesson")):
            refused = http.post(f"/api/library/lessons/{lesson_id}/publish",
                                headers={"Accept-Language": language})
            assert refused.status_code == 409, refused.text
            body = refused.json()
            assert body["code"] == "privacy_gate_closed", body
            assert body["detail"].startswith(f"{start} {lesson_id} "), body

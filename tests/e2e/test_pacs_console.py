"""Headless Chromium: the console's PACS panel against a real Orthanc: the PACS answers, the
instructor searches with a reason, retrieves a series onto the CT source with a progress bar,
and picks the patient context from the worklist; with the page's CSP enforced."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import pytest

from tests.conftest import Server, start_server
from tests.e2e.test_browser import ARTIFACTS, browser, log_in  # noqa: F401 (fixture)
from tests.pacs_peer import (
    ORTHANC_AET,
    PASSWORD,
    USER,
    OrthancPeer,
    ct_series,
    require_orthanc,
    worklist_item,
)
from tests.web.test_pacs_api import stopped_recording

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def pacs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_orthanc()
    orthanc = OrthancPeer(tmp_path_factory.mktemp("orthanc")).start()
    try:
        _, datasets = ct_series(patient_name="Ștefănescu^Maria", patient_id="P0042",
                                accession="ACC0042", slices=40, size=96,
                                description="CT head without contrast")
        orthanc.upload(datasets)
        orthanc.add_worklist(worklist_item(patient_name="Ștefănescu^Maria", patient_id="P0042",
                                           accession="WL0042", when=date.today()), "wl")
        pacs = [{"id": "hospital", "label": "Hospital PACS", "dicomweb_url": orthanc.dicomweb_url,
                 "aet": ORTHANC_AET, "host": "127.0.0.1", "port": orthanc.dicom_port,
                 "username": USER, "password": PASSWORD}]
        yield from start_server(tmp_path_factory.mktemp("medroom"),
                                extra_env={"MEDROOM_PACS": json.dumps(pacs)})
    finally:
        orthanc.stop()


def test_instructor_prepares_a_pacs_series_from_the_console(  # type: ignore[no-untyped-def]
    browser, pacs_server: Server  # noqa: F811
) -> None:
    server = pacs_server
    stopped_recording(server, "rec7")
    context, console = log_in(browser, server, "dr-ana", width=1366, height=768,
                              enforce_csp=True)
    violations: list[str] = []
    console.on("console", lambda m: violations.append(m.text)
               if "Content Security Policy" in m.text else None)
    try:
        console.goto(server.url + "/rooms/demo/console")
        console.wait_for_selector("#pacs-status .ok:has-text('Hospital PACS: answers')",
                                  timeout=30_000)
        console.fill("#pacs-name", "Ștefănescu")
        console.fill("#pacs-why", "Case for the neurosurgery demonstration")
        console.click("#pacs-search button[type=submit]")
        console.wait_for_selector(".pacs-study h4:has-text('Ștefănescu Maria · P0042')")
        assert "40 slices" in console.inner_text(".pacs-series")
        console.click(".pacs-series button:has-text('Retrieve')")
        console.wait_for_selector(".pacs-jobs li:has-text('40 / 40 slices')", timeout=30_000)
        console.wait_for_selector(".dicom-panel[data-dicom='ct'] [data-dicom-status]"
                                  ":has-text('40 slices')", timeout=20_000)
        console.click("#pacs-worklist button[type=submit]")
        console.click(".pacs-items button:has-text('Use for this session')")
        console.wait_for_selector("#pacs-context strong:has-text('Ștefănescu Maria')")
        # Send a marked clip and a key image of the recording into the worklist's study.
        console.check("#pacs-markers li:nth-child(1) [data-clip]")
        console.check("#pacs-markers li:nth-child(2) [data-still]")
        console.click("#pacs-export button[type=submit]")
        console.wait_for_selector("#pacs-exports strong:has-text('2 / 2 in the PACS')",
                                  timeout=30_000)
        assert "failed" not in console.inner_text("#pacs-exports")
        ARTIFACTS.mkdir(exist_ok=True)
        panel = console.locator("#pacs-panel")
        panel.scroll_into_view_if_needed()
        console.wait_for_timeout(800)
        console.screenshot(path=str(ARTIFACTS / "console-pacs-1366.png"))
        panel.screenshot(path=str(ARTIFACTS / "console-pacs-panel.png"))
        console.set_viewport_size({"width": 390, "height": 844})
        panel.scroll_into_view_if_needed()
        console.wait_for_timeout(500)
        console.screenshot(path=str(ARTIFACTS / "console-pacs-390.png"))
        # Nothing of the panel is wider than a phone.
        wide = console.evaluate("""() => Array.from(document.querySelectorAll('#pacs-panel *'))
            .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
            .map((e) => e.tagName + '#' + e.id + '.' + e.className).slice(0, 5)""")
        assert wide == [], wide
        assert violations == []
    finally:
        context.close()

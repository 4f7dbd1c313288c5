"""Headless Chromium: the console's DICOM panel scrolls, windows, plays and refuses bad uploads."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import Server
from tests.e2e.test_browser import ARTIFACTS, browser, log_in  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser
BASE = "/api/rooms/demo/sources/ct/dicom"


def test_instructor_drives_the_ct_series_from_the_console(  # type: ignore[no-untyped-def]
    browser, server: Server, tmp_path: Path  # noqa: F811
) -> None:
    headers = {"Authorization": f"Bearer {server.token('instructor')}"}

    def state() -> dict[str, object]:
        return httpx.get(server.url + BASE, headers=headers).json()  # type: ignore[no-any-return]

    context, console = log_in(browser, server, "dr-ana", width=1440, height=1000)
    try:
        console.goto(server.url + "/rooms/demo/console")
        panel = console.locator(".dicom-panel[data-dicom='ct']")
        console.wait_for_selector(".dicom-panel [data-dicom-status]:has-text('40 slices')",
                                  timeout=20_000)
        panel.scroll_into_view_if_needed()
        # Keys: '.' moves one slice on and pauses the cine.
        start = int(state()["index"])  # type: ignore[arg-type]
        console.keyboard.press(".")
        console.wait_for_function("document.querySelector('[data-dicom-play]').textContent === 'Play'")
        after = state()
        assert after["playing"] is False and after["index"] in (start + 1, start + 2, 39)
        # The slider: straight to slice 21 (index 20).
        console.locator("[data-dicom-slider]").fill("20")
        console.wait_for_selector("[data-dicom-where]:has-text('Slice 21 / 40')")
        assert state()["index"] == 20
        # The scroll wheel over the picture steps too.
        panel.locator(".dicom-view").hover()
        console.mouse.wheel(0, 120)
        console.wait_for_selector("[data-dicom-where]:has-text('Slice 22 / 40')")
        # Presets and free window/level.
        panel.locator("[data-dicom-preset='bone']").click()
        console.wait_for_selector("[data-dicom-preset='bone'][aria-pressed='true']")
        assert state()["window"]["preset"] == "bone"  # type: ignore[index]
        console.keyboard.press("w")  # next preset after bone
        console.wait_for_selector("[data-dicom-preset='soft-tissue'][aria-pressed='true']")
        panel.locator("[data-dicom-center]").fill("55")
        panel.locator("[data-dicom-width]").fill("150")
        panel.locator(".dicom-wl button").click()
        console.wait_for_selector("#console-message:has-text('Window applied')")
        assert state()["window"]["label"] == "W:150 L:55"  # type: ignore[index]
        console.wait_for_selector("[data-dicom-where]:has-text('W:150 L:55')")
        console.wait_for_timeout(1200)  # the picture refreshes with the new window
        ARTIFACTS.mkdir(exist_ok=True)
        panel.screenshot(path=str(ARTIFACTS / "console-dicom-panel.png"))
        # A file that is not DICOM is refused, naming it; the series stays.
        notes = tmp_path / "notes.txt"
        notes.write_text("not an image")
        panel.locator("[data-dicom-files]").set_input_files(str(notes))
        panel.locator(".dicom-upload button").click()
        console.wait_for_selector("#console-message:has-text('notes.txt: not a DICOM file')")
        assert state()["count"] == 40
        # 'c' plays the cine again.
        console.keyboard.press("c")
        console.wait_for_function("document.querySelector('[data-dicom-play]').textContent === 'Pause'")
        assert state()["playing"] is True
        console.screenshot(path=str(ARTIFACTS / "console-dicom-full.png"), full_page=True)
    finally:
        httpx.put(server.url + BASE + "/window", headers=headers, json={"preset": "brain"})
        context.close()

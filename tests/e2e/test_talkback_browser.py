"""Headless Chromium talks back: a student's watch page publishes its (fake) microphone when
granted, shows that it speaks, stops, ends when revoked, and says so when the microphone is
refused or absent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Server
from tests.e2e.test_browser import ARTIFACTS, CHROMIUM, FLAGS, log_in
from tests.web.lessons import login
from tests.web.test_talkback_api import user_id

pytestmark = pytest.mark.browser

FAKE_MEDIA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
START = "MedRoom.fetchTalkbackGrant('demo').then((g) => MedRoom.startTalkback(g))"


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


def launch(playwright: Any, extra: list[str]) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=[*FLAGS, *extra])


@pytest.fixture(scope="module")
def instructor(server: Server) -> Iterator[httpx.Client]:
    client = login(server, "dr-ana")
    r = client.post("/api/rooms/demo/live", json={"title": "Talkback in the browser"})
    assert r.status_code in (200, 201), r.text
    yield client
    client.delete("/api/rooms/demo/live")
    client.close()


def speakers(instructor: httpx.Client) -> list[dict[str, Any]]:
    r = instructor.get("/api/rooms/demo/talkback")
    r.raise_for_status()
    result: list[dict[str, Any]] = r.json()
    return result


def wait_for(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    return check()


def watch_page(browser: Any, server: Server, width: int = 1366, height: int = 768) -> Any:
    context, page = log_in(browser, server, "marko", width=width, height=height)
    page.goto(server.url + "/rooms/demo/watch")
    page.wait_for_selector(".watch[data-state='live']", timeout=30_000)
    return context, page


def grant(instructor: httpx.Client, server: Server) -> None:
    r = instructor.post("/api/rooms/demo/talkback/grants",
                        json={"user_id": user_id(server, "marko")})
    assert r.status_code == 201, r.text


def test_student_speaks_from_the_watch_page(playwright: Any, server: Server,
                                            instructor: httpx.Client) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    browser = launch(playwright, FAKE_MEDIA)
    context, page = watch_page(browser, server)
    console_ctx, console = log_in(browser, server, "dr-ana")
    try:
        console.goto(server.url + "/rooms/demo/console")
        console.wait_for_selector("#talkback-panel", state="attached")
        grant(instructor, server)
        assert page.evaluate(START) == {"ok": True}
        page.wait_for_selector("#talkback[data-state='speaking']", timeout=15_000)
        assert page.inner_text("#talkback-title") == "You are speaking"
        assert page.is_visible("#talkback-stop")
        # The server receives the microphone, and the student's own session plays the
        # mix-minus (their voice left out).
        got = wait_for(lambda: [s for s in speakers(instructor)
                                if s["received_seconds"] > 1.0 and s["mix_minus_sessions"] == 1])
        assert got, speakers(instructor)
        # The microphone was asked for with the browser's echo cancellation on.
        settings = page.evaluate(
            "navigator.mediaDevices.getUserMedia({audio: {echoCancellation: true, "
            "noiseSuppression: true, autoGainControl: true}})"
            ".then((s) => { const t = s.getAudioTracks()[0].getSettings(); "
            "s.getTracks().forEach((x) => x.stop()); return t.echoCancellation; })")
        assert settings is True
        # The console: who speaks, a level meter that moves (the fake microphone beeps), and
        # the talkback voices on its audio element.
        console.wait_for_selector("#talkback-panel .speaker-row", timeout=10_000)
        assert console.inner_text("#talkback-panel .speaker-name") == "marko"
        console.wait_for_function(
            "Number(document.querySelector('#talkback-panel .talkback-level').dataset.db) > -50",
            timeout=10_000)
        console.wait_for_function(
            "(() => { const a = document.getElementById('talkback-audio');"
            " return a.srcObject && a.srcObject.getAudioTracks().length === 1; })()",
            timeout=20_000)
        console.locator(".viewers-panel").screenshot(
            path=str(ARTIFACTS / "talkback-console-speaking.png"))
        page.wait_for_timeout(600)  # the level meter moves
        page.screenshot(path=str(ARTIFACTS / "talkback-speaking-laptop.png"))
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "talkback-speaking-phone.png"), full_page=True)

        # The student stops: the server's talkback ends.
        page.click("#talkback-stop")
        page.wait_for_selector("#talkback[data-state='ended']")
        assert wait_for(lambda: speakers(instructor) == [], 10)

        # Granted again, then the instructor ends it: the page notices and cleans up.
        grant(instructor, server)
        assert page.evaluate(START) == {"ok": True}
        page.wait_for_selector("#talkback[data-state='speaking']", timeout=15_000)
        console.click("#talkback-panel .speaker-row button")  # the instructor's End
        # The classroom's message says so at once; under a parallel suite's load it has taken
        # over 10 s (CI, two workers), hence the wider bound.
        page.wait_for_selector("#talkback[data-state='ended']", timeout=25_000)
        console.wait_for_selector("#talkback-panel", state="hidden", timeout=5_000)
        assert speakers(instructor) == []
        assert "ended" in page.inner_text("#talkback-title")
    finally:
        context.close()
        console_ctx.close()
        browser.close()


@pytest.mark.parametrize(("flags", "error", "words"), [
    (["--use-fake-device-for-media-stream", "--deny-permission-prompts"], "NotAllowedError",
     "blocked"),
    (["--use-fake-ui-for-media-stream"], "NotFoundError", "No microphone"),
], ids=["refused", "absent"])
def test_refused_or_absent_microphone_is_explained(
    playwright: Any, server: Server, instructor: httpx.Client, flags: list[str], error: str,
    words: str,
) -> None:
    browser = launch(playwright, flags)
    context, page = watch_page(browser, server, width=390, height=844)
    try:
        grant(instructor, server)
        result = page.evaluate(START)
        assert result == {"ok": False, "error": error}
        page.wait_for_selector("#talkback[data-state='refused']")
        assert words in page.inner_text("#talkback-detail")
        assert not page.is_visible("#talkback-stop")
        page.screenshot(path=str(ARTIFACTS / f"talkback-{error}-phone.png"))
        assert [s["publishing"] for s in speakers(instructor)] == [False]
    finally:
        instructor.delete(f"/api/rooms/demo/talkback/grants/{user_id(server, 'marko')}")
        context.close()
        browser.close()

"""Headless Chromium: the console shows a WHIP publisher arriving, follows the room over its
websocket, reconnects after a drop, and says so when the server is gone."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from streaming.ice import set_ice_addresses
from tests.conftest import Server, start_server
from tests.e2e.test_browser import ARTIFACTS, browser, log_in  # noqa: F401 - the fixture
from tests.web.test_whip_ingest import ROOM
from tests.web.whip_client import WhipPublisher

pytestmark = pytest.mark.browser


@pytest.fixture()
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop in a thread for the aiortc publisher (Playwright's sync API owns this one)."""
    set_ice_addresses(["127.0.0.1"])
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    set_ice_addresses([])


def test_console_follows_a_whip_source_and_its_own_link(browser, loop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    room = tmp_path / "or2.toml"
    room.write_text(ROOM)
    servers = start_server(tmp_path / "data", extra_env={"MEDROOM_ROOM_FILES": str(room)})
    server: Server = next(servers)
    context, console = log_in(browser, server, "dr-ana")
    token = server.token("instructor", room="or2")
    publisher = WhipPublisher(server.url, "or2", "obs", token)
    try:
        console.goto(server.url + "/rooms/or2/console")
        health = "[data-health='obs']"
        console.wait_for_function(
            f"document.querySelector(\"{health}\").textContent === 'waiting for a WHIP publisher'",
            timeout=15_000)

        response = asyncio.run_coroutine_threadsafe(publisher.publish(), loop).result(60)
        assert response.status_code == 201, response.text
        # Pushed, not polled: the tile turns live with the published picture's size and rate.
        console.wait_for_selector(f"{health}.health-live", timeout=30_000)
        console.wait_for_function(
            f"/640×360 · \\d+ fps/.test(document.querySelector(\"{health}\").textContent)")
        console.keyboard.press("2")
        console.wait_for_selector(".source-tile.on-program[data-source='obs']")
        console.wait_for_timeout(2500)  # thumbnails and the program preview refresh
        console.screenshot(path=str(ARTIFACTS / "console-whip-live.png"), full_page=True)

        # The link drops (the console's side): the bar shows, the console reconnects by
        # itself, and the state flows again.
        console.evaluate("MedRoom.roomSocket.ws.close()")
        console.wait_for_selector("#connection-banner:not([hidden])", timeout=5_000)
        assert "reconnecting" in console.inner_text("#connection-banner")
        console.wait_for_selector("#connection-banner", state="hidden", timeout=15_000)
        console.keyboard.press("1")
        console.wait_for_selector(".source-tile.on-program[data-source='cam']")

        # The publisher leaves: the tile says so and is ready for the next one.
        asyncio.run_coroutine_threadsafe(publisher.unpublish(), loop).result(30)
        console.wait_for_selector(f"{health}.health-lost", timeout=10_000)
        assert "accepting a new WHIP publisher" in console.inner_text(health)

        # The server goes away: the console says it is reconnecting instead of going stale.
        server.process.terminate()
        server.process.wait(20)
        console.wait_for_selector("#connection-banner:not([hidden])", timeout=10_000)
        console.wait_for_timeout(1200)
        assert "reconnecting" in console.inner_text("#connection-banner")
        console.screenshot(path=str(ARTIFACTS / "console-reconnecting.png"))
    finally:
        context.close()
        asyncio.run_coroutine_threadsafe(publisher.close(), loop).result(30)
        servers.close()

"""Debian's Firefox ESR without the OpenH264 plugin watches a live room: it gets VP8.

Before VP8 outputs, such a browser was refused with a 400 that said every browser has H.264.
"""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import PASSWORD, Server
from tests.e2e.firefox import firefox

pytestmark = pytest.mark.browser

OFFERED_CODECS = """(async () => {
    const pc = new RTCPeerConnection({iceServers: []});
    pc.addTransceiver('video', {direction: 'recvonly'});
    const offer = await pc.createOffer();
    pc.close();
    return offer.sdp.split('\\r\\n').filter(l => l.startsWith('a=rtpmap:'))
        .map(l => l.split(' ')[1].split('/')[0]);
})()"""

FRAMES = "Number(document.getElementById('live-video').dataset.frames || 0)"


async def test_firefox_without_h264_watches_the_room_in_vp8(server: Server) -> None:
    token = server.token("instructor")
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=auth, timeout=30) as api:
        (await api.post("/api/rooms/demo/live", json={"title": "VP8"})).raise_for_status()
        try:
            async with firefox() as browser:
                offered = await browser.evaluate(OFFERED_CODECS)
                assert "VP8" in offered and "H264" not in offered, offered

                await browser.navigate(server.url + "/login")
                await browser.evaluate(
                    "document.querySelector('input[name=username]').value = 'marko';"
                    f"document.querySelector('input[name=password]').value = '{PASSWORD}';"
                    "document.querySelector('button[type=submit]').click()")
                await browser.wait_for("location.pathname === '/'", timeout=30)
                await browser.navigate(server.url + "/rooms/demo/watch")
                await browser.wait_for(
                    "document.querySelector('.watch').dataset.state === 'live'", timeout=60)
                await browser.wait_for(f"{FRAMES} > 30", timeout=60)
                before = await browser.evaluate(FRAMES)
                await browser.evaluate("new Promise(r => setTimeout(r, 2000))")
                after = await browser.evaluate(FRAMES)
                assert after - before >= 30, f"only {after - before} frames in 2 s"
                size = await browser.evaluate(
                    "(v => [v.videoWidth, v.videoHeight])(document.getElementById('live-video'))")
                assert size == [1280, 720]  # the demo program, VP8 at its top rung
                room = (await api.get("/api/rooms/demo")).json()
                assert [v["subject"] for v in room["viewers"]] == ["marko"]
                # The console's viewer listing says which codec each viewer receives.
                listing = (await api.get("/api/rooms/demo/viewers")).json()
                assert [(v["subject"], v["codec"]) for v in listing] == [("marko", "vp8")]

                # Leaving the page ends the session (DELETE): nothing is left on the server.
                await browser.navigate("about:blank")
                for _ in range(40):
                    room = (await api.get("/api/rooms/demo")).json()
                    if room["viewer_count"] == 0:
                        break
                    await browser.evaluate("new Promise(r => setTimeout(r, 250))")
                assert room["viewer_count"] == 0, room["viewers"]
        finally:
            await api.delete("/api/rooms/demo/live")

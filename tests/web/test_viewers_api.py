"""The console's per-viewer figures, from a real `medroom serve` and real aiortc viewers."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.conftest import Server
from tests.web.whep_client import WhepClient


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_instructor_sees_each_viewers_rtt_frame_rate_and_loss(server: Server) -> None:
    instructor = server.token("instructor")
    student = server.token("student", subject="marko")
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.get("/api/rooms/demo/viewers", headers=auth(student))
        assert r.status_code == 403 and "student" in r.json()["detail"]
        r = await http.get("/api/rooms/demo/viewers", headers=auth(instructor))
        assert r.status_code == 200 and r.json() == []

        r = await http.post("/api/rooms/demo/live", json={"title": "Stats"},
                            headers=auth(instructor))
        assert r.status_code == 201
        clients = [WhepClient(server.url, "demo", server.token("student", subject=f"s{i}"))
                   for i in range(2)]
        try:
            for client in clients:
                assert (await client.join()).status_code == 201
            # The viewers keep decoding while the instructor watches their figures.
            readers = [asyncio.create_task(c.frames(want=100_000, timeout=25)) for c in clients]
            deadline = time.monotonic() + 20
            viewers: list[dict] = []
            source_fps = 30.0
            while time.monotonic() < deadline:
                await asyncio.sleep(1)
                viewers = (await http.get("/api/rooms/demo/viewers",
                                          headers=auth(instructor))).json()
                if len(viewers) == 2 and all(
                    v["rtt_ms"] is not None and v["fps"] > 0 for v in viewers
                ):
                    # A few steady seconds, and the encoder's own rate over them: on a busy
                    # machine the source may make fewer than 30 frames a second.
                    t0 = time.monotonic()
                    f0 = (await http.get("/api/rooms/demo", headers=auth(instructor))).json()
                    await asyncio.sleep(3)
                    f1 = (await http.get("/api/rooms/demo", headers=auth(instructor))).json()
                    source_fps = (f1["encoder"]["frames_encoded"]
                                  - f0["encoder"]["frames_encoded"]) / (time.monotonic() - t0)
                    viewers = (await http.get("/api/rooms/demo/viewers",
                                              headers=auth(instructor))).json()
                    break
            assert {v["subject"] for v in viewers} == {"s0", "s1"}
            for v in viewers:
                assert v["connection_state"] == "connected", v
                assert v["rtt_ms"] is not None and 0 < v["rtt_ms"] < 500, v
                # Every frame the encoder makes is sent (the demo program runs at 30 fps).
                assert 0.75 * source_fps <= v["fps"] <= 36, (v, source_fps)
                assert v["bitrate_kbps"] > 100, v
                # 720p unless this busy machine lost enough packets to move it down
                assert v["rendition"] in ("720p", "360p") and v["path"] == "host", v
                assert v["codec"] == "h264", v
                assert 0 <= v["fraction_lost"] <= 1 and v["packets_lost"] >= 0, v
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
        finally:
            for client in clients:
                await client.leave()
            await http.delete("/api/rooms/demo/live", headers=auth(instructor))
        viewers = (await http.get("/api/rooms/demo/viewers", headers=auth(instructor))).json()
        assert viewers == []


async def test_a_viewer_pinned_to_360p_receives_640x360(server: Server) -> None:
    instructor = server.token("instructor")
    student = server.token("student", subject="small-screen")
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/rooms/demo/live", json={"title": "Qualities"},
                            headers=auth(instructor))
        assert r.status_code == 201
        try:
            for query, message in (("quality=4k", "no quality '4k' here (qualities: 720p, 360p)"),
                                   ("views=program,microscope", "no view 'microscope'")):
                bad = WhepClient(server.url, "demo", student)
                bad.url += "?" + query
                r = await bad.join()
                assert r.status_code == 400 and message in r.json()["detail"], r.text
                await bad.close()
            pinned = WhepClient(server.url, "demo", student)
            pinned.url += "?quality=360p"
            assert (await pinned.join()).status_code == 201
            frames, _ = await pinned.frames(want=20, timeout=20)
            assert len(frames) == 20
            assert {(f.width, f.height) for f in frames} == {(640, 360)}
            viewers = (await http.get("/api/rooms/demo/viewers", headers=auth(instructor))).json()
            assert [v["rendition"] for v in viewers] == ["360p"]
            admin = server.token("admin")
            diag = (await http.get("/api/diagnostics", headers=auth(admin))).json()
            assert "demo/program@360p" in diag["encoders"]
            assert await pinned.leave() == 200
            diag = (await http.get("/api/diagnostics", headers=auth(admin))).json()
            assert "demo/program@360p" not in diag["encoders"]  # nobody on it: stopped
        finally:
            await http.delete("/api/rooms/demo/live", headers=auth(instructor))

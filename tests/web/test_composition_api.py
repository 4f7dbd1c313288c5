"""Layouts, privacy masks and title through the API; masks checked in what a viewer decodes."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import Server
from tests.web.whep_client import WhepClient


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_layouts_and_title(server: Server) -> None:
    instructor = server.token("instructor")
    with httpx.Client(base_url=server.url, headers=auth(instructor)) as http:
        start = http.get("/api/rooms/demo/composition").json()
        assert start["layout"] == {"kind": "single", "sources": ["endoscope"],
                                   "pip_corner": "bottom-right", "pip_size": 0.3}
        r = http.put("/api/rooms/demo/layout", json={"kind": "pip",
                                                     "sources": ["endoscope", "room-cam"]})
        assert r.status_code == 200 and r.json()["layout"]["kind"] == "pip"
        # Taking a source puts it in the main slot and keeps the layout.
        r = http.post("/api/rooms/demo/program", json={"source": "room-cam"})
        assert r.json()["program_source"] == "room-cam"
        assert http.get("/api/rooms/demo/composition").json()["layout"]["sources"] == [
            "room-cam", "endoscope"]
        for body, message in (
            ({"kind": "mosaic", "sources": ["ct"]}, "unknown layout"),
            ({"kind": "pip", "sources": ["ct"]}, "2 slot"),
            ({"kind": "single", "sources": ["nope"]}, "no source 'nope'"),
            ({"kind": "pip", "sources": ["ct", "endoscope"], "pip_size": 0.9}, "pip_size"),
        ):
            r = http.put("/api/rooms/demo/layout", json=body)
            assert r.status_code == 422 and message in r.json()["detail"], (body, r.text)
        r = http.put("/api/rooms/demo/title", json={"procedure": "Septoplasty",
                                                    "presenter": "Dr. Ana Popescu",
                                                    "clock": True})
        assert r.json()["title"]["clock"] is True
        student = http.put("/api/rooms/demo/layout", headers=auth(server.token("student")),
                           json={"kind": "single", "sources": ["ct"]})
        assert student.status_code == 403
        http.put("/api/rooms/demo/title", json={})
        http.put("/api/rooms/demo/layout", json={"kind": "single", "sources": ["endoscope"]})


async def test_a_mask_drawn_on_the_program_hides_pixels_from_viewers(server: Server) -> None:
    instructor = server.token("instructor")
    async with httpx.AsyncClient(base_url=server.url, headers=auth(instructor)) as http:
        await http.put("/api/rooms/demo/layout", json={
            "kind": "side-by-side", "sources": ["room-cam", "endoscope"]})
        # Drawn over the right half (the endoscope): stored in the endoscope's own coordinates.
        r = await http.post("/api/rooms/demo/masks", json={"x": 0.6, "y": 0.4, "w": 0.2,
                                                           "h": 0.2})
        assert r.status_code == 201, r.text
        (mask,) = r.json()["masks"]
        assert mask["source"] == "endoscope"
        assert abs(mask["x"] - 0.2) < 0.01 and abs(mask["w"] - 0.4) < 0.01
        bad = await http.post("/api/rooms/demo/masks", json={"x": 0.9, "y": 0.9, "w": 0.5,
                                                             "h": 0.5})
        assert bad.status_code == 422
        # Back to the endoscope alone: the mask follows it, now a bigger area of the program.
        await http.put("/api/rooms/demo/layout", json={"kind": "single", "sources": ["endoscope"]})
        # A source still starting shows its slate, not its picture (the mask belongs to the
        # picture): wait until the simulated endoscope delivers, as a fresh server may not yet.
        for _ in range(300):
            room = (await http.get("/api/rooms/demo")).json()
            health = {s["id"]: s["health"]["state"] for s in room["sources"]}
            if health["endoscope"] == "live":
                break
            await asyncio.sleep(0.1)
        assert health["endoscope"] == "live", health
        assert (await http.post("/api/rooms/demo/live", json={})).status_code == 201
        try:
            viewer = WhepClient(server.url, "demo", server.token("student"))
            assert (await viewer.join()).status_code == 201
            frames, _ = await viewer.frames(want=10, timeout=15)
            assert len(frames) == 10
            image = frames[-1].to_ndarray(format="bgr24")
            # Endoscope mask x 0.2..0.6, y 0.4..0.6 of the full program: pure black, inset a
            # few pixels for H.264's blocks; the endoscope's tissue around it is not black.
            hidden = image[int(720 * 0.4) + 8: int(720 * 0.6) - 8, int(1280 * 0.2) + 8:
                           int(1280 * 0.6) - 8]
            assert hidden.max() < 24, hidden.max()
            assert image[int(720 * 0.4): int(720 * 0.6), int(1280 * 0.62): int(1280 * 0.7)].mean() > 40
            await viewer.leave()
        finally:
            await http.delete("/api/rooms/demo/live")
            await http.put("/api/rooms/demo/masks", json={"masks": []})


def test_room_errors_arrive_in_the_callers_language_with_a_stable_code(server: Server) -> None:
    instructor = server.token("instructor")
    answers = {}
    for accept in ("en", "ro", "bg", "sr-Latn"):
        headers = {**auth(instructor), "Accept-Language": accept}
        with httpx.Client(base_url=server.url, headers=headers) as http:
            ended = http.delete("/api/rooms/demo/live")  # the room is not live
            program = http.post("/api/rooms/demo/program", json={"source": "nope"})
            layout = http.put("/api/rooms/demo/layout", json={"kind": "pip", "sources": ["ct"]})
        assert ended.status_code == 409 and ended.json()["code"] == "not_live", ended.text
        assert program.status_code == 422 and program.json()["code"] == "unknown_source"
        assert layout.status_code == 422 and layout.json()["code"] == "composition_refused"
        answers[accept] = (ended.json()["detail"], program.json()["detail"],
                           layout.json()["detail"])
    assert answers["en"][0] == "room 'demo' cannot end: it is not live"
    assert answers["ro"][0] == "Transmisia din sala „demo” nu poate fi încheiată: sala nu este în direct"
    assert answers["bg"][1].startswith("Залата „demo“ няма източник „nope“")
    assert answers["sr-Latn"][1].startswith("Sala „demo“ nema izvor „nope“")
    # The composer's own reason (technical) follows the translated sentence.
    assert answers["ro"][2].startswith("Programul nu poate fi compus astfel: ")
    assert "2 slot" in answers["ro"][2]

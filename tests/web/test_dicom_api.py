"""The DICOM source through the API of a real server: slice, cine, window, upload, bad input."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pydicom
import pytest

from tests.conftest import Server, start_server
from tests.room_controller.dicom_files import PATIENT_ID, PATIENT_NAME, write_ct_slices

ROOM = """
[room]
id = "rad"
name = "Radiology teaching room"
program_source = "cam"

[[sources]]
kind = "test-pattern"
id = "cam"
label = "Room camera"
width = 640
height = 360

[[sources]]
kind = "dicom-series"
id = "ct"
label = "CT head"
path = "{folder}"
width = 640
height = 360
"""
BASE = "/api/rooms/rad/sources/ct/dicom"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_for(check, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


@pytest.fixture(scope="module")
def rad(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A room whose DICOM folder holds a good slice and a truncated one."""
    folder = tmp_path_factory.mktemp("rad")
    series = folder / "series"
    (good,) = write_ct_slices(series, [40], z_mm=[0], size=64)
    data = good.read_bytes()
    (series / "broken.dcm").write_bytes(data[: len(data) // 2])
    room = folder / "rad.toml"
    room.write_text(ROOM.format(folder=series))
    yield from start_server(folder / "data", extra_env={"MEDROOM_ROOM_FILES": str(room)})


def _files(paths: list[Path]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (p.name, p.read_bytes(), "application/dicom")) for p in paths]


def test_a_bad_series_is_the_sources_health_error_and_the_room_goes_on(
    rad: Server, tmp_path: Path
) -> None:
    with httpx.Client(base_url=rad.url, headers=auth(rad.token("instructor", "rad"))) as http:
        def ct_health() -> dict[str, object]:
            room = http.get("/api/rooms/rad").json()
            return next(s["health"] for s in room["sources"] if s["id"] == "ct")

        health = wait_for(lambda: (h := ct_health())["state"] == "failed" and h)
        assert health and "broken.dcm: corrupt DICOM file: truncated" in str(health["error"])
        state = http.get(BASE).json()
        assert state["state"] == "failed" and "broken.dcm" in state["error"]
        assert state["loaded"] is False
        r = http.put(f"{BASE}/slice", json={"index": 0})
        assert r.status_code == 422 and "not loaded" in r.json()["detail"]
        # The rest of the room is fine: the camera is live and the room goes live.
        cam = next(s for s in http.get("/api/rooms/rad").json()["sources"] if s["id"] == "cam")
        assert cam["health"]["state"] == "live"
        assert http.post("/api/rooms/rad/live", json={}).status_code == 201
        assert http.delete("/api/rooms/rad/live").status_code == 200

        # A good upload repairs the source at once.
        paths = write_ct_slices(tmp_path / "up", [0, 40, 80], z_mm=[5.0, -5.0, 0.0], size=64)
        r = http.post(BASE, files=_files(paths))
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["count"], body["rows"], body["cols"], body["files"]) == (3, 64, 64, 3)
        assert PATIENT_NAME not in r.text and PATIENT_ID not in r.text
        assert wait_for(lambda: ct_health()["state"] == "live")
        assert ct_health()["error"] is None


def test_slice_cine_and_window_controls(rad: Server, tmp_path: Path) -> None:
    with httpx.Client(base_url=rad.url, headers=auth(rad.token("instructor", "rad"))) as http:
        paths = write_ct_slices(tmp_path / "s", [0, 10, 20, 30, 40], z_mm=[4, 3, 2, 1, 0],
                                size=32)
        assert http.post(BASE, files=_files(paths)).status_code == 201
        r = http.put(f"{BASE}/slice", json={"index": 3})
        body = r.json()
        assert r.status_code == 200 and body["index"] == 3 and body["playing"] is False
        assert body["position_mm"] == 3.0
        assert http.put(f"{BASE}/slice", json={"delta": 5}).json()["index"] == 4
        assert http.put(f"{BASE}/slice", json={"delta": -2}).json()["index"] == 2
        for bad, message in (
            ({"index": 5}, "between 0 and 4"),
            ({}, "exactly one of 'index'"),
            ({"index": 1, "delta": 1}, "exactly one of 'index'"),
            ({"index": -1}, "index"),
        ):
            r = http.put(f"{BASE}/slice", json=bad)
            assert r.status_code == 422 and message in r.json()["detail"], (bad, r.text)

        r = http.put(f"{BASE}/cine", json={"playing": True, "speed": 8})
        assert r.json()["playing"] is True and r.json()["speed"] == 8
        r = http.put(f"{BASE}/cine", json={"playing": True, "speed": 100})
        assert r.status_code == 422 and "between 0.5 and 30" in r.json()["detail"]
        assert http.put(f"{BASE}/cine", json={"playing": False}).json()["playing"] is False

        r = http.put(f"{BASE}/window", json={"preset": "bone"})
        assert r.json()["window"] == {"preset": "bone", "center": 600, "width": 2800,
                                      "label": "bone W:2800 L:600"}
        r = http.put(f"{BASE}/window", json={"center": 50, "width": 350})
        assert r.json()["window"]["preset"] is None and r.json()["window"]["label"] == "W:350 L:50"
        for bad, message in (
            ({"center": 40, "width": 0}, "width must be greater than 0"),
            ({"center": 40, "width": -80}, "width must be greater than 0"),
            ({"preset": "lung-ish"}, "unknown window preset 'lung-ish'"),
            ({"preset": "brain", "center": 40, "width": 80}, "not both"),
            ({"center": 40}, "both 'center' and 'width'"),
            ({"center": "abc", "width": 80}, "center"),
        ):
            r = http.put(f"{BASE}/window", json=bad)
            assert r.status_code == 422 and message in r.json()["detail"], (bad, r.text)
        assert [p["name"] for p in http.get(BASE).json()["presets"]] == [
            "brain", "subdural", "bone", "soft-tissue"]
        r = http.put("/api/rooms/rad/sources/cam/dicom/window", json={"preset": "bone"})
        assert r.status_code == 404 and "not a DICOM series source" in r.json()["detail"]


def test_students_may_not_control_or_upload(rad: Server, tmp_path: Path) -> None:
    student = auth(rad.token("student", "rad"))
    with httpx.Client(base_url=rad.url, headers=student) as http:
        assert http.get(BASE).status_code == 403
        assert http.put(f"{BASE}/slice", json={"index": 0}).status_code == 403
        assert http.put(f"{BASE}/window", json={"preset": "bone"}).status_code == 403
        paths = write_ct_slices(tmp_path, [0], z_mm=[0])
        r = http.post(BASE, files=_files(paths))
        assert r.status_code == 403 and "student" in r.json()["detail"]


def test_uploads_zip_replace_and_refuse_non_dicom(rad: Server, tmp_path: Path) -> None:
    uploads = rad.data_dir / "uploads" / "dicom" / "rad" / "ct"
    with httpx.Client(base_url=rad.url, headers=auth(rad.token("instructor", "rad")),
                      timeout=60) as http:
        # A zip as a CD export has it: nested folders, a DICOMDIR-like companion file skipped.
        paths = write_ct_slices(tmp_path / "zip", [0, 20, 40, 60], z_mm=[0, 1, 2, 3], size=48)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for n, path in enumerate(paths):
                archive.write(path, f"DICOM/ST000/SE000/IM{n:04d}")
        r = http.post(BASE, files=[("files", ("export.zip", buffer.getvalue(),
                                               "application/zip"))])
        assert r.status_code == 201, r.text
        assert (r.json()["count"], r.json()["cols"]) == (4, 48)
        kept = [p for p in uploads.iterdir()]
        assert len(kept) == 1 and len(list(kept[0].iterdir())) == 4

        # Not DICOM: refused naming the file; the source keeps showing the zip's series.
        bad = write_ct_slices(tmp_path / "bad", [0, 0], z_mm=[0, 1], size=48)
        (tmp_path / "bad" / "report.pdf").write_bytes(b"%PDF-1.4 not an image")
        r = http.post(BASE, files=_files([*bad, tmp_path / "bad" / "report.pdf"]))
        assert r.status_code == 422
        assert "report.pdf: not a DICOM file" in r.json()["detail"], r.text
        assert str(rad.data_dir) not in r.json()["detail"]  # no server paths in the answer
        assert http.get(BASE).json()["count"] == 4
        assert [p for p in uploads.iterdir()] == kept  # the refused upload left nothing

        # Mixed sizes and a broken zip: named too.
        same_series = str(pydicom.dcmread(bad[0]).SeriesInstanceUID)
        odd = write_ct_slices(tmp_path / "odd", [0], z_mm=[9], size=16, names=["odd.dcm"],
                              series_uid=same_series)
        r = http.post(BASE, files=_files([*bad, *odd]))
        assert r.status_code == 422 and "odd.dcm is 16x16" in r.json()["detail"], r.text
        r = http.post(BASE, files=[("files", ("series.zip", b"PK\x03\x04broken", "application/zip"))])
        assert r.status_code == 422 and "series.zip" in r.json()["detail"], r.text
        r = http.post(BASE, files=[])
        assert r.status_code == 422 and "files" in r.json()["detail"]

        # A new good upload replaces the series and removes the previous upload's files.
        r = http.post(BASE, files=_files(bad))
        assert r.status_code == 201 and r.json()["count"] == 2
        now = [p for p in uploads.iterdir()]
        assert len(now) == 1 and now != kept

        # Two uploads at once: one after the other, and the folder kept is the one shown.
        three = write_ct_slices(tmp_path / "three", [0, 1, 2], z_mm=[0, 1, 2], size=48)
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda files: http.post(BASE, files=_files(files)),
                                    [bad, three]))
        assert [a.status_code for a in answers] == [201, 201]
        (left,) = list(uploads.iterdir())
        shown = http.get(BASE).json()
        assert shown["count"] == len(list(left.iterdir())) and shown["state"] != "failed"


def test_openapi_documents_the_dicom_api(rad: Server) -> None:
    spec = httpx.get(rad.url + "/openapi.json",
                     headers=auth(rad.token("instructor"))).json()
    paths = spec["paths"]
    for path in ("", "/slice", "/cine", "/window"):
        assert f"/api/rooms/{{room_id}}/sources/{{source_id}}/dicom{path}" in paths
    upload = paths["/api/rooms/{room_id}/sources/{source_id}/dicom"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert "422" in upload["responses"]

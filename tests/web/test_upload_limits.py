"""Upload limits against a real `medroom serve`, with the limits lowered through the settings:
the room source's series upload and the lesson attachments refuse what passes them, while it
streams, with 413 naming the setting, and leave nothing on disk; both refuse a truncated DICOM."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from config.settings import DEMO_ROOM_FILE
from tests.conftest import Server, start_server
from tests.room_controller.dicom_files import write_ct_slices
from tests.room_controller.test_dicom_upload import zip_of
from tests.web.test_dicom_api import BASE, ROOM, auth
from tests.web.test_library_api import record, session

MiB = 1024**2


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("limits")
    write_ct_slices(folder / "series", [40], z_mm=[0], size=32)
    room = folder / "rad.toml"
    room.write_text(ROOM.format(folder=folder / "series"))
    yield from start_server(folder / "data", extra_env={
        "MEDROOM_ROOM_FILES": f"{DEMO_ROOM_FILE},{room}",
        "MEDROOM_UPLOAD_MAX_BYTES": str(2 * MiB),
        "MEDROOM_UPLOAD_MAX_EXPANDED_BYTES": str(4 * MiB),
        "MEDROOM_UPLOAD_MAX_FILES": "20",
        "MEDROOM_UPLOAD_MAX_SLICE_BYTES": str(1 * MiB),
    })


def files_on_disk(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def instructor(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=60,
                        headers=auth(server.token("instructor", "rad")))


def test_a_zip_bomb_is_refused_with_413_and_leaves_nothing(limited: Server) -> None:
    uploads = limited.data_dir / "uploads"
    # 10 slices of 512 KiB of zeros: 5 MiB unpacked from a zip of about 5 KB.
    bomb = zip_of({f"IM{n:04d}": bytes(MiB // 2) for n in range(10)})
    assert len(bomb) < 64 * 1024
    with instructor(limited) as http:
        r = http.post(BASE, files=[("files", ("bomb.zip", bomb, "application/zip"))])
        assert r.status_code == 413, r.text
        assert r.json()["detail"] == ("bomb.zip: IM0008: the upload unpacks to more than 4 MiB "
                                      "(MEDROOM_UPLOAD_MAX_EXPANDED_BYTES): upload one series "
                                      "at a time")
        assert files_on_disk(uploads) == []
        assert http.get(BASE).json()["count"] == 1  # the source goes on showing its series


def test_a_zip_of_too_many_members_is_refused(limited: Server) -> None:
    many = zip_of({f"DICOM/IM{n:04d}": b"x" for n in range(500)})
    with instructor(limited) as http:
        r = http.post(BASE, files=[("files", ("many.zip", many, "application/zip"))])
    assert r.status_code == 413
    assert "many.zip: DICOM/IM0020: more than 20 files in one upload (MEDROOM_UPLOAD_MAX_FILES)" \
        in r.json()["detail"]
    assert files_on_disk(limited.data_dir / "uploads") == []


def test_a_body_over_the_limit_is_refused_while_it_streams(limited: Server) -> None:
    with instructor(limited) as http:
        # Declared too large: refused before it is read.
        r = http.post(BASE, files=[("files", ("big.dcm", bytes(3 * MiB), "application/dicom"))])
        assert r.status_code == 413
        assert "larger than 2 MiB (MEDROOM_UPLOAD_MAX_BYTES)" in r.json()["detail"]
        # Chunked, with no length to go by: cut off once 2 MiB have arrived.
        boundary = "medroom-limit-test"

        def body() -> Iterator[bytes]:
            yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
                   "filename=\"big.dcm\"\r\nContent-Type: application/dicom\r\n\r\n").encode()
            for _ in range(24):
                yield bytes(128 * 1024)
            yield f"\r\n--{boundary}--\r\n".encode()

        r = http.post(BASE, content=body(), headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert r.status_code == 413 and "MEDROOM_UPLOAD_MAX_BYTES" in r.json()["detail"]
    assert files_on_disk(limited.data_dir / "uploads") == []


def test_lesson_attachments_have_the_same_limits_and_refuse_a_truncated_dicom(
        limited: Server, tmp_path: Path) -> None:
    lesson = session(limited, "cura").post("/api/library/lessons",
                                           json={"recording_id": record(limited, 1.0, ())})
    lid = lesson.json()["id"]
    attachments = limited.data_dir / "library" / "attachments"
    curator = session(limited, "cura")
    url = f"/api/library/lessons/{lid}/attachments"
    # One file over the size of a slice (under the size of a request).
    r = curator.post(url, files=[("files", ("huge.dcm", bytes(MiB + 1), "application/dicom"))])
    assert r.status_code == 413
    assert r.json()["detail"] == ("huge.dcm: larger than 1 MiB, the most one DICOM file may be "
                                  "(MEDROOM_UPLOAD_MAX_SLICE_BYTES)")
    # A zip bomb, as for a room source.
    bomb = zip_of({f"IM{n:04d}": bytes(MiB // 2) for n in range(10)})
    r = curator.post(url, files=[("files", ("bomb.zip", bomb, "application/zip"))])
    assert r.status_code == 413 and "MEDROOM_UPLOAD_MAX_EXPANDED_BYTES" in r.json()["detail"]
    assert files_on_disk(attachments) == []
    # A DICOM cut short: refused by the check the room source makes, with the same reason.
    (good,) = write_ct_slices(tmp_path / "t", [40], z_mm=[0], size=64)
    data = good.read_bytes()
    cut = [("files", ("IM0001.dcm", data[: len(data) - 1000], "application/dicom"))]
    r = curator.post(url, files=cut)
    assert r.status_code == 422
    reason = r.json()["detail"]
    assert reason.startswith("IM0001.dcm: corrupt DICOM file: truncated, ") and "8192" in reason
    assert curator.get(url).json() == [] and files_on_disk(attachments) == []
    with instructor(limited) as http:
        r = http.post(BASE, files=cut)
        assert r.status_code == 422 and r.json()["detail"] == reason
    # The whole file is attached.
    r = curator.post(url, files=[("files", ("IM0001.dcm", data, "application/dicom"))])
    assert r.status_code == 201, r.text

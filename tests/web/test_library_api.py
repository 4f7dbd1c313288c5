"""The library API against a real `medroom serve`: a recording made in the demo room is
curated, passes the privacy gate and is published by a background job with visible progress;
bad input and a server killed mid-job end cleanly."""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest
from pydicom.data import get_testdata_file

from library.users import Role
from tests.conftest import PASSWORD, Server, start_server
from web.auth import TokenSigner


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def session(server: Server, username: str) -> httpx.Client:
    """A logged-in browser session; unsafe calls carry the page's CSRF token."""
    client = httpx.Client(base_url=server.url, timeout=30)
    csrf = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf": csrf})
    assert r.status_code == 303, r.text
    page = client.get("/").text
    client.headers["X-CSRF-Token"] = page.split('name="csrf-token" content="')[1].split('"')[0]
    return client


def token(server: Server, role: str) -> str:
    """A bearer token signed with the server's key, in-process (the CLI costs a Python start-up,
    which on a loaded machine can take most of a minute)."""
    signer = TokenSigner(server.env["MEDROOM_SECRET_KEY"])
    return signer.issue(subject=f"script-{role}", role=Role(role), room="*", ttl_seconds=3600)


def record(server: Server, seconds: float, markers: tuple[str, ...] = ("Exposure",),
           stop: bool = True) -> str:
    instructor = auth(token(server, "instructor"))
    with httpx.Client(base_url=server.url, timeout=30, headers=instructor) as http:
        r = http.post("/api/rooms/demo/recordings", json={"title": "Septoplasty"})
        assert r.status_code == 201, r.text
        rid = str(r.json()["id"])
        step = seconds / (len(markers) + 1)
        for title in markers:
            time.sleep(step)
            assert http.post(f"/api/recordings/{rid}/markers",
                             json={"title": title}).status_code == 201
        time.sleep(step)
        if stop:
            assert http.post(f"/api/recordings/{rid}/stop").status_code == 200
    return rid


def wait_job(http: httpx.Client, job_id: int, timeout: float = 120) -> tuple[dict[str, Any],
                                                                            list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"/api/library/jobs/{job_id}").json()
        seen.append(job)
        if job["state"] in ("done", "failed"):
            return job, seen
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {seen[-1]}")


def course_id(http: httpx.Client, slug: str) -> int:
    return next(c["id"] for c in http.get("/api/library/courses").json() if c["slug"] == slug)


@pytest.fixture(scope="module")
def curator(server: Server) -> Iterator[httpx.Client]:
    with closing(session(server, "cura")) as client:
        yield client


def test_a_demo_recording_becomes_a_published_lesson(server: Server,
                                                     curator: httpx.Client) -> None:
    rid = record(server, 4.0, ("Exposure", "Resection"))
    ent = course_id(curator, "ent")
    r = curator.post("/api/library/lessons", json={"recording_id": rid, "course_ids": [ent]})
    assert r.status_code == 201, r.text
    lesson = r.json()
    assert lesson["status"] == "draft" and lesson["title"] == "Septoplasty"
    assert [c["title"] for c in lesson["chapters"]] == ["Exposure", "Resection"]
    lid = lesson["id"]
    assert curator.post("/api/library/lessons",
                        json={"recording_id": rid}).status_code == 409  # one lesson each

    # Curation: metadata, a bad and a good trim, chapters renamed, a note.
    r = curator.patch(f"/api/library/lessons/{lid}", json={
        "procedure": "Septoplasty", "language": "ro", "tags": ["septum"],
        "description": "Endoscopic septoplasty"})
    assert r.status_code == 200 and r.json()["procedure"] == "Septoplasty"
    bad = curator.put(f"/api/library/lessons/{lid}/trim", json={"start": 3.0, "end": 1.0})
    assert bad.status_code == 422 and "not after trim start" in bad.json()["detail"]
    beyond = curator.put(f"/api/library/lessons/{lid}/trim", json={"start": 0, "end": 999})
    assert beyond.status_code == 422 and "past the end" in beyond.json()["detail"]
    assert curator.put(f"/api/library/lessons/{lid}/trim",
                       json={"start": 0.5, "end": None}).status_code == 200
    chapters = [{"id": c["id"], "title": c["title"].upper(), "start": c["start"]}
                for c in lesson["chapters"]]
    r = curator.put(f"/api/library/lessons/{lid}/chapters", json=chapters)
    assert [c["title"] for c in r.json()["chapters"]] == ["EXPOSURE", "RESECTION"]
    note = curator.post(f"/api/library/lessons/{lid}/notes",
                        json={"at": 2.0, "text": "Spur removed"})
    assert note.status_code == 201 and note.json()["author"]

    # The privacy gate refuses, then opens once a curator confirmed both.
    refused = curator.post(f"/api/library/lessons/{lid}/publish")
    assert refused.status_code == 409
    assert "patient consent and de-identification" in refused.json()["detail"]
    half = curator.put(f"/api/library/lessons/{lid}/privacy",
                       json={"consent": True, "deidentified": False})
    assert half.json()["privacy_problem"].endswith("confirm de-identification")
    assert curator.post(f"/api/library/lessons/{lid}/publish").status_code == 409
    opened = curator.put(f"/api/library/lessons/{lid}/privacy",
                         json={"consent": True, "deidentified": True}).json()
    assert opened["privacy_problem"] is None and opened["privacy_confirmed_by"] is not None
    assert opened["privacy_confirmed_at"]

    r = curator.post(f"/api/library/lessons/{lid}/publish")
    assert r.status_code == 202, r.text
    job, seen = wait_job(curator, r.json()["id"])
    assert job["state"] == "done", job
    assert job["percent"] == 100 and job["attempts"] == 1
    assert {s["state"] for s in seen} >= {"done"}
    published = curator.get(f"/api/library/lessons/{lid}").json()
    assert published["status"] == "published" and published["duration"] > 2
    assert published["job"]["state"] == "done"
    tech = published["technical"]
    assert [c["title"] for c in tech["chapters"]["items"]] == ["EXPOSURE", "RESECTION"]
    assert {t["name"] for t in tech["tracks"]} >= {"program", "audio"}
    folder = server.data_dir / "library" / "lessons" / str(lid)
    vtt = (folder / "chapters.vtt").read_text()
    assert "EXPOSURE" in vtt and (folder / "program.mp4").stat().st_size > 0
    assert (folder / "audio.mp4").stat().st_size > 0
    assert curator.post(f"/api/library/lessons/{lid}/publish").status_code == 202
    again, _ = wait_job(curator, curator.get(f"/api/library/lessons/{lid}/job").json()["id"])
    assert again["state"] == "done"  # re-published after curation, still one lesson

    # Students: not enrolled 403, enrolled sees it; never a draft.
    marko_id = None
    with closing(session(server, "marko")) as marko:
        assert marko.get(f"/api/library/lessons/{lid}").status_code == 403
        assert marko.get("/api/library/lessons").json() == []
        assert marko.put(f"/api/library/lessons/{lid}/trim", json={}).status_code == 403
        users = {m["username"]: m for m in curator.get(
            f"/api/library/courses/{ent}/members").json()}
        assert "marko" not in users
        marko_id = _user_id(server, "marko")
        assert curator.put(f"/api/library/courses/{ent}/members/{marko_id}",
                           json={"role": "student"}).status_code == 200
        seen_lesson = marko.get(f"/api/library/lessons/{lid}")
        assert seen_lesson.status_code == 200 and seen_lesson.json()["title"] == "Septoplasty"
        assert [x["id"] for x in marko.get("/api/library/lessons").json()] == [lid]
        assert curator.post(f"/api/library/lessons/{lid}/unpublish").status_code == 200
        assert marko.get(f"/api/library/lessons/{lid}").status_code == 403
    assert not folder.exists()


def _user_id(server: Server, username: str) -> int:
    from library.db import Database
    from library.users import get_user_by_username

    db = Database(f"sqlite:///{server.data_dir / 'medroom.db'}")
    try:
        user = get_user_by_username(db, username)
        assert user is not None
        return user.id
    finally:
        db.dispose()


def test_running_recording_corrupt_track_and_retry(server: Server,
                                                   curator: httpx.Client) -> None:
    neuro = course_id(curator, "neurosurgery")
    privacy = {"consent": True, "deidentified": True}
    running = record(server, 1.0, (), stop=False)
    lid = curator.post("/api/library/lessons",
                       json={"recording_id": running, "course_ids": [neuro]}).json()["id"]
    curator.put(f"/api/library/lessons/{lid}/privacy", json=privacy)
    r = curator.post(f"/api/library/lessons/{lid}/publish")
    assert r.status_code == 409 and "still recording" in r.json()["detail"]
    httpx.post(f"{server.url}/api/recordings/{running}/stop",
               headers=auth(token(server, "instructor")), timeout=30)

    rid = record(server, 2.0)
    folder = next((server.data_dir / "recordings" / "demo").glob(f"*-{rid}"))
    track = folder / "iso-room-cam.mp4"
    kept = track.read_bytes()
    track.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"garbage" * 100)
    lid = curator.post("/api/library/lessons",
                       json={"recording_id": rid, "course_ids": [neuro]}).json()["id"]
    curator.put(f"/api/library/lessons/{lid}/privacy", json=privacy)
    job, _ = wait_job(curator, curator.post(f"/api/library/lessons/{lid}/publish").json()["id"])
    assert job["state"] == "failed" and "iso-room-cam" in job["error"], job
    lesson = curator.get(f"/api/library/lessons/{lid}").json()
    assert lesson["status"] == "failed" and lesson["technical"] is None
    assert not (server.data_dir / "library" / "lessons" / str(lid)).exists()

    track.write_bytes(kept)
    retried = curator.post(f"/api/library/jobs/{job['id']}/retry")
    assert retried.status_code == 202 and retried.json()["state"] == "queued"
    done, _ = wait_job(curator, job["id"])
    assert done["state"] == "done" and done["attempts"] == 2
    assert curator.post(f"/api/library/jobs/{job['id']}/retry").status_code == 409
    assert curator.get(f"/api/library/lessons/{lid}").json()["status"] == "published"


def test_dicom_attachments_are_deidentified_and_non_dicom_refused(
        server: Server, curator: httpx.Client, tmp_path: Path) -> None:
    rid = record(server, 1.0, ())
    lid = curator.post("/api/library/lessons", json={"recording_id": rid}).json()["id"]
    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    ct.PatientName, ct.PatientID = "Popescu^Ion", "RO-1234"
    path = tmp_path / "Popescu_Ion.dcm"
    ct.save_as(path)
    files = [("files", ("Popescu_Ion.dcm", path.read_bytes(), "application/dicom")),
             ("files", ("notes.txt", b"not dicom", "text/plain"))]
    r = curator.post(f"/api/library/lessons/{lid}/attachments", files=files)
    assert r.status_code == 422 and "notes.txt: not a DICOM file" in r.json()["detail"]
    assert curator.get(f"/api/library/lessons/{lid}/attachments").json() == []
    r = curator.post(f"/api/library/lessons/{lid}/attachments", files=files[:1])
    assert r.status_code == 201, r.text
    stored = list((server.data_dir / "library" / "attachments" / str(lid)).rglob("*.dcm"))
    assert len(stored) == 1 and "Popescu" not in stored[0].name
    out = pydicom.dcmread(stored[0])
    assert "Popescu" not in str(out.PatientName) and out.PatientID != "RO-1234"
    assert out.PatientIdentityRemoved == "YES"
    assert out.SOPInstanceUID != ct.SOPInstanceUID
    assert "Popescu" not in json.dumps(r.json())


def test_a_server_killed_mid_job_publishes_the_lesson_exactly_once(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    data_dir = tmp_path_factory.mktemp("restart")
    servers = start_server(data_dir)
    server = next(servers)
    try:
        rid = record(server, 10.0, ("Exposure",))
        with closing(session(server, "cura")) as http:
            lid = http.post("/api/library/lessons", json={"recording_id": rid}).json()["id"]
            http.put(f"/api/library/lessons/{lid}/privacy",
                     json={"consent": True, "deidentified": True})
            job_id = http.post(f"/api/library/lessons/{lid}/publish").json()["id"]
            deadline = time.monotonic() + 60
            while http.get(f"/api/library/jobs/{job_id}").json()["state"] != "running":
                assert time.monotonic() < deadline
                time.sleep(0.02)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=20)
    finally:
        servers.close()
    library = data_dir / "library" / "lessons"
    restarted = start_server(data_dir, create_users=False)
    server = next(restarted)
    try:
        with closing(session(server, "cura")) as http:
            job, _ = wait_job(http, job_id)
            assert job["state"] == "done" and job["attempts"] == 2, job
            lesson = http.get(f"/api/library/lessons/{lid}").json()
            assert lesson["status"] == "published" and lesson["duration"] > 5
            jobs = [x for x in http.get("/api/library/lessons").json() if x["id"] == lid]
            assert len(jobs) == 1
        assert sorted(p.name for p in library.iterdir()) == [str(lid)]  # no staging left
        assert (library / str(lid) / "lesson.json").exists()
    finally:
        restarted.close()
    shutil.rmtree(data_dir, ignore_errors=True)

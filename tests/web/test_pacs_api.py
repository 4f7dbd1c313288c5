"""The PACS through the API of a real server against a real Orthanc: the console's view of
whether each PACS answers, search, retrieval with progress onto the demo's DICOM source, the
worklist and patient context, who may do it, and the access log of each step."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import httpx
import pytest

from tests.conftest import Server, start_server
from tests.pacs_peer import (
    ORTHANC_AET,
    PASSWORD,
    USER,
    OrthancPeer,
    Study,
    ct_series,
    free_port,
    require_orthanc,
    worklist_item,
)

BASE = "/api/rooms/demo/pacs"
WHY = {"why": "case for the demonstration"}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Setup:
    server: Server
    orthanc: OrthancPeer
    head: Study
    admin: dict[str, str]
    instructor: dict[str, str]
    student: dict[str, str]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    require_orthanc()
    orthanc = OrthancPeer(tmp_path_factory.mktemp("orthanc")).start()
    try:
        head, datasets = ct_series(patient_name="Popescu^Ion", patient_id="P0001",
                                   accession="ACC0001", slices=30, size=64)
        orthanc.upload(datasets)
        orthanc.add_worklist(worklist_item(patient_name="Țurcanu^Ștefan", patient_id="W1",
                                           accession="WL0001", when=date(2026, 12, 5),
                                           study_uid=head.study_uid), "wl1")
        down = free_port()
        pacs = [
            {"id": "hospital", "label": "Hospital PACS", "dicomweb_url": orthanc.dicomweb_url,
             "aet": ORTHANC_AET, "host": "127.0.0.1", "port": orthanc.dicom_port,
             "username": USER, "password": PASSWORD, "timeout_seconds": 10},
            {"id": "down", "aet": "GONE", "host": "127.0.0.1", "port": down,
             "timeout_seconds": 1},
        ]
        env = {"MEDROOM_PACS": json.dumps(pacs), "MEDROOM_PACS_RETENTION_HOURS": "1"}
        for server in start_server(tmp_path_factory.mktemp("medroom"), extra_env=env):
            yield Setup(server, orthanc, head, auth(server.token("admin")),
                        auth(server.token("instructor", subject="dr-ana")),
                        auth(server.token("student")))
    finally:
        orthanc.stop()


def test_the_console_sees_which_pacs_answers_and_why_not(setup: Setup) -> None:
    listed = httpx.get(setup.server.url + BASE, headers=setup.instructor, timeout=30).json()
    by_id = {p["id"]: p for p in listed}
    assert by_id["hospital"]["answers"] is True
    assert {s["protocol"] for s in by_id["hospital"]["status"]} == {"dicomweb", "dimse"}
    assert by_id["down"]["answers"] is False
    assert "no association" in by_id["down"]["status"][0]["error"]
    log = setup.server.log.read_text()
    assert "PACS 'down' does not answer over dimse" in log  # checked at start, said clearly


def test_search_retrieve_and_show_on_the_dicom_source_with_progress(setup: Setup) -> None:
    url = setup.server.url
    found = httpx.get(url + BASE + "/hospital/studies", headers=setup.instructor, timeout=30,
                      params={"patient_name": "popescu", **WHY}).json()
    [study] = found["studies"]
    assert study["patient_id"] == "P0001" and study["accession"] == "ACC0001"
    [series] = study["series"]
    assert (series["description"], series["instances"]) == ("Head CT axial", 30)
    for protocol in ("dimse", "dicomweb"):
        started = httpx.post(url + BASE + "/hospital/retrievals", headers=setup.instructor,
                             timeout=30, json={"study_uid": study["study_uid"],
                                               "series_uid": series["series_uid"],
                                               "protocol": protocol, "source_id": "ct", **WHY})
        assert started.status_code == 202, started.text
        job_id = started.json()["id"]
        deadline = time.monotonic() + 30
        while True:
            jobs = httpx.get(url + BASE + "/retrievals", headers=setup.instructor).json()
            job = next(j for j in jobs if j["id"] == job_id)
            if job["state"] != "running" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert job["state"] == "done", job
        assert (job["received"], job["total"], job["slices"], job["cached"]) == (30, 30, 30, True)
    dicom = httpx.get(url + "/api/rooms/demo/sources/ct/dicom", headers=setup.instructor).json()
    assert (dicom["count"], dicom["rows"], dicom["modality"]) == (30, 64, "CT")
    # The access log says who searched and fetched what, and why.
    log = httpx.get(url + "/api/cme/audit", headers=setup.admin,
                    params={"target": "room"}).json()
    actions = [(e["action"], e["actor"]) for e in log]
    assert ("pacs.search", "dr-ana") in actions and ("pacs.retrieve", "dr-ana") in actions
    search = next(e for e in log if e["action"] == "pacs.search")
    assert search["detail"]["why"] == WHY["why"]
    assert search["detail"]["query"] == {"patient_name": "popescu"}
    # Deleting it now puts the demo phantom back on the source.
    assert httpx.delete(url + BASE + f"/retrievals/{job_id}", headers=setup.instructor,
                        params=WHY).status_code == 204
    dicom = httpx.get(url + "/api/rooms/demo/sources/ct/dicom", headers=setup.instructor).json()
    assert dicom["count"] != 30
    assert not [p for p in (setup.server.data_dir / "pacs" / "demo").iterdir()
                if p.name.endswith(job_id) or job_id in p.name]


def test_worklist_and_patient_context(setup: Setup) -> None:
    url = setup.server.url
    items = httpx.get(url + BASE + "/hospital/worklist", headers=setup.instructor, timeout=30,
                      params={"day": "2026-12-05", **WHY}).json()["items"]
    assert [i["patient_name"] for i in items] == ["Țurcanu^Ștefan"]
    chosen = httpx.put(url + BASE + "/context", headers=setup.instructor, timeout=30,
                       json={"pacs_id": "hospital", "accession": "WL0001", "day": "2026-12-05",
                             **WHY})
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["item"]["study_uid"] == setup.head.study_uid
    missing = httpx.put(url + BASE + "/context", headers=setup.instructor, timeout=30,
                        json={"pacs_id": "hospital", "accession": "NOPE", "day": "2026-12-05",
                              **WHY})
    assert missing.status_code == 404 and "no item with accession number 'NOPE'" in missing.text
    assert httpx.delete(url + BASE + "/context", headers=setup.instructor).status_code == 204
    assert httpx.get(url + BASE + "/context", headers=setup.instructor).json()["item"] is None


def test_bad_input_and_an_unreachable_pacs_get_clear_answers(setup: Setup) -> None:
    url = setup.server.url
    whole = httpx.get(url + BASE + "/hospital/studies", headers=setup.instructor,
                      params={"modality": "CT", **WHY})
    assert whole.status_code == 422 and "does not list a whole PACS" in whole.text
    no_why = httpx.get(url + BASE + "/hospital/studies", headers=setup.instructor,
                       params={"patient_id": "P1"})
    assert no_why.status_code == 422
    unknown = httpx.get(url + BASE + "/nowhere/studies", headers=setup.instructor,
                        params={"patient_id": "P1", **WHY})
    assert unknown.status_code == 404 and "PACS: hospital, down" in unknown.text
    down = httpx.get(url + BASE + "/down/studies", headers=setup.instructor, timeout=30,
                     params={"patient_id": "P1", **WHY})
    assert down.status_code == 503 and "no association" in down.text
    bad_uid = httpx.post(url + BASE + "/hospital/retrievals", headers=setup.instructor,
                         json={"study_uid": "1.2.x", "series_uid": "1.2.3", **WHY})
    assert bad_uid.status_code == 422


def test_only_instructors_and_admins_reach_the_pacs(setup: Setup) -> None:
    url = setup.server.url
    for path in ("", "/retrievals", "/context"):
        assert httpx.get(url + BASE + path, headers=setup.student).status_code == 403
    answer = httpx.get(url + BASE + "/hospital/studies", headers=setup.student,
                       params={"patient_id": "P0001", **WHY})
    assert answer.status_code == 403
    assert httpx.get(url + BASE).status_code == 401
    other_room = auth(setup.server.token("instructor", room="elsewhere"))
    assert httpx.get(url + BASE, headers=other_room).status_code == 403
    # A curator may send a recording's parts to the record, never search or fetch images.
    curator = auth(setup.server.token("curator"))
    assert httpx.get(url + BASE + "/exports", headers=curator).status_code == 200
    assert httpx.get(url + BASE + "/hospital/studies", headers=curator,
                     params={"patient_id": "P0001", **WHY}).status_code == 403
    assert httpx.get(url + BASE + "/exports", headers=setup.student).status_code == 403


def stopped_recording(server: Server, recording_id: str, started_at: str = "") -> list[str]:
    """A stopped recording of room demo on the server's disk: a 4 s ISO track, two markers."""
    from library.publishing.bench import encode_clip, write_track
    from recorder.manifest import Manifest, RecordingState, TrackEntry
    from recorder.timeline import Marker, Timeline

    folder = server.data_dir / "recordings" / "demo" / f"20261205-{recording_id}"
    folder.mkdir(parents=True)
    write_track(folder / "iso-endoscope.mp4", encode_clip(640, 360, 30, 4.0, 800, seed=1),
                640, 360, 30, 1)
    Manifest(id=recording_id, room="demo", title="Colonoscopy", state=RecordingState.STOPPED,
             started_at=started_at, duration=4.0, tracks=(TrackEntry(name="iso-endoscope", kind="iso",
                                              file="iso-endoscope.mp4", width=640, height=360,
                                              fps=30, media_offset=0.0),)).write(folder)
    timeline = Timeline(folder)
    return [timeline.append(Marker(title=t, at=at)).id  # type: ignore[union-attr]
            for t, at in (("Polyp", 1.0), ("Resected", 3.0))]


def test_export_needs_patient_context_then_sends_each_object_once(setup: Setup) -> None:
    url, headers = setup.server.url, setup.instructor
    markers = stopped_recording(setup.server, "rec42")
    body = {"recording_id": "rec42", "track": "iso-endoscope", "clip_markers": [markers[0]],
            "still_markers": [markers[1]], **WHY}
    teaching = httpx.post(url + BASE + "/hospital/exports", headers=headers, json=body)
    assert teaching.status_code == 422 and "teaching session" in teaching.text
    assert httpx.put(url + BASE + "/context", headers=headers, timeout=30, json={
        "pacs_id": "hospital", "accession": "WL0001", "day": "2026-12-05", **WHY},
    ).status_code == 200

    def export() -> dict[str, object]:
        started = httpx.post(url + BASE + "/hospital/exports", headers=headers, json=body)
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + 30
        while True:
            [job] = [j for j in httpx.get(url + BASE + "/exports", headers=headers).json()
                     if j["id"] == started.json()["id"]]
            if not job["running"] or time.monotonic() > deadline:
                return job  # type: ignore[no-any-return]
            time.sleep(0.1)

    first = export()
    assert [(i["kind"], i["state"]) for i in first["items"]] == [("video", "sent"),
                                                                 ("image", "sent")], first
    assert first["study_uid"] == setup.head.study_uid  # the worklist item's study
    assert first["items"][0]["frames"] == 60
    again = export()
    assert [i["state"] for i in again["items"]] == ["already-sent", "already-sent"]
    # A recording made before this patient's context was chosen is another procedure's.
    older = stopped_recording(setup.server, "rec41", started_at="2026-01-05T08:00:00+00:00")
    refused = httpx.post(url + BASE + "/hospital/exports", headers=headers,
                         json=body | {"recording_id": "rec41", "clip_markers": [older[0]],
                                      "still_markers": []})
    assert refused.status_code == 422 and "belongs to a later procedure" in refused.text
    log = httpx.get(url + "/api/cme/audit", headers=setup.admin,
                    params={"action": "pacs.export"}).json()
    assert log[0]["detail"]["accession"] == "WL0001" and log[0]["detail"]["why"] == WHY["why"]
    httpx.delete(url + BASE + "/context", headers=headers)

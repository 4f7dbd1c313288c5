"""The curation editor's API on a real server: the editor's media of a real recording folder
(faststart copies, keyframes, waveform, thumbnails) served with byte ranges, and the edit saved
against a version: a second curator's stale save is a 412, never a silent overwrite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import av
import httpx
import pytest

from recorder.synthetic import write_synthetic_recording
from recorder.timeline import ChatMessage, Marker, Note, Question, QuestionStatus
from tests.conftest import Server
from tests.web.test_library_api import course_id, session


@pytest.fixture(scope="module")
def lesson(server: Server) -> Iterator[tuple[httpx.Client, int, Path]]:
    folder = write_synthetic_recording(
        server.data_dir / "recordings", "demo", "Curation API", seconds=8.0,
        events=[Marker("Exposure", at=2.0), Note("septum deviated", at=3.0)])
    curator = session(server, "cura")
    with closing(curator):
        r = curator.post("/api/library/lessons", json={
            "recording_id": folder.name.split("-")[-1],
            "course_ids": [course_id(curator, "ent")]})
        assert r.status_code == 201, r.text
        yield curator, r.json()["id"], folder


def test_the_editor_gets_tracks_keyframes_waveform_and_thumbnails(
        lesson: tuple[httpx.Client, int, Path]) -> None:
    http, lesson_id, folder = lesson
    r = http.get(f"/api/library/lessons/{lesson_id}/curation")
    assert r.status_code == 200, r.text
    data = r.json()
    assert r.headers["etag"] == f'"v{data["edit"]["version"]}"'
    names = [t["name"] for t in data["tracks"]]
    assert names == ["program", "iso-endoscope", "iso-room", "audio"]
    program = data["tracks"][0]
    # GOP of 2 s: keyframes at 0, 2, 4, 6 on the session clock.
    assert program["keyframes"] == [0.0, 2.0, 4.0, 6.0]
    assert abs(program["duration"] - 8.0) < 0.1
    assert [e["type"] for e in data["events"]] == ["marker", "note"]
    assert data["edit"]["chapters"][0]["title"] == "Exposure"

    waveform = http.get(data["waveform_url"]).json()
    assert waveform["rate"] == 20 and 155 <= len(waveform["peaks"]) <= 165
    assert max(waveform["peaks"]) > 50  # the synthetic voice is there
    sprite = http.get(data["thumbnails"]["url"])
    assert sprite.headers["content-type"] == "image/jpeg" and sprite.content[:2] == b"\xff\xd8"

    # The program copy is a faststart MP4 that seeks by range: moov first, a range is a 206.
    head = http.get(program["url"], headers={"Range": "bytes=0-1023"})
    assert head.status_code == 206 and b"moov" in head.content[:200]
    assert head.headers["cache-control"].startswith("private")
    whole = http.get(program["url"]).content
    local = folder / "curation" / "program.mp4"
    assert whole == local.read_bytes()
    with av.open(str(local)) as container:
        assert container.streams.video[0].frames == 200

    for bad in ("manifest.json", "..%2Fmanifest.json", "x" * 150):
        assert http.get(f"/api/library/lessons/{lesson_id}/curation/files/{bad}"
                        ).status_code == 404


def test_saving_needs_the_version_and_refuses_a_stale_one(
        server: Server, lesson: tuple[httpx.Client, int, Path]) -> None:
    http, lesson_id, _ = lesson
    url = f"/api/library/lessons/{lesson_id}/edit"
    version = http.get(f"/api/library/lessons/{lesson_id}/curation").json()["edit"]["version"]
    edit = {"trim_start": 1.0, "trim_end": 7.0,
            "chapters": [{"title": "Start", "start": 1.0}, {"title": "Resection", "start": 4.2}],
            "hidden": [{"start": 5.0, "end": 6.0}],
            "masks": [{"track": "iso-room", "start": 2.0, "end": 3.0,
                       "x": 0.1, "y": 0.1, "w": 0.3, "h": 0.2}]}
    assert http.put(url, json=edit).status_code == 428
    r = http.put(url, json=edit, headers={"If-Match": f'"v{version}"'})
    assert r.status_code == 200, r.text
    saved = r.json()
    assert saved["version"] == version + 1 and r.headers["etag"] == f'"v{version + 1}"'
    assert [c["title"] for c in saved["chapters"]] == ["Start", "Resection"]
    assert saved["hidden"] == [{"start": 5.0, "end": 6.0}] and len(saved["masks"]) == 1

    # A second curator (another tab) still holds the old version: 412 with the current one.
    other = session(server, "cura")
    with closing(other):
        stale = other.put(url, json={**edit, "trim_start": 2.0},
                          headers={"If-Match": f'"v{version}"'})
        assert stale.status_code == 412, stale.text
        assert stale.json()["current_version"] == version + 1
        assert "changed by someone else" in stale.json()["detail"]
    lesson_now = http.get(f"/api/library/lessons/{lesson_id}").json()
    assert lesson_now["trim_start"] == 1.0  # the first save stands

    # Bad input: clear 422s, nothing changed.
    current = f'"v{version + 1}"'
    for body, words in (
        ({**edit, "trim_start": 6.0, "trim_end": 2.0}, "not after trim start"),
        ({**edit, "chapters": [{"title": "B", "start": 4.0}, {"title": "A", "start": 1.0}]},
         "before the chapter above"),
        ({**edit, "trim_end": 99.0}, "past the end"),
        ({**edit, "masks": [{**edit["masks"][0], "x": 0.9, "w": 0.5}]}, "inside the picture"),
        ({**edit, "masks": [{**edit["masks"][0], "end": 1.0}]}, "not after start"),
    ):
        bad = http.put(url, json=body, headers={"If-Match": current})
        assert bad.status_code == 422 and words in bad.text, (body, bad.text)
    for body in ({**edit, "trim_start": -1}, {**edit, "trim_start": "nan"},
                 {**edit, "hidden": [{"start": 0, "end": 1}] * 201},
                 {**edit, "masks": [{**edit["masks"][0], "x": 2}]}):
        assert http.put(url, json=body, headers={"If-Match": current}).status_code == 422
    assert http.put(url, json=edit, headers={"If-Match": '"v999x"'}).status_code == 412
    assert http.get(f"/api/library/lessons/{lesson_id}/curation").headers["etag"] == current


@pytest.fixture(scope="module")
def talk_lesson(server: Server) -> Iterator[tuple[httpx.Client, int]]:
    folder = write_synthetic_recording(
        server.data_dir / "recordings", "demo", "Classroom to curate", seconds=4.0,
        events=[ChatMessage("my number is 0888", at=1.0, author="ivo", id="s1-c1"),
                ChatMessage("why the 30° scope?", at=1.5, author="ana", id="s1-c2"),
                Question(question="s1-q1", text="graft?", at=2.0, author="ana"),
                QuestionStatus(question="s1-q1", status="answered", votes=2, at=2.5)])
    curator = session(server, "cura")
    with closing(curator):
        r = curator.post("/api/library/lessons", json={
            "recording_id": folder.name.split("-")[-1],
            "course_ids": [course_id(curator, "ent")]})
        assert r.status_code == 201, r.text
        yield curator, r.json()["id"]


def test_a_curator_hides_classroom_messages_with_the_edit(
        server: Server, talk_lesson: tuple[httpx.Client, int]) -> None:
    http, lesson_id = talk_lesson
    url = f"/api/library/lessons/{lesson_id}/edit"
    r = http.get(f"/api/library/lessons/{lesson_id}/curation")
    data, current = r.json(), r.headers["etag"]
    assert [e["type"] for e in data["events"]] == ["chat", "chat", "question", "question_status"]
    assert data["edit"]["hidden_messages"] == []
    edit = {"trim_start": None, "trim_end": None, "chapters": [], "hidden": [], "masks": [],
            "hidden_messages": ["s1-c1", "s1-q1", "s1-c1"]}

    # Bad input: clear 422s (ids are timeline ids, bounded in length and count), nothing saved.
    for bad in (["<script>alert(1)</script>"], ["x" * 65], [""], [123], "s1-c1",
                [f"m{n}" for n in range(5001)]):
        r = http.put(url, json={**edit, "hidden_messages": bad}, headers={"If-Match": current})
        assert r.status_code == 422, (str(bad)[:40], r.text)
        assert "hidden_messages" in r.text
    assert http.put(url, json=edit).status_code == 428
    # Only the lesson's curators: a student is refused before anything is read.
    student = session(server, "marko")
    with closing(student):
        assert student.put(url, json=edit, headers={"If-Match": current}).status_code == 403

    r = http.put(url, json=edit, headers={"If-Match": current})
    assert r.status_code == 200, r.text
    assert r.json()["hidden_messages"] == ["s1-c1", "s1-q1"]  # once each
    again = http.get(f"/api/library/lessons/{lesson_id}/curation").json()["edit"]
    assert again["hidden_messages"] == ["s1-c1", "s1-q1"]
    # Unhide one: the whole edit is saved again, against its new version.
    r = http.put(url, json={**edit, "hidden_messages": ["s1-c1"]},
                 headers={"If-Match": r.headers["etag"]})
    assert r.status_code == 200 and r.json()["hidden_messages"] == ["s1-c1"]


def test_the_editor_s_refusals_speak_the_caller_s_language(
        lesson: tuple[httpx.Client, int, Path]) -> None:
    """A refusal reads in the language the caller asks for (labels inside it too); its code,
    what a program reads, is the same in every language."""
    http, lesson_id, _ = lesson
    url = f"/api/library/lessons/{lesson_id}/edit"
    state = http.get(f"/api/library/lessons/{lesson_id}/curation")
    edit = {"trim_start": 1.0, "trim_end": 99.0, "chapters": [], "hidden": [], "masks": []}
    said = {}
    for language in ("ro-RO", "sr-Latn", "sr", "bg", "en"):
        r = http.put(url, json=edit, headers={"If-Match": state.headers["etag"],
                                              "Accept-Language": language})
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "past_recording_end"
        said[language] = r.json()["detail"]
    assert said == {
        "ro-RO": "sfârșitul lecției (99 s) este după sfârșitul înregistrării (8 s)",
        "sr-Latn": "kraj lekcije (99 s) je posle kraja snimka (8 s)",
        "sr": "крај лекције (99 с) је после краја снимка (8 с)",
        "bg": "краят на урока (99 с) е след края на записа (8 с)",
        "en": "trim end 99 s is past the end of the recording (8 s)",
    }
    stale = http.put(url, json={**edit, "trim_end": None},
                     headers={"If-Match": '"v0"', "Accept-Language": "bg"})
    assert stale.status_code == 412
    assert stale.json()["code"] == "lesson_version_conflict"
    assert stale.json()["detail"].startswith(f"урок {lesson_id} е променен от някой друг")
    refused = http.post(f"/api/library/lessons/{lesson_id}/publish",
                        headers={"Accept-Language": "ro"})
    assert refused.status_code == 409 and refused.json()["code"] == "privacy_gate_closed"
    assert refused.json()["detail"] == (
        f"lecția {lesson_id} nu poate fi publicată: un curator trebuie să confirme mai întâi "
        "consimțământul pacientului și de-identificarea")

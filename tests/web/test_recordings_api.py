"""Recording a room through the API, and surviving SIGKILL, against a real `medroom serve`."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import av
import httpx
import pytest

from tests.conftest import Server, start_server


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def decoded_seconds(path: Path) -> tuple[float, int, tuple[int, int]]:
    """Decode every frame (video, or the Opus audio track); return (seconds, frames, size)."""
    with av.open(str(path)) as container:
        if container.streams.audio:
            audio = container.streams.audio[0]
            assert audio.codec_context.name == "opus"
            times = [float(f.time) for f in container.decode(audio) if f.time is not None]
            return (max(times) - min(times) if times else 0.0), len(times), (0, 0)
        stream = container.streams.video[0]
        times = [float(f.time) for f in container.decode(stream) if f.time is not None]
        size = (stream.codec_context.width, stream.codec_context.height)
    return (max(times) - min(times) if times else 0.0), len(times), size


def test_record_pause_markers_stop_and_chapters(server: Server) -> None:
    instructor, student = server.token("instructor"), server.token("student")
    curator = server.token("curator")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.post("/api/rooms/demo/recordings", headers=auth(student)).status_code == 403
        # Wall-clock bounds of the recorded spans: under load the API calls between them take
        # seconds, so the expected length is measured, not assumed.
        before_start = time.monotonic()
        r = http.post("/api/rooms/demo/recordings", json={"title": "Septoplasty"},
                      headers=auth(instructor))
        after_start = time.monotonic()
        assert r.status_code == 201, r.text
        rec = r.json()
        assert rec["state"] == "recording" and rec["title"] == "Septoplasty"
        assert {t["name"] for t in rec["tracks"]} == {
            "program", "iso-endoscope", "iso-room-cam", "iso-ct", "audio"}
        assert {t["name"]: t["kind"] for t in rec["tracks"]}["audio"] == "audio"
        rid = rec["id"]
        again = http.post("/api/rooms/demo/recordings", headers=auth(instructor))
        assert again.status_code == 409 and "already recording" in again.json()["detail"]

        time.sleep(1.5)
        m = http.post(f"/api/recordings/{rid}/markers", json={"title": "Mucosal incision"},
                      headers=auth(instructor))
        assert m.status_code == 201 and m.json()["at"] > 0.5
        for bad in ("", "   ", "x" * 10_000):
            r = http.post(f"/api/recordings/{rid}/markers", json={"title": bad},
                          headers=auth(instructor))
            assert r.status_code == 422, bad[:10]
        before_pause = time.monotonic()
        assert http.post(f"/api/recordings/{rid}/pause", headers=auth(instructor)).json()[
            "state"] == "paused"
        after_pause = time.monotonic()
        twice = http.post(f"/api/recordings/{rid}/pause", headers=auth(instructor))
        assert twice.status_code == 409
        time.sleep(1.0)
        before_resume = time.monotonic()
        assert http.post(f"/api/recordings/{rid}/resume", headers=auth(instructor)).json()[
            "state"] == "recording"
        after_resume = time.monotonic()
        time.sleep(1.5)
        m2 = http.post(f"/api/recordings/{rid}/markers", json={"title": "Cartilage removed"},
                       headers=auth(instructor)).json()
        renamed = http.patch(f"/api/recordings/{rid}/markers/{m2['id']}",
                             json={"title": "Cartilage resected"}, headers=auth(instructor))
        assert renamed.status_code == 200 and renamed.json()["title"] == "Cartilage resected"

        note = http.post(f"/api/recordings/{rid}/notes", json={"text": "Bleeding controlled"},
                         headers=auth(instructor))
        assert note.status_code == 201 and note.json()["type"] == "note"
        stroke = http.post(f"/api/recordings/{rid}/strokes", headers=auth(instructor), json={
            "points": [[0.2, 0.3], [0.25, 0.35], [0.3, 0.3]], "colour": "#ffd400",
            "duration_seconds": 0.5})
        assert stroke.status_code == 201, stroke.text
        assert stroke.json()["data"]["ended_at"] - stroke.json()["data"]["started_at"] == (
            pytest.approx(0.5, abs=0.01))
        outside = http.post(f"/api/recordings/{rid}/strokes", headers=auth(instructor),
                            json={"points": [[1.5, 0.3]]})
        assert outside.status_code == 422 and "outside the picture" in outside.json()["detail"]
        bad_colour = http.post(f"/api/recordings/{rid}/strokes", headers=auth(instructor),
                               json={"points": [[0.5, 0.5]], "colour": "red"})
        assert bad_colour.status_code == 422
        chat = http.post(f"/api/recordings/{rid}/chat", json={"text": "Which instrument?"},
                         headers=auth(student))
        assert chat.status_code == 201 and chat.json()["author"] == "script-student"
        assert http.post(f"/api/recordings/{rid}/notes", json={"text": "x"},
                         headers=auth(student)).status_code == 403

        before_stop = time.monotonic()
        stopped = http.post(f"/api/recordings/{rid}/stop", headers=auth(instructor))
        after_stop = time.monotonic()
        assert stopped.status_code == 200, stopped.text
        body = stopped.json()
        assert body["state"] == "stopped" and body["size_bytes"] > 0
        assert [m["title"] for m in body["markers"]] == ["Mucosal incision", "Cartilage resected"]
        assert http.post(f"/api/recordings/{rid}/stop", headers=auth(instructor)).status_code == 409
        assert http.get("/api/recordings/nope", headers=auth(instructor)).status_code == 404
        assert http.post("/api/recordings/nope/stop", headers=auth(instructor)).status_code == 404

        # A curator reviews it; the chapters follow the markers.
        assert http.get(f"/api/recordings/{rid}", headers=auth(student)).status_code == 403
        listed = http.get("/api/rooms/demo/recordings", headers=auth(curator)).json()
        assert [r["id"] for r in listed] == [rid]
        vtt = http.get(f"/api/recordings/{rid}/chapters.vtt", headers=auth(curator))
        assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT")
        assert vtt.text.index("Mucosal incision") < vtt.text.index("Cartilage resected")
        events = http.get(f"/api/recordings/{rid}/timeline", headers=auth(curator)).json()
        assert sorted(e["type"] for e in events) == ["chat", "marker", "marker", "note", "stroke"]
        assert all(a["at"] <= b["at"] for a, b in itertools.pairwise(events))

    # Every track plays: the pause is not in the file, the frames are the room's sources.
    folder = next((server.data_dir / "recordings" / "demo").glob(f"*-{rid}"))
    shortest = (before_pause - after_start) + (before_stop - after_resume)
    longest = (after_pause - before_start) + (after_stop - before_resume)
    for track in body["tracks"]:
        seconds, frames, size = decoded_seconds(folder / track["file"])
        # The paused second is not in the file: the length lies between the shortest and the
        # longest the two recorded spans can have been (a first frame may come a little late).
        assert shortest - 0.5 < seconds < longest + 0.2, (track["name"], seconds, shortest,
                                                          longest)
        if track["kind"] == "audio":
            assert frames > 2.5 * 50  # 20 ms Opus frames
            continue
        assert size == (1280, 720)
        assert frames > 60


def test_sigkill_mid_recording_loses_at_most_two_seconds(tmp_path: Path) -> None:
    servers = start_server(tmp_path)
    server = next(servers)
    token = server.token("instructor")
    rec = httpx.post(f"{server.url}/api/rooms/demo/recordings", json={"title": "Crash"},
                     headers=auth(token), timeout=30).json()
    time.sleep(1.0)
    httpx.post(f"{server.url}/api/recordings/{rec['id']}/markers", json={"title": "Before"},
               headers=auth(token), timeout=30).raise_for_status()
    time.sleep(4.0)
    started = time.monotonic()
    elapsed_at_kill = httpx.get(f"{server.url}/api/recordings/{rec['id']}",
                                headers=auth(token)).json()["duration"]
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=10)
    elapsed_at_kill += time.monotonic() - started
    with pytest.raises(StopIteration):
        next(servers)  # the fixture's clean-up: the process is already gone

    again = start_server(tmp_path, create_users=False)
    restarted = next(again)
    try:
        r = httpx.get(f"{restarted.url}/api/recordings/{rec['id']}", headers=auth(token))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["state"] == "recovered"
        assert [m["title"] for m in body["markers"]] == ["Before"]
        folder = next((tmp_path / "recordings" / "demo").glob(f"*-{rec['id']}"))
        assert (folder / "chapters.vtt").read_text().count("Before") == 1
        for track in body["tracks"]:
            seconds, _frames, _ = decoded_seconds(folder / track["file"])
            assert elapsed_at_kill - 2.0 <= seconds + 1 / 30 <= elapsed_at_kill + 0.5, (
                track["name"], seconds, elapsed_at_kill)
        # The room records again after the crash.
        r = httpx.post(f"{restarted.url}/api/rooms/demo/recordings", headers=auth(token),
                       timeout=30)
        assert r.status_code == 201
    finally:
        with pytest.raises(StopIteration):
            next(again)


def test_no_recording_starts_when_the_disk_is_almost_full(tmp_path: Path) -> None:
    everything = str(10**18)  # more free space than any disk has: the guard must act now
    servers = start_server(tmp_path, extra_env={"MEDROOM_STORAGE_WARN_BYTES": everything,
                                                 "MEDROOM_STORAGE_STOP_BYTES": everything})
    server = next(servers)
    try:
        token = server.token("instructor")
        room = httpx.get(f"{server.url}/api/rooms/demo", headers=auth(token)).json()
        assert room["storage"]["level"] == "critical"
        r = httpx.post(f"{server.url}/api/rooms/demo/recordings", headers=auth(token), timeout=30)
        assert r.status_code == 409 and "disk almost full" in r.json()["detail"]
    finally:
        with pytest.raises(StopIteration):
            next(servers)


@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 64 MB tmpfs for the recordings: a disk that really fills (needs root to mount)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
                            check=False, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_low_disk_stops_the_recording_cleanly_and_says_why(tmp_path: Path, small_disk: Path) -> None:
    free = shutil.disk_usage(small_disk).free
    servers = start_server(tmp_path / "data", extra_env={
        "MEDROOM_RECORDINGS_DIR": str(small_disk),
        "MEDROOM_STORAGE_WARN_BYTES": str(free - 1_000_000),
        "MEDROOM_STORAGE_STOP_BYTES": str(free - 3_000_000),  # about 3 s of four tracks
    })
    server = next(servers)
    try:
        token = server.token("instructor")
        rec = httpx.post(f"{server.url}/api/rooms/demo/recordings", headers=auth(token),
                         timeout=30).json()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = httpx.get(f"{server.url}/api/recordings/{rec['id']}", headers=auth(token)).json()
            if body["state"] != "recording":
                break
            time.sleep(0.3)
        assert body["state"] == "stopped", body
        assert "disk almost full" in (body["stop_reason"] or "")
        room = httpx.get(f"{server.url}/api/rooms/demo", headers=auth(token)).json()
        assert room["storage"]["level"] == "critical"
        folder = next((small_disk / "demo").glob(f"*-{rec['id']}"))
        seconds, frames, _ = decoded_seconds(folder / "program.mp4")
        assert seconds > 0.5 and frames > 15  # what was recorded plays
    finally:
        with pytest.raises(StopIteration):
            next(servers)


def test_a_scheduled_session_records_on_time_without_a_console(server: Server) -> None:
    from datetime import UTC, datetime, timedelta

    token, student_token = server.token("instructor"), server.token("student")
    now = datetime.now(UTC)
    with httpx.Client(base_url=server.url, headers=auth(token), timeout=30) as http:
        bad = http.post("/api/rooms/demo/schedule", json={
            "title": "x", "starts_at": (now + timedelta(minutes=5)).isoformat(),
            "ends_at": (now + timedelta(minutes=1)).isoformat()})
        assert bad.status_code == 422 and "end after it starts" in bad.json()["detail"]
        too_long = http.post("/api/rooms/demo/schedule", json={
            "title": "x", "starts_at": (now + timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=6)).isoformat()})
        assert too_long.status_code == 422 and "recording limit" in too_long.json()["detail"]
        student = http.post("/api/rooms/demo/schedule", headers=auth(student_token), json={})
        assert student.status_code == 403

        now = datetime.now(UTC)  # the window is set right before it is planned: a busy machine
        start, end = now + timedelta(seconds=2), now + timedelta(seconds=6)
        r = http.post("/api/rooms/demo/schedule", json={
            "title": "Scheduled tonsillectomy", "course": "ENT",
            "starts_at": start.isoformat(), "ends_at": end.isoformat()})
        assert r.status_code == 201, r.text
        planned = r.json()
        clash = http.post("/api/rooms/demo/schedule", json={
            "title": "Clash", "starts_at": start.isoformat(), "ends_at": end.isoformat()})
        assert clash.status_code == 409 and "Scheduled tonsillectomy" in clash.json()["detail"]

        deadline = time.monotonic() + 25
        states = set()
        while time.monotonic() < deadline:
            item = next(s for s in http.get("/api/rooms/demo/schedule").json()
                        if s["id"] == planned["id"])
            states.add(item["state"])
            if item["state"] in ("done", "failed", "missed"):
                break
            time.sleep(0.25)
        assert item["state"] == "done", item
        assert "recording" in states
        (recording_id,) = item["recording_ids"]
        rec = http.get(f"/api/recordings/{recording_id}").json()
        assert rec["title"] == "Scheduled tonsillectomy" and rec["state"] == "stopped"
        assert rec["stop_reason"] == "scheduled end"
        assert 3.0 <= rec["duration"] <= 5.0, rec["duration"]  # 4 s window, 1 s tick


def test_recordings_from_an_older_server_are_listed_and_a_garbled_one_is_named(
    server: Server,
) -> None:
    """Folders left by earlier versions stay listed; a damaged manifest is a 409 saying why,
    never a 500 that takes the room's whole list down."""
    demo = server.data_dir / "recordings" / "demo"
    old, bad = demo / "20240101-090000-old000000001", demo / "20240101-100000-bad000000001"
    old.mkdir(parents=True)
    bad.mkdir()
    # As the first recorder wrote it: no stop_reason, no track codec.
    (old / "manifest.json").write_text(json.dumps({
        "id": "old000000001", "room": "demo", "title": "Tonsillectomy, 2024",
        "state": "stopped", "started_at": "2024-01-01T09:00:00.000+00:00",
        "stopped_at": "2024-01-01T09:40:00.000+00:00", "duration": 2400.0,
        "max_duration": 14400.0, "recovered": False, "error": None,
        "tracks": [{"name": "program", "kind": "program", "source_id": None,
                    "file": "program.mp4", "width": 1280, "height": 720, "fps": 30,
                    "media_offset": 0.0, "packets": 72000, "dropped": 0,
                    "size_bytes": 123456, "error": None}],
        "pauses": [],
    }))
    (bad / "manifest.json").write_text(json.dumps({
        "id": "bad000000001", "room": "demo", "state": "stopped", "tracks": "program.mp4"}))
    curator = auth(server.token("curator"))
    try:
        with httpx.Client(base_url=server.url, timeout=30, headers=curator) as http:
            listed = http.get("/api/rooms/demo/recordings")
            assert listed.status_code == 200, listed.text
            by_id = {r["id"]: r for r in listed.json()}
            assert "bad000000001" not in by_id
            rec = by_id["old000000001"]
            assert rec["state"] == "stopped" and rec["stop_reason"] is None
            assert rec["size_bytes"] == 123456 and rec["duration"] == 2400.0
            assert [t["name"] for t in rec["tracks"]] == ["program"]
            library = http.get("/api/library/recordings")
            assert library.status_code == 200, library.text
            assert "old000000001" in {r["id"] for r in library.json()}

            damaged = http.get("/api/recordings/bad000000001")
            assert damaged.status_code == 409, damaged.text
            detail = damaged.json()["detail"]
            assert "demo/20240101-100000-bad000000001/manifest.json is garbled" in detail
            assert "'tracks' must be a list" in detail
            lesson = http.post("/api/library/lessons", json={"recording_id": "bad000000001"})
            assert lesson.status_code == 409 and "'tracks' must be a list" in lesson.text
    finally:
        shutil.rmtree(old)
        shutil.rmtree(bad)

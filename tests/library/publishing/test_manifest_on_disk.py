"""Recordings already on disk: manifests written by older recorders, and damaged ones.

The typed ``Manifest`` must read what the recorder wrote before it existed (recordings made
months ago are published months later), and a manifest that cannot be read must say which
file and which field, instead of a ``KeyError`` somewhere in a listing or a publishing job.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from library.publishing.errors import PublishError
from library.publishing.jobs import recording_problem
from library.publishing.pipeline import publish_recording
from recorder.archive import find_manifest, list_manifests
from recorder.manifest import Manifest, ManifestError, RecordingState
from tests.library.publishing.conftest import Recorded


def old_manifest(current: dict[str, object]) -> dict[str, object]:
    """The manifest as the first recorder wrote it, then recovered after a crash: no
    ``stop_reason``, no track ``codec``; ``recovered`` flags written by the recovery."""
    tracks = current["tracks"]
    assert isinstance(tracks, list)
    return {
        "id": current["id"], "room": current["room"], "title": current["title"],
        "state": "recovered", "started_at": current["started_at"],
        "stopped_at": current["stopped_at"], "duration": current["duration"],
        "max_duration": 14400.0, "recovered": True, "error": None,
        "tracks": [
            {key: track[key] for key in ("name", "kind", "source_id", "file", "width", "height",
                                         "fps", "media_offset", "packets", "dropped",
                                         "size_bytes", "error")} | {"recovered": True}
            for track in tracks
        ],
        "pauses": [{"media_at": 1.25, "started_at": current["started_at"],
                    "ended_at": current["started_at"], "seconds": 0.5}],
    }


def test_a_manifest_from_an_older_recorder_is_listed_and_published(
    recording: Recorded, tmp_path: Path,
) -> None:
    path = recording.folder / "manifest.json"
    written = old_manifest(json.loads(path.read_text()))
    path.write_text(json.dumps(written, indent=2))
    recordings_dir = recording.folder.parent.parent
    room = recording.folder.parent.name

    (listed,) = list_manifests(recordings_dir, room)
    assert listed.id == written["id"] and listed.state is RecordingState.RECOVERED
    assert listed.stop_reason is None and listed.recovered
    assert [t.codec for t in listed.tracks] == ["h264", "h264"]
    assert all(t.recovered for t in listed.tracks)
    assert listed.pauses[0].seconds == 0.5
    found = find_manifest(recordings_dir, str(written["id"]))
    assert found is not None and found[0] == recording.folder and found[1] == listed
    assert recording_problem(recording.folder) is None

    lesson = publish_recording(recording.folder, tmp_path / "lesson")
    meta = json.loads((lesson.folder / "lesson.json").read_text())
    assert meta["recording"]["id"] == written["id"]
    assert meta["recording"]["state"] == "recovered"
    assert [t.name for t in lesson.tracks] == ["program", "iso-cam1"]
    assert lesson.duration > 2.0

    # Rewriting it keeps what the old file said (no key lost, the state still a string).
    listed.write(recording.folder)
    again = json.loads(path.read_text())
    assert again["state"] == "recovered" and again["pauses"] == written["pauses"]
    assert {k: again[k] for k in written if k != "tracks"} == {
        k: v for k, v in written.items() if k != "tracks"}


@pytest.mark.parametrize(("damage", "says"), [
    ({"state": "stoped"}, "state 'stoped' is not one of recording, paused, stopped"),
    ({"id": None}, "'id' must be text, got None"),
    ({"room": 7}, "'room' must be text, got 7"),
    ({"duration": "long"}, "'duration' must be a number, got 'long'"),
    ({"tracks": {"program": {}}}, "'tracks' must be a list"),
    ({"tracks": ["program.mp4"]}, "track 0 is garbled: expected an object, got str"),
    ({"tracks": [{"name": "program", "kind": "video"}]}, "track 0 is garbled: kind 'video'"),
    ({"tracks": [{"name": "program", "kind": "program", "size_bytes": -1}]},
     "'size_bytes' must be a whole number"),
])
def test_a_garbled_manifest_is_a_clear_error_not_a_crash(
    recording: Recorded, tmp_path: Path, damage: dict[str, object], says: str,
) -> None:
    # A healthy recording of the same room next to the damaged one.
    healthy = recording.folder.with_name("20200101-000000-healthy00000")
    shutil.copytree(recording.folder, healthy)
    path = healthy / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "id": "healthy00000"}))
    manifest = recording.folder / "manifest.json"
    recording_id = json.loads(manifest.read_text())["id"]
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), **damage}))
    where = f"{recording.folder.parent.name}/{recording.folder.name}/manifest.json"

    with pytest.raises(ManifestError) as read:
        Manifest.read(recording.folder)
    assert str(read.value).startswith(where) and says in str(read.value)
    with pytest.raises(PublishError) as published:
        publish_recording(recording.folder, tmp_path / "lesson")
    assert says in str(published.value) and not (tmp_path / "lesson").exists()
    # The room's list still shows the healthy recording; asking for the damaged one by id
    # says what is wrong with it rather than that it does not exist.
    recordings_dir = recording.folder.parent.parent
    assert [m.id for m in list_manifests(recordings_dir, recording.folder.parent.name)] == [
        "healthy00000"]
    with pytest.raises(ManifestError, match="is garbled"):
        find_manifest(recordings_dir, recording_id)


def test_a_missing_or_unparsable_manifest_names_the_folder(recording: Recorded) -> None:
    manifest = recording.folder / "manifest.json"
    manifest.write_text('{"id": "x", "state": "stop')
    with pytest.raises(ManifestError, match=r"manifest.json is unreadable: not JSON"):
        Manifest.read(recording.folder)
    manifest.unlink()
    with pytest.raises(ManifestError, match=rf"{recording.folder.name} has no manifest.json"):
        Manifest.read(recording.folder)

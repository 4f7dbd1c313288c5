"""Marked clips and key images of a recording sent to a real Orthanc: dciodvfy finds no error,
the objects come back from the PACS, the video decodes to the clip's frames and duration,
nothing is sent twice, and a PACS that is down gives a reason and a retry that works."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import pydicom
import pytest

from config.settings import PacsServer
from library.pacs_export import SENT_FILE, build, plan_export, send_export
from library.publishing.bench import encode_clip, write_track
from recorder.dicom_export import (
    H264_HIGH_41,
    VIDEO_ENDOSCOPIC,
    VL_ENDOSCOPIC,
    CutClip,
    ExportError,
    PatientContext,
    check_clip,
)
from recorder.manifest import Manifest, RecordingState, TrackEntry
from recorder.timeline import Marker, Timeline
from room_controller.pacs import PacsPeer, Protocol
from tests.pacs_peer import (
    ORTHANC_AET,
    PASSWORD,
    USER,
    OrthancPeer,
    free_port,
    require_orthanc,
)

FPS = 30
CONTEXT = PatientContext(patient_name="Țurcanu^Ștefan", patient_id="W0001",
                         birth_date="19800214", sex="F", accession="WL0001",
                         study_uid="1.2.826.0.1.3680043.8.498.1", procedure="Colonoscopy")


@dataclass
class Recording:
    folder: Path
    markers: list[Marker]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """A stopped 6 s recording with a 1280x720 ISO track (1 s GOP) and three markers."""
    folder = tmp_path_factory.mktemp("rec") / "demo-1"
    folder.mkdir()
    clip = encode_clip(1280, 720, FPS, 6.0, 1500, seed=3)
    write_track(folder / "iso-endoscope.mp4", clip, 1280, 720, FPS, 1)
    Manifest(id="rec-1", room="demo", title="Colonoscopy", state=RecordingState.STOPPED,
             duration=6.0, tracks=(TrackEntry(name="iso-endoscope", kind="iso",
                                              file="iso-endoscope.mp4", source_id="endoscope",
                                              width=1280, height=720, fps=FPS,
                                              media_offset=0.0),)).write(folder)
    timeline = Timeline(folder)
    markers = [timeline.append(Marker(title=t, at=at))
               for t, at in (("Polyp", 1.0), ("Resection", 3.0), ("Clip placed", 5.0))]
    return Recording(folder, markers)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancPeer]:
    require_orthanc()
    peer = OrthancPeer(tmp_path_factory.mktemp("orthanc")).start()
    try:
        yield peer
    finally:
        peer.stop()


def _server(orthanc: OrthancPeer, **changes: object) -> PacsServer:
    fields: dict[str, object] = {
        "id": "hospital", "dicomweb_url": orthanc.dicomweb_url, "aet": ORTHANC_AET,
        "host": "127.0.0.1", "port": orthanc.dicom_port, "username": USER,
        "password": PASSWORD, "timeout_seconds": 20}
    return PacsServer.model_validate(fields | changes)


def test_every_exported_object_passes_dciodvfy(recording: Recording, tmp_path: Path) -> None:
    plan = plan_export(recording.folder, "iso-endoscope", [recording.markers[0].id],
                       [recording.markers[1].id], CONTEXT)
    video, still = (build(plan, item) for item in plan.items)
    assert video.SOPClassUID == VIDEO_ENDOSCOPIC and video.file_meta.TransferSyntaxUID == H264_HIGH_41
    assert still.SOPClassUID == VL_ENDOSCOPIC
    assert video.SeriesInstanceUID == still.SeriesInstanceUID
    assert video.StudyInstanceUID == CONTEXT.study_uid and video.AccessionNumber == "WL0001"
    for ds, name in ((video, "video.dcm"), (still, "still.dcm")):
        path = tmp_path / name
        ds.save_as(path, enforce_file_format=True)
        checked = subprocess.run(["dciodvfy", str(path)], check=False, capture_output=True,
                                 text=True,
                                 timeout=60)
        report = checked.stdout + checked.stderr
        assert "Error" not in report, report
    # The clip runs from the marker to the next one: 1 s to 3 s, on the 1 s keyframes.
    assert (plan.items[0].frames, plan.items[0].seconds) == (60, 2.0)


@pytest.mark.parametrize("protocol", [Protocol.DICOMWEB, Protocol.DIMSE])
def test_clips_and_key_images_reach_the_pacs_once_and_decode(
    recording: Recording, orthanc: OrthancPeer, protocol: Protocol, tmp_path: Path
) -> None:
    folder = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(recording.folder), str(folder)], check=True)
    peer = PacsPeer(_server(orthanc))
    # Different objects per protocol: the UIDs are stable, so Orthanc would keep one copy.
    clip_marker, still_marker = (recording.markers[1], recording.markers[0]) \
        if protocol is Protocol.DICOMWEB else (recording.markers[2], recording.markers[1])
    plan = plan_export(folder, "iso-endoscope", [clip_marker.id], [still_marker.id], CONTEXT)
    before = set(orthanc.instances())
    results = send_export(plan, peer, protocol)
    assert [(i.kind, i.state) for i in results] == [("video", "sent"), ("image", "sent")], results
    new = set(orthanc.instances()) - before
    assert len(new) == 2
    # Retrieved back: the video decodes to the clip's frames and duration.
    with orthanc.client() as http:
        for instance in new:
            answer = http.get(f"/instances/{instance}/file")
            assert answer.content[128:132] == b"DICM", (answer.status_code, answer.content[:200])
            ds = pydicom.dcmread(io.BytesIO(answer.content))
            if ds.SOPClassUID != VIDEO_ENDOSCOPIC:
                assert ds.Rows == 720 and ds.SOPInstanceUID == plan.items[1].sop_uid
                continue
            assert ds.SOPInstanceUID == plan.items[0].sop_uid
            assert ds.PatientName == "Țurcanu^Ștefan"
            stream = pydicom.encaps.generate_fragments(ds.PixelData)
            data = b"".join(f for f in stream if f)
            with av.open(io.BytesIO(data), format="h264") as video:
                frames = sum(1 for _ in video.decode(video=0))
            assert frames == int(ds.NumberOfFrames) == plan.items[0].frames
            assert frames * float(ds.FrameTime) / 1000 == pytest.approx(plan.items[0].seconds,
                                                                         abs=0.001)
    # Again: nothing is sent twice.
    again = send_export(plan_export(folder, "iso-endoscope", [clip_marker.id],
                                    [still_marker.id], CONTEXT), peer, protocol)
    assert [i.state for i in again] == ["already-sent", "already-sent"]
    assert set(orthanc.instances()) - before == new
    assert (folder / SENT_FILE).exists()


def test_a_pacs_that_is_down_gives_the_reason_and_the_retry_sends_the_rest(
    recording: Recording, orthanc: OrthancPeer, tmp_path: Path
) -> None:
    folder = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(recording.folder), str(folder)], check=True)
    closed = free_port()
    down = PacsPeer(_server(orthanc, dicomweb_url=f"http://127.0.0.1:{closed}/dicom-web",
                            port=closed, timeout_seconds=2))
    plan = plan_export(folder, "iso-endoscope", [], [recording.markers[2].id], CONTEXT)
    [failed] = send_export(plan, down, Protocol.DICOMWEB)
    assert failed.state == "failed" and "cannot connect" in failed.reason
    [failed] = send_export(plan, down, Protocol.DIMSE)
    assert failed.state == "failed" and "no association" in failed.reason
    [sent] = send_export(plan, PacsPeer(_server(orthanc)), Protocol.DICOMWEB)
    assert sent.state == "sent"


def test_what_the_standard_does_not_allow_is_refused_with_the_reason() -> None:
    big = CutClip(b"", 10, FPS, 3840, 2160, 0.0, 1.0, 100, 51)  # type: ignore[arg-type]
    with pytest.raises(ExportError, match="allows at most 1920x1080"):
        check_clip(big)
    high_level = CutClip(b"", 10, FPS, 1920, 1080, 0.0, 1.0, 100, 42)  # type: ignore[arg-type]
    with pytest.raises(ExportError, match="above 4.1"):
        check_clip(high_level)


def test_bad_choices_are_refused(recording: Recording) -> None:
    with pytest.raises(ExportError, match="at least one"):
        plan_export(recording.folder, "iso-endoscope", [], [], CONTEXT)
    with pytest.raises(ExportError, match="no track 'program'"):
        plan_export(recording.folder, "program", [recording.markers[0].id], [], CONTEXT)
    with pytest.raises(ExportError, match="no marker 'nope'"):
        plan_export(recording.folder, "iso-endoscope", ["nope"], [], CONTEXT)

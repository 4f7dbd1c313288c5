"""``medroom bench pacs``: the hospital's PACS in and out, against a loopback Orthanc.

- **Retrieval**: a 300-slice 512x512 CT (written by pydicom, stored in Orthanc) retrieved into a
  room cache until it is ready to show (every header read, first, middle and last slice
  decoded), over DICOMweb (WADO-RS, streamed) and over DIMSE (C-GET). The plain way is measured
  in the same run: dicomweb-client's ``retrieve_series`` (the whole multipart answer held in
  memory, then parsed) followed by reading and decoding every slice. Goal ≤ 5 s.
- **Export**: a 60 s 720p30 clip of an ISO track as Video Endoscopic Image Storage, cut from the
  track's packets (no re-encode) and sent by STOW-RS and by C-STORE. The plain way: decode and
  re-encode the clip with libx264 (what a tool that always transcodes does), timed without
  sending. Goal ≤ 3 s.

Figures first, then one JSON line (for scripts and the test).
"""

from __future__ import annotations

import argparse
import fractions
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import av
from pydicom import dcmread
from pydicom.pixels.utils import pixel_array

from config.settings import PacsServer
from library.pacs_export import plan_export, send_export
from library.publishing.bench import encode_clip, write_track
from recorder.dicom_export import PatientContext
from recorder.manifest import Manifest, RecordingState, TrackEntry
from recorder.timeline import Marker, Timeline
from room_controller.pacs import PacsCache, PacsPeer, Protocol, Retrieval, run_retrieval
from web.bench.orthanc import ORTHANC_AET, PASSWORD, USER, OrthancMissing, OrthancPeer, ct_series

RETRIEVE_GOAL_S = 5.0
EXPORT_GOAL_S = 3.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--slices", type=int, default=300, help="CT slices (default 300)")
    parser.add_argument("--size", type=int, default=512, help="slice rows and columns")
    parser.add_argument("--repeats", type=int, default=3, help="retrievals per protocol")
    parser.add_argument("--clip-seconds", type=float, default=60.0, help="exported clip length")


def _server(orthanc: OrthancPeer) -> PacsServer:
    return PacsServer(id="bench", dicomweb_url=orthanc.dicomweb_url, aet=ORTHANC_AET,
                      host="127.0.0.1", port=orthanc.dicom_port, username=USER,
                      password=PASSWORD, timeout_seconds=60)


def bench_retrieval(orthanc: OrthancPeer, folder: Path, slices: int, size: int,
                    repeats: int) -> dict[str, object]:
    study, datasets = ct_series(patient_name="Bench^Ct", patient_id="B1", accession="BENCH1",
                                slices=slices, size=size)
    orthanc.upload(datasets)
    del datasets
    peer = PacsPeer(_server(orthanc))
    rows: dict[str, object] = {}
    for protocol in (Protocol.DICOMWEB, Protocol.DIMSE):
        times = []
        for n in range(repeats):
            cache = PacsCache(folder / f"{protocol.value}-{n}", 3600)
            job = Retrieval(id=f"{protocol.value}{n}", room_id="bench", pacs_id="bench",
                            protocol=protocol, study_uid=study.study_uid,
                            series_uid=study.series_uid, description="", source_id=None)
            start = time.perf_counter()
            series = run_retrieval(job, peer, cache, 100_000, room_live=False)
            times.append(time.perf_counter() - start)
            assert series.count == slices, (series.count, slices)
        rows[protocol.value] = {"ready_s_median": round(statistics.median(times), 3),
                                "ready_s_all": [round(t, 3) for t in times],
                                "meets_goal": statistics.median(times) <= RETRIEVE_GOAL_S}
    # The plain way: the whole series in memory first, then every slice read and decoded.
    assert peer.web is not None
    start = time.perf_counter()
    instances = peer.web._client.retrieve_series(study.study_uid, study.series_uid)
    plain_folder = folder / "plain"
    plain_folder.mkdir()
    for i, ds in enumerate(instances):
        ds.save_as(plain_folder / f"{i:05d}.dcm", enforce_file_format=True)
    del instances
    for path in sorted(plain_folder.iterdir()):
        pixel_array(dcmread(path))
    plain = time.perf_counter() - start
    rows["plain_dicomweb_s"] = round(plain, 3)
    web = rows["dicomweb"]["ready_s_median"]  # type: ignore[index]
    rows["ratio_plain_over_ours"] = round(plain / web, 2) if web else None
    rows["slices"], rows["size"] = slices, size
    return rows


def _recording(folder: Path, seconds: float) -> tuple[Path, str]:
    folder.mkdir(parents=True)
    piece = min(10.0, seconds)  # encoded once, repeated (1 s GOP: each piece is closed)
    clip = encode_clip(1280, 720, 30, piece, 2500, seed=2)
    repeats = max(1, round(seconds / piece))
    write_track(folder / "iso-endoscope.mp4", clip, 1280, 720, 30, repeats)
    Manifest(id="bench", room="bench", title="Bench", state=RecordingState.STOPPED,
             duration=repeats * piece, tracks=(TrackEntry(
                 name="iso-endoscope", kind="iso", file="iso-endoscope.mp4", width=1280,
                 height=720, fps=30, media_offset=0.0),)).write(folder)
    marker = Timeline(folder).append(Marker(title="Whole clip", at=0.0))
    return folder, marker.id


REENCODE_SAMPLE_S = 10.0


def _reencode_seconds(track: Path, clip_seconds: float) -> float:
    """The plain way: decode the clip and encode it again with libx264 (no sending); timed on
    the first ``REENCODE_SAMPLE_S`` and scaled to the clip (re-encoding costs per frame)."""
    frames, limit = 0, round(min(REENCODE_SAMPLE_S, clip_seconds) * 30)
    start = time.perf_counter()
    with av.open(str(track)) as source:
        codec = av.CodecContext.create("libx264", "w")
        assert isinstance(codec, av.video.codeccontext.VideoCodecContext)
        codec.width, codec.height, codec.pix_fmt = 1280, 720, "yuv420p"
        codec.time_base = source.streams.video[0].time_base or fractions.Fraction(1, 90_000)
        codec.options = {"preset": "veryfast"}
        codec.open()
        for frame in source.decode(video=0):
            frame.pict_type = av.video.frame.PictureType.NONE
            codec.encode(frame)
            frames += 1
            if frames >= limit:
                break
        codec.encode(None)
    return (time.perf_counter() - start) * clip_seconds * 30 / max(1, frames)


def bench_export(orthanc: OrthancPeer, folder: Path, seconds: float) -> dict[str, object]:
    context = PatientContext(patient_name="Bench^Export", patient_id="B2", birth_date="",
                             sex="", accession="BENCH2",
                             study_uid="1.2.826.0.1.3680043.8.498.99", procedure="Endoscopy")
    peer = PacsPeer(_server(orthanc))
    rows: dict[str, object] = {}
    first, marker = _recording(folder / "rec-dicomweb", seconds)
    shutil.copytree(first, folder / "rec-dimse")  # one encode serves both protocols
    for protocol in (Protocol.DICOMWEB, Protocol.DIMSE):
        recording = folder / f"rec-{protocol.value}"
        plan = plan_export(recording, "iso-endoscope", [marker], [], context)
        # Distinct objects per protocol (stable UIDs would make the second one a no-op).
        plan.items[0].sop_uid += f".{1 if protocol is Protocol.DICOMWEB else 2}"
        start = time.perf_counter()
        [item] = send_export(plan, peer, protocol)
        took = time.perf_counter() - start
        assert item.state == "sent", item.reason
        rows[protocol.value] = {"seconds": round(took, 3), "frames": item.frames,
                                "clip_s": item.seconds, "meets_goal": took <= EXPORT_GOAL_S,
                                "bytes": (recording / "iso-endoscope.mp4").stat().st_size}
    rows["plain_reencode_s"] = round(_reencode_seconds(
        folder / "rec-dicomweb" / "iso-endoscope.mp4", rows["dicomweb"]["clip_s"]), 3)  # type: ignore[index]
    ours = rows["dicomweb"]["seconds"]  # type: ignore[index]
    plain = float(rows["plain_reencode_s"])  # type: ignore[arg-type]
    rows["ratio_plain_over_ours"] = round(plain / ours, 2) if ours else None
    return rows


def format_report(report: dict[str, object]) -> str:
    r, e = report["retrieval"], report["export"]
    lines = [(f"PACS bench (load {report['load_average']:.2f}, {report['cpus']} CPUs), "
              "Orthanc on loopback"),
             (f"retrieval of a {r['slices']}-slice {r['size']}x{r['size']} CT, "  # type: ignore[index]
              f"ready to show (goal <= {RETRIEVE_GOAL_S:g} s):")]
    for protocol in ("dicomweb", "dimse"):
        row = r[protocol]  # type: ignore[index]
        lines.append(f"  {protocol:8} median {row['ready_s_median']:.2f} s  "
                     f"(runs {', '.join(f'{t:.2f}' for t in row['ready_s_all'])})  "
                     f"{'meets goal' if row['meets_goal'] else 'MISSES goal'}")
    lines.append(f"  plain (retrieve_series whole, then decode all): {r['plain_dicomweb_s']:.2f} s"  # type: ignore[index]
                 f"  plain/ours {r['ratio_plain_over_ours']}")  # type: ignore[index]
    lines.append(f"export of a {e['dicomweb']['clip_s']:.0f} s 720p30 clip, no re-encode "  # type: ignore[index]
                 f"(goal <= {EXPORT_GOAL_S:g} s):")
    for protocol in ("dicomweb", "dimse"):
        row = e[protocol]  # type: ignore[index]
        lines.append(f"  {protocol:8} {row['seconds']:.2f} s, {row['frames']} frames, "
                     f"{row['bytes'] / 1e6:.1f} MB  "
                     f"{'meets goal' if row['meets_goal'] else 'MISSES goal'}")
    lines.append(f"  plain (decode + libx264 veryfast re-encode, not sent; timed on "
                 f"{REENCODE_SAMPLE_S:g} s, scaled): "
                 f"{e['plain_reencode_s']:.2f} s  plain/ours {e['ratio_plain_over_ours']}")  # type: ignore[index]
    return "\n".join(lines)


def run_from_args(args: argparse.Namespace) -> int:
    if args.slices < 2 or args.size < 8 or args.repeats < 1 or args.clip_seconds < 1:
        print("medroom bench pacs: needs --slices >= 2, --size >= 8, --repeats >= 1, "
              "--clip-seconds >= 1")
        return 2
    with tempfile.TemporaryDirectory(prefix="medroom-pacsbench-") as tmp:
        folder = Path(tmp)
        try:
            orthanc = OrthancPeer(folder / "orthanc").start()
        except OrthancMissing as exc:
            print(f"medroom bench pacs: {exc}")
            return 2
        try:
            report = {"bench": "pacs", "load_average": os.getloadavg()[0],
                      "cpus": os.cpu_count(),
                      "retrieval": bench_retrieval(orthanc, folder / "cache", args.slices,
                                                   args.size, args.repeats),
                      "export": bench_export(orthanc, folder / "export", args.clip_seconds)}
        finally:
            orthanc.stop()
    print(format_report(report))
    print()
    print(json.dumps(report), flush=True)
    return 0


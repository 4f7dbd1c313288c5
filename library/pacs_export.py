"""Sending chosen parts of a recording to the PACS: marked clips of an ISO track as DICOM video,
stills at markers as key images, in one series of the worklist item's study.

``plan_export`` lists the objects (each with its stable SOP Instance UID, see
``recorder.dicom_export``); ``send_export`` builds each one when its turn comes (a clip is cut
from the track then, not held in memory with the others), sends it by STOW-RS or C-STORE, one
object per request so each has its own result, and records what the PACS accepted in the
recording's ``pacs-sent.json``. Sending again skips what that PACS already accepted: nothing is
sent twice; what failed is sent again (the retry). A failure carries the PACS's reason.

A session without patient context exports nothing: the caller must give the worklist item.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydicom import Dataset

from recorder.dicom_export import (
    ExportError,
    PatientContext,
    cut_clip,
    key_image,
    key_image_dataset,
    stable_uid,
    video_dataset,
)
from recorder.durable import atomic_write_text
from recorder.manifest import Manifest, TrackEntry
from recorder.timeline import Timeline
from room_controller.pacs import PacsError, PacsPeer, Protocol
from room_controller.pacs.dicomweb import DicomWebPacs

SENT_FILE = "pacs-sent.json"
MAX_OBJECTS = 100
Kind = Literal["video", "image"]
ItemState = Literal["pending", "sending", "sent", "already-sent", "failed"]


@dataclass
class ExportItem:
    kind: Kind
    label: str
    sop_uid: str
    start: float  # session media seconds (a still: its moment)
    end: float
    instance: int
    state: ItemState = "pending"
    reason: str = ""
    frames: int = 0
    seconds: float = 0.0


@dataclass
class ExportPlan:
    recording_id: str
    folder: Path
    track: TrackEntry
    context: PatientContext
    series_uid: str
    items: list[ExportItem] = field(default_factory=list)


def _track(manifest: Manifest, name: str) -> TrackEntry:
    for track in manifest.tracks:
        if track.name == name:
            if track.kind != "iso":
                raise ExportError(f"track '{name}' is the {track.kind} track: export an ISO "
                                  "track (one camera or endoscope, as recorded)")
            return track
    isos = ", ".join(t.name for t in manifest.tracks if t.kind == "iso") or "none"
    raise ExportError(f"recording {manifest.id} has no track '{name}' (ISO tracks: {isos})")


def plan_export(folder: Path, track_name: str, clip_markers: Sequence[str],
                still_markers: Sequence[str], context: PatientContext) -> ExportPlan:
    """The objects to send: a clip from each of ``clip_markers`` to the next marker (or the
    recording's end), a still at each of ``still_markers``."""
    if not clip_markers and not still_markers:
        raise ExportError("choose at least one marked clip or key image to send")
    if len(clip_markers) + len(still_markers) > MAX_OBJECTS:
        raise ExportError(f"at most {MAX_OBJECTS} objects in one export")
    manifest = Manifest.read(folder)
    track = _track(manifest, track_name)
    markers = Timeline(folder).markers()
    by_id = {m.id: m for m in markers}
    series_uid = stable_uid("series", manifest.id, context.study_uid)
    plan = ExportPlan(manifest.id, folder, track, context, str(series_uid))
    duration = float(manifest.duration or 0.0)
    for marker_id in clip_markers:
        marker = by_id.get(marker_id)
        if marker is None:
            raise ExportError(f"recording {manifest.id} has no marker '{marker_id}'")
        later = [m.at for m in markers if m.at > marker.at]
        end = min(later) if later else duration
        if end <= marker.at:
            raise ExportError(f"marker '{marker.title}' is at the recording's end: no clip")
        uid = stable_uid("clip", manifest.id, track.name, f"{marker.at:.3f}", f"{end:.3f}")
        plan.items.append(ExportItem("video", marker.title, str(uid), marker.at, end,
                                     len(plan.items) + 1))
    for marker_id in still_markers:
        marker = by_id.get(marker_id)
        if marker is None:
            raise ExportError(f"recording {manifest.id} has no marker '{marker_id}'")
        uid = stable_uid("still", manifest.id, track.name, marker.id)
        plan.items.append(ExportItem("image", marker.title, str(uid), marker.at, marker.at,
                                     len(plan.items) + 1))
    return plan


def build(plan: ExportPlan, item: ExportItem) -> Dataset:
    """The DICOM object of ``item`` (blocking: cuts or decodes from the track)."""
    track_file = plan.folder / plan.track.file
    offset = plan.track.media_offset or 0.0
    if item.kind == "video":
        clip = cut_clip(track_file, offset, item.start, item.end)
        item.frames, item.seconds = clip.frames, round(clip.duration, 3)
        return video_dataset(clip, plan.context, plan.series_uid, item.sop_uid, item.instance)
    rgb = key_image(track_file, offset, item.start)
    item.frames = 1
    return key_image_dataset(rgb, plan.context, plan.series_uid, item.sop_uid, item.instance)


def sent_ledger(folder: Path) -> dict[str, dict[str, object]]:
    """SOP Instance UID → {pacs id → when it was accepted}."""
    try:
        data = json.loads((folder / SENT_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


_ledger_lock = threading.Lock()


def _remember(folder: Path, uid: str, pacs_id: str) -> None:
    with _ledger_lock:
        ledger = sent_ledger(folder)
        ledger.setdefault(uid, {})[pacs_id] = time.time()
        atomic_write_text(folder / SENT_FILE, json.dumps(ledger, indent=1))


def _stow_result(response: Dataset, uid: str) -> tuple[bool, str]:
    for failed in response.get("FailedSOPSequence", []) or []:
        if str(failed.get("ReferencedSOPInstanceUID", "")) == uid:
            reason = failed.get("FailureReason")
            return False, f"the PACS refused it (failure reason 0x{int(reason or 0):04X})"
    for ok in response.get("ReferencedSOPSequence", []) or []:
        if str(ok.get("ReferencedSOPInstanceUID", "")) == uid:
            return True, ""
    return False, "the PACS's STOW-RS answer does not mention the object"


def _send_one(peer: PacsPeer, protocol: Protocol | None, ds: Dataset) -> tuple[bool, str]:
    client = peer.via(protocol)
    uid = str(ds.SOPInstanceUID)
    if isinstance(client, DicomWebPacs):
        return _stow_result(client.store([ds]), uid)
    [(_, code, comment)] = client.store([ds])
    if code == 0x0000 or (code & 0xF000) == 0xB000:  # success or warning (e.g. coerced)
        return True, ""
    if code == -1:
        return False, "the PACS dropped the association"
    return False, f"the PACS refused it (C-STORE status 0x{code:04X}" + \
        (f": {comment})" if comment else ")")


def send_export(plan: ExportPlan, peer: PacsPeer, protocol: Protocol | None = None,
                on_change: Callable[[ExportItem], None] = lambda item: None) -> list[ExportItem]:
    """Send every item the PACS does not have yet; each item ends sent, already-sent or failed
    (with the reason). Blocking: call from a worker thread."""
    ledger = sent_ledger(plan.folder)
    for item in plan.items:
        if peer.id in ledger.get(item.sop_uid, {}):
            item.state, item.reason = "already-sent", ""
            on_change(item)
            continue
        item.state = "sending"
        on_change(item)
        try:
            ds = build(plan, item)
            accepted, reason = _send_one(peer, protocol, ds)
        except (ExportError, PacsError, OSError) as exc:
            accepted, reason = False, str(exc)
        if accepted:
            _remember(plan.folder, item.sop_uid, peer.id)
            item.state, item.reason = "sent", ""
        else:
            item.state, item.reason = "failed", reason
        on_change(item)
    return plan.items

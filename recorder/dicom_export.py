"""Parts of a recording as DICOM objects for the patient's record: a clip of an ISO track as
Video Endoscopic Image Storage (H.264 as recorded, not re-encoded), a still at a marker as VL
Endoscopic Image Storage, all in one series of the worklist's study.

The clip is cut from the track's packets: from the keyframe at or before the clip's start (an
H.264 stream can only start on one; the clip may so begin up to one GOP early, which the result
says) to its end, turned from MP4's length-prefixed form into an Annex B byte stream (the
bitstream filter changes framing, not one coded picture), and stored as one fragment of the
encapsulated Pixel Data with an empty offset table (PS3.5 A.4.5, 8.2.8).

Transfer syntax: MPEG-4 AVC/H.264 High Profile / Level 4.1 (1.2.840.10008.1.2.4.102). The room's
encoder writes Constrained Baseline, which High Profile decoders decode (constraint_set1 marks it
Main-conformant). Where the standard does not allow the stream as recorded, ``check_clip`` says
why and nothing is sent: PS3.5 8.2.8 limits .102 to frames of at most 1920x1080 and level 4.1;
our 1280x720 at 30 fps, level 3.1, fits.

UIDs are derived from what the object is (recording, track, clip bounds, marker), never random:
sending again produces the same SOP Instance UID, so a PACS that already has it keeps one copy
and MedRoom can tell what it already sent.
"""

from __future__ import annotations

import fractions
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
)

VIDEO_ENDOSCOPIC = UID("1.2.840.10008.5.1.4.1.1.77.1.1.1")
VL_ENDOSCOPIC = UID("1.2.840.10008.5.1.4.1.1.77.1.1")
H264_HIGH_41 = UID("1.2.840.10008.1.2.4.102")
MAX_WIDTH, MAX_HEIGHT = 1920, 1080
#: Level 4.1 is level_idc 41; the encoder's streams are 3.1.
MAX_LEVEL = 41
MANUFACTURER = "MedRoom"


class ExportError(Exception):
    """A part of the recording that cannot become a DICOM object; the message says why."""


@dataclass(frozen=True)
class PatientContext:
    """What the worklist item says the objects belong to."""

    patient_name: str
    patient_id: str
    birth_date: str
    sex: str
    accession: str
    study_uid: str
    procedure: str
    charset: str = "ISO_IR 192"
    #: The region examined (SNOMED CT): the IOD requires one on a video (PS3.3 C.8.12.1.1).
    region: tuple[str, str] = ("38266002", "Entire body")


@dataclass(frozen=True)
class CutClip:
    stream: bytes  # Annex B H.264, from a keyframe
    frames: int
    fps: fractions.Fraction
    width: int
    height: int
    starts_at: float  # session media seconds of its first frame (≤ the asked start)
    ends_at: float
    profile: int
    level: int

    @property
    def duration(self) -> float:
        return self.frames / float(self.fps)


def stable_uid(*parts: object) -> UID:
    """A UID (2.25 form, PS3.5 B.2) derived from ``parts``: the same parts always give the same
    UID. (pydicom's ``generate_uid(prefix=None, entropy_srcs=...)`` ignores the sources and is
    random: a resend would have made a second copy.)"""
    digest = hashlib.sha256("\x1f".join(["medroom-export", *map(str, parts)]).encode()).digest()
    value = int.from_bytes(digest[:16], "big") & ~(0xF << 76) | (0x8 << 76)  # a UUID v8 shape
    return UID(f"2.25.{value}")


def _sps_profile_level(stream: bytes) -> tuple[int, int]:
    start = stream.find(b"\x00\x00\x01\x67")
    if start < 0 or start + 7 > len(stream):
        raise ExportError("the clip has no H.264 sequence parameter set in its first keyframe")
    return stream[start + 4], stream[start + 6]


def cut_clip(track: Path, media_offset: float, start: float, end: float) -> CutClip:
    """The packets of ``track`` from the keyframe at or before ``start`` to ``end`` (session
    media seconds), as an Annex B stream: no decode, no encode."""
    if end <= start:
        raise ExportError(f"the clip ends ({end:.3f} s) before it starts ({start:.3f} s)")
    file_start, file_end = start - media_offset, end - media_offset
    chunks: list[bytes] = []
    frames = 0
    first_pts: float | None = None
    last_pts = 0.0
    with av.open(str(track)) as container:
        video = container.streams.video[0]
        fps = video.average_rate or video.guessed_rate or fractions.Fraction(30)
        width, height = video.codec_context.width, video.codec_context.height
        time_base = video.time_base
        assert time_base is not None
        container.seek(max(0, int(file_start / time_base)), stream=video, backward=True,
                       any_frame=False)
        bsf = av.BitStreamFilterContext("h264_mp4toannexb", video)
        for packet in container.demux(video):
            if packet.pts is None or packet.size == 0:
                continue
            at = float(packet.pts * time_base)
            if at >= file_end:
                break
            if first_pts is None:
                if not packet.is_keyframe:
                    continue  # the seek landed before a keyframe: a stream starts on one
                first_pts = at
            for out in bsf.filter(packet):
                chunks.append(bytes(out))
            frames += 1
            last_pts = at
    if first_pts is None or frames == 0:
        raise ExportError(f"{track.name} has no keyframe before {start:.3f} s of the session "
                          "to start the clip on")
    stream = b"".join(chunks)
    profile, level = _sps_profile_level(stream)
    return CutClip(stream, frames, fractions.Fraction(fps), width, height,
                   first_pts + media_offset, last_pts + media_offset + 1 / float(fps),
                   profile, level)


def check_clip(clip: CutClip) -> None:
    """Refuse what MPEG-4 AVC/H.264 High Profile / Level 4.1 does not allow (PS3.5 8.2.8)."""
    if clip.width > MAX_WIDTH or clip.height > MAX_HEIGHT:
        raise ExportError(f"the clip is {clip.width}x{clip.height}: the H.264 transfer syntax "
                          f"for level 4.1 allows at most {MAX_WIDTH}x{MAX_HEIGHT}; export it "
                          "from a smaller ISO track (re-encoding is not done here)")
    if clip.level > MAX_LEVEL:
        raise ExportError(f"the clip's H.264 level is {clip.level / 10:g}, above 4.1 that the "
                          "transfer syntax allows (re-encoding is not done here)")
    if clip.profile not in (66, 77, 100):
        raise ExportError(f"the clip's H.264 profile ({clip.profile}) is not Baseline, Main or "
                          "High: a High Profile decoder may not read it")


def key_image(track: Path, media_offset: float, at: float) -> npt.NDArray[np.uint8]:
    """The frame shown at ``at`` (session media seconds) as RGB (decoded from its keyframe)."""
    target = at - media_offset
    with av.open(str(track)) as container:
        video = container.streams.video[0]
        time_base = video.time_base
        assert time_base is not None
        container.seek(max(0, int(target / time_base)), stream=video, backward=True)
        chosen = None
        for frame in container.decode(video):
            if frame.pts is None:
                continue
            chosen = frame
            if float(frame.pts * time_base) >= target - 1e-6:
                break
    if chosen is None:
        raise ExportError(f"{track.name} has no picture at {at:.3f} s of the session")
    rgb: npt.NDArray[np.uint8] = np.asarray(chosen.to_ndarray(format="rgb24"), dtype=np.uint8)
    return rgb


def _base(sop_class: UID, uid: str, syntax: UID, context: PatientContext, series_uid: str,
          instance: int, when: datetime) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = UID(uid)
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta.ImplementationVersionName = "MEDROOM_1"
    ds.SpecificCharacterSet = context.charset
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = uid
    ds.InstanceCreationDate = when.strftime("%Y%m%d")
    ds.InstanceCreationTime = when.strftime("%H%M%S")
    # Patient and study: the worklist item's, as the hospital scheduled them.
    ds.PatientName = context.patient_name
    ds.PatientID = context.patient_id
    ds.PatientBirthDate = context.birth_date
    ds.PatientSex = context.sex if context.sex in ("M", "F", "O") else ""
    ds.StudyInstanceUID = context.study_uid
    ds.AccessionNumber = context.accession
    ds.StudyDate = when.strftime("%Y%m%d")
    ds.StudyTime = when.strftime("%H%M%S")
    ds.StudyID = context.accession[:16]
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = context.procedure[:64]
    ds.Modality = "ES"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = 900  # apart from the modality's own series
    ds.SeriesDescription = "MedRoom procedure video"
    ds.SeriesDate = ds.StudyDate
    ds.SeriesTime = ds.StudyTime
    ds.Manufacturer = MANUFACTURER
    ds.InstanceNumber = instance
    ds.ContentDate = ds.StudyDate
    ds.ContentTime = ds.StudyTime
    ds.PatientOrientation = ""
    ds.AcquisitionContextSequence = []
    ds.BurnedInAnnotation = "NO"
    region = Dataset()
    region.CodeValue, region.CodeMeaning = context.region
    region.CodingSchemeDesignator = "SCT"
    ds.AnatomicRegionSequence = [region]
    return ds


def video_dataset(clip: CutClip, context: PatientContext, series_uid: str, uid: str,
                  instance: int, when: datetime | None = None) -> Dataset:
    """Video Endoscopic Image Storage with the clip's H.264 stream as one fragment."""
    check_clip(clip)
    when = when or datetime.now(UTC)
    ds = _base(VIDEO_ENDOSCOPIC, uid, H264_HIGH_41, context, series_uid, instance, when)
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "YBR_PARTIAL_420"
    ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = clip.height, clip.width
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = clip.frames
    ds.FrameIncrementPointer = 0x00181063  # Frame Time
    ds.FrameTime = round(1000 / float(clip.fps), 4)
    ds.CineRate = round(float(clip.fps))
    ds.RecommendedDisplayFrameRate = round(float(clip.fps))
    ds.StartTrim = 1
    ds.StopTrim = clip.frames
    ds.ActualFrameDuration = round(1000 / float(clip.fps))
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionMethod = "ISO_14496_10"
    ds.PixelData = encapsulate([clip.stream], has_bot=False)
    ds["PixelData"].VR = "OB"
    # Encapsulated: undefined length. pydicom's file writer sets it itself, but pynetdicom's
    # C-STORE encodes the dataset as it is, and a defined length here left the PACS waiting.
    ds["PixelData"].is_undefined_length = True
    return ds


def key_image_dataset(rgb: npt.NDArray[np.uint8], context: PatientContext, series_uid: str,
                      uid: str, instance: int, when: datetime | None = None) -> Dataset:
    """VL Endoscopic Image Storage of one still, uncompressed RGB (decoded from the video: it
    carries the video's lossy history)."""
    when = when or datetime.now(UTC)
    ds = _base(VL_ENDOSCOPIC, uid, ExplicitVRLittleEndian, context, series_uid, instance, when)
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = int(rgb.shape[0]), int(rgb.shape[1])
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionMethod = "ISO_14496_10"
    ds.PixelData = np.ascontiguousarray(rgb).tobytes()
    return ds

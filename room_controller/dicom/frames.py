"""The frames a DICOM file contributes to a series: one per single-frame file, N per multi-frame.

Only the header is read here (pixel data stays on disk, `defer_size`): where each frame lies
(Image Position/Orientation (Patient), top level or in the functional groups of an enhanced
file), its rescale, and enough about its pixel data to reject a truncated file before any
decoding. Enhanced CT/MR keep per-frame values in PerFrameFunctionalGroupsSequence with common
ones in SharedFunctionalGroupsSequence (PS3.3 C.7.6.16); per-frame wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from .codecs import MissingDecoderError, check_decodable

#: Values up to this size are read with the header; pixel data stays on disk until decoded.
DEFER_BYTES = 4096


def human_bytes(n: int) -> str:
    """A size as people read it in a message: 2 GiB, 64 MiB, 2 KiB."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


class DicomFileError(Exception):
    """One file cannot be part of a series; the message starts with the file's name."""


@dataclass(frozen=True)
class FrameRef:
    """One picture of the series: a file, and which of its frames (0 for a single-frame file)."""

    path: Path
    frame: int
    frames_in_file: int
    rows: int
    cols: int
    #: Image Position (Patient) and the row/column direction cosines, when the file has them.
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    instance_number: int
    slope: float
    intercept: float
    #: Where this frame's bytes start in the file and their numpy type, when they can be read
    #: straight from disk (uncompressed little endian, no bit fiddling); else None (pydicom).
    raw_offset: int | None
    raw_dtype: str | None
    series_uid: str
    series_description: str
    modality: str


def _first_item(group: Dataset | None, sequence: str) -> Dataset | None:
    if group is None or sequence not in group:
        return None
    items = group[sequence].value
    return items[0] if items else None


def _functional(
    per_frame: Dataset | None, shared: Dataset | None, sequence: str, keyword: str
) -> object | None:
    """An attribute from a functional group macro: the frame's own first, then the shared one."""
    for group in (per_frame, shared):
        item = _first_item(group, sequence)
        if item is not None and keyword in item:
            value: object = item[keyword].value
            return value
    return None


def _floats(value: object | None, count: int) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        numbers = tuple(float(v) for v in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count else None


def _number(value: object | None, default: float) -> float:
    try:
        return float(value) if value not in (None, "") else default  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def read_header(path: Path) -> Dataset | None:
    """The file's header with pixel data deferred; None for a DICOM object without pixel data
    (DICOMDIR, structured reports, presentation states: they belong beside a series)."""
    try:
        ds = pydicom.dcmread(path, defer_size=DEFER_BYTES, force=False)
    except InvalidDicomError:
        raise DicomFileError(
            f"{path.name}: not a DICOM file (no 'DICM' preamble): remove it, or export the "
            "series again as DICOM Part 10 files"
        ) from None
    except (EOFError, OSError, ValueError, KeyError, TypeError) as exc:
        raise DicomFileError(f"{path.name}: corrupt DICOM file, cannot read its header ({exc})") from None
    if "PixelData" not in ds and "FloatPixelData" not in ds:
        sop_class = ds.get("SOPClassUID") or ds.get("file_meta", {}).get("MediaStorageSOPClassUID")
        if sop_class is None:
            raise DicomFileError(
                f"{path.name}: corrupt DICOM file: neither an image nor any known object "
                "(no SOP Class UID); remove it or export the series again"
            )
        if "Image Storage" in UID(str(sop_class)).name or "Rows" in ds:
            raise DicomFileError(
                f"{path.name}: corrupt DICOM file: truncated, an image without its pixel data "
                f"({path.stat().st_size} bytes); copy or export it again"
            )
        return None
    if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
        raise DicomFileError(f"{path.name}: float pixel data (parametric maps) is not shown")
    return ds


_NATIVE_LITTLE_ENDIAN = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")


def _raw_layout(ds: Dataset) -> tuple[int, str] | None:
    """(offset of the first frame in the file, numpy dtype) when frames can be read directly:
    uncompressed little endian, 8 or 16 bits, and no sign extension needed (unsigned, or all
    bits stored). Everything else goes through pydicom's decoders."""
    syntax = str(ds.file_meta.get("TransferSyntaxUID", ""))
    raw = ds.get_item("PixelData")
    offset = getattr(raw, "value_tell", None)
    bits, stored = int(ds.BitsAllocated), int(ds.get("BitsStored", ds.BitsAllocated))
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    if syntax not in _NATIVE_LITTLE_ENDIAN or offset is None or bits not in (8, 16):
        return None
    if signed and stored != bits:
        return None
    return int(offset), f"<{'i' if signed else 'u'}{bits // 8}"


def _check_pixel_data(ds: Dataset, path: Path, frames: int) -> None:
    """Reject a truncated file now, by sizes, rather than mid-cine at decode time."""
    syntax = ds.file_meta.get("TransferSyntaxUID")
    if syntax is None:
        raise DicomFileError(f"{path.name}: corrupt DICOM file: no transfer syntax in its meta header")
    try:
        check_decodable(syntax, path)
    except MissingDecoderError as exc:
        raise DicomFileError(str(exc)) from None
    raw = ds.get_item("PixelData")
    length = getattr(raw, "length", None)
    offset = getattr(raw, "value_tell", None)
    size = path.stat().st_size
    if length is not None and offset is not None:  # deferred: still on disk
        if length != 0xFFFFFFFF and offset + length > size:
            raise DicomFileError(
                f"{path.name}: corrupt DICOM file: truncated, its pixel data needs "
                f"{offset + length} bytes but the file has {size}"
            )
    else:  # read with the header (small, or cut short by the end of the file)
        value = getattr(raw, "value", None)
        length = len(value) if isinstance(value, bytes) else None
    if length is not None and length != 0xFFFFFFFF and not syntax.is_compressed:
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        expected = ds.Rows * ds.Columns * samples * frames * int(ds.BitsAllocated) // 8
        if length < expected:
            raise DicomFileError(
                f"{path.name}: corrupt DICOM file: truncated, {length} bytes of pixel data "
                f"for {frames} frame(s) of {ds.Columns}x{ds.Rows} that need {expected}"
            )


def check_file(path: Path, max_frame_bytes: int) -> None:
    """What every uploaded DICOM file must pass, for a room's series or a lesson's attachment:
    a DICOM Part 10 file, complete (an image has all its pixel data), decodable here, and no
    frame larger than ``max_frame_bytes`` decoded, so what one slice takes in memory is bounded
    before anything is decoded. Raises DicomFileError starting with the file's name."""
    ds = read_header(path)
    if ds is None:
        return  # no pixel data: a DICOMDIR, a report
    try:
        rows, cols, bits = int(ds.Rows), int(ds.Columns), int(ds.BitsAllocated)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
    except (AttributeError, TypeError, ValueError) as exc:
        raise DicomFileError(f"{path.name}: corrupt DICOM image: {exc}") from None
    frame_bytes = rows * cols * samples * max(bits, 8) // 8
    if frame_bytes > max_frame_bytes:
        raise DicomFileError(
            f"{path.name}: one frame of {cols}x{rows} at {bits} bits decodes to "
            f"{human_bytes(frame_bytes)}, more than the {human_bytes(max_frame_bytes)} a slice "
            "may take (MEDROOM_UPLOAD_MAX_SLICE_BYTES)"
        )
    _check_pixel_data(ds, path, frames)


def frames_of(path: Path, ds: Dataset) -> list[FrameRef]:
    """Every frame of one file, with its own geometry and rescale."""
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        count = int(ds.get("NumberOfFrames", 1) or 1)
        bits = int(ds.BitsAllocated)
    except (AttributeError, TypeError, ValueError) as exc:
        raise DicomFileError(f"{path.name}: corrupt DICOM image: {exc}") from None
    if rows < 1 or cols < 1 or count < 1 or bits not in (8, 16, 32):
        raise DicomFileError(
            f"{path.name}: corrupt DICOM image: {cols}x{rows}, {count} frames, {bits} bits"
        )
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        raise DicomFileError(
            f"{path.name}: colour image ({ds.get('PhotometricInterpretation', '?')}); "
            "a series source shows greyscale CT/MR"
        )
    _check_pixel_data(ds, path, count)
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else None
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    if per_frame and len(per_frame) != count:
        raise DicomFileError(
            f"{path.name}: corrupt enhanced image: {len(per_frame)} per-frame functional groups "
            f"for {count} frames"
        )
    top_position = _floats(ds.get("ImagePositionPatient"), 3)
    top_orientation = _floats(ds.get("ImageOrientationPatient"), 6)
    top_slope = _number(ds.get("RescaleSlope"), 1.0)
    top_intercept = _number(ds.get("RescaleIntercept"), 0.0)
    layout = _raw_layout(ds)
    frame_bytes = rows * cols * bits // 8
    common = {
        "path": path, "frames_in_file": count, "rows": rows, "cols": cols,
        "instance_number": int(_number(ds.get("InstanceNumber"), 0)),
        "series_uid": str(ds.get("SeriesInstanceUID", "") or ""),
        "series_description": str(ds.get("SeriesDescription", "") or ""),
        "modality": str(ds.get("Modality", "") or ""),
    }
    refs = []
    for index in range(count):
        group = per_frame[index] if per_frame else None
        position = _floats(
            _functional(group, shared, "PlanePositionSequence", "ImagePositionPatient"), 3
        ) or (top_position if count == 1 else None)
        xyz = None if position is None else (position[0], position[1], position[2])
        orientation = _floats(
            _functional(group, shared, "PlaneOrientationSequence", "ImageOrientationPatient"), 6
        ) or top_orientation
        slope = _number(_functional(group, shared, "PixelValueTransformationSequence",
                                    "RescaleSlope"), top_slope)
        intercept = _number(_functional(group, shared, "PixelValueTransformationSequence",
                                        "RescaleIntercept"), top_intercept)
        refs.append(FrameRef(
            frame=index, position=xyz, orientation=orientation, slope=slope,
            intercept=intercept,
            raw_offset=None if layout is None else layout[0] + index * frame_bytes,
            raw_dtype=None if layout is None else layout[1],
            **common,  # type: ignore[arg-type]
        ))
    return refs


def normal_distance(refs: list[FrameRef]) -> list[float] | None:
    """Each frame's distance along the slice normal (mm), or None when any lacks geometry."""
    if any(r.position is None or r.orientation is None for r in refs):
        return None
    orientation = np.asarray(refs[0].orientation, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    return [float(np.dot(np.asarray(r.position, dtype=float), normal)) for r in refs]

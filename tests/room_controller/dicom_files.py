"""DICOM files written by the tests with pydicom: small CT slices with known HU, enhanced CT."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    CTImageStorage,
    EnhancedCTImageStorage,
    ExplicitVRLittleEndian,
    generate_uid,
)

PATIENT_NAME = "DOE^JANE"
PATIENT_ID = "PAT-31415926"


def _base(sop_class: str, rows: int, cols: int, series_uid: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = series_uid
    ds.Modality = "CT"
    ds.PatientName = PATIENT_NAME
    ds.PatientID = PATIENT_ID
    ds.SeriesDescription = f"HEAD {PATIENT_NAME}"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 1
    ds.PixelSpacing = [0.5, 0.5]
    return ds


def write_ct_slices(
    folder: Path,
    hu_values: Sequence[float],
    z_mm: Sequence[float] | None = None,
    instance_numbers: Sequence[int] | None = None,
    size: int = 32,
    slope: float = 1.0,
    intercept: float = -1024.0,
    orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
    names: Sequence[str] | None = None,
    series_uid: str | None = None,
) -> list[Path]:
    """One uniform slice per HU value (stored = (HU - intercept) / slope), signed 16 bit."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    paths = []
    normal = np.cross(np.asarray(orientation[:3], float), np.asarray(orientation[3:], float))
    for i, hu in enumerate(hu_values):
        ds = _base(CTImageStorage, size, size, series_uid)
        ds.InstanceNumber = instance_numbers[i] if instance_numbers else i + 1
        if z_mm is not None:
            ds.ImagePositionPatient = [float(v) for v in normal * z_mm[i]]
            ds.ImageOrientationPatient = list(orientation)
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        stored = np.full((size, size), round((hu - intercept) / slope), np.int16)
        ds.PixelData = stored.tobytes()
        path = folder / (names[i] if names else f"slice{i:03d}.dcm")
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_enhanced_ct(
    path: Path, hu_values: Sequence[float], z_mm: Sequence[float],
    rescales: Sequence[tuple[float, float]], size: int = 16,
) -> Path:
    """An Enhanced CT file: one frame per HU value, each with its own position and rescale in
    the per-frame functional groups; orientation and pixel measures shared."""
    ds = _base(EnhancedCTImageStorage, size, size, generate_uid())
    ds.NumberOfFrames = len(hu_values)
    ds.InstanceNumber = 1
    shared = Dataset()
    orientation = Dataset()
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared.PlaneOrientationSequence = DicomSequence([orientation])
    measures = Dataset()
    measures.PixelSpacing = [0.5, 0.5]
    measures.SliceThickness = 2.0
    shared.PixelMeasuresSequence = DicomSequence([measures])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    groups, frames = [], []
    for hu, z, (slope, intercept) in zip(hu_values, z_mm, rescales):
        group = Dataset()
        position = Dataset()
        position.ImagePositionPatient = [0.0, 0.0, float(z)]
        group.PlanePositionSequence = DicomSequence([position])
        transform = Dataset()
        transform.RescaleSlope, transform.RescaleIntercept = slope, intercept
        transform.RescaleType = "HU"
        group.PixelValueTransformationSequence = DicomSequence([transform])
        groups.append(group)
        frames.append(np.full((size, size), round((hu - intercept) / slope), np.int16))
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(groups)
    ds.PixelData = np.stack(frames).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path

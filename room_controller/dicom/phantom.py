"""A synthetic head CT series written as real DICOM files, for the demo room and tests.

pydicom only ships single small images; a teaching room needs a whole series to scroll
through. The anatomy is crude but CT-plausible in Hounsfield units: air, scalp, a skull with
dense tables and a less dense diploe, cortex (grey) over white matter, lateral ventricles in
the middle slices and a small hyperdense haematoma.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    generate_uid,
)

FloatArray = npt.NDArray[np.float64]

RESCALE_INTERCEPT = -1024
#: Head semi-axes in mm (left-right, anterior-posterior, inferior-superior) at the skin.
HEAD_AXES_MM = (78.0, 98.0, 95.0)
SCALP_MM = 5.0
SKULL_MM = 7.0
CORTEX_MM = 4.0
PIXEL_SPACING_MM = 0.9
SLICE_SPAN_MM = 160.0  # the series covers z in [-80, +80] mm

HU_AIR = -1000.0
HU_SCALP = 40.0
HU_BONE_TABLE = 1500.0
HU_BONE_DIPLOE = 1000.0
HU_GREY = 40.0
HU_WHITE = 28.0
HU_CSF = 5.0
HU_HAEMATOMA = 70.0
#: Haematoma centre (x, y, z) and radius, mm: right frontal-parietal (patient left is +x).
HAEMATOMA = (-38.0, -25.0, 22.0, 11.0)


def slice_positions_mm(slices: int) -> FloatArray:
    """z of each slice centre, inferior to superior."""
    thickness = SLICE_SPAN_MM / slices
    positions = np.asarray(-SLICE_SPAN_MM / 2 + thickness * (np.arange(slices) + 0.5), np.float64)
    return positions


def head_slice_hu(z: float, size: int, rng: np.random.Generator) -> FloatArray:
    """Hounsfield units of the axial slice at height z (mm); image centre at x = y = 0."""
    coords = (np.arange(size) - (size - 1) / 2) * PIXEL_SPACING_MM
    y, x = np.meshgrid(coords, coords, indexing="ij")  # rows go posterior (+y)
    a, b, c = HEAD_AXES_MM
    hu = np.full((size, size), HU_AIR)
    # Cross-section of each ellipsoidal shell at this z: a smaller ellipse higher up.
    def inside(shrink: float) -> npt.NDArray[np.bool_]:
        if abs(z) >= c - shrink:
            return np.zeros_like(x, dtype=bool)
        scale = 1.0 - (z / (c - shrink)) ** 2
        if scale <= 0:
            return np.zeros_like(x, dtype=bool)
        s = np.sqrt(scale)
        result: npt.NDArray[np.bool_] = (x / ((a - shrink) * s)) ** 2 + (
            y / ((b - shrink) * s)
        ) ** 2 <= 1.0
        return result

    skin = inside(0.0)
    skull_outer = inside(SCALP_MM)
    diploe = inside(SCALP_MM + 2.0)
    diploe_inner = inside(SCALP_MM + SKULL_MM - 2.0)
    brain = inside(SCALP_MM + SKULL_MM)
    white = inside(SCALP_MM + SKULL_MM + CORTEX_MM)
    hu[skin] = HU_SCALP
    hu[skull_outer] = HU_BONE_TABLE
    hu[diploe & ~diploe_inner] = HU_BONE_DIPLOE
    hu[brain] = HU_GREY
    hu[white] = HU_WHITE
    # Lateral ventricles: two crescent-ish ellipses either side of the midline.
    if -12.0 <= z <= 28.0:
        k = np.sqrt(max(0.0, 1 - ((z - 8.0) / 20.0) ** 2))
        for side in (-1.0, 1.0):
            vent = ((x - side * 11.0) / (6.0 * k + 1e-6)) ** 2 + ((y + 5.0) / (26.0 * k + 1e-6)) ** 2
            hu[(vent <= 1.0) & white] = HU_CSF
    hx, hy, hz, hr = HAEMATOMA
    blob = (x - hx) ** 2 + (y - hy) ** 2 + (z - hz) ** 2 <= hr**2
    hu[blob & brain] = HU_HAEMATOMA
    noise_sd = np.where(hu > 500, 30.0, 4.0)  # quantum noise; bone is noisier
    noisy: FloatArray = hu + rng.normal(0.0, 1.0, hu.shape) * noise_sd
    return noisy


def _slice_dataset(
    hu: FloatArray, z: float, index: int, count: int, study_uid: str, series_uid: str,
    frame_uid: str, when: datetime.datetime,
) -> Dataset:
    size = hu.shape[0]
    # Stored = HU - intercept: air (-1000) -> 24, bone (1500) -> 2524, so unsigned 12-bit fits.
    stored = np.clip(np.rint(hu) - RESCALE_INTERCEPT, 0, 4095).astype(np.uint16)
    sop_uid = generate_uid()

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID

    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = frame_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = when.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = when.strftime("%H%M%S")
    ds.Modality = "CT"
    ds.Manufacturer = "MedRoom"
    ds.StudyDescription = "Synthetic head phantom"
    ds.SeriesDescription = "PHANTOM HEAD AXIAL"
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = index + 1
    ds.PatientName = "PHANTOM^HEAD"
    ds.PatientID = "PHANTOM-0001"
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
    ds.BodyPartExamined = "HEAD"
    ds.PatientPosition = "HFS"

    first = -(size - 1) / 2 * PIXEL_SPACING_MM
    ds.ImagePositionPatient = [round(first, 4), round(first, 4), round(z, 4)]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.SliceLocation = round(z, 4)
    ds.SliceThickness = round(SLICE_SPAN_MM / count, 4)
    ds.PixelSpacing = [PIXEL_SPACING_MM, PIXEL_SPACING_MM]

    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = size
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = RESCALE_INTERCEPT
    ds.RescaleSlope = 1
    ds.RescaleType = "HU"
    ds.WindowCenter = 40
    ds.WindowWidth = 80
    ds.PixelData = stored.tobytes()
    return ds


def write_head_phantom(folder: Path, slices: int = 40, size: int = 256) -> list[Path]:
    """Write one new phantom series into `folder`; returns the files, inferior to superior.

    Each file goes to a hidden part name first and is renamed when complete, so a crash never
    leaves a truncated .dcm behind. Names are SOP Instance UIDs, so nothing is overwritten.
    """
    if slices < 1 or size < 16:
        raise ValueError(f"phantom needs slices >= 1 and size >= 16, got {slices}, {size}")
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1234)
    study_uid, series_uid, frame_uid = generate_uid(), generate_uid(), generate_uid()
    when = datetime.datetime.now()
    paths: list[Path] = []
    for index, z in enumerate(slice_positions_mm(slices)):
        hu = head_slice_hu(float(z), size, rng)
        ds = _slice_dataset(hu, float(z), index, slices, study_uid, series_uid, frame_uid, when)
        final = folder / f"CT.{ds.SOPInstanceUID}.dcm"
        part = folder / f".{final.name}.part"
        ds.save_as(part, enforce_file_format=True)
        os.replace(part, final)
        paths.append(final)
    return paths


def ensure_head_phantom(folder: Path) -> Path:
    """Write the phantom into `folder` unless it already holds .dcm files; returns `folder`."""
    if not (folder.is_dir() and any(folder.glob("*.dcm"))):
        write_head_phantom(folder)
    return folder

"""Load a DICOM series from a folder into Hounsfield units, and window it for display."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels.decoders.base import get_decoder

log = logging.getLogger(__name__)

#: Display windows as (center, width) in HU, the usual head-CT presets.
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "brain": (40, 80),
    "subdural": (75, 215),
    "bone": (600, 2800),
    "soft-tissue": (50, 350),
}


class DicomSeriesError(Exception):
    """The folder does not hold exactly one readable DICOM series."""


@dataclass(frozen=True)
class DicomSeries:
    folder: Path
    #: HU volume, shape (count, rows, cols), slices sorted along the slice normal.
    #: int16 when the rescale is integral, else float32.
    hu: npt.NDArray[np.int16] | npt.NDArray[np.float32]
    series_uid: str
    series_description: str
    #: Position of each slice along the normal (mm), or InstanceNumber when positions are absent.
    positions: tuple[float, ...]

    @property
    def count(self) -> int:
        return int(self.hu.shape[0])

    @property
    def rows(self) -> int:
        return int(self.hu.shape[1])

    @property
    def cols(self) -> int:
        return int(self.hu.shape[2])


def apply_window(
    hu: npt.NDArray[np.generic], center: float, width: float
) -> npt.NDArray[np.uint8]:
    """Map HU linearly so center - width/2 -> 0 and center + width/2 -> 255, clipped."""
    if width <= 0:
        raise ValueError(f"window width must be positive, got {width}")
    low = center - width / 2
    scaled = (np.asarray(hu, dtype=np.float32) - np.float32(low)) * np.float32(255.0 / width)
    np.clip(scaled, 0, 255, out=scaled)
    result: npt.NDArray[np.uint8] = np.rint(scaled).astype(np.uint8)
    return result


def _read(path: Path) -> Dataset | None:
    try:
        return pydicom.dcmread(path, force=False)
    except (InvalidDicomError, EOFError, OSError, ValueError) as exc:
        log.warning("skipping %s: not a readable DICOM file (%s)", path, exc)
        return None


def _check_decodable(ds: Dataset, path: Path, folder: Path) -> None:
    syntax = ds.file_meta.TransferSyntaxUID
    if not syntax.is_compressed:
        return
    decoder = get_decoder(syntax)
    if not decoder.is_available:
        raise DicomSeriesError(
            f"{folder}: {path.name} uses {syntax.name} ({syntax}) and no decoder for it is "
            f"installed; install one of: {'; '.join(decoder.missing_dependencies)} "
            "(e.g. pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg, or python-gdcm)"
        )


def _sort_key_positions(datasets: list[Dataset]) -> list[float]:
    """Distance along the slice normal; InstanceNumber when geometry is missing anywhere."""
    if all("ImagePositionPatient" in d and "ImageOrientationPatient" in d for d in datasets):
        iop = np.asarray(datasets[0].ImageOrientationPatient, dtype=float)
        normal = np.cross(iop[:3], iop[3:])
        return [float(np.dot(np.asarray(d.ImagePositionPatient, float), normal)) for d in datasets]
    return [float(d.get("InstanceNumber", 0) or 0) for d in datasets]


def _to_hu(ds: Dataset) -> npt.NDArray[np.float64]:
    pixels = ds.pixel_array
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    hu: npt.NDArray[np.float64] = pixels.astype(np.float64) * slope + intercept
    return hu


def load_series(folder: Path) -> DicomSeries:
    """Read every DICOM file in `folder` (not recursive) as one series sorted along its normal.

    Hidden files (such as `.part` files of an interrupted write) are ignored; other
    non-DICOM files are skipped with a warning.
    """
    if not folder.is_dir():
        raise DicomSeriesError(f"{folder}: not a folder")
    datasets: list[Dataset] = []
    paths: list[Path] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        ds = _read(path)
        if ds is None:
            continue
        if "PixelData" not in ds:
            log.warning("skipping %s: DICOM file without pixel data", path)
            continue
        datasets.append(ds)
        paths.append(path)
    if not datasets:
        raise DicomSeriesError(f"{folder}: no DICOM image files found")

    series_uids = sorted({str(d.get("SeriesInstanceUID", "")) for d in datasets})
    if len(series_uids) > 1:
        raise DicomSeriesError(
            f"{folder}: files belong to {len(series_uids)} series ({', '.join(series_uids)}); "
            "put each series in its own folder"
        )
    shapes = {(int(d.Rows), int(d.Columns)) for d in datasets}
    if len(shapes) > 1:
        raise DicomSeriesError(f"{folder}: slices have different sizes {sorted(shapes)}")
    for d, p in zip(datasets, paths):
        if int(d.get("NumberOfFrames", 1) or 1) > 1:
            raise DicomSeriesError(
                f"{folder}: {p.name} is a multi-frame image; only single-frame series are supported"
            )
        _check_decodable(d, p, folder)

    keys = _sort_key_positions(datasets)
    order = sorted(range(len(datasets)), key=lambda i: keys[i])
    try:
        volume = np.stack([_to_hu(datasets[i]) for i in order])
    except (NotImplementedError, RuntimeError) as exc:  # decoder failed despite the check
        raise DicomSeriesError(f"{folder}: cannot decode pixel data: {exc}") from exc

    hu: npt.NDArray[np.int16] | npt.NDArray[np.float32]
    integral = np.array_equal(volume, np.rint(volume))
    if integral and volume.min() >= -32768 and volume.max() <= 32767:
        hu = volume.astype(np.int16)
    else:
        hu = volume.astype(np.float32)
    first = datasets[order[0]]
    return DicomSeries(
        folder=folder,
        hu=hu,
        series_uid=series_uids[0],
        series_description=str(first.get("SeriesDescription", "") or ""),
        positions=tuple(keys[i] for i in order),
    )

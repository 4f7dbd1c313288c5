"""The head phantom, written then reopened with pydicom, and series loading and windowing."""

from __future__ import annotations

import logging
import random
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, JPEG2000Lossless

from room_controller.dicom import (
    DicomSeriesError,
    apply_window,
    ensure_head_phantom,
    load_series,
    write_head_phantom,
)


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_head_phantom(tmp_path_factory.mktemp("phantom"))


def hu_at(ds: pydicom.Dataset, x_mm: float, y_mm: float) -> float:
    """HU at patient (x, y) through the file's own geometry (axial, identity orientation)."""
    ipp = [float(v) for v in ds.ImagePositionPatient]
    sp = [float(v) for v in ds.PixelSpacing]  # row spacing, column spacing
    col = round((x_mm - ipp[0]) / sp[1])
    row = round((y_mm - ipp[1]) / sp[0])
    return float(ds.pixel_array[row, col]) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def test_phantom_files_are_valid_ct_series(phantom: list[Path]) -> None:
    assert len(phantom) == 40
    assert not list(phantom[0].parent.glob(".*")), "no part files left behind"
    datasets = [pydicom.dcmread(p, force=False) for p in phantom]
    first = datasets[0]
    assert first.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert first.file_meta.MediaStorageSOPClassUID == CTImageStorage
    assert first.PatientName == "PHANTOM^HEAD" and first.PatientID == "PHANTOM-0001"
    assert first.Modality == "CT" and (first.Rows, first.Columns) == (256, 256)
    assert (first.WindowCenter, first.WindowWidth) == (40, 80)
    for ds in datasets:
        assert ds.SOPClassUID == CTImageStorage
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert len({ds.StudyInstanceUID for ds in datasets}) == 1
    assert len({ds.SeriesInstanceUID for ds in datasets}) == 1
    assert len({ds.SOPInstanceUID for ds in datasets}) == 40
    z = np.array([float(ds.ImagePositionPatient[2]) for ds in datasets])
    np.testing.assert_allclose(np.diff(z), float(first.SliceThickness))
    assert [ds.InstanceNumber for ds in datasets] == list(range(1, 41))
    assert [float(ds.SliceLocation) for ds in datasets] == pytest.approx(list(z))


def test_phantom_anatomy_in_hounsfield_units(phantom: list[Path]) -> None:
    mid = pydicom.dcmread(phantom[20])  # z = +2 mm
    assert hu_at(mid, -110, -110) < -900  # air in the corner
    assert 10 < hu_at(mid, 0, 60) < 50  # white matter
    assert 700 < hu_at(mid, 0, -89.5) < 1300  # skull diploe, anterior
    assert hu_at(mid, 0, -92) > 1200  # outer table
    assert hu_at(mid, 11, -5) < 20  # lateral ventricle
    haem = pydicom.dcmread(phantom[25])  # z = +22 mm, through the haematoma centre
    assert 55 < hu_at(haem, -38, -25) < 85


def test_ensure_head_phantom_is_idempotent(tmp_path: Path) -> None:
    ensure_head_phantom(tmp_path)
    files = sorted(tmp_path.glob("*.dcm"))
    ensure_head_phantom(tmp_path)
    assert sorted(tmp_path.glob("*.dcm")) == files


def test_series_sorted_by_position_even_when_shuffled_and_renumbered(
    phantom: list[Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shuffled = list(enumerate(phantom))
    random.Random(7).shuffle(shuffled)
    for n, (original_index, path) in enumerate(shuffled):
        ds = pydicom.dcmread(path)
        ds.InstanceNumber = 100 - original_index  # reversed: positions must win
        ds.save_as(tmp_path / f"img{n:03d}", enforce_file_format=True)
    (tmp_path / "notes.txt").write_text("not dicom")
    with caplog.at_level(logging.WARNING):
        series = load_series(tmp_path)
    assert "notes.txt" in caplog.text
    assert series.count == 40 and (series.rows, series.cols) == (256, 256)
    assert series.hu.dtype == np.int16
    assert list(series.positions) == sorted(series.positions)
    expected = [float(pydicom.dcmread(p).ImagePositionPatient[2]) for p in phantom]
    assert list(series.positions) == pytest.approx(expected)
    original = pydicom.dcmread(phantom[20])
    np.testing.assert_array_equal(series.hu[20], original.pixel_array.astype(np.int16) - 1024)
    assert series.series_description == "PHANTOM HEAD AXIAL"


def test_empty_folder_raises_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DicomSeriesError, match=str(tmp_path)):
        load_series(tmp_path)
    (tmp_path / "readme.md").write_text("# nothing here")
    with pytest.raises(DicomSeriesError, match="no DICOM"):
        load_series(tmp_path)


def test_two_series_in_one_folder_raise(phantom: list[Path], tmp_path: Path) -> None:
    shutil.copy(phantom[0], tmp_path / "a.dcm")
    write_head_phantom(tmp_path, slices=2, size=32)
    with pytest.raises(DicomSeriesError, match="2 series"):
        load_series(tmp_path)


def test_compressed_series_without_decoder_names_the_package(
    phantom: list[Path], tmp_path: Path
) -> None:
    if get_decoder(JPEG2000Lossless).is_available:
        pytest.skip("a JPEG 2000 decoder is installed here")
    ds = pydicom.dcmread(phantom[0])
    ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + bytes(60)])
    ds["PixelData"].VR = "OB"
    ds.save_as(tmp_path / "j2k.dcm", enforce_file_format=True)
    with pytest.raises(DicomSeriesError, match="pylibjpeg") as info:
        load_series(tmp_path)
    assert str(tmp_path) in str(info.value) and "gdcm" in str(info.value)


def test_apply_window_is_linear_and_clipped() -> None:
    hu = np.array([-1000, 0, 40 - 40, 40, 40 + 40, 3000], dtype=np.int16)
    out = apply_window(hu, 40, 80)
    assert out.dtype == np.uint8
    assert out.tolist() == [0, 0, 0, 128, 255, 255]
    ramp = apply_window(np.linspace(0, 80, 81, dtype=np.float32), 40, 80)
    assert np.all(np.diff(ramp.astype(int)) >= 0) and ramp[0] == 0 and ramp[-1] == 255
    with pytest.raises(ValueError):
        apply_window(hu, 40, 0)

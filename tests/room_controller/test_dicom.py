"""The head phantom, written then reopened with pydicom, and series loading and windowing."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, JPEG2000Lossless, RLELossless

from room_controller.dicom import (
    DicomSeriesError,
    Window,
    WindowError,
    apply_window,
    ensure_head_phantom,
    load_series,
    window_stored,
    write_head_phantom,
)
from tests.room_controller.dicom_files import write_ct_slices, write_enhanced_ct

REPO = Path(__file__).resolve().parents[2]


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
    phantom: list[Path], tmp_path: Path
) -> None:
    shuffled = list(enumerate(phantom))
    random.Random(7).shuffle(shuffled)
    for n, (original_index, path) in enumerate(shuffled):
        ds = pydicom.dcmread(path)
        ds.InstanceNumber = 100 - original_index  # reversed: positions must win
        ds.save_as(tmp_path / f"img{n:03d}", enforce_file_format=True)
    (tmp_path / "DICOMDIR-like.dcm").write_bytes(b"")  # hidden part files and empties aside
    (tmp_path / "DICOMDIR-like.dcm").unlink()
    (tmp_path / ".CT.half-written.dcm.part").write_bytes(b"\0" * 10)  # hidden: ignored
    series = load_series(tmp_path)
    assert series.count == 40 and (series.rows, series.cols) == (256, 256)
    assert series.files == 40 and series.modality == "CT"
    expected = [float(pydicom.dcmread(p).ImagePositionPatient[2]) for p in phantom]
    assert list(series.positions) == pytest.approx(expected)
    original = pydicom.dcmread(phantom[20])
    np.testing.assert_array_equal(series.hu(20), original.pixel_array.astype(np.float32) - 1024)
    assert series.series_description == "PHANTOM HEAD AXIAL"


def test_sorted_along_an_oblique_normal_not_by_z(tmp_path: Path) -> None:
    # Tilted 30 degrees about x: the normal is (0, -sin, cos). Distances along it decide.
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    distances = [6.0, -3.0, 0.0, 3.0, -6.0]
    write_ct_slices(tmp_path, [10, 20, 30, 40, 50], z_mm=distances,
                    instance_numbers=[1, 2, 3, 4, 5], orientation=(1, 0, 0, 0, c, s))
    series = load_series(tmp_path)
    assert list(series.positions) == pytest.approx(sorted(distances))
    assert [float(series.hu(i)[0, 0]) for i in range(5)] == [50, 20, 30, 40, 10]


def test_without_geometry_instance_number_orders_the_slices(tmp_path: Path) -> None:
    write_ct_slices(tmp_path, [100, 200, 300], instance_numbers=[3, 1, 2],
                    names=["a.dcm", "b.dcm", "c.dcm"])
    series = load_series(tmp_path)
    assert series.positions == (None, None, None)
    assert [float(series.hu(i)[0, 0]) for i in range(3)] == [200, 300, 100]


HU = [-1000, 0, 20, 30, 60, 80, 150, 1500, 3000]


@pytest.mark.parametrize("slope, intercept", [(1.0, -1024.0), (0.5, -1024.0), (2.0, -3000.0)])
def test_presets_and_free_window_give_the_expected_display_values(
    tmp_path: Path, slope: float, intercept: float
) -> None:
    write_ct_slices(tmp_path, HU, z_mm=list(range(len(HU))), slope=slope, intercept=intercept)
    series = load_series(tmp_path)
    # Display value = round((HU - (L - W/2)) * 255 / W), clipped to 0..255.
    expected = {
        Window.named("brain"): [0, 0, 64, 96, 191, 255, 255, 255, 255],  # W:80 L:40
        Window.named("subdural"): [0, 39, 62, 74, 110, 133, 216, 255, 255],  # W:215 L:75
        Window.named("bone"): [0, 73, 75, 76, 78, 80, 87, 209, 255],  # W:2800 L:600
        Window.named("soft-tissue"): [0, 102, 115, 121, 140, 153, 198, 255, 255],  # W:400 L:40
        Window(100, 220): [0, 12, 35, 46, 81, 104, 185, 255, 255],
    }
    for window, values in expected.items():
        shown = [int(series.windowed(i, window)[5, 5]) for i in range(len(HU))]
        assert shown == values, (window.label, shown)
        assert series.windowed(0, window).dtype == np.uint8


def test_lookup_table_windowing_equals_the_arithmetic() -> None:
    rng = np.random.default_rng(3)
    stored = rng.integers(-32768, 32767, (64, 64)).astype(np.int16)
    window = Window(57.0, 333.0)
    for slope, intercept in ((1.0, -1024.0), (0.25, 10.0)):
        lut = window_stored(stored, slope, intercept, window)
        plain = apply_window(stored.astype(np.float64) * slope + intercept, 57.0, 333.0)
        assert np.abs(lut.astype(int) - plain.astype(int)).max() <= 1  # float32 vs 64 rounding
    unsigned = rng.integers(0, 4096, (16, 16)).astype(np.uint16)
    np.testing.assert_array_equal(window_stored(unsigned, 1, -1024, Window.named("brain")),
                                  apply_window(unsigned.astype(np.int32) - 1024, 40, 80))


def test_window_validation_messages() -> None:
    with pytest.raises(WindowError, match="greater than 0"):
        Window(40, 0)
    with pytest.raises(WindowError, match="greater than 0"):
        Window(40, -5)
    with pytest.raises(WindowError, match="unknown window preset 'lung-ish'.*brain, subdural"):
        Window.named("lung-ish")
    with pytest.raises(WindowError, match="out of range"):
        Window(40, 1e9)
    assert Window.named("bone").label == "bone W:2800 L:600"
    assert Window(35.5, 120).label == "W:120 L:35.5"


def test_enhanced_multi_frame_file_loads_as_a_series(tmp_path: Path) -> None:
    # Frames stored out of order, each with its own position and rescale.
    hu = [300.0, 100.0, 500.0, 200.0, 400.0]
    z = [3.0, 1.0, 5.0, 2.0, 4.0]
    rescales = [(1.0, -1024.0), (0.5, -1024.0), (2.0, -2048.0), (1.0, -100.0), (1.0, 0.0)]
    write_enhanced_ct(tmp_path / "enhanced.dcm", hu, z, rescales)
    series = load_series(tmp_path)
    assert series.count == 5 and series.files == 1 and (series.rows, series.cols) == (16, 16)
    assert list(series.positions) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert [float(series.hu(i)[3, 3]) for i in range(5)] == [100, 200, 300, 400, 500]
    assert [s.ref.frame for s in series.slices] == [1, 3, 0, 4, 2]
    brain = [int(series.windowed(i, Window(300, 400))[0, 0]) for i in range(5)]
    assert brain == [0, 64, 128, 191, 255]


def _compress_in_place(paths: list[Path], syntax: pydicom.uid.UID) -> None:
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.compress(syntax)  # pydicom's encoders (RLE: its own; JPEG 2000: pylibjpeg-openjpeg)
        ds.save_as(path, enforce_file_format=True)
        assert pydicom.dcmread(path).file_meta.TransferSyntaxUID == syntax


@pytest.mark.parametrize("syntax", [JPEG2000Lossless, RLELossless], ids=["j2k", "rle"])
def test_compressed_series_decode_to_the_original_values(
    phantom: list[Path], tmp_path: Path, syntax: pydicom.uid.UID
) -> None:
    files = [shutil.copy(p, tmp_path / p.name) for p in phantom[18:22]]
    _compress_in_place([Path(f) for f in files], syntax)
    series = load_series(tmp_path)
    original = load_series(phantom[0].parent)
    for i in range(4):
        np.testing.assert_array_equal(series.stored(i), original.stored(18 + i))
    assert series.windowed(1, Window.named("brain")).mean() > 10


def test_compressed_files_from_other_encoders_decode(tmp_path: Path) -> None:
    """pydicom-data's 512x512 head CT in JPEG 2000, and a JPEG lossless (process 14) image."""
    cases = {"693_J2KR.dcm": (512, 512), "JPGLosslessP14SV1_1s_1f_8b.dcm": None}
    for name, shape in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        source = get_testdata_file(name, download=False)
        shutil.copy(source, folder / name)
        series = load_series(folder)
        reference = pydicom.dcmread(source)
        assert series.stored(0).shape == (shape or (reference.Rows, reference.Columns))
        assert series.stored(0).std() > 1  # an image, not a constant
        assert reference.file_meta.TransferSyntaxUID.is_compressed


def test_compressed_file_without_its_decoder_names_the_package(tmp_path: Path) -> None:
    """On a machine without the decoder packages (their import blocked in a fresh
    interpreter), loading a JPEG 2000 series names the file, the syntax and what to install."""
    shutil.copy(get_testdata_file("693_J2KR.dcm", download=False), tmp_path / "head.dcm")
    script = textwrap.dedent(f"""
        import sys
        for name in ("gdcm", "pylibjpeg", "openjpeg", "libjpeg", "rle", "PIL", "jpeg_ls"):
            sys.modules[name] = None  # as if not installed
        from pathlib import Path
        from room_controller.dicom import DicomSeriesError, load_series
        try:
            load_series(Path({str(tmp_path)!r}))
        except DicomSeriesError as exc:
            print(exc)
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                         text=True, timeout=60, check=False)
    message = out.stdout.strip()
    assert "head.dcm" in message and "JPEG 2000" in message, out
    assert "1.2.840.10008.1.2.4.90" in message and "python-gdcm" in message
    assert "pylibjpeg-openjpeg" in message


def test_pixels_are_decoded_on_demand_into_a_bounded_cache(phantom: list[Path]) -> None:
    slice_bytes = 256 * 256 * 2
    series = load_series(phantom[0].parent, cache_bytes=5 * slice_bytes)
    assert series._cached_bytes == 0  # headers only
    for i in range(series.count):
        series.stored(i)
    assert series._cached_bytes == 5 * slice_bytes and list(series._cache) == [35, 36, 37, 38, 39]
    series.decode_all(workers=2)
    assert series._cached_bytes <= 5 * slice_bytes


# -- bad input: every message names the file and says what is wrong --------------------------

def test_empty_folder_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DicomSeriesError, match=f"{tmp_path}: empty folder"):
        load_series(tmp_path)
    with pytest.raises(DicomSeriesError, match="not a folder"):
        load_series(tmp_path / "nope")


def test_non_dicom_file_is_named(phantom: list[Path], tmp_path: Path) -> None:
    shutil.copy(phantom[0], tmp_path / "a.dcm")
    (tmp_path / "notes.txt").write_text("not dicom")
    with pytest.raises(DicomSeriesError, match="notes.txt: not a DICOM file"):
        load_series(tmp_path)


def test_truncated_file_is_named(phantom: list[Path], tmp_path: Path) -> None:
    shutil.copy(phantom[0], tmp_path / "a.dcm")
    data = phantom[1].read_bytes()
    (tmp_path / "b.dcm").write_bytes(data[: len(data) - 5000])
    with pytest.raises(DicomSeriesError, match="b.dcm: corrupt DICOM file: truncated"):
        load_series(tmp_path)


def test_garbled_header_is_named(phantom: list[Path], tmp_path: Path) -> None:
    data = bytearray(phantom[0].read_bytes())
    data[140:400] = b"\xff" * 260  # after the preamble and 'DICM': the meta header is garbage
    (tmp_path / "garbled.dcm").write_bytes(bytes(data))
    with pytest.raises(DicomSeriesError, match="garbled.dcm: corrupt DICOM"):
        load_series(tmp_path)


def test_mixed_sizes_name_the_odd_file(tmp_path: Path) -> None:
    uid = pydicom.uid.generate_uid()
    write_ct_slices(tmp_path, [0, 0, 0], z_mm=[0, 1, 2], size=32, series_uid=uid)
    write_ct_slices(tmp_path, [0], z_mm=[3], size=16, names=["odd.dcm"], series_uid=uid)
    with pytest.raises(DicomSeriesError, match="most are 32x32 but odd.dcm is 16x16"):
        load_series(tmp_path)


def test_two_series_in_one_folder_raise(phantom: list[Path], tmp_path: Path) -> None:
    shutil.copy(phantom[0], tmp_path / "a.dcm")
    write_head_phantom(tmp_path, slices=2, size=32)
    with pytest.raises(DicomSeriesError, match="2 series.*own folder"):
        load_series(tmp_path)


def test_apply_window_is_linear_and_clipped() -> None:
    hu = np.array([-1000, 0, 40 - 40, 40, 40 + 40, 3000], dtype=np.int16)
    out = apply_window(hu, 40, 80)
    assert out.dtype == np.uint8
    assert out.tolist() == [0, 0, 0, 128, 255, 255]
    ramp = apply_window(np.linspace(0, 80, 81, dtype=np.float32), 40, 80)
    assert np.all(np.diff(ramp.astype(int)) >= 0) and ramp[0] == 0 and ramp[-1] == 255


def test_signed_12_bit_pixels_are_sign_extended(tmp_path: Path) -> None:
    """Stored in 12 of 16 bits with garbage above: decoded through pydicom, which masks and
    sign-extends (the direct read is only for data that needs neither)."""
    (path,) = write_ct_slices(tmp_path, [0], z_mm=[0], size=16)
    ds = pydicom.dcmread(path)
    ds.BitsStored, ds.HighBit = 12, 11
    stored = np.full((16, 16), -500, np.int16).view(np.uint16) & 0x0FFF | 0xA000  # junk bits
    ds.PixelData = stored.astype(np.uint16).tobytes()
    ds.RescaleIntercept = 0
    ds.save_as(path, enforce_file_format=True)
    series = load_series(tmp_path)
    assert series.slices[0].ref.raw_offset is None
    assert float(series.hu(0)[0, 0]) == -500.0


def test_objects_without_pixels_are_skipped_but_an_image_cut_before_them_is_not(
    tmp_path: Path,
) -> None:
    paths = write_ct_slices(tmp_path, [0, 40], z_mm=[0, 1])
    report = pydicom.dcmread(paths[0])
    del report.PixelData, report.Rows, report.Columns
    report.SOPClassUID = report.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    report.save_as(tmp_path / "report.dcm", enforce_file_format=True)  # a Basic Text SR
    assert load_series(tmp_path).count == 2
    cut = pydicom.dcmread(paths[1])
    del cut.PixelData
    cut.save_as(tmp_path / "cut.dcm", enforce_file_format=True)
    with pytest.raises(DicomSeriesError, match="cut.dcm: corrupt DICOM file: truncated"):
        load_series(tmp_path)

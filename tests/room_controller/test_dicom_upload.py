"""Uploaded files and zips become a checked series folder, or leave nothing behind."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pydicom
import pytest

from room_controller.dicom.upload import (
    UploadedFile,
    UploadError,
    UploadLimits,
    UploadTooLarge,
    store_series,
    write_upload,
)
from tests.room_controller.dicom_files import write_ct_slices


def as_uploads(paths: list[Path]) -> list[UploadedFile]:
    return [UploadedFile(p.name, io.BytesIO(p.read_bytes())) for p in paths]


def test_zip_members_are_written_flat_inside_the_folder(tmp_path: Path) -> None:
    slices = write_ct_slices(tmp_path / "src", [0, 40], z_mm=[0, 1])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(slices[0], "../../outside/evil.dcm")  # zip-slip attempt
        archive.write(slices[1], "/abs/IM0001")
        archive.writestr("__MACOSX/._IM0001", b"resource fork")
        archive.writestr("DICOM/", b"")
    folder = tmp_path / "up"
    count = write_upload([UploadedFile("cd.zip", io.BytesIO(buffer.getvalue()))], folder)
    assert count == 2
    assert sorted(p.name for p in folder.iterdir()) == ["00000-evil.dcm", "00001-IM0001"]
    assert not (tmp_path / "outside").exists()


def test_a_good_upload_is_kept_and_a_bad_one_leaves_nothing(tmp_path: Path) -> None:
    root = tmp_path / "uploads"
    slices = write_ct_slices(tmp_path / "src", [0, 40, 80], z_mm=[2, 0, 1])
    series = store_series(as_uploads(slices), root)
    assert series.count == 3 and series.folder.parent == root
    assert list(root.iterdir()) == [series.folder]
    broken = tmp_path / "src" / "broken.dcm"
    broken.write_bytes(slices[0].read_bytes()[:300])
    with pytest.raises(UploadError, match=r"^broken.dcm: corrupt DICOM") as caught:
        store_series(as_uploads([*slices, broken]), root)
    assert "00003" not in str(caught.value) and str(root) not in str(caught.value)
    assert list(root.iterdir()) == [series.folder]  # the refused upload left nothing
    with pytest.raises(UploadError, match="no files"):
        store_series([], root)


def test_too_many_files_is_refused(tmp_path: Path) -> None:
    slices = write_ct_slices(tmp_path / "src", [0, 0, 0], z_mm=[0, 1, 2])
    with pytest.raises(UploadTooLarge, match=r"more than 2 files .*MEDROOM_UPLOAD_MAX_FILES"):
        store_series(as_uploads(slices), tmp_path / "uploads", limits=UploadLimits(max_files=2))
    assert list((tmp_path / "uploads").iterdir()) == []


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_bomb_stops_at_the_limit_while_it_unpacks(tmp_path: Path) -> None:
    bomb = zip_of({"IM0001": bytes(64 * 1024**2)})  # 64 MiB of zeros in ~64 KB
    assert len(bomb) < 100 * 1024
    folder = tmp_path / "up"
    limits = UploadLimits(max_expanded_bytes=4 * 1024**2)
    with pytest.raises(UploadTooLarge, match=r"bomb.zip: IM0001: the upload unpacks to more "
                       r"than 4 MiB \(MEDROOM_UPLOAD_MAX_EXPANDED_BYTES\)"):
        write_upload([UploadedFile("bomb.zip", io.BytesIO(bomb))], folder, limits)
    # Counted chunk by chunk before each write: never more than the limit on disk.
    assert sum(p.stat().st_size for p in folder.iterdir()) <= 4 * 1024**2


def test_a_zip_that_lies_about_its_sizes_is_counted_by_what_comes_out(tmp_path: Path) -> None:
    bomb = bytearray(zip_of({"IM0001": bytes(8 * 1024**2)}))
    # Declare 1 KiB in both headers (local at 22, central directory at 24 past its signature).
    local, central = 22, bomb.rindex(b"PK\x01\x02") + 24
    for at in (local, central):
        bomb[at:at + 4] = (1024).to_bytes(4, "little")
    limits = UploadLimits(max_expanded_bytes=2 * 1024**2, max_slice_bytes=2 * 1024**2)
    with pytest.raises(UploadError):
        write_upload([UploadedFile("liar.zip", io.BytesIO(bytes(bomb)))], tmp_path / "up", limits)
    assert sum(p.stat().st_size for p in (tmp_path / "up").iterdir()) <= 2 * 1024**2


def test_a_zip_of_many_members_is_refused_at_the_count(tmp_path: Path) -> None:
    many = zip_of({f"IM{n:04d}": b"x" for n in range(50)})
    root = tmp_path / "uploads"
    with pytest.raises(UploadTooLarge, match=r"many.zip: IM0010: more than 10 files in one "
                       r"upload \(MEDROOM_UPLOAD_MAX_FILES\)"):
        store_series([UploadedFile("many.zip", io.BytesIO(many))], root,
                     limits=UploadLimits(max_files=10))
    assert list(root.iterdir()) == []


def test_one_huge_file_and_one_huge_frame_are_refused(tmp_path: Path) -> None:
    slices = write_ct_slices(tmp_path / "src", [0, 40], z_mm=[0, 1])
    big = UploadedFile("huge.dcm", io.BytesIO(bytes(3 * 1024**2)))
    with pytest.raises(UploadTooLarge, match=r"huge.dcm: larger than 2 MiB, the most one DICOM "
                       r"file may be \(MEDROOM_UPLOAD_MAX_SLICE_BYTES\)"):
        store_series([big], tmp_path / "uploads", limits=UploadLimits(max_slice_bytes=2 * 1024**2))
    # A small file whose header promises a frame bigger than the limit (a compressed slice
    # would): refused from its header, before anything is decoded.
    ds = pydicom.dcmread(slices[0])
    ds.Rows = ds.Columns = 8192
    ds.save_as(slices[0])
    with pytest.raises(UploadError, match=r"^slice000.dcm: one frame of 8192x8192 at 16 bits "
                       r"decodes to 128 MiB, more than the 64 MiB a slice may take"):
        store_series(as_uploads(slices[:1]), tmp_path / "uploads")
    assert list((tmp_path / "uploads").iterdir()) == []

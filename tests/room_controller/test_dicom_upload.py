"""Uploaded files and zips become a checked series folder, or leave nothing behind."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from room_controller.dicom import upload
from room_controller.dicom.upload import UploadedFile, UploadError, store_series, write_upload
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
    assert sorted(p.name for p in folder.iterdir()) == ["00001-evil.dcm", "00002-IM0001"]
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


def test_too_many_files_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload, "MAX_FILES", 2)
    slices = write_ct_slices(tmp_path / "src", [0, 0, 0], z_mm=[0, 1, 2])
    with pytest.raises(UploadError, match="more than 2 files"):
        store_series(as_uploads(slices), tmp_path / "uploads")
    assert list((tmp_path / "uploads").iterdir()) == []

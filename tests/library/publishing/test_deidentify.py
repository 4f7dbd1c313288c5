"""PS3.15 Annex E basic profile on real DICOM files written by pydicom (the head phantom)."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import SecondaryCaptureImageStorage

from library.publishing.deidentify import (
    BurnedInAnnotationError,
    DeidentificationError,
    deidentify_series,
)
from room_controller.dicom import write_head_phantom

SECRET = "course-library-secret-2026"
IDENTIFYING = {
    "PatientName": "Novak^Ana^Marija", "PatientID": "MRN-778812",
    "PatientBirthDate": "19610214", "PatientSex": "F", "PatientAge": "064Y",
    "PatientAddress": "Ilica 12, Zagreb", "OtherPatientIDs": "HR-OIB-12345678901",
    "InstitutionName": "KBC Sestre milosrdnice", "InstitutionAddress": "Vinogradska 29",
    "ReferringPhysicianName": "Horvat^Ivan", "PerformingPhysicianName": "Kovac^Petra",
    "OperatorsName": "Babic^Luka", "AccessionNumber": "ACC-2026-0042", "StudyID": "S-991",
    "DeviceSerialNumber": "SN-CT-55501", "StationName": "CT-ROOM-2",
    "StudyDescription": "CT head for Ana Novak", "AcquisitionDate": "20261120",
}


def make_series(folder: Path, slices: int = 4) -> list[Path]:
    """A phantom CT series dressed with identifying attributes, a private block, an overlay,
    a nested person name and a reference from each slice to the previous one."""
    paths = write_head_phantom(folder, slices=slices, size=64)
    previous: Dataset | None = None
    for path in paths:
        ds = pydicom.dcmread(path)
        for keyword, value in IDENTIFYING.items():
            setattr(ds, keyword, value)
        block = ds.private_block(0x0009, "ACME CT 1.0", create=True)
        block.add_new(0x01, "LO", "Novak Ana, bed 4")
        ds.add_new(0x60000010, "US", 64)  # OverlayRows
        ds.add_new(0x60000011, "US", 64)  # OverlayColumns
        ds.add_new(0x60000040, "CS", "G")  # OverlayType
        ds.add_new(0x60000050, "SS", [1, 1])  # OverlayOrigin
        ds.add_new(0x60000100, "US", 1)  # OverlayBitsAllocated
        ds.add_new(0x60000102, "US", 0)  # OverlayBitPosition
        ds.add_new(0x60003000, "OW", b"\xff" * (64 * 64 // 8))  # OverlayData
        observer = Dataset()
        observer.VerifyingObserverName = "Radic^Tomislav"
        observer.VerificationDateTime = "20261120101500"
        ds.VerifyingObserverSequence = Sequence([observer])
        if previous is not None:
            ref = Dataset()
            ref.ReferencedSOPClassUID = previous.SOPClassUID
            ref.ReferencedSOPInstanceUID = previous.SOPInstanceUID
            ds.ReferencedImageSequence = Sequence([ref])
        ds.save_as(path, enforce_file_format=True)
        previous = ds
    return paths


def read_all(folder: Path) -> list[Dataset]:
    return [pydicom.dcmread(p) for p in sorted(folder.iterdir())]


def test_basic_profile_on_a_ct_series(tmp_path: Path) -> None:
    sources = make_series(tmp_path / "in")
    originals = {pydicom.dcmread(p).SOPInstanceUID: pydicom.dcmread(p) for p in sources}
    report = deidentify_series(tmp_path / "in", tmp_path / "out", SECRET)

    outputs = read_all(tmp_path / "out")
    assert len(outputs) == len(sources) == len(report.files)
    assert report.studies == 1 and report.series == 1 and not report.needs_review
    old_study = {ds.StudyInstanceUID for ds in originals.values()}.pop()
    old_series = {ds.SeriesInstanceUID for ds in originals.values()}.pop()
    for ds in outputs:
        # Identifiers: emptied (Z) or removed (X) or dummies (D); none of the values survives.
        assert ds.PatientName == "" and ds.PatientID == "" and ds.PatientBirthDate == ""
        assert ds.PatientSex == "" and ds.AccessionNumber == "" and ds.StudyID == ""
        assert ds.ReferringPhysicianName == "" and ds.StudyDate == ""
        for keyword in ("PatientAge", "PatientAddress", "OtherPatientIDs", "InstitutionAddress",
                        "PerformingPhysicianName", "StudyDescription", "SeriesDescription"):
            assert keyword not in ds, keyword
        assert ds.InstitutionName == ds.StationName == ds.DeviceSerialNumber == "ANONYMIZED"
        assert ds.OperatorsName == "ANONYMIZED" and ds.AcquisitionDate == "19000101"
        text = repr(ds) + repr(ds.file_meta)
        for value in IDENTIFYING.values():
            assert len(value) < 4 or value not in text, value
        assert "Radic" not in text and "Novak" not in text  # nested PN and private LO too
        assert "VerificationDateTime" not in ds.VerifyingObserverSequence[0]
        # Private tags, overlays gone.
        assert not any(elem.tag.is_private for elem in ds.iterall())
        assert not any(elem.tag.group & 0xFF00 == 0x6000 for elem in ds)
        # Marked as de-identified, by which profile.
        assert ds.PatientIdentityRemoved == "YES"
        assert "Basic Application Level Confidentiality Profile" in ds.DeidentificationMethod
        code = ds.DeidentificationMethodCodeSequence[0]
        assert (code.CodeValue, code.CodingSchemeDesignator) == ("113100", "DCM")
        # What the file is stays: class, geometry, modality.
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2" and ds.Modality == "CT"
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"

    # UIDs: new, shared where they were shared, distinct where they were distinct.
    assert len({ds.StudyInstanceUID for ds in outputs}) == 1
    assert len({ds.SeriesInstanceUID for ds in outputs}) == 1
    assert len({ds.FrameOfReferenceUID for ds in outputs}) == 1
    assert outputs[0].StudyInstanceUID != old_study
    assert outputs[0].SeriesInstanceUID != old_series
    new_sops = {ds.SOPInstanceUID for ds in outputs}
    assert len(new_sops) == len(sources) and not new_sops & set(originals)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{uid}.dcm" for uid in new_sops)  # source names (CT.<old uid>.dcm) are not kept

    # References follow the remapping: each slice still points at the slice it pointed at.
    by_old = {}
    for report_file in report.files:
        old = pydicom.dcmread(tmp_path / "in" / report_file.source)
        new = pydicom.dcmread(tmp_path / "out" / report_file.output)
        by_old[old.SOPInstanceUID] = new.SOPInstanceUID
        # Pixel data untouched, bit for bit.
        assert new.PixelData == old.PixelData
        assert (new.Rows, new.Columns, new.RescaleIntercept) == (
            old.Rows, old.Columns, old.RescaleIntercept)
        assert report_file.private_removed == 2 and report_file.overlay_curve_removed == 7
    for report_file in report.files:
        old = pydicom.dcmread(tmp_path / "in" / report_file.source)
        if "ReferencedImageSequence" in old:
            new = pydicom.dcmread(tmp_path / "out" / report_file.output)
            old_ref = old.ReferencedImageSequence[0].ReferencedSOPInstanceUID
            new_ref = new.ReferencedImageSequence[0].ReferencedSOPInstanceUID
            assert new_ref == by_old[old_ref] != old_ref


def test_same_secret_same_uids_other_secret_other_uids(tmp_path: Path) -> None:
    make_series(tmp_path / "in", slices=2)
    deidentify_series(tmp_path / "in", tmp_path / "a", SECRET)
    deidentify_series(tmp_path / "in", tmp_path / "b", SECRET)
    deidentify_series(tmp_path / "in", tmp_path / "c", SECRET + "-other")
    a, b, c = (sorted(p.name for p in (tmp_path / x).iterdir()) for x in "abc")
    assert a == b and not set(a) & set(c)


def test_burned_in_annotation_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    paths = make_series(tmp_path / "in", slices=2)
    ds = pydicom.dcmread(paths[1])
    ds.BurnedInAnnotation = "YES"
    ds.save_as(paths[1], enforce_file_format=True)
    with pytest.raises(BurnedInAnnotationError, match="BurnedInAnnotation YES.*pixels"):
        deidentify_series(tmp_path / "in", tmp_path / "out", SECRET)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_secondary_capture_without_the_attribute_is_flagged_for_review(tmp_path: Path) -> None:
    paths = make_series(tmp_path / "in", slices=2)
    ds = pydicom.dcmread(paths[0])
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.Modality = "OT"
    ds.save_as(paths[0], enforce_file_format=True)
    report = deidentify_series(tmp_path / "in", tmp_path / "out", SECRET)
    flagged = report.needs_review
    assert [f.source for f in flagged] == [paths[0].name]
    assert flagged[0].review is not None and "Secondary Capture" in flagged[0].review


@pytest.mark.parametrize(("setup", "message"), [
    ("text", "notes.txt is not a DICOM file"),
    ("empty", "holds no files"),
    ("secret", "at least 16 characters"),
    ("exists", "never merged"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path: Path, setup: str,
                                                       message: str) -> None:
    source = tmp_path / "in"
    secret = SECRET
    if setup == "empty":
        source.mkdir()
    else:
        make_series(source, slices=2)
    if setup == "text":
        (source / "notes.txt").write_text("Patient: Ana Novak")
    if setup == "secret":
        secret = "short"
    if setup == "exists":
        (tmp_path / "out").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(DeidentificationError, match=message):
        deidentify_series(source, tmp_path / "out", secret)
    assert sorted(p.name for p in tmp_path.iterdir()) == before

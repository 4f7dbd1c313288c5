"""DICOM de-identification: PS3.15 Annex E, Basic Application Level Confidentiality Profile.

Images attached to a lesson leave the hospital for a course library, so they must carry
nothing that identifies the patient, the staff or the institution. The profile's action codes
(Table E.1-1, "Basic Profile" column) are applied per attribute:

- ``X`` remove, ``Z`` empty (or dummy), ``D`` dummy value, ``U`` new UID, ``K`` keep.
- Compound codes (``X/Z``, ``X/D``, ``Z/D``, ``X/Z/D``) let the implementer choose according to
  the attribute's type in the IOD. Without per-IOD tables we take the choice that is valid for
  every type: ``D`` when offered (a Type 1 attribute stays present), else ``Z``; the values are
  dummies either way, so nothing identifying survives whichever is chosen.

Beyond the listed attributes, two rules close the gaps of any finite table (vendors add
standard attributes the table does not name in a given edition): every remaining person name
(VR ``PN``) and every remaining date or time (``DA``/``DT``/``TM``) is removed, anywhere in the
dataset, sequences included. Private tags and the curve (50xx) and overlay (60xx) groups are
removed whole: overlays can hold burned-in-like text, and private tags routinely hold names.

UIDs are remapped with ``generate_uid(prefix, entropy_srcs=[secret, uid])``: deterministic for
a secret, so every file of a run (and of later runs with the same secret) maps a UID to the
same new one and Study/Series/Frame-of-Reference/referenced-image relations survive, while
nobody without the secret can go back. UIDs defined by DICOM itself (SOP classes, transfer
syntaxes, the ``1.2.840.10008.`` root) identify nobody and are kept, as are class UIDs.

Pixel data is never touched, so text burned into the pixels is not removed: a file that says
``BurnedInAnnotation = YES`` is refused, and camera-type images that do not say (endoscopy,
secondary capture, photographs, ultrasound) are flagged for a human to look at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag
from pydicom.uid import PYDICOM_ROOT_UID, generate_uid

from library.i18n import lazy
from recorder.durable import fsync_directory

PROFILE_NAME = "DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile"
# DeidentificationMethod is LO (at most 64 characters): the profile's name, shortened.
METHOD = "PS3.15 Basic Application Level Confidentiality Profile"
BASIC_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")
DICOM_ROOT = "1.2.840.10008."
MIN_SECRET_LENGTH = 16
DUMMY_DATE = "19000101"
DUMMY_TIME = "000000"
DUMMY_TEXT = "ANONYMIZED"


class DeidentificationError(ValueError):
    """A series cannot be de-identified safely; nothing was written. ``str()`` says why."""


class BurnedInAnnotationError(DeidentificationError):
    """Identifying text is burned into the pixels; only pixel cleaning can remove it."""


# -- the profile table ---------------------------------------------------------------------------
# Keyword -> basic-profile action code, as printed in PS3.15 Table E.1-1 (2024 editions), for the
# attributes found in CT, MR, endoscopy, secondary capture and photographs.
BASIC_PROFILE: dict[str, str] = {
    # Patient
    "PatientName": "Z", "PatientID": "Z", "PatientBirthDate": "Z", "PatientSex": "Z",
    "PatientBirthTime": "X", "PatientAge": "X", "PatientSize": "X", "PatientWeight": "X",
    "PatientAddress": "X", "OtherPatientIDs": "X", "OtherPatientIDsSequence": "X",
    "OtherPatientNames": "X", "PatientBirthName": "X", "PatientMotherBirthName": "X",
    "MedicalRecordLocator": "X", "PatientTelephoneNumbers": "X",
    "PatientTelecomInformation": "X", "EthnicGroup": "X", "Occupation": "X",
    "AdditionalPatientHistory": "X", "PatientComments": "X", "IssuerOfPatientID": "X",
    "IssuerOfPatientIDQualifiersSequence": "X", "PatientInsurancePlanCodeSequence": "X",
    "PatientPrimaryLanguageCodeSequence": "X", "MilitaryRank": "X", "BranchOfService": "X",
    "CountryOfResidence": "X", "RegionOfResidence": "X", "PatientReligiousPreference": "X",
    "MedicalAlerts": "X", "Allergies": "X", "SmokingStatus": "X", "PregnancyStatus": "X",
    "LastMenstrualDate": "X", "PatientState": "X", "SpecialNeeds": "X",
    "ResponsiblePerson": "X", "ResponsiblePersonRole": "X", "ResponsibleOrganization": "X",
    "PatientSexNeutered": "X/Z", "ReferencedPatientSequence": "X",
    "ReferencedPatientPhotoSequence": "X",
    # Visit and request
    "AdmissionID": "X", "IssuerOfAdmissionIDSequence": "X", "CurrentPatientLocation": "X",
    "AdmittingDiagnosesDescription": "X", "AdmittingDiagnosesCodeSequence": "X",
    "PatientInstitutionResidence": "X", "VisitComments": "X", "ServiceEpisodeID": "X",
    "ServiceEpisodeDescription": "X", "RequestAttributesSequence": "X",
    "RequestedProcedureDescription": "X", "RequestedProcedureID": "X",
    "ReasonForStudy": "X", "RequestingPhysician": "X", "RequestingService": "X",
    "IssuerOfAccessionNumberSequence": "X",
    # Study
    "AccessionNumber": "Z", "StudyID": "Z", "StudyDate": "Z", "StudyTime": "Z",
    "StudyDescription": "X", "StudyComments": "X", "ReferringPhysicianName": "Z",
    "ReferringPhysicianAddress": "X", "ReferringPhysicianTelephoneNumbers": "X",
    "ReferringPhysicianIdentificationSequence": "X", "PhysiciansOfRecord": "X",
    "PhysiciansOfRecordIdentificationSequence": "X", "NameOfPhysiciansReadingStudy": "X",
    "PhysiciansReadingStudyIdentificationSequence": "X", "ReferencedStudySequence": "X/Z",
    # Series, acquisition, procedure steps
    "SeriesDate": "X/D", "SeriesTime": "X/D", "SeriesDescription": "X",
    "OperatorsName": "X/Z/D", "OperatorIdentificationSequence": "X/D",
    "PerformingPhysicianName": "X", "PerformingPhysicianIdentificationSequence": "X",
    "ProtocolName": "X/D", "PerformedProcedureStepID": "X",
    "PerformedProcedureStepDescription": "X", "PerformedProcedureStepStartDate": "X",
    "PerformedProcedureStepStartTime": "X", "PerformedProcedureStepEndDate": "X",
    "PerformedProcedureStepEndTime": "X", "ReferencedPerformedProcedureStepSequence": "X/Z/D",
    "ScheduledProcedureStepDescription": "X", "ScheduledProcedureStepID": "X",
    "AcquisitionDate": "X/D", "AcquisitionTime": "X/D", "AcquisitionDateTime": "X/D",
    "ContentDate": "Z/D", "ContentTime": "Z/D", "InstanceCreationDate": "X/D",
    "InstanceCreationTime": "X/D", "TimezoneOffsetFromUTC": "X",
    "FrameAcquisitionDateTime": "X/D", "StartAcquisitionDateTime": "X/D",
    "EndAcquisitionDateTime": "X/D", "DateOfSecondaryCapture": "X",
    "TimeOfSecondaryCapture": "X", "ContrastBolusAgent": "Z/D", "AcquisitionComments": "X",
    "ImageComments": "X", "FrameComments": "X", "DerivationDescription": "X",
    "TextComments": "X", "TextString": "X", "ContentSequence": "X",
    # Institution and equipment
    "InstitutionName": "X/Z/D", "InstitutionAddress": "X", "InstitutionCodeSequence": "X/Z/D",
    "InstitutionalDepartmentName": "X", "StationName": "X/Z/D",
    "DeviceSerialNumber": "X/Z/D", "DeviceUID": "U", "DetectorID": "X/D", "GantryID": "X",
    "GeneratorID": "X", "PlateID": "X", "CassetteID": "X", "SoftwareVersions": "X",
    "DeviceDescription": "X", "DateOfLastCalibration": "X", "TimeOfLastCalibration": "X",
    # Provenance that can carry any of the above
    "OriginalAttributesSequence": "X", "ModifiedAttributesSequence": "X",
    "DigitalSignaturesSequence": "X", "MACParametersSequence": "X",
    "EncryptedAttributesSequence": "X",
    # Identifiers of instances and their relations
    "StudyInstanceUID": "U", "SeriesInstanceUID": "U", "SOPInstanceUID": "U",
    "FrameOfReferenceUID": "U", "ReferencedSOPInstanceUID": "U",
    "SynchronizationFrameOfReferenceUID": "U", "ConcatenationUID": "U",
    "DimensionOrganizationUID": "U", "IrradiationEventUID": "U", "InstanceCreatorUID": "U",
    "ReferencedFrameOfReferenceUID": "U", "RelatedFrameOfReferenceUID": "U", "UID": "U",
    "StorageMediaFileSetUID": "U", "TargetUID": "U", "FiducialUID": "U",
}

# Class and syntax UIDs say what a file is, never whose it is.
_KEPT_UID_KEYWORDS = frozenset({
    "SOPClassUID", "ReferencedSOPClassUID", "MediaStorageSOPClassUID", "TransferSyntaxUID",
    "ImplementationClassUID", "CodingSchemeUID", "ContextGroupExtensionCreatorUID",
    "PrivateInformationCreatorUID", "ReferencedSOPClassUIDInFile",
    "ReferencedTransferSyntaxUIDInFile", "RelatedGeneralSOPClassUID",
    "OriginalSpecializedSOPClassUID", "SOPClassesInStudy",
})

# Images made by a camera or a screen grab: text (names, dates) may be in the pixels even
# when the header does not say so.
_CAMERA_LIKE_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.7.1": "Multi-frame Single Bit Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.7.2": "Multi-frame Grayscale Byte Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.7.3": "Multi-frame Grayscale Word Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.7.4": "Multi-frame True Color Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.77.1.1": "VL Endoscopic Image",
    "1.2.840.10008.5.1.4.1.1.77.1.1.1": "Video Endoscopic Image",
    "1.2.840.10008.5.1.4.1.1.77.1.2": "VL Microscopic Image",
    "1.2.840.10008.5.1.4.1.1.77.1.2.1": "Video Microscopic Image",
    "1.2.840.10008.5.1.4.1.1.77.1.4": "VL Photographic Image",
    "1.2.840.10008.5.1.4.1.1.77.1.4.1": "Video Photographic Image",
    "1.2.840.10008.5.1.4.1.1.6.1": "Ultrasound Image",
    "1.2.840.10008.5.1.4.1.1.3.1": "Ultrasound Multi-frame Image",
}

# File meta attributes that can name the sending station.
_META_REMOVE = ("SourceApplicationEntityTitle", "SendingApplicationEntityTitle",
                "ReceivingApplicationEntityTitle", "PrivateInformationCreatorUID",
                "PrivateInformation")


def _resolve(code: str) -> str:
    """One action for a compound code: D if allowed, else Z, else the code itself."""
    options = code.split("/")
    for preferred in ("U", "D", "Z"):
        if preferred in options:
            return preferred
    return options[0]


_ACTIONS: dict[BaseTag, str] = {}
for _keyword, _code in BASIC_PROFILE.items():
    _tag = tag_for_keyword(_keyword)
    if _tag is None:  # pragma: no cover - guards against a typo in the table
        raise RuntimeError(f"unknown DICOM keyword in the profile table: {_keyword}")
    _ACTIONS[Tag(_tag)] = _resolve(_code)
_KEPT_UID_TAGS = frozenset(Tag(t) for k in _KEPT_UID_KEYWORDS
                           if (t := tag_for_keyword(k)) is not None)


# -- report ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileReport:
    source: str  # file name in the source folder
    output: str  # file name in the destination folder (the new SOP Instance UID)
    sop_class: str
    removed: int
    emptied: int
    dummied: int
    uids_remapped: int
    private_removed: int
    overlay_curve_removed: int
    review: str | None  # why a human should look at the pixels, or None


@dataclass(frozen=True)
class DeidentificationReport:
    profile: str
    folder: Path
    files: tuple[FileReport, ...]
    studies: int
    series: int
    distinct_uids: int

    @property
    def needs_review(self) -> tuple[FileReport, ...]:
        return tuple(f for f in self.files if f.review)


# -- UID mapping ------------------------------------------------------------------------------------
class UidMapper:
    """Old UID -> new UID, deterministic for a secret; the mapping itself is never written out
    (it would re-identify the data)."""

    def __init__(self, secret: str, prefix: str = PYDICOM_ROOT_UID) -> None:
        if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
            # A short secret can be found by trying candidates against a known original UID.
            raise DeidentificationError(
                f"the de-identification secret must be at least {MIN_SECRET_LENGTH} characters"
            )
        self._secret = secret
        self._prefix = prefix
        self._map: dict[str, str] = {}

    def __call__(self, uid: str) -> str:
        uid = uid.strip().rstrip("\x00")
        if not uid:
            return uid
        new = self._map.get(uid)
        if new is None:
            new = str(generate_uid(self._prefix, entropy_srcs=[self._secret, uid]))
            self._map[uid] = new
        return new

    def __len__(self) -> int:
        return len(self._map)


def _keep_uid(tag: BaseTag, value: str) -> bool:
    return tag in _KEPT_UID_TAGS or value.startswith(DICOM_ROOT)


# -- one dataset --------------------------------------------------------------------------------------
@dataclass
class _Counts:
    removed: int = 0
    emptied: int = 0
    dummied: int = 0
    uids: int = 0
    private: int = 0
    overlay_curve: int = 0


def _dummy(elem: DataElement) -> object:
    vr = elem.VR
    if vr == "SQ":
        return Sequence()  # a dummy item would need its own type-1 content; empty is valid
    return {
        "DA": DUMMY_DATE, "TM": DUMMY_TIME, "DT": DUMMY_DATE + DUMMY_TIME, "AS": "000Y",
        "IS": "0", "DS": "0", "CS": "", "UI": "",
    }.get(vr, DUMMY_TEXT)


def _is_overlay_or_curve(tag: BaseTag) -> bool:
    return tag.group & 0xFF00 in (0x5000, 0x6000) and tag.group % 2 == 0


def _clean(ds: Dataset, uids: UidMapper, counts: _Counts) -> None:
    """Apply the profile to ``ds`` and, recursively, to every sequence item in it."""
    for elem in list(ds):
        tag = elem.tag
        if tag.is_private:
            del ds[tag]
            counts.private += 1
            continue
        if _is_overlay_or_curve(tag):
            del ds[tag]
            counts.overlay_curve += 1
            continue
        action = _ACTIONS.get(tag)
        if action is None:
            if elem.VR in ("PN", "DA", "DT", "TM"):
                action = "X"  # names and dates the table does not list: see the module doc
            elif elem.VR == "UI":
                action = "U"
            elif elem.VR == "SQ":
                for item in elem.value:
                    _clean(item, uids, counts)
                continue
            else:
                continue  # K
        if action == "X":
            del ds[tag]
            counts.removed += 1
        elif action == "Z":
            elem.value = Sequence() if elem.VR == "SQ" else ""
            counts.emptied += 1
        elif action == "D":
            elem.value = _dummy(elem)
            counts.dummied += 1
        elif action == "U":
            if elem.VR == "SQ":  # "U" on a sequence: keep it, remap the UIDs inside
                for item in elem.value:
                    _clean(item, uids, counts)
                continue
            counts.uids += _remap(elem, uids)


def _remap(elem: DataElement, uids: UidMapper) -> int:
    if elem.value is None or elem.value == "":
        return 0
    values = elem.value if elem.VM > 1 else [elem.value]
    new = [v if _keep_uid(elem.tag, str(v)) else uids(str(v)) for v in values]
    changed = sum(1 for a, b in zip(values, new, strict=True) if str(a) != b)
    elem.value = new if elem.VM > 1 else new[0]
    return changed


def _mark(ds: Dataset) -> None:
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = BASIC_PROFILE_CODE
    ds.DeidentificationMethodCodeSequence = Sequence([code])
    # Dates were removed or replaced by dummies (PS3.3 C.7.1.3: "REMOVED").
    ds.LongitudinalTemporalInformationModified = "REMOVED"


def deidentify_dataset(ds: Dataset, uids: UidMapper, *, pseudonym: str = "") -> _Counts:
    """De-identify ``ds`` in place (pixel data untouched); returns what was done."""
    counts = _Counts()
    _clean(ds, uids, counts)
    if pseudonym:
        # A course needs a handle for "the patient of this case" that means nothing outside it.
        ds.PatientName = pseudonym
        ds.PatientID = pseudonym
    _mark(ds)
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        for keyword in _META_REMOVE:
            if keyword in meta:
                delattr(meta, keyword)
        if "SOPInstanceUID" in ds:
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return counts


def burned_in_review(ds: Dataset) -> str | None:
    """Raise if the header says text is burned in; a reason to review if it may be."""
    burned = str(ds.get("BurnedInAnnotation", "")).strip().upper()
    sop_class = str(ds.get("SOPClassUID", ""))
    if burned == "YES":
        raise BurnedInAnnotationError(lazy(
            "%(kind)s %(uid)s has BurnedInAnnotation YES: identifying text is in the pixels and "
            "this profile does not clean pixels; mask it (or export without annotations) and "
            "try again", "burned_in_annotation",
            kind=_CAMERA_LIKE_SOP_CLASSES.get(sop_class) or lazy("image"),
            uid=str(ds.get("SOPInstanceUID", ""))))
    reasons = []
    if sop_class in _CAMERA_LIKE_SOP_CLASSES and burned != "NO":
        reasons.append(f"{_CAMERA_LIKE_SOP_CLASSES[sop_class]} without BurnedInAnnotation NO: "
                       "check the pixels for names and dates")
    if str(ds.get("RecognizableVisualFeatures", "")).strip().upper() == "YES":
        reasons.append("RecognizableVisualFeatures YES: the patient may be recognisable")
    return "; ".join(reasons) or None


# -- a series folder ----------------------------------------------------------------------------------
def _source_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DeidentificationError(f"{folder} is not a folder")
    # DICOMDIR indexes the files with the patient's name and is rebuilt by whoever needs one.
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith(".") and p.name != "DICOMDIR")
    if not files:
        raise DeidentificationError(f"{folder} holds no files")
    return files


def _read(path: Path, *, pixels: bool) -> Dataset:
    try:
        return pydicom.dcmread(path, stop_before_pixels=not pixels)
    except InvalidDicomError:
        raise DeidentificationError(f"{path.name} is not a DICOM file") from None
    except (OSError, ValueError, EOFError) as exc:
        raise DeidentificationError(f"{path.name} cannot be read as DICOM: {exc}") from exc


def deidentify_series(
    src_folder: Path,
    dst_folder: Path,
    secret: str,
    *,
    pseudonym: str = "",
    uid_prefix: str = PYDICOM_ROOT_UID,
    on_file: Callable[[int, int], None] | None = None,
) -> DeidentificationReport:
    """De-identify every DICOM file of ``src_folder`` into the new folder ``dst_folder``.

    All files are checked first (each must be DICOM, none may have burned-in annotation), so a
    refusal writes nothing; the output is built in a hidden staging folder and renamed at the
    end. Output files are named after their new SOP Instance UID: source names often contain
    the patient's name or ID. ``on_file(done, total)`` reports progress.
    """
    if dst_folder.exists():
        raise DeidentificationError(f"{dst_folder} exists; de-identified output is never merged "
                                    "into an existing folder")
    uids = UidMapper(secret, uid_prefix)
    files = _source_files(src_folder)
    reviews: dict[Path, str | None] = {}
    for path in files:
        reviews[path] = burned_in_review(_read(path, pixels=False))

    staging = dst_folder.with_name(f".{dst_folder.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    reports: list[FileReport] = []
    studies: set[str] = set()
    series: set[str] = set()
    try:
        for done, path in enumerate(files, 1):
            ds = _read(path, pixels=True)
            counts = deidentify_dataset(ds, uids, pseudonym=pseudonym)
            sop_uid = str(ds.get("SOPInstanceUID", "")) or uids(path.name)
            name = f"{sop_uid}.dcm"
            ds.save_as(staging / name, enforce_file_format=True)
            studies.add(str(ds.get("StudyInstanceUID", "")))
            series.add(str(ds.get("SeriesInstanceUID", "")))
            reports.append(FileReport(
                source=path.name, output=name, sop_class=str(ds.get("SOPClassUID", "")),
                removed=counts.removed, emptied=counts.emptied, dummied=counts.dummied,
                uids_remapped=counts.uids, private_removed=counts.private,
                overlay_curve_removed=counts.overlay_curve, review=reviews[path],
            ))
            if on_file is not None:
                on_file(done, len(files))
        _fsync_tree(staging)
        os.rename(staging, dst_folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return DeidentificationReport(
        profile=PROFILE_NAME, folder=dst_folder, files=tuple(reports),
        studies=len(studies - {""}), series=len(series - {""}), distinct_uids=len(uids),
    )


def _fsync_tree(folder: Path) -> None:
    for path in _files(folder):
        with open(path, "rb") as f:
            os.fsync(f.fileno())
    fsync_directory(folder)


def _files(folder: Path) -> Iterable[Path]:
    return (p for p in folder.iterdir() if p.is_file())

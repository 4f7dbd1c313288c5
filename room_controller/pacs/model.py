"""What MedRoom asks a PACS and what it answers, the same whichever protocol carried it.

A query (``StudyQuery``, ``WorklistQuery``) is checked when it is made: bounded lengths, DICOM
dates, no backslash (the value separator) and no control characters, so nothing odd reaches a
PACS. Answers come back as datasets (QIDO-RS JSON is turned into one by pydicom, C-FIND answers
are one) and are read into frozen records here, once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from pydicom import Dataset

#: The character set MedRoom declares in every query: UTF-8, so ș, ț and Cyrillic go through.
QUERY_CHARSET = "ISO_IR 192"
MAX_RESULTS = 100


class PacsError(Exception):
    """A PACS did not do what was asked; the message names the PACS and gives its reason."""


class PacsUnreachable(PacsError):
    """The PACS did not answer at all (refused, timed out, TLS or login failure)."""


class QueryError(ValueError):
    """A search that cannot be sent as it is; the message says which field and why."""


_FORBIDDEN = re.compile(r"[\\\x00-\x1f\x7f]")


def _text(name: str, value: str, limit: int) -> str:
    value = value.strip()
    if len(value) > limit:
        raise QueryError(f"{name} is longer than {limit} characters")
    if _FORBIDDEN.search(value):
        raise QueryError(f"{name} may not hold a backslash or control characters")
    return value


def _wild(value: str) -> str:
    """A name as people type it matches names that start with it (PN matching is prefix)."""
    return value if not value or "*" in value or "?" in value else value + "*"


def dicom_date(day: date) -> str:
    return day.strftime("%Y%m%d")


@dataclass(frozen=True)
class StudyQuery:
    """What an instructor searches by; empty fields do not narrow."""

    patient_name: str = ""
    patient_id: str = ""
    accession: str = ""
    date_from: date | None = None
    date_to: date | None = None
    modality: str = ""
    limit: int = 50

    def __post_init__(self) -> None:
        object.__setattr__(self, "patient_name", _text("patient name", self.patient_name, 64))
        object.__setattr__(self, "patient_id", _text("patient ID", self.patient_id, 64))
        object.__setattr__(self, "accession", _text("accession number", self.accession, 16))
        modality = _text("modality", self.modality, 16).upper()
        if modality and not re.fullmatch(r"[A-Z0-9]{2,16}", modality):
            raise QueryError(f"modality '{modality}' is not a DICOM modality (CT, MR, ES...)")
        object.__setattr__(self, "modality", modality)
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise QueryError("the date range ends before it starts")
        if not 1 <= self.limit <= MAX_RESULTS:
            raise QueryError(f"limit must be between 1 and {MAX_RESULTS}")
        if not (self.patient_name or self.patient_id or self.accession or self.date_from
                or self.date_to):
            raise QueryError("give a patient name, patient ID, accession number or date: "
                             "MedRoom does not list a whole PACS")

    @property
    def date_range(self) -> str:
        if not (self.date_from or self.date_to):
            return ""
        start = dicom_date(self.date_from) if self.date_from else ""
        end = dicom_date(self.date_to) if self.date_to else ""
        return start if start == end else f"{start}-{end}"

    def filters(self) -> dict[str, str]:
        """Keyword → matching value, only the fields given."""
        pairs = {"PatientName": _wild(self.patient_name), "PatientID": self.patient_id,
                 "AccessionNumber": self.accession, "StudyDate": self.date_range,
                 "ModalitiesInStudy": self.modality}
        return {k: v for k, v in pairs.items() if v}

    def described(self) -> dict[str, str]:
        """For the access log: what was asked (never more than was typed)."""
        return {k: v for k, v in {
            "patient_name": self.patient_name, "patient_id": self.patient_id,
            "accession": self.accession, "dates": self.date_range, "modality": self.modality,
        }.items() if v}


@dataclass(frozen=True)
class SeriesMatch:
    series_uid: str
    number: int | None
    modality: str
    description: str
    instances: int | None


@dataclass(frozen=True)
class StudyMatch:
    study_uid: str
    patient_name: str
    patient_id: str
    birth_date: str
    accession: str
    study_date: str
    description: str
    modalities: tuple[str, ...]
    instances: int | None
    series: tuple[SeriesMatch, ...] = field(default=())


def _str(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword, "")
    return "" if value is None else str(value)


def _int(ds: Dataset, keyword: str) -> int | None:
    value = ds.get(keyword)
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def _modalities(ds: Dataset) -> tuple[str, ...]:
    value = ds.get("ModalitiesInStudy")
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def study_of(ds: Dataset) -> StudyMatch:
    return StudyMatch(
        study_uid=_str(ds, "StudyInstanceUID"), patient_name=_str(ds, "PatientName"),
        patient_id=_str(ds, "PatientID"), birth_date=_str(ds, "PatientBirthDate"),
        accession=_str(ds, "AccessionNumber"), study_date=_str(ds, "StudyDate"),
        description=_str(ds, "StudyDescription"), modalities=_modalities(ds),
        instances=_int(ds, "NumberOfStudyRelatedInstances"),
    )


def series_of(ds: Dataset) -> SeriesMatch:
    return SeriesMatch(
        series_uid=_str(ds, "SeriesInstanceUID"), number=_int(ds, "SeriesNumber"),
        modality=_str(ds, "Modality"), description=_str(ds, "SeriesDescription"),
        instances=_int(ds, "NumberOfSeriesRelatedInstances"),
    )


STUDY_FIELDS = ("StudyInstanceUID", "PatientName", "PatientID", "PatientBirthDate",
                "AccessionNumber", "StudyDate", "StudyDescription", "ModalitiesInStudy",
                "NumberOfStudyRelatedInstances")
SERIES_FIELDS = ("SeriesInstanceUID", "SeriesNumber", "Modality", "SeriesDescription",
                 "NumberOfSeriesRelatedInstances")


@dataclass(frozen=True)
class WorklistQuery:
    """Scheduled procedure steps to list: for one day, optionally one station/modality/name."""

    day: date
    patient_name: str = ""
    modality: str = ""
    station_aet: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "patient_name", _text("patient name", self.patient_name, 64))
        object.__setattr__(self, "modality", _text("modality", self.modality, 16).upper())
        object.__setattr__(self, "station_aet", _text("station AE title", self.station_aet, 16))


@dataclass(frozen=True)
class WorklistItem:
    """One scheduled procedure step: the patient context a procedure's exports carry."""

    patient_name: str
    patient_id: str
    birth_date: str
    sex: str
    accession: str
    study_uid: str
    procedure: str
    step_id: str
    modality: str
    start: str
    charset: str


def worklist_item_of(ds: Dataset) -> WorklistItem:
    steps = ds.get("ScheduledProcedureStepSequence") or [Dataset()]
    step = steps[0]
    charset = ds.get("SpecificCharacterSet", "")
    return WorklistItem(
        patient_name=_str(ds, "PatientName"), patient_id=_str(ds, "PatientID"),
        birth_date=_str(ds, "PatientBirthDate"), sex=_str(ds, "PatientSex"),
        accession=_str(ds, "AccessionNumber"), study_uid=_str(ds, "StudyInstanceUID"),
        procedure=_str(ds, "RequestedProcedureDescription")
        or _str(step, "ScheduledProcedureStepDescription"),
        step_id=_str(step, "ScheduledProcedureStepID"), modality=_str(step, "Modality"),
        start=(_str(step, "ScheduledProcedureStepStartDate") + " "
               + _str(step, "ScheduledProcedureStepStartTime")).strip(),
        charset=charset if isinstance(charset, str) else "\\".join(charset),
    )


#: Called with (received, total) as instances arrive; total is None when the PACS did not say.
Progress = Callable[[int, "int | None"], None]

"""API schemas of the PACS routes (search, retrieve, worklist, patient context)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from room_controller.pacs import Protocol

UID = Annotated[str, Field(min_length=3, max_length=64, pattern=r"^[0-9]+(\.[0-9]+)+$")]
Why = Annotated[str, Field(min_length=3, max_length=200,
                           description="Why (kept in the access log), e.g. 'case for today's "
                           "demonstration'.")]


class ProtocolStatusOut(BaseModel):
    protocol: Protocol
    answers: bool
    latency_ms: float | None
    error: str


class PacsOut(BaseModel):
    id: str
    label: str
    protocols: list[Protocol]
    answers: bool | None = Field(description="None: not asked yet.")
    checked_at: float | None
    status: list[ProtocolStatusOut]
    worklist: bool = Field(description="The modality worklist can be asked (DIMSE address).")


class SeriesOut(BaseModel):
    series_uid: str
    number: int | None
    modality: str
    description: str
    instances: int | None = Field(description="Slices (instances) the PACS holds.")


class StudyOut(BaseModel):
    study_uid: str
    patient_name: str
    patient_id: str
    birth_date: str
    accession: str
    study_date: str
    description: str
    modalities: list[str]
    series: list[SeriesOut]


class SearchOut(BaseModel):
    pacs: str
    protocol: Protocol
    studies: list[StudyOut]


class RetrieveIn(BaseModel):
    study_uid: UID
    series_uid: UID
    description: str = Field(default="", max_length=200)
    protocol: Protocol | None = Field(default=None, description="Default: DICOMweb if configured.")
    source_id: str | None = Field(default=None, max_length=64,
                                  description="Show it on this DICOM source once retrieved.")
    why: Why


class RetrievalOut(BaseModel):
    id: str
    pacs: str
    protocol: Protocol
    study_uid: str
    series_uid: str
    description: str
    source_id: str | None
    state: str
    received: int
    total: int | None
    error: str
    seconds: float | None
    slices: int
    cached: bool = Field(description="Its images are in the room (until the retention ends).")


class ShowIn(BaseModel):
    source_id: str = Field(max_length=64)


class WorklistItemOut(BaseModel):
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


class WorklistOut(BaseModel):
    pacs: str
    items: list[WorklistItemOut]


class ContextIn(BaseModel):
    pacs_id: str = Field(max_length=32)
    accession: str = Field(min_length=1, max_length=16)
    day: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="The worklist's day (ISO).")
    why: Why


class ContextOut(BaseModel):
    pacs: str | None
    item: WorklistItemOut | None
    chosen_by: str | None


MarkerId = Annotated[str, Field(min_length=1, max_length=64)]


class ExportIn(BaseModel):
    recording_id: str = Field(min_length=1, max_length=64)
    track: str = Field(min_length=1, max_length=64, description="The ISO track, e.g. 'iso-endoscope'.")
    clip_markers: list[MarkerId] = Field(
        default_factory=list, max_length=100,
        description="A clip from each of these markers to the next one (or the end).")
    still_markers: list[MarkerId] = Field(
        default_factory=list, max_length=100, description="A key image at each of these markers.")
    protocol: Protocol | None = None
    why: Why


class ExportItemOut(BaseModel):
    kind: str
    label: str
    sop_uid: str
    start: float
    end: float
    state: str = Field(description="pending, sending, sent, already-sent or failed.")
    reason: str = Field(description="The PACS's reason when it failed.")
    frames: int
    seconds: float


class ExportOut(BaseModel):
    id: str
    recording_id: str
    pacs: str
    running: bool
    error: str
    study_uid: str
    series_uid: str
    items: list[ExportItemOut]

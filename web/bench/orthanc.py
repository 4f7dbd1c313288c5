"""A real PACS for the tests and ``medroom bench pacs``: Debian's Orthanc on loopback, with its
own storage, and studies written with pydicom.

``OrthancPeer.start(folder)`` writes a configuration (free HTTP and DICOM ports, storage and
index under ``folder``, the DICOMweb and modality-worklist plugins, HTTP basic authentication
with one user, MedRoom's AE title known for C-MOVE), starts ``/usr/sbin/Orthanc`` and waits until
its REST API answers; ``stop()`` ends that process (and only it). Studies go in through Orthanc's
own REST API (``upload``), worklist items as files in the worklist folder (``add_worklist``).

Orthanc's DIMSE side is DCMTK, which leaves Nagle's algorithm on unless ``TCP_NODELAY=1`` is in
its environment: without it every C-GET sub-operation waits for a delayed ACK (a 300-slice
C-GET took 14 s; with it 1.5 s). A hospital's DCMTK-based PACS wants the same setting.

``OrthancMissing`` names the command that installs it when the binary or a plugin is missing
(the tests then skip).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from io import BytesIO
from pathlib import Path

import httpx
import numpy as np
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    generate_uid,
)

ORTHANC = Path("/usr/sbin/Orthanc")
PLUGINS = Path("/usr/share/orthanc/plugins")
DICOMWEB_PLUGIN = PLUGINS / "libOrthancDicomWeb.so"
WORKLIST_PLUGIN = PLUGINS / "libModalityWorklists.so"
INSTALL = "make pacs (or: sudo apt-get install orthanc orthanc-dicomweb dicom3tools)"
USER, PASSWORD = "medroom", "pacs-secret"
ORTHANC_AET = "ORTHANC"
MEDROOM_AET = "MEDROOM"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OrthancMissing(RuntimeError):
    """Debian's Orthanc (or one of its plugins) is not installed; the message says how."""


def check_orthanc() -> None:
    for path in (ORTHANC, DICOMWEB_PLUGIN, WORKLIST_PLUGIN):
        if not path.exists():
            raise OrthancMissing(f"{path} is missing: the PACS tests and bench need Debian's "
                                 f"Orthanc: {INSTALL}")


@dataclass
class OrthancPeer:
    folder: Path
    http_port: int = field(default_factory=free_port)
    dicom_port: int = field(default_factory=free_port)
    medroom_port: int = field(default_factory=free_port)
    """Where MedRoom's own storage SCP listens when Orthanc is asked for a C-MOVE."""
    process: subprocess.Popen[bytes] | None = None
    extra_args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    @property
    def worklists(self) -> Path:
        return self.folder / "worklists"

    @property
    def log(self) -> Path:
        return self.folder / "orthanc.log"

    def configuration(self) -> dict[str, object]:
        return {
            "Name": "MedRoomTestPACS",
            "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "storage"),
            "StorageCompression": False,
            "HttpServerEnabled": True,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {USER: PASSWORD},
            "DicomServerEnabled": True,
            "DicomAet": ORTHANC_AET,
            "DicomPort": self.dicom_port,
            "DicomCheckCalledAet": True,
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowFind": False,
            "DicomAlwaysAllowGet": False,
            "DicomAlwaysAllowMove": False,
            "DicomModalities": {
                "medroom": {"AET": MEDROOM_AET, "Host": "127.0.0.1", "Port": self.medroom_port,
                            "AllowEcho": True, "AllowFind": True, "AllowMove": True,
                            "AllowGet": True, "AllowStore": True},
            },
            "DicomScpTimeout": 30,
            "DefaultEncoding": "Utf8",
            "Plugins": [str(DICOMWEB_PLUGIN), str(WORKLIST_PLUGIN)],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True,
                         "Ssl": False, "StudiesMetadata": "Full", "SeriesMetadata": "Full"},
            "Worklists": {"Enable": True, "Database": str(self.worklists)},
            "ConcurrentJobs": 2,
            "HttpTimeout": 30,
            "StableAge": 1,
        }

    def start(self, timeout: float = 20.0) -> OrthancPeer:
        check_orthanc()
        (self.folder / "storage").mkdir(parents=True, exist_ok=True)
        self.worklists.mkdir(parents=True, exist_ok=True)
        config = self.folder / "orthanc.json"
        config.write_text(json.dumps(self.configuration(), indent=1))
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(ORTHANC), "--no-jobs", *self.extra_args, str(config)], stdout=log, stderr=subprocess.STDOUT,
                cwd=self.folder, env={**os.environ, "TCP_NODELAY": "1"},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited at start: {self.log.read_text()[-2000:]}")
            try:
                if self.client().get("/system").status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Orthanc did not answer in {timeout} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(USER, PASSWORD), timeout=30)

    def upload(self, datasets: Iterable[Dataset]) -> int:
        """Store each dataset through Orthanc's REST API; returns how many were stored."""
        count = 0
        with self.client() as http:
            for ds in datasets:
                buffer = BytesIO()
                ds.save_as(buffer, enforce_file_format=True)
                answer = http.post("/instances", content=buffer.getvalue())
                answer.raise_for_status()
                count += 1
        return count

    def upload_zip(self, datasets: Iterable[Dataset]) -> int:
        """Store many datasets in one request (Orthanc unpacks a ZIP posted to /instances)."""
        buffer = BytesIO()
        count = 0
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for ds in datasets:
                part = BytesIO()
                ds.save_as(part, enforce_file_format=True)
                archive.writestr(f"{count:06d}.dcm", part.getvalue())
                count += 1
        with self.client() as http:
            answer = http.post("/instances", content=buffer.getvalue(), timeout=300)
            answer.raise_for_status()
        return count

    def instances(self) -> list[str]:
        with self.client() as http:
            answer = http.get("/instances")
            answer.raise_for_status()
            return list(answer.json())

    def add_worklist(self, ds: Dataset, name: str) -> Path:
        path = self.worklists / f"{name}.wl"
        ds.save_as(path, enforce_file_format=True)
        return path


# -- studies the tests write ---------------------------------------------------------------------


@dataclass(frozen=True)
class Study:
    patient_name: str
    patient_id: str
    accession: str
    study_uid: str
    series_uid: str
    modality: str
    description: str
    slices: int


def ct_series(
    *, patient_name: str = "Popescu^Ion", patient_id: str = "P0001", accession: str = "ACC0001",
    slices: int = 12, size: int = 32, description: str = "Head CT", modality: str = "CT",
    study_date: date = date(2026, 11, 30), study_uid: str | None = None,
    transfer_syntax: str = ExplicitVRLittleEndian, charset: str = "ISO_IR 192",
) -> tuple[Study, list[Dataset]]:
    """A small CT series (a bright disc that grows and shrinks along z) as DICOM datasets."""
    study = Study(patient_name, patient_id, accession, study_uid or generate_uid(),
                  generate_uid(), modality, description, slices)
    yy, xx = np.mgrid[0:size, 0:size]
    datasets = []
    for i in range(slices):
        radius = size * (0.15 + 0.3 * np.sin(np.pi * (i + 0.5) / slices))
        disc = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < radius**2
        pixels = np.where(disc, 1040, 0).astype(np.uint16) + np.uint16(i)
        datasets.append(_ct_slice(study, i, pixels, study_date, transfer_syntax, charset))
    return study, datasets


def _ct_slice(study: Study, index: int, pixels: np.ndarray, study_date: date,
              transfer_syntax: str, charset: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    sop_uid = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.SpecificCharacterSet = charset
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study.study_uid
    ds.SeriesInstanceUID = study.series_uid
    ds.PatientName = study.patient_name
    ds.PatientID = study.patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "M"
    ds.AccessionNumber = study.accession
    ds.StudyDate = study_date.strftime("%Y%m%d")
    ds.StudyTime = "101500"
    ds.StudyDescription = study.description
    ds.SeriesDescription = study.description + " axial"
    ds.StudyID = "1"
    ds.ReferringPhysicianName = ""
    ds.Modality = study.modality
    ds.SeriesNumber = 1
    ds.InstanceNumber = index + 1
    ds.ImagePositionPatient = [0.0, 0.0, float(index) * 2.5]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [0.8, 0.8]
    ds.SliceThickness = 2.5
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.WindowCenter = 40
    ds.WindowWidth = 80
    ds.PixelData = pixels.tobytes()
    if transfer_syntax != ExplicitVRLittleEndian:
        ds.compress(transfer_syntax)
    return ds


def worklist_item(
    *, patient_name: str, patient_id: str, accession: str, charset: str = "ISO_IR 192",
    procedure: str = "Colonoscopy", station_aet: str = MEDROOM_AET, modality: str = "ES",
    when: date = date(2026, 12, 5), study_uid: str | None = None,
) -> Dataset:
    """One scheduled procedure step as the worklist plugin serves it."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.31")
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SpecificCharacterSet = charset
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19800214"
    ds.PatientSex = "F"
    ds.AccessionNumber = accession
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.RequestedProcedureDescription = procedure
    ds.RequestedProcedureID = "RP" + accession[-4:]
    step = Dataset()
    step.Modality = modality
    step.ScheduledStationAETitle = station_aet
    step.ScheduledProcedureStepStartDate = when.strftime("%Y%m%d")
    step.ScheduledProcedureStepStartTime = "090000"
    step.ScheduledProcedureStepDescription = procedure
    step.ScheduledProcedureStepID = "SPS" + accession[-4:]
    ds.ScheduledProcedureStepSequence = [step]
    return ds



"""A PACS over classic DIMSE: C-ECHO, C-FIND (study root and modality worklist), C-GET, C-STORE.

Through ``pynetdicom``: one association per call, every network step bounded by the PACS's
``timeout_seconds``, TLS when ``dimse_tls``. C-GET is used rather than C-MOVE: the instances
come back on the same association, so MedRoom needs no listening port that the hospital's
firewall and the PACS's list of destinations must know about. Every C-FIND declares UTF-8
(``ISO_IR 192``) so names in ș, ț or Cyrillic are asked for and read back unchanged.
Blocking: call from a worker thread.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom import Dataset
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import AE, build_role, evt
from pynetdicom.association import Association
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    ModalityWorklistInformationFind,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    Verification,
)
from pynetdicom.transport import AddressInformation, AssociationSocket

from config.settings import PacsServer

from .dicomweb import Cancelled
from .model import (
    QUERY_CHARSET,
    SERIES_FIELDS,
    STUDY_FIELDS,
    PacsError,
    PacsUnreachable,
    Progress,
    SeriesMatch,
    StudyMatch,
    StudyQuery,
    WorklistItem,
    WorklistQuery,
    dicom_date,
    series_of,
    study_of,
    worklist_item_of,
)

#: Image storage classes MedRoom accepts on a C-GET (cross-sectional and projection imaging,
#: secondary capture): each is offered with the SCP role, as PS3.4 C.4.3 asks.
RETRIEVE_CLASSES = (
    "1.2.840.10008.5.1.4.1.1.2",  # CT Image
    "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT Image
    "1.2.840.10008.5.1.4.1.1.4",  # MR Image
    "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR Image
    "1.2.840.10008.5.1.4.1.1.128",  # PET Image
    "1.2.840.10008.5.1.4.1.1.20",  # NM Image
    "1.2.840.10008.5.1.4.1.1.1",  # CR Image
    "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray (presentation)
    "1.2.840.10008.5.1.4.1.1.12.1",  # X-Ray Angiographic
    "1.2.840.10008.5.1.4.1.1.12.2",  # X-Ray Radiofluoroscopic
    "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image
    "1.2.840.10008.5.1.4.1.1.3.1",  # Ultrasound Multi-frame
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture
    "1.2.840.10008.5.1.4.1.1.7.2",  # Multi-frame Grayscale Byte SC
    "1.2.840.10008.5.1.4.1.1.7.3",  # Multi-frame Grayscale Word SC
)
RETRIEVE_SYNTAXES = (
    ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian, JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLosslessSV1, JPEGLSLossless,
    JPEGLSNearLossless, JPEG2000Lossless, JPEG2000, RLELossless,
)
_PENDING = (0xFF00, 0xFF01)
# pynetdicom logs every association and every C-STORE at INFO: a retrieval of 300 slices would
# be 1,500 lines in the server's log. Its warnings and errors still show.
logging.getLogger("pynetdicom").setLevel(logging.WARNING)


class _NoDelayAE(AE):
    """pynetdicom writes a PDU in several sends: with Nagle's algorithm on, a C-STORE to the PACS
    waits for the PACS's delayed ACK (about 40 ms) between them. (The PACS's side matters as
    much for C-GET: DCMTK-based ones, Orthanc among them, need TCP_NODELAY=1 in their
    environment, see web/bench/orthanc.py.)"""

    def _create_socket(self, assoc: Association, address: AddressInformation,
                       tls_args: tuple[ssl.SSLContext, str] | None) -> AssociationSocket:
        sock = super()._create_socket(assoc, address, tls_args)
        if sock.socket is not None:
            sock.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


class DimsePacs:
    """One PACS reached by AE title, host and port."""

    def __init__(self, server: PacsServer) -> None:
        if server.aet is None or server.host is None or server.port is None:
            raise ValueError(f"PACS '{server.id}' has no aet, host and port")
        self.server = server
        self.aet, self.host, self.port = server.aet, server.host, server.port
        self.name = f"PACS '{server.id}' ({self.aet}@{self.host}:{self.port})"

    def _ae(self) -> AE:
        ae = _NoDelayAE(ae_title=self.server.calling_aet)
        timeout = self.server.timeout_seconds
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
        ae.connection_timeout = timeout
        return ae

    def _tls(self) -> tuple[ssl.SSLContext, str] | None:
        if not self.server.dimse_tls:
            return None
        context = ssl.create_default_context(
            cafile=str(self.server.tls_ca_file) if self.server.tls_ca_file else None)
        if not self.server.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context, self.host

    @contextmanager
    def _association(self, ae: AE, what: str, **kwargs: Any) -> Iterator[Association]:
        assoc = ae.associate(self.host, self.port, ae_title=self.aet, tls_args=self._tls(),
                             **kwargs)
        if not assoc.is_established:
            if assoc.is_rejected:
                raise PacsUnreachable(f"{self.name} rejected the association while {what}: "
                                      f"check that it knows AE title '{self.server.calling_aet}'")
            raise PacsUnreachable(f"{self.name}: no association while {what} (refused, timed "
                                  f"out after {self.server.timeout_seconds:g} s, or TLS failed)")
        try:
            yield assoc
        finally:
            if assoc.is_established:
                assoc.release()

    def echo(self) -> float:
        ae = self._ae()
        ae.add_requested_context(Verification)
        start = time.perf_counter()
        with self._association(ae, "checking that it answers") as assoc:
            status = assoc.send_c_echo()
            if not status or status.Status != 0x0000:
                raise PacsUnreachable(f"{self.name}: C-ECHO failed ({_status(status)})")
        return time.perf_counter() - start

    def _find(self, model: str, identifier: Dataset, what: str, limit: int) -> list[Dataset]:
        ae = self._ae()
        ae.add_requested_context(model)
        found: list[Dataset] = []
        with self._association(ae, what) as assoc:
            for status, answer in assoc.send_c_find(identifier, model):
                if not status:
                    raise PacsError(f"{self.name} dropped the association while {what}")
                code = status.Status
                if code in _PENDING and answer is not None:
                    found.append(answer)
                    if len(found) >= limit:
                        assoc.send_c_cancel(status.get("MessageIDBeingRespondedTo", 1),
                                            None, model)
                        break
                elif code != 0x0000:
                    raise PacsError(f"{self.name} refused the C-FIND while {what}: "
                                    f"{_status(status)}")
        return found

    def search(self, query: StudyQuery) -> list[StudyMatch]:
        ds = _identifier("STUDY", STUDY_FIELDS)
        for keyword, value in query.filters().items():
            setattr(ds, keyword, value)
        found = self._find(StudyRootQueryRetrieveInformationModelFind, ds, "searching studies",
                           query.limit)
        return [study_of(answer) for answer in found]

    def series(self, study_uid: str) -> list[SeriesMatch]:
        ds = _identifier("SERIES", SERIES_FIELDS)
        ds.StudyInstanceUID = study_uid
        found = self._find(StudyRootQueryRetrieveInformationModelFind, ds,
                           "listing the study's series", 1000)
        return [series_of(answer) for answer in found]

    def worklist(self, query: WorklistQuery, limit: int = 100) -> list[WorklistItem]:
        ds = Dataset()
        ds.SpecificCharacterSet = QUERY_CHARSET
        for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                        "AccessionNumber", "StudyInstanceUID", "RequestedProcedureDescription",
                        "RequestedProcedureID"):
            setattr(ds, keyword, "")
        if query.patient_name:
            ds.PatientName = query.patient_name if "*" in query.patient_name \
                else query.patient_name + "*"
        step = Dataset()
        step.Modality = query.modality
        step.ScheduledStationAETitle = query.station_aet
        step.ScheduledProcedureStepStartDate = dicom_date(query.day)
        step.ScheduledProcedureStepStartTime = ""
        step.ScheduledProcedureStepDescription = ""
        step.ScheduledProcedureStepID = ""
        ds.ScheduledProcedureStepSequence = [step]
        found = self._find(ModalityWorklistInformationFind, ds, "reading the worklist", limit)
        return [worklist_item_of(answer) for answer in found]

    def retrieve(
        self, study_uid: str, series_uid: str, folder: Path, progress: Progress,
        total: int | None, max_instances: int, cancel: threading.Event,
    ) -> int:
        """C-GET the series into ``folder``; the PACS's sub-operation counts give the total."""
        ae = self._ae()
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
        for uid in RETRIEVE_CLASSES:
            ae.add_requested_context(uid, list(RETRIEVE_SYNTAXES))
        roles = [build_role(uid, scp_role=True) for uid in RETRIEVE_CLASSES]
        state = _GetState(total=total)

        def on_store(event: evt.Event) -> int:
            if cancel.is_set():
                return 0xA700  # out of resources: the PACS stops sending
            received = state.received + 1
            if received > max_instances:
                state.refused = (f"the series has more than {max_instances} instances "
                                    "(MEDROOM_PACS_MAX_SERIES_SLICES)")
                return 0xA700
            (folder / f"{received:05d}.dcm").write_bytes(event.encoded_dataset())
            state.received = received
            progress(received, state.total)
            return 0x0000

        ds = Dataset()
        ds.QueryRetrieveLevel = "SERIES"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        what = f"retrieving series {series_uid}"
        final: Dataset | None = None
        with self._association(ae, what, ext_neg=roles,
                               evt_handlers=[(evt.EVT_C_STORE, on_store)]) as assoc:
            for status, _ in assoc.send_c_get(ds, StudyRootQueryRetrieveInformationModelGet):
                if not status:
                    break
                final = status
                remaining = status.get("NumberOfRemainingSuboperations")
                if remaining is not None:
                    done = sum(int(status.get(k) or 0) for k in (
                        "NumberOfCompletedSuboperations", "NumberOfFailedSuboperations",
                        "NumberOfWarningSuboperations"))
                    state.total = int(remaining) + done
            aborted = assoc.is_aborted
        received = state.received
        if cancel.is_set():
            raise Cancelled(f"retrieval cancelled after {received} instance(s)")
        if state.refused:
            raise PacsError(state.refused)
        expected = state.total
        if aborted or final is None or final.Status in _PENDING:  # no final answer came
            of = f" of {expected}" if expected else ""
            raise PacsError(f"{self.name} dropped the association after {received}{of} "
                            "instance(s) of the series: try again")
        if final.Status not in (0x0000, 0xB000) or (final.Status == 0xB000 and received == 0):
            raise PacsError(f"{self.name} could not send the series: {_status(final)}")
        if received == 0:
            raise PacsError(f"{self.name} has no instances of series {series_uid}")
        return received

    def store(self, datasets: Sequence[Dataset]) -> list[tuple[str, int, str]]:
        """C-STORE each dataset; returns (SOP Instance UID, status, comment) per dataset."""
        ae = self._ae()
        pairs = sorted({(str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID))
                        for ds in datasets})
        for sop_class, syntax in pairs:
            ae.add_requested_context(sop_class, [syntax])
        results: list[tuple[str, int, str]] = []
        with self._association(ae, "storing instances") as assoc:
            for ds in datasets:
                status = assoc.send_c_store(ds)
                if not status:
                    results.append((str(ds.SOPInstanceUID), -1,
                                    "the PACS dropped the association"))
                    break
                results.append((str(ds.SOPInstanceUID), int(status.Status),
                                str(status.get("ErrorComment", "") or "")))
        return results


@dataclass
class _GetState:
    """What the C-STORE handler (pynetdicom's thread) and the C-GET loop share."""

    total: int | None
    received: int = 0
    refused: str = ""


def _identifier(level: str, fields: Sequence[str]) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = QUERY_CHARSET
    ds.QueryRetrieveLevel = level
    for keyword in fields:
        setattr(ds, keyword, "")
    return ds


def _status(status: Dataset | None) -> str:
    if not status:
        return "no status (association dropped)"
    comment = status.get("ErrorComment", "")
    return f"status 0x{int(status.Status):04X}" + (f": {comment}" if comment else "")

"""A PACS over DICOMweb: QIDO-RS to search, WADO-RS to retrieve, STOW-RS to store.

Through ``dicomweb-client`` (requests underneath): one session per PACS with its login and its
TLS settings, every call bounded by the PACS's ``timeout_seconds``. Instances are retrieved in
the transfer syntax the PACS holds them in (``transfer-syntax=*``): the PACS does not transcode,
and whether MedRoom can decode it is checked when the series is loaded, with the reason.
QIDO-RS queries are built here, not by dicomweb-client: it percent-encodes ``*`` and ``^``, and
Orthanc's DICOMweb plugin (1.7, Debian 12) matches query values without decoding them, so every
wildcard search found nothing. Here ``*`` and ``?`` go unencoded (RFC 3986 allows them in a
query); ``^`` and any non-ASCII character of a name are sent as ``*``/``?`` wildcards, and the
answers are then matched against the name as typed (case and accents ignored), which gives the
same result from a PACS that decodes and from one that does not.

Blocking: call from a worker thread.
"""

from __future__ import annotations

import fnmatch
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from dicomweb_client.api import DICOMwebClient
from pydicom import Dataset

from config.settings import PacsServer

from .model import (
    SERIES_FIELDS,
    STUDY_FIELDS,
    PacsError,
    PacsUnreachable,
    Progress,
    SeriesMatch,
    StudyMatch,
    StudyQuery,
    series_of,
    study_of,
)

ANY_SYNTAX = (("application/dicom", "*"),)


class Cancelled(PacsError):
    """The retrieval was cancelled (the room stopped, or the instructor asked)."""


def _session(server: PacsServer) -> requests.Session:
    session = requests.Session()
    if server.username is not None and server.password is not None:
        session.auth = (server.username, server.password)
    session.verify = str(server.tls_ca_file) if server.tls_ca_file else server.tls_verify
    session.trust_env = False  # a proxy from the environment must not see patient data
    return session


class DicomWebPacs:
    """One DICOMweb PACS (thread-safe: each call makes its own requests)."""

    def __init__(self, server: PacsServer) -> None:
        if server.dicomweb_url is None:
            raise ValueError(f"PACS '{server.id}' has no dicomweb_url")
        self.server = server
        self.url = server.dicomweb_url.rstrip("/")
        self._session = _session(server)
        self._client = DICOMwebClient(self.url, session=self._session,
                                      timeout=server.timeout_seconds)
        # Its default retries every failure (a refused connection too) five times with
        # exponential waits: 30 s before a PACS that is down is reported. MedRoom retries where
        # a person can see it (the retrieval and export buttons), not behind their back.
        self._client.set_http_retry_params(retry=False)

    @contextmanager
    def _asking(self, what: str) -> Iterator[None]:
        """Turn what requests raises into a PacsError naming the PACS and its answer."""
        name = f"PACS '{self.server.id}' ({self.url})"
        try:
            yield
        except requests.exceptions.SSLError as exc:
            raise PacsUnreachable(f"{name}: TLS failed while {what}: {exc}; check tls_ca_file "
                                  "or the PACS's certificate") from None
        except requests.exceptions.Timeout:
            raise PacsUnreachable(f"{name}: no answer within {self.server.timeout_seconds:g} s "
                                  f"while {what}") from None
        except requests.exceptions.ConnectionError as exc:
            raise PacsUnreachable(f"{name}: cannot connect while {what}: "
                                  f"{_short(exc)}") from None
        except requests.exceptions.HTTPError as exc:
            response = exc.response
            code = response.status_code if response is not None else 0
            reason = (response.reason if response is not None else "") or ""
            body = (response.text[:200] if response is not None else "").strip()
            if code in (401, 403):
                raise PacsUnreachable(f"{name}: refused MedRoom's login ({code} {reason}) "
                                      f"while {what}: check username and password") from None
            raise PacsError(f"{name}: answered {code} {reason} while {what}"
                            + (f": {body}" if body else "")) from None
        except (requests.exceptions.RequestException, ValueError, TypeError) as exc:
            raise PacsError(f"{name}: {what} failed: {_short(exc)}") from None

    def _qido(self, path: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={quote(v, safe='*?,-._~')}" for k, v in params)  # see above
        answer = self._session.get(f"{self.url}/{path}?{query}", timeout=self.server.timeout_seconds,
                                   headers={"Accept": "application/dicom+json"})
        answer.raise_for_status()
        if answer.status_code == 204 or not answer.content:
            return []
        found = answer.json()
        if not isinstance(found, list):
            raise TypeError("the QIDO-RS answer is not a JSON list")
        return found

    def echo(self) -> float:
        """Seconds one small QIDO-RS request took; raises PacsUnreachable when it fails."""
        start = time.perf_counter()
        with self._asking("checking that it answers"):
            self._qido("studies", [("limit", "1"), ("includefield", "StudyInstanceUID")])
        return time.perf_counter() - start

    def search(self, query: StudyQuery) -> list[StudyMatch]:
        filters = query.filters()
        typed = filters.get("PatientName", "")
        if typed:
            filters["PatientName"] = qido_name(typed)
        # A wider name match is narrowed here: ask for more than the limit.
        limit = query.limit * 4 if typed != filters.get("PatientName", "") else query.limit
        params = [*filters.items(), *(("includefield", f) for f in STUDY_FIELDS),
                  ("limit", str(limit))]
        with self._asking("searching studies"):
            found = [study_of(Dataset.from_json(item)) for item in self._qido("studies", params)]
        if typed:
            found = [s for s in found if name_matches(typed, s.patient_name)]
        return found[:query.limit]

    def series(self, study_uid: str) -> list[SeriesMatch]:
        params = [("includefield", f) for f in SERIES_FIELDS]
        with self._asking("listing the study's series"):
            found = self._qido(f"studies/{quote(study_uid, safe='.')}/series", params)
        return [series_of(Dataset.from_json(item)) for item in found]

    def retrieve(
        self, study_uid: str, series_uid: str, folder: Path, progress: Progress,
        total: int | None, max_instances: int, cancel: threading.Event,
    ) -> int:
        """Write every instance of the series into ``folder`` as it arrives; returns how many."""
        received = 0
        try:
            with self._asking(f"retrieving series {series_uid}"):
                for ds in self._client.iter_series(study_uid, series_uid,
                                                   media_types=ANY_SYNTAX):
                    if cancel.is_set():
                        raise Cancelled(f"retrieval cancelled after {received} instance(s)")
                    received += 1
                    if received > max_instances:
                        raise PacsError(f"the series has more than {max_instances} instances "
                                        "(MEDROOM_PACS_MAX_SERIES_SLICES)")
                    ds.save_as(folder / f"{received:05d}.dcm", enforce_file_format=True)
                    progress(received, total)
        except Cancelled:
            raise
        except PacsError as exc:
            if received == 0:
                raise
            of = f" of {total}" if total else ""
            raise PacsError(f"{exc} (the transfer broke off after {received}{of} instances: "
                            "try again)") from None
        return received

    def store(self, datasets: Sequence[Dataset]) -> Dataset:
        """STOW-RS; returns the PACS's response dataset (referenced and failed SOP sequences)."""
        for ds in datasets:
            # dicomweb-client writes each part with pydicom's dcmwrite, which leaves out the
            # 128-byte preamble and 'DICM' unless the dataset has one; PS3.18 asks for the
            # PS3.10 format (Orthanc stored the headless bytes as they came).
            if getattr(ds, "preamble", None) is None:
                ds.preamble = b"\x00" * 128
        with self._asking("storing instances"):
            return self._client.store_instances(list(datasets))


def qido_name(name: str) -> str:
    """The name as a QIDO value every PACS reads alike: ASCII, with ``^`` and each run of
    non-ASCII characters as ``*`` (a multi-byte character is not one ``?`` to every PACS). A
    name with no ASCII letter left is sent as typed (percent-encoded UTF-8, as the standard
    says): a lone ``*`` would list the whole PACS."""
    out: list[str] = []
    for char in name:
        piece = char if char.isascii() and (char.isalnum() or char in "*?-. '") else "*"
        if not (piece == "*" and out and out[-1] == "*"):
            out.append(piece)
    folded = "".join(out)
    return folded if any(c.isalnum() for c in folded) else name


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_matches(pattern: str, name: str) -> bool:
    """PN matching as PS3.4 C.2.2.2.4 with the PACS's usual leniency: case and accents ignored,
    ``*`` any run, ``?`` one character, ``^`` itself."""
    translated = _fold(pattern).replace("[", "[[]")
    return fnmatch.fnmatchcase(_fold(name), translated)


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 240 else text[:237] + "..."

"""The configured PACS, each reached over DICOMweb, DIMSE or both, and whether they answer.

``PacsPeer.via(protocol)`` picks the client: DICOMweb by default when the PACS has a URL (one
HTTP request per search, a streamed multipart retrieve), DIMSE otherwise or when asked. The
worklist is DIMSE only (there is no DICOMweb modality worklist that PACS serve).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from config.settings import PacsServer

from .dicomweb import DicomWebPacs
from .dimse import DimsePacs
from .model import PacsError

log = logging.getLogger(__name__)


class Protocol(str, Enum):
    DICOMWEB = "dicomweb"
    DIMSE = "dimse"


@dataclass(frozen=True)
class ProtocolStatus:
    protocol: Protocol
    answers: bool
    latency_ms: float | None
    error: str


@dataclass(frozen=True)
class PacsStatus:
    """What the console shows: does the PACS answer, over which protocol, and if not, why."""

    id: str
    label: str
    answers: bool
    checked_at: float
    protocols: tuple[ProtocolStatus, ...]


class PacsPeer:
    def __init__(self, server: PacsServer) -> None:
        self.server = server
        self.web = DicomWebPacs(server) if server.speaks_dicomweb else None
        self.dimse = DimsePacs(server) if server.speaks_dimse else None

    @property
    def id(self) -> str:
        return self.server.id

    @property
    def protocols(self) -> tuple[Protocol, ...]:
        return tuple(p for p, c in ((Protocol.DICOMWEB, self.web), (Protocol.DIMSE, self.dimse))
                     if c is not None)

    def via(self, protocol: Protocol | None = None) -> DicomWebPacs | DimsePacs:
        """The client for ``protocol``, or the preferred one; PacsError when not configured."""
        if protocol in (None, Protocol.DICOMWEB) and self.web is not None:
            return self.web
        if protocol in (None, Protocol.DIMSE) and self.dimse is not None:
            return self.dimse
        raise PacsError(f"PACS '{self.id}' is not configured for {protocol.value if protocol else 'any protocol'} "
                        f"(it speaks: {', '.join(p.value for p in self.protocols)})")

    def worklist_client(self) -> DimsePacs:
        if self.dimse is None:
            raise PacsError(f"PACS '{self.id}' has no DIMSE address (aet, host, port): the "
                            "modality worklist is asked with C-FIND")
        return self.dimse

    def check(self) -> PacsStatus:
        """Ask every protocol once (C-ECHO, a one-result QIDO); never raises."""
        results = []
        for protocol in self.protocols:
            client = self.via(protocol)
            try:
                seconds = client.echo()
                results.append(ProtocolStatus(protocol, True, round(seconds * 1000, 1), ""))
            except PacsError as exc:
                results.append(ProtocolStatus(protocol, False, None, str(exc)))
        return PacsStatus(self.id, self.server.label or self.id, all(r.answers for r in results),
                          time.time(), tuple(results))


class PacsPeers:
    """Every configured PACS, by id, with the last check of each."""

    def __init__(self, servers: Sequence[PacsServer]) -> None:
        self.peers = {s.id: PacsPeer(s) for s in servers}
        self.last: dict[str, PacsStatus] = {}

    def for_room(self, room_id: str) -> list[PacsPeer]:
        return [p for p in self.peers.values() if p.server.serves(room_id)]

    def get(self, room_id: str, pacs_id: str) -> PacsPeer | None:
        peer = self.peers.get(pacs_id)
        return peer if peer is not None and peer.server.serves(room_id) else None

    def check(self, pacs_id: str) -> PacsStatus:
        status = self.peers[pacs_id].check()
        self.last[pacs_id] = status
        return status

    def check_all(self) -> list[PacsStatus]:
        """At start: each PACS asked once; one that does not answer is logged with the reason
        (the rooms still start: teaching goes on without the PACS)."""
        statuses = [self.check(pacs_id) for pacs_id in self.peers]
        for status in statuses:
            for result in status.protocols:
                if result.answers:
                    log.info("PACS '%s' answers over %s (%.1f ms)", status.id,
                             result.protocol.value, result.latency_ms or 0)
                else:
                    log.error("PACS '%s' does not answer over %s: %s (check MEDROOM_PACS; the "
                              "console shows it until it answers)", status.id,
                              result.protocol.value, result.error)
        return statuses

"""The hospital's PACS: search (QIDO-RS, C-FIND), retrieve into the room (WADO-RS, C-GET) with
progress and retention, and the modality worklist (MWL C-FIND). See issue 15."""

from .model import (
    PacsError,
    PacsUnreachable,
    QueryError,
    SeriesMatch,
    StudyMatch,
    StudyQuery,
    WorklistItem,
    WorklistQuery,
)
from .peers import PacsPeer, PacsPeers, PacsStatus, Protocol
from .retrieval import PacsCache, Retrieval, RetrievalState, run_retrieval

__all__ = [
    "PacsCache",
    "PacsError",
    "PacsPeer",
    "PacsPeers",
    "PacsStatus",
    "PacsUnreachable",
    "Protocol",
    "QueryError",
    "Retrieval",
    "RetrievalState",
    "SeriesMatch",
    "StudyMatch",
    "StudyQuery",
    "WorklistItem",
    "WorklistQuery",
    "run_retrieval",
]

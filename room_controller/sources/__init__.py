"""Frame sources of a room: the contract, synthetic demo sources and DICOM series."""

from .base import Frame, Source, SourceHealth, SourceState, ThreadedSource
from .dicom_source import DicomSeriesSource
from .synthetic import EndoscopeSimSource, TestPatternSource

__all__ = [
    "DicomSeriesSource",
    "EndoscopeSimSource",
    "Frame",
    "Source",
    "SourceHealth",
    "SourceState",
    "TestPatternSource",
    "ThreadedSource",
]

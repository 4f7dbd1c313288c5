"""Frame sources of a room: the contract, synthetic demo sources, DICOM series, network
streams and clips, still images, local video devices and WHIP publishers."""

from .base import (
    Backoff,
    Frame,
    Source,
    SourceError,
    SourceHealth,
    SourceState,
    ThreadedSource,
    WorkerSource,
)
from .device import VideoDeviceSource
from .dicom_source import DicomSeriesSource
from .still import StillImageSource
from .stream import StreamSource
from .synthetic import EndoscopeSimSource, TestPatternSource
from .whip import PublisherBusyError, WhipSource

__all__ = [
    "Backoff",
    "DicomSeriesSource",
    "EndoscopeSimSource",
    "Frame",
    "PublisherBusyError",
    "Source",
    "SourceError",
    "SourceHealth",
    "SourceState",
    "StillImageSource",
    "StreamSource",
    "TestPatternSource",
    "ThreadedSource",
    "VideoDeviceSource",
    "WhipSource",
    "WorkerSource",
]

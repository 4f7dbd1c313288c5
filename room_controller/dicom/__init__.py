"""DICOM series: loading (headers now, pixels on demand), windowing, and a synthetic head CT."""

from .codecs import MissingDecoderError
from .frames import DicomFileError, FrameRef
from .phantom import ensure_head_phantom, write_head_phantom
from .series import DicomSeries, DicomSeriesError, Slice, load_series
from .window import WINDOW_PRESETS, Window, WindowError, apply_window, window_stored

__all__ = [
    "WINDOW_PRESETS",
    "DicomFileError",
    "DicomSeries",
    "DicomSeriesError",
    "FrameRef",
    "MissingDecoderError",
    "Slice",
    "Window",
    "WindowError",
    "apply_window",
    "ensure_head_phantom",
    "load_series",
    "window_stored",
    "write_head_phantom",
]

"""DICOM series: loading and windowing, and a synthetic head CT phantom for the demo."""

from .phantom import ensure_head_phantom, write_head_phantom
from .series import WINDOW_PRESETS, DicomSeries, DicomSeriesError, apply_window, load_series

__all__ = [
    "WINDOW_PRESETS",
    "DicomSeries",
    "DicomSeriesError",
    "apply_window",
    "ensure_head_phantom",
    "load_series",
    "write_head_phantom",
]

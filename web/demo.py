"""Demo data: the CT phantom the demo room shows, written once under the data folder."""

from __future__ import annotations

import logging
from pathlib import Path

from config.rooms import DicomSeriesSpec, RoomSpec
from room_controller.dicom import ensure_head_phantom

logger = logging.getLogger(__name__)


def prepare_demo_media(specs: list[RoomSpec], data_dir: Path) -> None:
    """Write a synthetic head CT for every DICOM source that asks for one and has none."""
    for spec in specs:
        for source in spec.sources:
            if isinstance(source, DicomSeriesSpec) and source.demo_phantom:
                folder = source.path if source.path.is_absolute() else data_dir / source.path
                ensure_head_phantom(folder)

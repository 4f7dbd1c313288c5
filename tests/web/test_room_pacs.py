"""The rooms' PACS service keeps retrieved images in step with the live session: held while the
room is live, deleted a retention period after it ends, and the DICOM source goes back to what
it showed before. A real room (its state machine), a real Orthanc, a real cache on disk."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from config.rooms import load_rooms
from config.settings import PacsServer, Settings
from library.db import Database
from room_controller.dicom import write_head_phantom
from room_controller.pacs import RetrievalState
from room_controller.sources.dicom_source import DicomSeriesSource
from tests.pacs_peer import (
    ORTHANC_AET,
    PASSWORD,
    USER,
    OrthancPeer,
    ct_series,
    require_orthanc,
)
from web.live import LiveRooms
from web.room_pacs import RoomPacs

ROOM = """
[room]
id = "or"
name = "Operating room"
program_source = "ct"

[[sources]]
kind = "dicom-series"
id = "ct"
label = "CT"
path = "{folder}"
"""
RETENTION_S = 3.6  # 0.001 h


async def test_retrieved_images_are_held_while_live_then_deleted_and_the_source_goes_back(
    tmp_path: Path,
) -> None:
    require_orthanc()
    phantom = tmp_path / "phantom"
    write_head_phantom(phantom, slices=6, size=32)
    room_file = tmp_path / "or.toml"
    room_file.write_text(ROOM.format(folder=phantom))
    orthanc = OrthancPeer(tmp_path / "orthanc").start()
    try:
        study, datasets = ct_series(slices=9)
        orthanc.upload(datasets)
        settings = Settings(data_dir=tmp_path / "data", room_files=[room_file],
                            pacs_retention_hours=0.001, pacs=[PacsServer(
                                id="h", dicomweb_url=orthanc.dicomweb_url, aet=ORTHANC_AET,
                                host="127.0.0.1", port=orthanc.dicom_port, username=USER,
                                password=PASSWORD)])
        db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
        live = LiveRooms(load_rooms([room_file]), settings, db)
        room = live.rooms["or"]
        source = room.sources["ct"]
        assert isinstance(source, DicomSeriesSource)
        pacs = RoomPacs(settings, live)
        room.go_live()
        await pacs.settle()
        job = pacs.start_retrieval("or", pacs.peers.peers["h"], None, study.study_uid,
                                   study.series_uid, "CT", source)
        for _ in range(300):
            if job.state is not RetrievalState.RUNNING and source.series is not None \
                    and source.series.count == 9:
                break
            await asyncio.sleep(0.05)
        assert job.state is RetrievalState.DONE and source.series is not None
        assert source.series.count == 9 and source.folder == job.folder
        # Live: kept whatever the clock says.
        assert await pacs.settle(now=time.time() + 10**6) == []
        room.end()
        assert await pacs.settle() == []  # the deadline is set now: retention from the end
        removed = await pacs.settle(now=time.time() + RETENTION_S + 1)
        assert removed and not removed[0].exists()
        assert job.folder is None and source.folder == phantom
        assert source.series is not None and source.series.count == 6  # the phantom again
        await pacs.stop()
        db.dispose()
    finally:
        orthanc.stop()


def test_a_series_prepared_while_idle_counts_its_retention_from_retrieval(
    tmp_path: Path,
) -> None:
    """Prepared before any session: due ``retention`` after retrieval unless a session holds
    it (covered above)."""
    from room_controller.pacs import PacsCache

    cache = PacsCache(tmp_path, RETENTION_S)
    part = cache.room_root("or") / ".x.part"
    part.mkdir(parents=True)
    final = cache.keep(part, room_live=False)
    assert cache.sweep(time.time() + RETENTION_S - 1) == []
    assert cache.sweep(time.time() + RETENTION_S + 1) == [final]

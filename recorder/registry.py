"""The server-wide registry of recordings: at most one active recording per room."""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from recorder.archive import recover_recordings
from recorder.manifest import ACTIVE, RecordingState
from recorder.recording import (
    DEFAULT_MAX_DURATION,
    Recording,
    RecordingError,
    RecordingStatus,
    TrackSpec,
    UnknownRecordingError,
)

logger = logging.getLogger(__name__)


class Recorder:
    """All recordings of one server; at most one active recording per room."""

    def __init__(
        self, recordings_dir: Path, *, max_duration_seconds: float | None = DEFAULT_MAX_DURATION
    ) -> None:
        self.recordings_dir = recordings_dir
        self.max_duration_seconds = max_duration_seconds
        self._recordings: dict[str, Recording] = {}

    async def start(
        self, room_id: str, title: str, tracks: Mapping[str, TrackSpec | tuple[Any, ...]]
    ) -> Recording:
        active = self.active_in_room(room_id)
        if active is not None:
            raise RecordingError(
                f"room {room_id!r} is already recording ({active.id}); stop it first"
            )
        recording = Recording(
            self.recordings_dir, room_id, title, max_duration=self.max_duration_seconds
        )
        # Registered before the first await so a concurrent start on the room is refused.
        self._recordings[recording.id] = recording
        try:
            await recording.start(tracks)
        except BaseException:
            del self._recordings[recording.id]
            raise
        return recording

    def active_in_room(self, room_id: str) -> Recording | None:
        for recording in self._recordings.values():
            if recording.room == room_id and (recording.state is None or recording.state in ACTIVE):
                return recording
        return None

    def get(self, recording_id: str) -> Recording:
        try:
            return self._recordings[recording_id]
        except KeyError:
            raise UnknownRecordingError(f"no recording with id {recording_id!r}") from None

    def list(self) -> list[Recording]:
        return list(self._recordings.values())

    async def stop_all(self) -> builtins.list[RecordingStatus]:
        """Stop every active recording (server shutdown); failures are logged, not raised."""
        statuses = []
        for recording in list(self._recordings.values()):
            if recording.state in ACTIVE and not recording.stopping:
                try:
                    statuses.append(await recording.stop(reason="server shutting down"))
                except RecordingError as exc:
                    logger.warning("could not stop %s: %s", recording.id, exc)
            elif recording.state is RecordingState.FAILED:
                await recording.wait_finished(timeout=60)
        return statuses

    async def recover(self, recordings_dir: Path | None = None) -> builtins.list[str]:
        """Finish the recordings a crash left active; returns their ids (run at start-up)."""
        return await asyncio.to_thread(recover_recordings, recordings_dir or self.recordings_dir)

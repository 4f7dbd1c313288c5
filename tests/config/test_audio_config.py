"""The optional [audio] table of a room file."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.rooms import RoomFileError, load_room_file
from config.settings import DEMO_ROOM_FILE

from .test_rooms import MINIMAL, write


def test_demo_room_has_sound_and_a_room_without_the_table_has_none(tmp_path: Path) -> None:
    audio = load_room_file(DEMO_ROOM_FILE).audio
    assert audio is not None and audio.kind == "synthetic"
    assert (audio.channels, audio.bitrate_kbps) == (1, 64)
    assert load_room_file(write(tmp_path, MINIMAL)).audio is None


@pytest.mark.parametrize(
    "table, key",
    [
        ('[audio]\nkind = "microphone"\n', "audio.kind"),
        ("[audio]\nchannels = 6\n", "audio.channels"),
        ("[audio]\nbitrate_kbps = 4\n", "audio.bitrate_kbps"),
        ("[audio]\nvolume = 3\n", "audio.volume"),
    ],
)
def test_bad_audio_tables_name_the_key(tmp_path: Path, table: str, key: str) -> None:
    with pytest.raises(RoomFileError) as caught:
        load_room_file(write(tmp_path, MINIMAL + table))
    assert key in str(caught.value)

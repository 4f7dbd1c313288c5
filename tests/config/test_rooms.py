from __future__ import annotations

from pathlib import Path

import pytest

from config.rooms import RoomFileError, load_room_file, load_rooms
from config.settings import DEMO_ROOM_FILE, Settings

EXAMPLE = DEMO_ROOM_FILE.parent / "example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "room.toml"
    path.write_text(text)
    return path


MINIMAL = '[room]\nid = "or1"\nname = "OR 1"\nprogram_source = "cam"\n' \
    '[[sources]]\nkind = "test-pattern"\nid = "cam"\nlabel = "Cam"\n'


def test_demo_and_example_files_are_valid() -> None:
    demo = load_room_file(DEMO_ROOM_FILE)
    assert demo.id == "demo"
    assert [s.kind for s in demo.sources] == ["endoscope-sim", "test-pattern", "dicom-series"]
    example = load_room_file(EXAMPLE)
    assert example.devices[0].port == 52381
    kinds = {s.kind for s in example.sources}
    assert kinds == {"endoscope-sim", "test-pattern", "dicom-series", "network", "clip", "still",
                     "device", "whip"}, "example.toml documents every source kind"


REAL_SOURCES = MINIMAL + """
[[sources]]
kind = "network"
id = "tower"
label = "Tower"
url = "rtsp://cam:pw@192.0.2.20:8554/endo"
options = { rtsp_transport = "udp" }
[[sources]]
kind = "clip"
id = "ref"
label = "Reference"
path = "media/approach.mp4"
[[sources]]
kind = "still"
id = "slide"
label = "Slide"
path = "/srv/slides/case.png"
[[sources]]
kind = "device"
id = "field"
label = "Field"
device = 2
[[sources]]
kind = "device"
id = "card"
label = "SDI"
device = "/dev/v4l/by-id/usb-capture-video-index0"
fourcc = "YUYV"
"""


def test_room_file_with_real_source_kinds_loads_and_builds(tmp_path: Path) -> None:
    from room_controller.room import Room

    room = load_room_file(write(tmp_path, REAL_SOURCES))
    kinds = [s.kind for s in room.sources]
    assert kinds == ["test-pattern", "network", "clip", "still", "device", "device"]
    tower, clip, still, field, card = room.sources[1:]
    assert tower.options == {"rtsp_transport": "udp"} and tower.read_timeout == 3.0
    assert (clip.fps, still.fps) == (30, 1)
    assert field.device == 2 and card.fourcc == "YUYV"
    built = Room(room, tmp_path).sources  # not started: building must not touch the devices
    assert built["ref"].kind == "clip" and built["ref"].url == str(tmp_path / "media/approach.mp4")
    assert str(built["slide"].path) == "/srv/slides/case.png"
    assert str(built["field"].path) == "/dev/video2"
    assert {s.kind for s in built.values()} == {"test-pattern", "network", "clip", "still",
                                                "device"}


def source(kind: str, body: str) -> str:
    return MINIMAL + f'[[sources]]\nkind = "{kind}"\nid = "x"\nlabel = "X"\n{body}'


@pytest.mark.parametrize(
    "text, key, problem",
    [
        (source("network", ""), "sources[1].url", "Field required"),
        (source("network", 'url = ""\n'), "sources[1].url", "at least 1 character"),
        (source("network", 'url = "ftp://nas/a.mp4"\n'), "sources[1].url",
         "unsupported URL scheme 'ftp': use rtsp://"),
        (source("network", 'url = "rtsp://a/b"\nfps = -5\n'), "sources[1].fps",
         "greater than 0"),
        (source("network", 'url = "rtsp://a/b"\nread_timeout = 0\n'),
         "sources[1].read_timeout", "greater than 0"),
        (source("network", 'url = "rtsp://a/b"\noptions = { probesize = 5 }\n'),
         "sources[1].options.probesize", "valid string"),
        (source("clip", ""), "sources[1].path", "Field required"),
        (source("clip", 'path = "a.mp4"\nloop = false\n'), "sources[1].loop", "Extra inputs"),
        (source("still", 'path = "a.png"\nfps = -1\n'), "sources[1].fps", "greater than 0"),
        (source("device", ""), "sources[1].device", "Field required"),
        (source("device", 'device = "video0"\n'), "sources[1].device",
         "give an index (0 for /dev/video0) or a path under /dev, got 'video0'"),
        (source("device", "device = -1\n"), "sources[1].device", "give an index"),
        (source("device", 'device = 0\nfourcc = "MJPEG"\n'), "sources[1].fourcc", "pattern"),
        (source("hdmi-in", ""), "sources[1]", "'hdmi-in' found using 'kind'"),
    ],
)
def test_bad_real_source_values_name_file_key_and_problem(tmp_path, text, key, problem) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RoomFileError) as caught:
        load_room_file(path)
    assert f"{path}: {key}: " in str(caught.value)
    assert problem in str(caught.value)


def test_defaults_fill_what_the_file_leaves_out(tmp_path: Path) -> None:
    room = load_room_file(write(tmp_path, MINIMAL))
    assert (room.program.width, room.program.height, room.program.fps) == (1280, 720, 30)
    assert room.sources[0].fps == 30


@pytest.mark.parametrize(
    "text, key, problem",
    [
        (MINIMAL.replace('program_source = "cam"', 'program_source = "microscope"'),
         "", "program_source 'microscope' is not one of the sources"),
        (MINIMAL + 'fps = 0\n', "sources[0].fps", "greater than 0"),
        (MINIMAL + 'colour = "red"\n', "sources[0].colour", "Extra inputs"),
        (MINIMAL.replace('kind = "test-pattern"', 'kind = "webcam"'), "sources[0]", "webcam"),
        (MINIMAL + '[program]\nwidth = 1281\n', "program.width", "multiple of 2"),
        (MINIMAL.replace('id = "or1"', 'id = "OR 1"'), "id", "pattern"),
        (MINIMAL + '[[sources]]\nkind = "test-pattern"\nid = "cam"\nlabel = "Again"\n',
         "", "repeated: cam"),
        ('[room\nid=1', "", "not valid TOML"),
        ('[rooms]\nid = "x"\n', "room", "missing [room] table"),
        (MINIMAL.replace('"cam"', '"audio"'), "", "source id 'audio' is reserved"),
        (MINIMAL + '[[sources]]\nkind = "dicom-series"\nid = "ct"\nlabel = "CT"\npath = "ct"\n'
         'seconds_per_slice = 5\n', "sources[1].seconds_per_slice", "less than or equal to 2"),
    ],
)
def test_bad_room_files_name_file_key_and_problem(tmp_path, text, key, problem) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RoomFileError) as caught:
        load_room_file(path)
    message = str(caught.value)
    assert str(path) in message
    assert problem in message
    if key:
        assert f": {key}: " in message


def test_missing_file_and_duplicate_room_ids(tmp_path: Path) -> None:
    with pytest.raises(RoomFileError, match="file not found"):
        load_room_file(tmp_path / "nope.toml")
    one = write(tmp_path, MINIMAL)
    two = tmp_path / "two.toml"
    two.write_text(MINIMAL)
    with pytest.raises(RoomFileError, match="already used"):
        load_rooms([one, two])


def test_settings_come_from_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEDROOM_ICE_ADDRESSES", "127.0.0.1, ::1")
    monkeypatch.setenv("MEDROOM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MEDROOM_ROOM_FILES", f"{tmp_path}/a.toml,{tmp_path}/b.toml")
    settings = Settings()
    assert settings.ice_addresses == ["127.0.0.1", "::1"]
    assert settings.room_files == [tmp_path / "a.toml", tmp_path / "b.toml"]
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'medroom.db'}"
    key = settings.resolve_secret_key()
    assert len(key) > 40 and settings.resolve_secret_key() == key  # kept, not regenerated
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600

"""Local video devices: a device that is not there or is not a camera gives a clear error and
is retried while the room goes on; `medroom devices` lists what is present.

This machine has no cameras, so discovery runs against a prepared sysfs and /dev tree and a
stand-in for v4l2-ctl that prints what the real tool prints for a USB camera and a capture card;
the bad-path errors are real.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.rooms import RoomSpec
from room_controller.room import Room
from room_controller.sources import Backoff, Source, SourceState, VideoDeviceSource
from room_controller.video_devices import (
    INSTALL_HINT,
    format_devices,
    list_video_devices,
    parse_v4l2_ctl,
)

from .polling import wait_for

REPO = Path(__file__).resolve().parents[2]


def start(started: list[Source], device: str | int) -> VideoDeviceSource:
    source = VideoDeviceSource("cam", "Field camera", device, width=640, height=360,
                               backoff=Backoff(0.2, 0.8))
    started.append(source)
    source.start()
    return source


def free_video_path() -> str:
    n = 7
    while Path(f"/dev/video{n}").exists():
        n += 1
    return f"/dev/video{n}"


# -- bad paths, for real -----------------------------------------------------------------------


def test_missing_device_says_so_and_retries(started: list[Source]) -> None:
    path = free_video_path()
    source = start(started, path)
    errors: set[str] = set()

    def retried() -> bool:
        errors.add(source.health().error or "")
        return any(e.endswith("retrying in 0.8 s") for e in errors)

    assert wait_for(retried, 5.0), errors
    message = f"no such video device {path}; `medroom devices` lists the devices present"
    assert f"{message} \N{EM DASH} retrying in 0.2 s" in errors
    assert f"{message} \N{EM DASH} retrying in 0.4 s" in errors
    assert source.health().state is SourceState.FAILED
    assert source.latest_frame() is None


def test_index_means_dev_video_n(started: list[Source]) -> None:
    number = int(free_video_path().removeprefix("/dev/video"))
    source = start(started, number)
    assert source.path == Path(f"/dev/video{number}")
    assert wait_for(lambda: source.health().error is not None, 3.0)
    assert (source.health().error or "").startswith(f"no such video device /dev/video{number};")


def test_a_file_or_a_non_camera_device_is_refused_clearly(
    tmp_path: Path, started: list[Source]
) -> None:
    not_a_device = tmp_path / "video0"
    not_a_device.write_bytes(b"")
    plain = start(started, str(not_a_device))
    null = start(started, "/dev/null")  # a character device, but no camera
    assert wait_for(lambda: plain.health().error is not None, 3.0)
    assert wait_for(lambda: null.health().error is not None, 5.0)
    assert (plain.health().error or "").startswith(
        f"{not_a_device} is not a video device (not a character device)"
    )
    assert (null.health().error or "").startswith("cannot open /dev/null for capture")
    assert "`medroom devices`" in (null.health().error or "")


def test_room_with_a_missing_camera_goes_on(tmp_path: Path) -> None:
    spec = RoomSpec.model_validate({
        "id": "or2", "name": "OR 2", "program_source": "field",
        "sources": [
            {"kind": "device", "id": "field", "label": "Field camera",
             "device": free_video_path(), "width": 320, "height": 240},
            {"kind": "endoscope-sim", "id": "endo", "label": "Endoscope", "width": 320,
             "height": 240, "fps": 15},
        ],
    })
    room = Room(spec, tmp_path)
    room.start()
    try:
        assert wait_for(lambda: room.sources["endo"].health().state is SourceState.LIVE, 5)
        field = room.sources["field"].health()
        assert field.state is SourceState.FAILED and "no such video device" in (field.error or "")
        # The program shows the missing camera's slate, named, instead of stopping.
        assert room.program_frame().shape == (720, 1280, 3)
        room.select_program("endo")
        assert room.program_frame().any()
    finally:
        room.stop()


# -- discovery ---------------------------------------------------------------------------------

CAMERA = """Driver Info:
\tDriver name      : uvcvideo
\tCard type        : HD Pro Webcam C920
\tBus info         : usb-0000:00:14.0-2
\tDriver version   : 6.1.55
\tCapabilities     : 0x84a00001
\t\tVideo Capture
\t\tMetadata Capture
\t\tStreaming
\t\tExtended Pix Format
\t\tDevice Capabilities
\tDevice Caps      : 0x04200001
\t\tVideo Capture
\t\tStreaming
\t\tExtended Pix Format
Media Driver Info:
\tDriver name      : uvcvideo
\tModel            : HD Pro Webcam C920
ioctl: VIDIOC_ENUM_FMT
\tType: Video Capture

\t[0]: 'YUYV' (YUYV 4:2:2)
\t\tSize: Discrete 640x480
\t\t\tInterval: Discrete 0.033s (30.000 fps)
\t\t\tInterval: Discrete 0.067s (15.000 fps)
\t\tSize: Discrete 1920x1080
\t\t\tInterval: Discrete 0.200s (5.000 fps)
\t[1]: 'MJPG' (Motion-JPEG, compressed)
\t\tSize: Discrete 1920x1080
\t\t\tInterval: Discrete 0.033s (30.000 fps)
\t\t\tInterval: Discrete 0.042s (24.000 fps)
"""
METADATA = """Driver Info:
\tDriver name      : uvcvideo
\tCard type        : HD Pro Webcam C920
\tDevice Caps      : 0x04a00000
\t\tMetadata Capture
\t\tStreaming
\t\tExtended Pix Format
ioctl: VIDIOC_ENUM_FMT
\tType: Video Capture

"""
CAPTURE_CARD = """Driver Info:
\tDriver name      : tw686x
\tCard type        : SDI capture
\tDevice Caps      : 0x05200001
\t\tVideo Capture
\t\tRead/Write
\t\tStreaming
ioctl: VIDIOC_ENUM_FMT
\tType: Video Capture

\t[0]: 'UYVY' (UYVY 4:2:2)
\t\tSize: Stepwise 32x32 - 1920x1080 with step 2/2
\t\t\tInterval: Stepwise 0.017s - 1.000s with step 0.000s (1.000-60.000 fps)
"""


@pytest.fixture
def fake_tree(tmp_path: Path) -> tuple[Path, Path, str]:
    """sysfs and /dev roots for a camera (video0 + its metadata node video1) and a capture card
    (video10), and a v4l2-ctl stand-in printing the real tool's output for each."""
    sys_root, dev_root, drivers = tmp_path / "sys", tmp_path / "dev", tmp_path / "drivers"
    dev_root.mkdir()
    outputs = {"video0": CAMERA, "video1": METADATA, "video10": CAPTURE_CARD}
    for node, name, driver in [("video0", "HD Pro Webcam C920", "uvcvideo"),
                               ("video1", "HD Pro Webcam C920", "uvcvideo"),
                               ("video10", "SDI capture", "tw686x")]:
        (dev_root / node).touch()
        sys_node = sys_root / "class" / "video4linux" / node
        (sys_node / "device").mkdir(parents=True)
        (sys_node / "name").write_text(name + "\n")
        (drivers / driver).mkdir(parents=True, exist_ok=True)
        (sys_node / "device" / "driver").symlink_to(drivers / driver)
        (tmp_path / f"{node}.txt").write_text(outputs[node])
    tool = tmp_path / "v4l2-ctl"
    tool.write_text(f'#!/bin/sh\n# v4l2-ctl -d DEVICE --info --list-formats-ext\n'
                    f'cat "{tmp_path}/$(basename "$2").txt"\n')
    tool.chmod(0o755)
    return sys_root, dev_root, str(tool)


def test_devices_are_listed_with_names_drivers_and_modes(
    fake_tree: tuple[Path, Path, str]
) -> None:
    sys_root, dev_root, tool = fake_tree
    found = list_video_devices(sys_root, dev_root, v4l2_ctl=tool)
    assert [d.path for d in found] == [str(dev_root / n) for n in ("video0", "video1", "video10")]
    camera, metadata, card = found
    assert (camera.name, camera.driver) == ("HD Pro Webcam C920", "uvcvideo")
    assert camera.captures_video and metadata.captures_video is False
    assert [str(m) for m in camera.modes] == [
        "YUYV 640x480 @ 30, 15 fps", "YUYV 1920x1080 @ 5 fps", "MJPG 1920x1080 @ 30, 24 fps",
    ]
    assert [str(m) for m in card.modes] == ["UYVY 32x32 - 1920x1080 @ 60 fps"]
    text = format_devices(found, modes_listed=True)
    assert f"{dev_root}/video0  HD Pro Webcam C920  [uvcvideo]" in text
    assert "  MJPG 1920x1080 @ 30, 24 fps" in text
    assert "not a capture node (metadata or output only)" in text
    assert f'kind = "device", device = "{dev_root}/video10"' in text
    assert f'device = "{dev_root}/video1"' not in text
    assert INSTALL_HINT not in text


def test_without_v4l2_ctl_names_come_from_sysfs(fake_tree: tuple[Path, Path, str]) -> None:
    sys_root, dev_root, _ = fake_tree
    found = list_video_devices(sys_root, dev_root, v4l2_ctl=None)
    assert [(d.name, d.driver, d.modes) for d in found][2] == ("SDI capture", "tw686x", ())
    text = format_devices(found, modes_listed=False)
    assert INSTALL_HINT in text and "SDI capture" in text


def test_a_failing_v4l2_ctl_is_reported_per_device(fake_tree: tuple[Path, Path, str]) -> None:
    sys_root, dev_root, _ = fake_tree
    found = list_video_devices(sys_root, dev_root, v4l2_ctl="/bin/false")
    assert all(d.notes == ("v4l2-ctl: failed",) for d in found)


def test_no_devices_is_said_plainly(tmp_path: Path) -> None:
    assert list_video_devices(tmp_path / "sys", tmp_path / "dev", v4l2_ctl=None) == []
    assert format_devices([], modes_listed=False).startswith(
        "No video devices found (no /dev/video* nodes)."
    )


def test_parse_ignores_what_is_not_a_mode() -> None:
    driver, caps, modes = parse_v4l2_ctl(METADATA)
    assert driver == "uvcvideo" and caps == ("Metadata Capture", "Streaming",
                                             "Extended Pix Format")
    assert modes == ()


def test_medroom_devices_on_this_machine() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "web.cli", "devices"], cwd=REPO, capture_output=True, text=True,
        timeout=60, check=False, env={k: v for k, v in os.environ.items() if not k.startswith("MEDROOM_")},
    )
    assert result.returncode == 0, result.stderr
    present = sorted(Path("/dev").glob("video*"))
    if present:
        assert all(str(p) in result.stdout for p in present)
    else:
        assert "No video devices found" in result.stdout

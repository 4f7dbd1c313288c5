"""Discovery of the local video devices (V4L2): what `medroom devices` prints.

Whoever writes a room file needs to know which /dev/video* node is the endoscopy tower's capture
card and which modes it offers. The kernel names each node in sysfs
(/sys/class/video4linux/videoN/name, and the driver behind it); `v4l2-ctl` (Debian package
v4l-utils), when installed, adds the capabilities and the modes (pixel formats, sizes, frame
rates). Both roots are parameters, so the listing is tested against a prepared tree.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

V4L2_CTL_TIMEOUT = 5.0
INSTALL_HINT = "install v4l-utils (apt install v4l-utils) to list capabilities and modes"


@dataclass(frozen=True)
class VideoMode:
    """One pixel format at one size, with the frame rates the device offers for it."""

    pixel_format: str  # fourcc, e.g. "MJPG", "YUYV"
    description: str  # e.g. "Motion-JPEG, compressed"
    size: str  # "1920x1080", or a range for capture cards: "16x16 - 1920x1080"
    fps: tuple[float, ...] = ()

    def __str__(self) -> str:
        rates = ", ".join(f"{f:g}" for f in self.fps)
        return f"{self.pixel_format} {self.size}" + (f" @ {rates} fps" if rates else "")


@dataclass(frozen=True)
class VideoDevice:
    path: str  # /dev/videoN
    name: str  # what the kernel calls it, e.g. "HD Pro Webcam C920"
    driver: str | None  # e.g. "uvcvideo"
    capabilities: tuple[str, ...] = ()  # e.g. ("Video Capture", "Streaming")
    modes: tuple[VideoMode, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def captures_video(self) -> bool | None:
        """Whether this node delivers pictures (None when v4l2-ctl could not tell)."""
        if not self.capabilities:
            return None
        return any(c.startswith("Video Capture") for c in self.capabilities)


def _node_number(path: Path) -> int:
    digits = re.sub(r"\D", "", path.name)
    return int(digits) if digits else -1


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def parse_v4l2_ctl(text: str) -> tuple[str | None, tuple[str, ...], tuple[VideoMode, ...]]:
    """Driver name, device capabilities and capture modes from
    `v4l2-ctl --info --list-formats-ext` output."""
    driver: str | None = None
    caps: list[str] = []
    modes: list[VideoMode] = []
    in_device_caps = False
    fmt: tuple[str, str] | None = None
    size: str | None = None
    rates: list[float] = []

    def flush() -> None:
        if fmt is not None and size is not None:
            modes.append(VideoMode(fmt[0], fmt[1], size, tuple(rates)))

    for raw in text.splitlines():
        line = raw.strip()
        if m := re.match(r"Driver name\s*:\s*(.+)", line):
            driver = m.group(1).strip()
        if re.match(r"Device Caps\s*:", line):
            in_device_caps = True
            continue
        if in_device_caps:
            if raw.startswith("\t\t") and line:
                caps.append(line)
                continue
            in_device_caps = False
        if m := re.match(r"\[\d+\]: '(.{1,4})' \((.*)\)", line):
            flush()
            fmt, size, rates = (m.group(1).strip(), m.group(2)), None, []
        elif m := re.match(r"Size: (?:Discrete|Stepwise|Continuous) (\d+x\d+(?: - \d+x\d+)?)",
                           line):
            flush()
            size, rates = m.group(1), []
        elif m := re.match(r"Interval: .*\(([\d.]+)(?:-([\d.]+))? fps\)", line):
            rates.append(float(m.group(2) or m.group(1)))  # a range: its fastest rate
    flush()
    return driver, tuple(caps), tuple(modes)


def find_v4l2_ctl() -> str | None:
    return shutil.which("v4l2-ctl")


def list_video_devices(
    sys_root: Path = Path("/sys"), dev_root: Path = Path("/dev"), v4l2_ctl: str | None = None
) -> list[VideoDevice]:
    """The /dev/video* nodes present, named from sysfs; with `v4l2_ctl` (the tool's path, see
    `find_v4l2_ctl`) also their capabilities and modes."""
    devices: list[VideoDevice] = []
    for node in sorted(dev_root.glob("video*"), key=_node_number):
        sys_node = sys_root / "class" / "video4linux" / node.name
        name = _read(sys_node / "name") or "(no name in sysfs)"
        driver_link = sys_node / "device" / "driver"
        driver = driver_link.resolve().name if driver_link.exists() else None
        caps: tuple[str, ...] = ()
        modes: tuple[VideoMode, ...] = ()
        notes: list[str] = []
        if v4l2_ctl:
            try:
                result = subprocess.run(
                    [v4l2_ctl, "-d", str(node), "--info", "--list-formats-ext"],
                    capture_output=True, text=True, timeout=V4L2_CTL_TIMEOUT, check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                notes.append(f"v4l2-ctl failed: {exc}")
            else:
                if result.returncode != 0:
                    notes.append(f"v4l2-ctl: {result.stderr.strip() or 'failed'}")
                else:
                    ctl_driver, caps, modes = parse_v4l2_ctl(result.stdout)
                    driver = driver or ctl_driver
        devices.append(VideoDevice(str(node), name, driver, caps, modes, tuple(notes)))
    return devices


def format_devices(devices: list[VideoDevice], *, modes_listed: bool) -> str:
    """The listing for people: one block per device, with what to put in a room file."""
    if not devices:
        return (
            "No video devices found (no /dev/video* nodes).\n"
            "Plug in a USB camera or capture card (and check `dmesg` for its driver), or use "
            "network, clip, still or test sources in the room file."
        )
    lines: list[str] = []
    for device in devices:
        lines.append(f"{device.path}  {device.name}" + (f"  [{device.driver}]" if device.driver
                                                         else ""))
        if device.capabilities:
            lines.append(f"  capabilities: {', '.join(device.capabilities)}")
        if device.captures_video is False:
            lines.append("  not a capture node (metadata or output only): not usable as a source")
        for mode in device.modes:
            lines.append(f"  {mode}")
        lines.extend(f"  {note}" for note in device.notes)
        if device.captures_video is not False:
            lines.append(f'  room file: kind = "device", device = "{device.path}"')
    if not modes_listed:
        lines.append(f"(modes not listed: {INSTALL_HINT})")
    return "\n".join(lines)

"""Room description files (TOML): what a room is made of, validated before anything starts.

A room file names the room, its sources, the program output, its layout and its devices. A bad
file stops start-up with one message per problem, each naming the file, the key and what is
wrong, so whoever edits it can fix it without reading code.
"""

from __future__ import annotations

import tomllib
from enum import Enum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class RoomFileError(Exception):
    """A room file that cannot be used; the message names the file, the key and the problem."""

    def __init__(self, path: Path, problems: list[tuple[str, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = [f"{path}: {key}: {problem}" if key else f"{path}: {problem}"
                 for key, problem in problems]
        super().__init__("bad room file\n  " + "\n  ".join(lines))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _SourceBase(_Strict):
    """What every source has: an id, a label, and the size of its pictures in the room."""

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    label: str
    width: Annotated[int, Field(ge=16, le=3840)] = 1280
    height: Annotated[int, Field(ge=16, le=2160)] = 720


class TestPatternSpec(_SourceBase):
    """A room-camera test pattern with the room name and a running clock."""

    kind: Literal["test-pattern"]
    fps: Annotated[float, Field(gt=0, le=60)] = 30


class EndoscopeSimSpec(_SourceBase):
    """A simulated endoscope: moving tissue in a circular field."""

    kind: Literal["endoscope-sim"]
    fps: Annotated[float, Field(gt=0, le=60)] = 30
    seed: int = 0


class WindowPreset(str, Enum):
    BRAIN = "brain"
    SUBDURAL = "subdural"
    BONE = "bone"
    SOFT_TISSUE = "soft-tissue"


class DicomSeriesSpec(_SourceBase):
    """A DICOM series shown slice after slice (cine), windowed."""

    kind: Literal["dicom-series"]
    path: Path = Field(description="Folder of the series; relative paths are under data_dir.")
    window: WindowPreset = WindowPreset.BRAIN
    seconds_per_slice: Annotated[float, Field(
        ge=1 / 30, le=2, description="Cine: 1/30 to 2 s per slice (30 to 0.5 slices per second).")
    ] = 0.25
    fps: Annotated[float, Field(gt=0, le=60)] = 10
    demo_phantom: bool = Field(
        default=False, description="Write a synthetic head CT there first if the folder is empty."
    )


#: URL schemes a network source reads (FFmpeg protocols); a plain path is a file.
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "srt", "http", "https", "udp", "tcp", "rtp",
                  "file")


class NetworkStreamSpec(_SourceBase):
    """Video from the network: an encoder's RTSP/RTMP/SRT/MPEG-TS stream, or a file by URL."""

    kind: Literal["network"]
    url: Annotated[str, Field(min_length=1)]
    fps: Annotated[float, Field(gt=0, le=60)] = 30
    open_timeout: Annotated[float, Field(gt=0, le=60)] = 5.0
    read_timeout: Annotated[float, Field(gt=0, le=60)] = 3.0
    options: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        scheme, sep, _ = url.partition("://")
        if sep and scheme.lower() not in STREAM_SCHEMES:
            raise ValueError(
                f"unsupported URL scheme '{scheme}': use "
                + ", ".join(f"{s}://" for s in STREAM_SCHEMES)
                + " or a file path"
            )
        return url


class ClipSpec(_SourceBase):
    """A local video file played in a loop at its own frame rate (a reference video)."""

    kind: Literal["clip"]
    path: Path = Field(description="Video file; relative paths are under data_dir.")
    fps: Annotated[float, Field(gt=0, le=60)] = 30


class StillSpec(_SourceBase):
    """A still picture (PNG/JPEG slide), letterboxed into the frame."""

    kind: Literal["still"]
    path: Path = Field(description="Image file; relative paths are under data_dir.")
    fps: Annotated[float, Field(gt=0, le=60)] = 1


class DeviceSpec(_SourceBase):
    """A local video device (USB camera, HDMI/SDI capture card) through V4L2."""

    kind: Literal["device"]
    device: int | str = Field(
        description="Index N (/dev/videoN) or a path under /dev, e.g. /dev/v4l/by-id/..."
    )
    fps: Annotated[float, Field(gt=0, le=60)] = 30
    fourcc: Annotated[str, Field(pattern=r"^[A-Za-z0-9 ]{4}$")] | None = None

    @field_validator("device")
    @classmethod
    def _index_or_dev_path(cls, device: int | str) -> int | str:
        if isinstance(device, str) and device.isascii() and device.isdigit():
            device = int(device)
        if isinstance(device, int) and device >= 0:
            return device
        if isinstance(device, str) and device.startswith("/dev/") and len(device) > 5:
            return device
        raise ValueError(
            f"give an index (0 for /dev/video0) or a path under /dev, got {device!r}"
        )


class WhipSourceSpec(_SourceBase):
    """An encoder (OBS Studio, a hardware encoder, a browser) that publishes into the room by
    WHIP (RFC 9725); its picture is scaled to width x height."""

    kind: Literal["whip"]


SourceSpec = Annotated[
    TestPatternSpec | EndoscopeSimSpec | DicomSeriesSpec | NetworkStreamSpec | ClipSpec
    | StillSpec | DeviceSpec | WhipSourceSpec,
    Field(discriminator="kind"),
]
SOURCE_KINDS = ("test-pattern", "endoscope-sim", "dicom-series", "network", "clip", "still",
                "device", "whip")


class ProgramSpec(_Strict):
    """The program output: encoded once, sent to every viewer."""

    width: Annotated[int, Field(ge=16, le=3840, multiple_of=2)] = 1280
    height: Annotated[int, Field(ge=16, le=2160, multiple_of=2)] = 720
    fps: Annotated[int, Field(ge=1, le=60)] = 30
    bitrate_kbps: Annotated[int, Field(ge=100, le=50_000)] = 2000
    gop_seconds: Annotated[float, Field(gt=0, le=10)] = 1.0


class AudioSpec(_Strict):
    """The program sound (the instructor's microphone), encoded once to Opus for everyone."""

    kind: Literal["synthetic"] = "synthetic"
    channels: Literal[1, 2] = 1
    bitrate_kbps: Annotated[int, Field(ge=16, le=256)] = 64
    level_db: Annotated[float, Field(ge=-60, le=-6)] = -30.0
    beep_interval: Annotated[float, Field(ge=0, le=10)] = 1.0


class LayoutSpec(_Strict):
    """How the program is composed at start: which sources go in which slots."""

    mode: Literal["single", "side-by-side", "pip", "grid-2x2"] = "single"
    sources: list[str] = Field(
        default_factory=list,
        description="Source ids by slot (single 1, side-by-side 2, pip 2: main then inset, "
        "grid-2x2 4); empty means the program_source alone.",
    )
    pip_corner: Literal["top-left", "top-right", "bottom-left", "bottom-right"] = "bottom-right"
    pip_size: Annotated[float, Field(ge=0.1, le=0.5)] = 0.3


class OverlaysSpec(_Strict):
    """Text burnt into the program: a title band and a clock."""

    procedure: Annotated[str, Field(max_length=120)] = ""
    presenter: Annotated[str, Field(max_length=120)] = ""
    institution: Annotated[str, Field(max_length=120)] = ""
    clock: bool = False


class MaskSpec(_Strict):
    """A privacy mask: an opaque rectangle over part of a source (fractions of its picture)."""

    source: str
    x: Annotated[float, Field(ge=0, le=1)]
    y: Annotated[float, Field(ge=0, le=1)]
    w: Annotated[float, Field(gt=0, le=1)]
    h: Annotated[float, Field(gt=0, le=1)]


class ViscaDeviceSpec(_Strict):
    """A pan-tilt-zoom camera head spoken to with VISCA over IP."""

    kind: Literal["visca-ip"]
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    label: str
    host: str
    port: Annotated[int, Field(ge=0, le=65535)] = 52381
    camera_source: str | None = None
    simulate: bool = Field(
        default=False,
        description="Run a simulated head on host:port (port 0: any free port) that moves "
        "the camera_source's test pattern: PTZ with no hardware, for demos and training.",
    )

    @model_validator(mode="after")
    def _port_zero_only_when_simulated(self) -> ViscaDeviceSpec:
        if self.port == 0 and not self.simulate:
            raise ValueError("port 0 is only for a simulated head: give the camera's port")
        return self


class RoomSpec(_Strict):
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    name: str
    program_source: str = Field(description="Source on program when the room starts.")
    program: ProgramSpec = ProgramSpec()
    audio: AudioSpec | None = None
    layout: LayoutSpec = LayoutSpec()
    overlays: OverlaysSpec = OverlaysSpec()
    masks: list[MaskSpec] = []
    sources: Annotated[list[SourceSpec], Field(min_length=1)]
    devices: list[ViscaDeviceSpec] = []
    instructors: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=200)
    ] = Field(default=[], description=(
        "User names of the instructors who run this room (its console, go live, record, "
        "moderate the classroom). Empty: every instructor account (a teaching team sharing "
        "the rooms). Admins always may."))

    @model_validator(mode="after")
    def _check_references(self) -> RoomSpec:
        ids = [source.id for source in self.sources]
        for reserved in ("program", "audio"):
            if reserved in ids:
                raise ValueError(
                    f"source id '{reserved}' is reserved (it names the room's {reserved} "
                    "output): rename that source"
                )
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"source ids must be unique, repeated: {', '.join(duplicates)}")
        if self.program_source not in ids:
            raise ValueError(
                f"program_source '{self.program_source}' is not one of the sources "
                f"({', '.join(ids)})"
            )
        for source in self.layout.sources:
            if source not in ids:
                raise ValueError(f"layout source '{source}' is not one of the sources")
        for mask in self.masks:
            if mask.source not in ids:
                raise ValueError(f"mask source '{mask.source}' is not one of the sources")
            if mask.x + mask.w > 1 or mask.y + mask.h > 1:
                raise ValueError(f"mask on '{mask.source}' leaves the picture (x+w, y+h <= 1)")
        for device in self.devices:
            if device.camera_source is not None and device.camera_source not in ids:
                raise ValueError(
                    f"device '{device.id}' camera_source '{device.camera_source}' "
                    "is not one of the sources"
                )
        return self


def _key(location: tuple[int | str, ...]) -> str:
    key = ""
    previous: int | str | None = None
    for part, previous in zip(location, (None, *location)):
        if isinstance(part, int):
            key += f"[{part}]"
        elif isinstance(previous, int) and (part in SOURCE_KINDS or part == "visca-ip"):
            continue  # the discriminator's branch name says nothing to the person editing
        else:
            key += f".{part}" if key else str(part)
    return key


def load_room_file(path: Path) -> RoomSpec:
    """Read and validate one room file; raise RoomFileError naming file, key and problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RoomFileError(path, [("", "file not found")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise RoomFileError(path, [("", f"not valid TOML: {exc}")]) from None
    room = raw.get("room")
    if not isinstance(room, dict):
        raise RoomFileError(path, [("room", "missing [room] table")])
    data = dict(room)
    tables = ("program", "audio", "layout", "overlays", "masks", "sources", "devices")
    for key in tables:
        if key in raw:
            data[key] = raw[key]
    unknown = sorted(set(raw) - {"room", *tables})
    problems: list[tuple[str, str]] = [(key, "unknown key") for key in unknown]
    try:
        spec = RoomSpec.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            problems.append((_key(error["loc"]), error["msg"].removeprefix("Value error, ")))
        raise RoomFileError(path, problems) from None
    if problems:
        raise RoomFileError(path, problems)
    return spec


def load_rooms(paths: list[Path]) -> list[RoomSpec]:
    rooms = [load_room_file(path) for path in paths]
    seen: dict[str, Path] = {}
    for path, room in zip(paths, rooms):
        if room.id in seen:
            raise RoomFileError(path, [("room.id", f"'{room.id}' is already used by {seen[room.id]}")])
        seen[room.id] = path
    return rooms

"""API schemas: what the HTTP API promises, separate from the domain and ORM types."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SourceHealthOut(BaseModel):
    state: str
    fps: float
    width: int
    height: int
    last_frame_age: float | None
    error: str | None
    note: str | None = None  # e.g. "waiting for a WHIP publisher": not an error


class SourceOut(BaseModel):
    id: str
    label: str
    kind: str
    health: SourceHealthOut


class ViewerOut(BaseModel):
    id: str
    subject: str
    role: str
    joined_at: datetime
    connection_state: str


class ViewerLinkOut(BaseModel):
    """What one viewer receives, sampled each second from RTCP and the sender's counters."""

    id: str
    subject: str
    role: str
    classroom: str | None = Field(None, description="A classroom screen's classroom: 'Name, City'")
    joined_at: datetime
    connection_state: str
    rendition: str = Field(description="The quality the viewer receives, e.g. 720p")
    codec: str = Field(description="The video codec it receives: h264, or vp8 for a browser "
                       "without H.264 (Firefox without OpenH264)")
    path: str | None = Field(description="host, srflx or relay (through TURN); None before ICE")
    rtt_ms: float | None = Field(description="Round-trip time from RTCP receiver reports")
    fps: float = Field(description="Frames sent to this viewer per second")
    bitrate_kbps: float
    fraction_lost: float = Field(description="0..1, from the viewer's latest receiver report")
    packets_lost: int = Field(description="Cumulative, as the viewer reports it")
    nacks: int = Field(description="Packets the viewer asked to be sent again")
    keyframe_requests: int
    remb_kbps: float | None = Field(description="The viewer's bandwidth estimate (REMB)")


class EncoderOut(BaseModel):
    frames_encoded: int
    keyframes: int
    forced_keyframes: int
    bitrate_kbps: float
    encode_ms_avg: float


class RoomOut(BaseModel):
    id: str
    name: str
    state: str = Field(description="idle or live")
    live_since: datetime | None
    session_title: str | None = Field(default=None, description="Title of the live session.")
    program_source: str
    sources: list[SourceOut]
    viewer_count: int
    viewers: list[ViewerOut] | None = Field(
        default=None, description="Only for instructors and admins."
    )
    encoder: EncoderOut | None = None
    storage: StorageOut | None = Field(default=None, description="Only for instructors and admins.")


class StorageOut(BaseModel):
    free_bytes: int
    level: str = Field(description="ok, low (warn) or critical (recordings are stopped)")
    message: str | None


class ProgramIn(BaseModel):
    source: str = Field(description="Id of the source to put on program.")


class GoLiveIn(BaseModel):
    title: str = Field(default="", max_length=200, description="Shown to viewers and kept.")


class TokenOut(BaseModel):
    token: str
    room: str
    role: str
    expires_in: int


class RecordingTrackOut(BaseModel):
    name: str
    kind: str = Field(description="program, or iso (one source's own view)")
    source_id: str | None
    file: str
    width: int
    height: int
    fps: int
    size_bytes: int
    error: str | None = None


class MarkerOut(BaseModel):
    id: str
    title: str
    at: float = Field(description="Seconds of recorded media (pauses excluded).")
    author: str


class RecordingOut(BaseModel):
    id: str
    room: str
    title: str
    state: str = Field(description="recording, paused, stopped, recovered or failed")
    started_at: str
    stopped_at: str | None
    duration: float
    size_bytes: int
    error: str | None
    stop_reason: str | None = Field(default=None, description="Why it stopped, when not by hand.")
    tracks: list[RecordingTrackOut]
    markers: list[MarkerOut]


class RecordingStartIn(BaseModel):
    title: str = Field(default="", max_length=200)


class MarkerIn(BaseModel):
    title: str = Field(description="Chapter title, 1 to 200 characters.")


class MarkerRenameIn(BaseModel):
    title: str


class ScheduleIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    course: str | None = Field(default=None, max_length=200)
    starts_at: datetime = Field(description="ISO 8601 with a time zone, e.g. 2026-11-24T09:00+02:00")
    ends_at: datetime


class ScheduledOut(BaseModel):
    id: int
    room: str
    title: str
    course: str | None
    starts_at: datetime
    ends_at: datetime
    state: str = Field(description="planned, recording, done, cancelled, missed or failed")
    recording_ids: list[str]
    message: str | None


class NoteIn(BaseModel):
    text: str = Field(description="Free text, up to 5000 characters.")


class ChatIn(BaseModel):
    text: str


class StrokeIn(BaseModel):
    points: list[tuple[float, float]] = Field(
        description="[x, y] pairs normalised to the picture: 0..1 from the top left."
    )
    colour: str = Field(default="#ffd400", description="#rrggbb")
    width: float = Field(default=0.006, description="Line width as a fraction of picture width.")
    duration_seconds: float = Field(
        default=0.0, ge=0, le=600, description="How long the drawing took; it ends now."
    )


class TimelineEventOut(BaseModel):
    id: str
    type: str = Field(description="marker, note, stroke, chat; from the live classroom: question, question_status, poll, poll_result, speaker")
    at: float
    author: str
    data: dict[str, object] = Field(description="The event's own fields (title, text, points...).")


class LayoutBody(BaseModel):
    kind: str = Field(description="single, side-by-side, pip or grid-2x2")
    sources: list[str | None] = Field(description="Source id per slot; null leaves it empty.")
    pip_corner: str = "bottom-right"
    pip_size: float = 0.3


class MaskBody(BaseModel):
    source: str
    x: float
    y: float
    w: float
    h: float


class MasksBody(BaseModel):
    masks: list[MaskBody]


class ProgramRectIn(BaseModel):
    """A rectangle drawn on the program picture (fractions of it); the server finds the source."""

    x: float
    y: float
    w: float
    h: float


class TitleBody(BaseModel):
    procedure: str = Field(default="", max_length=120)
    presenter: str = Field(default="", max_length=120)
    institution: str = Field(default="", max_length=120)
    clock: bool = False


class CompositionOut(BaseModel):
    layout: LayoutBody
    masks: list[MaskBody]
    title: TitleBody


class PtzHealthOut(BaseModel):
    id: str
    label: str
    address: str
    reachable: bool | None = Field(
        description="Whether the head answers (idle heads are asked every few seconds); "
                    "null until it has been spoken to.")
    last_error: str | None
    last_answer_age: float | None = Field(
        description="Seconds since the head last answered anything; null if it never did.")
    camera_source: str | None


class PtzMoveIn(BaseModel):
    pan: float = Field(ge=-1, le=1, description="-1 left .. 1 right; 0 with tilt 0 stops")
    tilt: float = Field(ge=-1, le=1, description="-1 down .. 1 up")


class PtzZoomIn(BaseModel):
    speed: float = Field(ge=-1, le=1, description="-1 wide .. 1 tele; 0 stops")


class PtzFocusIn(BaseModel):
    mode: str = Field(description="auto, manual, near, far or stop")


class PtzPositionOut(BaseModel):
    pan: int
    tilt: int
    zoom: int


class DicomWindowOut(BaseModel):
    preset: str | None = Field(description="Preset name, or null for a free window.")
    center: float = Field(description="Window centre (level) in HU.")
    width: float = Field(description="Window width in HU.")
    label: str = Field(description="As burnt into the picture, e.g. 'brain W:80 L:40'.")


class DicomPresetOut(BaseModel):
    name: str
    center: float
    width: float


class DicomSourceOut(BaseModel):
    source: str
    state: str = Field(description="The source's health state: starting, live, lost, failed...")
    error: str | None = Field(description="Why the series cannot be shown (names the file).")
    loaded: bool = Field(description="A series is loaded and can be scrolled.")
    count: int = Field(description="Slices (frames) in the series.")
    rows: int
    cols: int
    files: int
    modality: str
    index: int = Field(description="Slice shown, 0 = lowest along the slice normal.")
    position_mm: float | None = Field(description="Its position along the slice normal, mm.")
    playing: bool = Field(description="Cine running.")
    speed: float = Field(description="Cine speed, slices per second.")
    window: DicomWindowOut
    presets: list[DicomPresetOut]


class DicomSliceIn(BaseModel):
    """Exactly one of `index` (absolute) or `delta` (relative, e.g. -1 / +1 for a wheel step)."""

    index: int | None = Field(default=None, ge=0, description="Slice to show (pauses the cine).")
    delta: int | None = Field(default=None, ge=-10_000, le=10_000,
                              description="Move by this many slices (pauses the cine).")


class DicomCineIn(BaseModel):
    playing: bool = Field(description="true plays, false pauses.")
    speed: float | None = Field(default=None, description="Slices per second, 0.5 to 30.")


class DicomWindowIn(BaseModel):
    """A preset by name, or a free window as centre and width (HU)."""

    preset: str | None = Field(default=None, description="brain, subdural, bone or soft-tissue.")
    center: float | None = Field(default=None, description="Window centre (level), HU.")
    width: float | None = Field(default=None, description="Window width, HU, greater than 0.")

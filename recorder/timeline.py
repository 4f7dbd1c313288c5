"""Timeline events of a recording, on the session media clock, kept in ``events.jsonl``.

Each event is one JSON line, appended, flushed and fsynced before the call returns: an event
the instructor saw accepted is never lost, and a crash can only tear the last line, which the
loader skips. Renaming a marker appends a ``rename`` event instead of rewriting the file, so the
file only ever grows; the loaded view applies the renames. Likewise deleting a live chat message
appends a ``retraction``: the loaded view (and so the sidecar and anything published) leaves
the message out. The live classroom adds questions, their moderation, polls, their results and
who had the floor; a line of a type this version does not know is skipped, not fatal.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

logger = logging.getLogger(__name__)

EVENTS_FILE = "events.jsonl"
MAX_TITLE = 200
MAX_NOTE = 5000
MAX_CHAT = 2000
MAX_AUTHOR = 100
MAX_POINTS = 10_000
MAX_STROKE_WIDTH = 100.0
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class TimelineError(ValueError):
    """An event was refused or the timeline file could not be used; ``str()`` says why."""


def _new_id() -> str:
    return uuid.uuid4().hex


def _check_at(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TimelineError(f"{name} must be a finite number of media seconds, got {value!r}")
    if value < 0:
        raise TimelineError(f"{name} must not be negative, got {value}")
    return float(value)


def _check_text(name: str, value: object, limit: int, *, single_line: bool) -> str:
    if not isinstance(value, str):
        raise TimelineError(f"{name} must be text, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise TimelineError(f"{name} is empty")
    if len(text) > limit:
        raise TimelineError(f"{name} is {len(text)} characters long; the limit is {limit}")
    if single_line and ("\n" in text or "\r" in text):
        raise TimelineError(f"{name} must be a single line")
    if _CONTROL.search(text):
        raise TimelineError(f"{name} contains control characters")
    return text


def _check_author(value: object) -> str:
    if value is None or value == "":
        return ""
    return _check_text("author", value, MAX_AUTHOR, single_line=True)


def _check_event(event: Event, text: str | None = None, *, label: str | None = None,
                 limit: int = 0, single_line: bool = False) -> None:
    """The one validation path of every event: its ``text`` attribute if it has one (named
    ``label`` in messages), its media time and its author, each replaced by its checked form
    (events are frozen dataclasses, hence ``object.__setattr__``)."""
    if text is not None:
        object.__setattr__(event, text, _check_text(
            label or text, getattr(event, text), limit, single_line=single_line))
    object.__setattr__(event, "at", _check_at("at", event.at))
    object.__setattr__(event, "author", _check_author(event.author))


@dataclass(frozen=True)
class Marker:
    title: str
    at: float = 0.0
    author: str = ""
    id: str = field(default_factory=_new_id)
    type: Literal["marker"] = "marker"

    def __post_init__(self) -> None:
        _check_event(self, "title", limit=MAX_TITLE, single_line=True)


@dataclass(frozen=True)
class Note:
    text: str
    at: float = 0.0
    author: str = ""
    id: str = field(default_factory=_new_id)
    type: Literal["note"] = "note"

    def __post_init__(self) -> None:
        _check_event(self, "text", label="note", limit=MAX_NOTE)


@dataclass(frozen=True)
class Stroke:
    """A drawn line over the video: points normalised to the picture (0..1, origin top left)."""

    points: tuple[tuple[float, float], ...]
    colour: str
    width: float
    started_at: float
    ended_at: float
    at: float = 0.0
    author: str = ""
    id: str = field(default_factory=_new_id)
    type: Literal["stroke"] = "stroke"

    def __post_init__(self) -> None:
        if not isinstance(self.points, Sequence) or isinstance(self.points, str):
            raise TimelineError("points must be a list of [x, y] pairs")
        if not self.points:
            raise TimelineError("a stroke needs at least one point")
        if len(self.points) > MAX_POINTS:
            raise TimelineError(f"a stroke has at most {MAX_POINTS} points")
        points: list[tuple[float, float]] = []
        for i, point in enumerate(self.points):
            if not isinstance(point, Sequence) or len(point) != 2:
                raise TimelineError(f"point {i} must be an [x, y] pair, got {point!r}")
            x, y = point
            for v in (x, y):
                if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
                    raise TimelineError(
                        f"point {i} {list(point)!r} is outside the picture: x and y go 0..1"
                    )
            points.append((float(x), float(y)))
        object.__setattr__(self, "points", tuple(points))
        if not isinstance(self.colour, str) or not _COLOUR.match(self.colour):
            raise TimelineError(f"colour must look like #rrggbb, got {self.colour!r}")
        object.__setattr__(self, "colour", self.colour.lower())
        w = self.width
        if isinstance(w, bool) or not isinstance(w, int | float) or not 0 < w <= MAX_STROKE_WIDTH:
            raise TimelineError(f"width must be above 0 and at most {MAX_STROKE_WIDTH}, got {w!r}")
        object.__setattr__(self, "width", float(w))
        object.__setattr__(self, "started_at", _check_at("started_at", self.started_at))
        object.__setattr__(self, "ended_at", _check_at("ended_at", self.ended_at))
        if self.ended_at < self.started_at:
            raise TimelineError("ended_at is before started_at")
        _check_event(self)


@dataclass(frozen=True)
class ChatMessage:
    text: str
    at: float = 0.0
    author: str = ""
    id: str = field(default_factory=_new_id)
    type: Literal["chat"] = "chat"

    def __post_init__(self) -> None:
        _check_event(self, "text", label="chat message", limit=MAX_CHAT)


@dataclass(frozen=True)
class Rename:
    """Gives marker ``target`` a new title; kept as an event so the file is append-only."""

    target: str
    title: str
    at: float = 0.0
    author: str = ""
    id: str = field(default_factory=_new_id)
    type: Literal["rename"] = "rename"

    def __post_init__(self) -> None:
        _check_event(self, "title", limit=MAX_TITLE, single_line=True)


# -- the live classroom (room_controller.interaction), on the media clock like chat ---------
MAX_OPTIONS = 20
MAX_REF = 64


def _check_ref(name: str, value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_REF:
        raise TimelineError(f"{name} must be an id of 1 to {MAX_REF} characters")
    return value


def _check_counts(value: object, options: int | None = None) -> tuple[int, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) > MAX_OPTIONS:
        raise TimelineError(f"counts must be a list of at most {MAX_OPTIONS} numbers")
    if options is not None and len(value) != options:
        raise TimelineError("counts must have one number per option")
    if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in value):
        raise TimelineError("counts must be whole numbers, 0 or more")
    return tuple(value)


@dataclass(frozen=True)
class Retraction:
    """Chat message ``target`` was deleted by a moderator: the loaded view leaves both out, so
    nothing read from the timeline (sidecar, publishing) shows it. The file stays append-only."""

    target: str
    at: float = 0.0
    author: str = ""
    id: str = field(default_factory=_new_id)
    type: Literal["retraction"] = "retraction"

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", _check_ref("target", self.target))
        _check_event(self)


@dataclass(frozen=True)
class Question:
    """A question asked in the live classroom (``author`` is the asker even when anonymous
    to other students; ``anonymous`` says how it was shown)."""

    question: str
    text: str
    anonymous: bool = False
    at: float = 0.0
    author: str = ""
    id: str = field(default_factory=_new_id)
    type: Literal["question"] = "question"

    def __post_init__(self) -> None:
        object.__setattr__(self, "question", _check_ref("question", self.question))
        if not isinstance(self.anonymous, bool):
            raise TimelineError("anonymous must be true or false")
        _check_event(self, "text", label="question", limit=MAX_CHAT)


QUESTION_STATUSES = ("pending", "approved", "answering", "answered", "dismissed")


@dataclass(frozen=True)
class QuestionStatus:
    """Question ``question`` was moderated to ``status`` (with its votes at that moment)."""

    question: str
    status: str
    votes: int = 0
    at: float = 0.0
    author: str = ""
    id: str = field(default_factory=_new_id)
    type: Literal["question_status"] = "question_status"

    def __post_init__(self) -> None:
        object.__setattr__(self, "question", _check_ref("question", self.question))
        if self.status not in QUESTION_STATUSES:
            raise TimelineError(f"status must be one of {', '.join(QUESTION_STATUSES)}")
        if isinstance(self.votes, bool) or not isinstance(self.votes, int) or self.votes < 0:
            raise TimelineError("votes must be a whole number, 0 or more")
        _check_event(self)


@dataclass(frozen=True)
class Poll:
    """A poll asked in the live classroom (``presence_check``: proves who was there)."""

    poll: str
    question: str
    options: tuple[str, ...]
    seconds: int
    presence_check: bool = False
    at: float = 0.0
    author: str = ""
    id: str = field(default_factory=_new_id)
    type: Literal["poll"] = "poll"

    def __post_init__(self) -> None:
        object.__setattr__(self, "poll", _check_ref("poll", self.poll))
        if not isinstance(self.options, Sequence) or isinstance(self.options, str) or not (
                2 <= len(self.options) <= MAX_OPTIONS):
            raise TimelineError(f"a poll has 2 to {MAX_OPTIONS} options")
        object.__setattr__(self, "options", tuple(
            _check_text(f"option {i + 1}", o, MAX_TITLE, single_line=True)
            for i, o in enumerate(self.options)))
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, int) or not (
                0 < self.seconds <= 86_400):
            raise TimelineError("seconds must be a whole number of seconds")
        if not isinstance(self.presence_check, bool):
            raise TimelineError("presence_check must be true or false")
        _check_event(self, "question", label="poll question", limit=MAX_TITLE,
                     single_line=True)


@dataclass(frozen=True)
class PollResult:
    """A poll's counts when it closed (``shown``: when the results were shown to everyone)."""

    poll: str
    counts: tuple[int, ...]
    answered: int = 0
    shown: bool = False
    at: float = 0.0
    author: str = ""
    id: str = field(default_factory=_new_id)
    type: Literal["poll_result"] = "poll_result"

    def __post_init__(self) -> None:
        object.__setattr__(self, "poll", _check_ref("poll", self.poll))
        object.__setattr__(self, "counts", _check_counts(self.counts))
        if isinstance(self.answered, bool) or not isinstance(self.answered, int) or (
                self.answered < 0):
            raise TimelineError("answered must be a whole number, 0 or more")
        if not isinstance(self.shown, bool):
            raise TimelineError("shown must be true or false")
        _check_event(self)


@dataclass(frozen=True)
class Speaker:
    """Who has the floor from here on (an accepted hand), ``speaker`` empty when it ended."""

    speaker: str = ""
    at: float = 0.0
    author: str = ""
    id: str = field(default_factory=_new_id)
    type: Literal["speaker"] = "speaker"

    def __post_init__(self) -> None:
        if self.speaker:
            object.__setattr__(self, "speaker", _check_text(
                "speaker", self.speaker, MAX_AUTHOR, single_line=True))
        _check_event(self)


Event = (Marker | Note | Stroke | ChatMessage | Rename | Retraction | Question | QuestionStatus
         | Poll | PollResult | Speaker)
_TYPES: dict[str, type[Event]] = {
    "marker": Marker, "note": Note, "stroke": Stroke, "chat": ChatMessage, "rename": Rename,
    "retraction": Retraction, "question": Question, "question_status": QuestionStatus,
    "poll": Poll, "poll_result": PollResult, "speaker": Speaker,
}


def event_to_dict(event: Event) -> dict[str, Any]:
    data = asdict(event)
    if isinstance(event, Stroke):
        data["points"] = [list(p) for p in event.points]
    if isinstance(event, Poll):
        data["options"] = list(event.options)
    if isinstance(event, PollResult):
        data["counts"] = list(event.counts)
    return data


def event_from_dict(data: dict[str, Any]) -> Event:
    kind = _TYPES.get(str(data.get("type")))
    if kind is None:
        raise TimelineError(f"unknown event type {data.get('type')!r}")
    fields = dict(data)
    if kind is Stroke:
        fields["points"] = tuple(tuple(p) for p in fields.get("points", ()))
    for name in ("options", "counts"):
        if isinstance(fields.get(name), list):
            fields[name] = tuple(fields[name])
    try:
        return kind(**fields)
    except TypeError as exc:
        raise TimelineError(f"malformed {data.get('type')} event: {exc}") from exc


class Timeline:
    """The events of one recording folder; ``append`` is thread-safe and durable on return."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / EVENTS_FILE
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self.skipped_lines = 0
        self._load()

    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        lines = raw.split(b"\n")
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                self._events.append(event_from_dict(json.loads(line)))
            except (ValueError, TypeError) as exc:
                # A torn last line is what a crash leaves; anything else is logged, not fatal:
                # one bad line must not cost the rest of the session's annotations.
                self.skipped_lines += 1
                if number != len(lines):
                    logger.warning("%s line %d skipped: %s", self.path, number, exc)

    def append(self, event: Event) -> Event:
        if isinstance(event, Rename) and not any(
            isinstance(e, Marker) and e.id == event.target for e in self._events
        ):
            raise TimelineError(f"no marker with id {event.target!r} to rename")
        line = json.dumps(event_to_dict(event), ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            try:
                with open(self.path, "ab") as f:
                    # After a crash the file may end mid-line: start on a fresh line so the new
                    # event is not glued to the torn one.
                    if f.tell() > 0 and not self._ends_with_newline():
                        f.write(b"\n")
                    f.write(line.encode() + b"\n")
                    f.flush()
                    os.fsync(f.fileno())
            except FileNotFoundError as exc:
                raise TimelineError(f"recording folder {self.folder} is gone") from exc
            except OSError as exc:
                raise TimelineError(f"could not save the event: {exc.strerror or exc}") from exc
            self._events.append(event)
        return event

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    # -- views -------------------------------------------------------------------------------
    @property
    def raw_events(self) -> list[Event]:
        return list(self._events)

    def events(self) -> list[Event]:
        """Events in media-time order, renames applied to their markers (and not listed), deleted
        chat messages left out with their retractions."""
        titles: dict[str, str] = {}
        retracted: set[str] = set()
        for e in self._events:
            if isinstance(e, Rename):
                titles[e.target] = e.title
            elif isinstance(e, Retraction):
                retracted.add(e.target)
        view: list[Event] = []
        for e in self._events:
            if isinstance(e, Rename | Retraction):
                continue
            if isinstance(e, ChatMessage) and e.id in retracted:
                continue
            if isinstance(e, Marker) and e.id in titles:
                e = replace(e, title=titles[e.id])
            view.append(e)
        return sorted(view, key=lambda e: e.at)

    def markers(self) -> list[Marker]:
        return [e for e in self.events() if isinstance(e, Marker)]

    def marker(self, marker_id: str) -> Marker:
        for m in self.markers():
            if m.id == marker_id:
                return m
        raise TimelineError(f"no marker with id {marker_id!r}")

    def to_webvtt_chapters(self, duration: float) -> str:
        """WebVTT chapters: each marker runs to the next one or to ``duration``."""
        markers = [m for m in self.markers() if m.at < duration]
        out = ["WEBVTT", ""]
        number = 0
        for i, marker in enumerate(markers):
            end = markers[i + 1].at if i + 1 < len(markers) else duration
            if end <= marker.at:
                continue  # two markers at the same instant: the later one names the chapter
            number += 1
            out += [
                str(number),
                f"{vtt_timestamp(marker.at)} --> {vtt_timestamp(end)}",
                vtt_escape(marker.title),
                "",
            ]
        return "\n".join(out) + ("\n" if number == 0 else "")

    def to_json(self, **extra: Any) -> str:
        """The JSON sidecar: every event (renames applied) plus the markers as chapters."""
        document = {
            **extra,
            "events": [event_to_dict(e) for e in self.events()],
            "markers": [event_to_dict(m) for m in self.markers()],
        }
        return json.dumps(document, ensure_ascii=False, indent=2)


def vtt_timestamp(seconds: float) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def vtt_escape(text: str) -> str:
    # Cue text is parsed for tags and entities; "-->" would also end the cue early.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

"""Live drawing over a room's program: strokes fanned out to every viewer, each shown on the
frame it was drawn on.

**Who draws.** A room's instructors (a WHEP session of a controlling role for that room, the
console's own picture) always may; a student may only while ``allow(room, user, colour)`` holds
(the accepted speaker of a raised hand), in that colour, until ``revoke``. Everyone else's
strokes are refused, and the refusal is said back on the channel.

**Transport: a WebRTC data channel on the viewer's own WHEP session** (label ``overlay``,
opened by the page before its offer). Why not a websocket: the frame a stroke belongs to is
named in RTP time, and RTP time differs per peer connection (below), so the overlay needs the
viewer's *session*, not only the user; on the data channel the session is the channel, its
credential is the WHEP session already checked, and the overlay lives and dies with the picture
it is drawn over (no second connection to authenticate, reconnect and pair with a session).
The strokes ride the same ICE/DTLS path as the video, so they arrive with it. A third-party
WHEP player that opens no data channel gets the plain picture: no drawing, and nothing breaks.

**Alignment: one media clock, one RTP origin per viewer.** Every encoder of the process stamps
a packet's pts with its capture instant on one clock (``streaming.encoder.MEDIA_ORIGIN``, 90 kHz
for video), whichever output or rendition it is; so "media ticks" name an instant of the
program for every viewer. aiortc's sender then sends ``RTP timestamp = origin + pts (mod 2^32)``
with a random ``origin`` per sender: viewers of one output do **not** share a timestamp base,
and a rendition switch keeps it (same sender, pts continuous). The server learns each viewer's
``origin`` (``EncodedVideoTrack.rtp_origin``: the sender's last RTP timestamp minus the pts of
the frame it just sent) and tells the page (``clock``). In the page, Chromium's
``requestVideoFrameCallback`` gives the displayed frame's ``rtpTimestamp``; ``rtpTimestamp -
origin`` is that frame's media ticks. The console is itself a WHEP viewer of the program: a
stroke carries the media ticks of the frame the console showed when the pointer moved (``f``);
every other page draws it when the frame it displays has reached those ticks, and fades it (the
console's 4 s) by the ticks of the frames it displays, so the drawing stays on its frame
whatever each viewer's delay. Renditions of the program are separate encodes that sample the
same composed picture on the same clock: at worst a frame interval (33 ms at 30 fps) apart.
Ticks are compared modulo 2^32 (signed difference: about 6.6 hours either way).

**Messages** (JSON text). Page to server: ``{"t": "seg", "s": n, "f": ticks, "p": [[x, y],
...], "c": "#rrggbb", "w": width}`` (points 0..1 of the picture, a segment of stroke ``n``;
``c`` and ``w`` from instructors only) and ``{"t": "end", "s": n, "f": ticks}``. Server to
page: ``clock`` (``origin``), ``rights`` (``draw``, ``colour``), ``seg`` / ``end`` with the
stroke's ``id``, author ``by``, colour ``c`` and width ``w``, and ``refused`` (``why``).
Bounds at the edge: message size, points per segment and per stroke, coordinates, messages per
second per session (token bucket), open strokes per session (one).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streaming.encoder import MEDIA_ORIGIN, VIDEO_CLOCK

logger = logging.getLogger(__name__)

#: A message longer than this is refused unread (64 points of two short floats fit easily).
MAX_MESSAGE_BYTES = 4096
#: Points in one segment (a pointer sends a segment per animation frame or so).
MAX_SEGMENT_POINTS = 64
#: Points in one stroke: the recording timeline's own limit (``recorder.timeline``).
MAX_STROKE_POINTS = 2000
#: Messages per second a session may send on average, and the burst it may save up.
RATE_PER_SECOND = 100.0
RATE_BURST = 100.0
#: A page is told why its message was refused at most this often (seconds).
REFUSAL_INTERVAL = 1.0
#: Line width as a fraction of the picture's width: default, and the bounds an instructor has.
DEFAULT_WIDTH = 0.006
MIN_WIDTH, MAX_WIDTH = 0.001, 0.05
#: A stroke's frame must be this close to the server's media clock (seconds before / after);
#: a frame further off is a lie or a broken clock, and the stroke is put on "now".
MAX_FRAME_AGE, MAX_FRAME_AHEAD = 10.0, 1.0
#: How long a finished stroke is kept to show a page that joins meanwhile (the 4 s fade, and
#: some slack for the joiner's delay).
KEEP_SECONDS = 6.0
KEEP_STROKES = 64
#: Past this many bytes waiting in a page's channel, strokes for it are dropped (a stalled
#: page must not make the server hold an ever-growing queue).
MAX_BUFFERED_BYTES = 256 * 1024

#: Speakers' colours, in the order they are handed out: none is one of the console's own
#: (yellow, cyan, green), so the room can tell the instructor's drawing from a speaker's.
SPEAKER_COLOURS = ("#35c4ff", "#ff3b8d", "#b388ff", "#ff8a3d", "#00e0a0", "#ffffff")

WRAP = 1 << 32
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")

#: Sends one text message to a page (an aiortc ``RTCDataChannel.send``).
Send = Callable[[str], None]
#: Told of every finished stroke (to keep it on the recording's timeline).
StrokeDone = Callable[["FinishedStroke"], None]


class OverlayError(ValueError):
    """A refused message; the text says why (and is sent back to the page, in English: pages
    show their own sentence for ``code``, "rate_limited", "not_allowed" or "invalid")."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


def media_ticks(now: float | None = None) -> int:
    """The media clock now (``time.monotonic`` by default), in 90 kHz ticks modulo 2^32."""
    at = time.monotonic() if now is None else now
    return int((at - MEDIA_ORIGIN) * VIDEO_CLOCK) % WRAP


def tick_delta(a: int, b: int) -> int:
    """``a - b`` in ticks, modulo 2^32, as a signed number (``b`` may have wrapped)."""
    d = (a - b) % WRAP
    return d - WRAP if d >= WRAP // 2 else d


@dataclass(frozen=True)
class FinishedStroke:
    room_id: str
    author: str
    user_id: int | None
    leads: bool
    colour: str
    width: float
    points: tuple[tuple[float, float], ...]
    #: Media ticks of its first and last frames.
    started: int
    ended: int

    @property
    def duration_seconds(self) -> float:
        return max(0, tick_delta(self.ended, self.started)) / VIDEO_CLOCK


@dataclass
class _Stroke:
    id: str
    member: Member
    client_id: int
    colour: str
    width: float
    started: int
    last: int
    points: list[tuple[float, float]] = field(default_factory=list)
    ended_at: float | None = None  # monotonic, once ended

    def as_messages(self) -> list[dict[str, Any]]:
        """What a page joining now needs to draw it: the stroke so far, and its end."""
        out: list[dict[str, Any]] = [{
            "t": "seg", "id": self.id, "by": self.member.subject, "c": self.colour,
            "w": self.width, "f": self.started, "p": [list(p) for p in self.points],
        }]
        if self.ended_at is not None:
            out.append({"t": "end", "id": self.id, "f": self.last})
        return out


class Member:
    """One page's session on a room's overlay: what it may do, and its channel."""

    def __init__(
        self, overlay: Overlay, room_id: str, session_id: str, subject: str,
        user_id: int | None, leads: bool, send: Send, buffered: Callable[[], int],
    ) -> None:
        self._overlay = overlay
        self.room_id = room_id
        self.session_id = session_id
        self.subject = subject
        self.user_id = user_id
        self.leads = leads
        self._send = send
        self._buffered = buffered
        self.origin: int | None = None
        self._tokens = RATE_BURST
        self._refilled = time.monotonic()
        self._open: _Stroke | None = None
        self.refused = 0
        self._told_at = -REFUSAL_INTERVAL
        self.dropped = 0
        self.closed = False

    # -- out -----------------------------------------------------------------------------
    def send(self, message: dict[str, Any]) -> None:
        self.send_text(_text(message))

    def send_text(self, text: str) -> None:
        if self.closed:
            return
        if self._buffered() > MAX_BUFFERED_BYTES:
            self.dropped += 1
            return
        try:
            self._send(text)
        except Exception:  # noqa: BLE001 - a channel closing under us; its close event detaches
            self.dropped += 1

    def set_origin(self, origin: int) -> None:
        """The RTP timestamp origin of this page's program line (see the module docstring)."""
        self.origin = origin % WRAP
        self.send({"t": "clock", "origin": self.origin})

    # -- in ------------------------------------------------------------------------------
    def receive(self, raw: str | bytes) -> None:
        """A message from the page; a refused one is answered ``refused`` with the reason."""
        try:
            self._receive(raw)
        except OverlayError as exc:
            self.refused += 1
            # Said once a second at most: a flood is not answered with a flood.
            now = time.monotonic()
            if now - self._told_at >= REFUSAL_INTERVAL:
                self._told_at = now
                self.send({"t": "refused", "why": str(exc), "code": exc.code})

    def _take_token(self) -> None:
        now = time.monotonic()
        self._tokens = min(RATE_BURST, self._tokens + (now - self._refilled) * RATE_PER_SECOND)
        self._refilled = now
        if self._tokens < 1:
            raise OverlayError(
                f"too many drawing messages: at most {RATE_PER_SECOND:.0f} a second",
                "rate_limited")
        self._tokens -= 1

    def _receive(self, raw: str | bytes) -> None:
        if len(raw) > MAX_MESSAGE_BYTES:
            raise OverlayError(f"message too long: at most {MAX_MESSAGE_BYTES} bytes")
        self._take_token()
        try:
            message = json.loads(raw)
        except ValueError:
            raise OverlayError("message is not JSON") from None
        if not isinstance(message, dict):
            raise OverlayError("message must be a JSON object")
        kind = message.get("t")
        if kind not in ("seg", "end"):
            raise OverlayError(f"unknown message type {kind!r} (seg or end)")
        colour = self._overlay.colour_of(self)
        if colour is None:
            raise OverlayError(
                "you may not draw in this room: the instructor has not given you the word",
                "not_allowed")
        client_id = message.get("s")
        if isinstance(client_id, bool) or not isinstance(client_id, int) or \
                not 0 <= client_id < WRAP:
            raise OverlayError("s (the stroke number) must be an integer 0..2^32-1")
        frame = self._frame(message.get("f"))
        if kind == "end":
            if self._open is not None and self._open.client_id == client_id:
                self._overlay._end(self._open, frame)
                self._open = None
            return
        points = _points(message.get("p"))
        width = DEFAULT_WIDTH
        if self.leads:
            colour = _colour(message.get("c", colour))
            width = _width(message.get("w", DEFAULT_WIDTH))
        stroke = self._open
        if stroke is not None and stroke.client_id != client_id:
            self._overlay._end(stroke, stroke.last)  # a new stroke ends the one left open
            stroke = self._open = None
        if stroke is None:
            stroke = self._open = self._overlay._begin(self, client_id, colour, width, frame)
        if len(stroke.points) + len(points) > MAX_STROKE_POINTS:
            raise OverlayError(f"a stroke has at most {MAX_STROKE_POINTS} points")
        self._overlay._extend(stroke, points, frame)

    def _frame(self, value: Any) -> int:
        """The frame's media ticks, or the media clock now when it is missing or implausible
        (a page that has not seen a frame yet, a tampered clock)."""
        now = media_ticks()
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < WRAP:
            return now
        ahead = tick_delta(value, now)
        if ahead > MAX_FRAME_AHEAD * VIDEO_CLOCK or -ahead > MAX_FRAME_AGE * VIDEO_CLOCK:
            return now
        return value

    def revoked(self) -> None:
        """The right to draw was taken back: the stroke being drawn ends now."""
        if self._open is not None:
            self._overlay._end(self._open, self._open.last)
            self._open = None

    def close(self) -> None:
        self.revoked()
        self.closed = True


def _text(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def _points(value: Any) -> list[tuple[float, float]]:
    if not isinstance(value, list) or not value:
        raise OverlayError("p must be a non-empty list of [x, y] points")
    if len(value) > MAX_SEGMENT_POINTS:
        raise OverlayError(f"a segment has at most {MAX_SEGMENT_POINTS} points")
    points = []
    for point in value:
        if not isinstance(point, list) or len(point) != 2:
            raise OverlayError("each point must be an [x, y] pair")
        x, y = point
        for v in (x, y):
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
                raise OverlayError("points are 0..1 of the picture, from its top left")
        points.append((round(float(x), 4), round(float(y), 4)))
    return points


def _colour(value: Any) -> str:
    if not isinstance(value, str) or not _COLOUR.match(value):
        raise OverlayError("c (the colour) must look like #rrggbb")
    return value.lower()


def _width(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            not MIN_WIDTH <= value <= MAX_WIDTH:
        raise OverlayError(f"w (the width) must be {MIN_WIDTH}..{MAX_WIDTH} of the picture")
    return float(value)


@dataclass
class _Room:
    members: dict[str, Member] = field(default_factory=dict)
    #: Students who may draw now, with their colour.
    drawers: dict[int, str] = field(default_factory=dict)
    recent: OrderedDict[str, _Stroke] = field(default_factory=OrderedDict)


class Overlay:
    """Every room's live drawing: members, who may draw, and the strokes on screen now."""

    def __init__(self, on_stroke: StrokeDone | None = None) -> None:
        self._rooms: dict[str, _Room] = {}
        self._next_id = 0
        self.on_stroke = on_stroke

    def _room(self, room_id: str) -> _Room:
        return self._rooms.setdefault(room_id, _Room())

    # -- members -------------------------------------------------------------------------
    def attach(
        self, room_id: str, session_id: str, *, subject: str, user_id: int | None,
        leads: bool, send: Send, buffered: Callable[[], int] = lambda: 0,
    ) -> Member:
        """A page's channel opened: it receives strokes from now on (and those on screen)."""
        room = self._room(room_id)
        old = room.members.pop(session_id, None)
        if old is not None:
            old.close()
        member = Member(self, room_id, session_id, subject, user_id, leads, send, buffered)
        room.members[session_id] = member
        self._prune(room)
        member.send(self._rights(member))
        for stroke in room.recent.values():
            for message in stroke.as_messages():
                member.send(message)
        return member

    def detach(self, member: Member) -> None:
        room = self._rooms.get(member.room_id)
        member.close()
        if room is not None and room.members.get(member.session_id) is member:
            del room.members[member.session_id]
            if not room.members and not room.drawers:
                del self._rooms[member.room_id]

    def members(self, room_id: str) -> list[Member]:
        room = self._rooms.get(room_id)
        return list(room.members.values()) if room else []

    # -- rights --------------------------------------------------------------------------
    def allow(self, room_id: str, user_id: int, colour: str | None = None) -> str:
        """Let student ``user_id`` draw in ``room_id`` in ``colour`` (#rrggbb; None: the first
        of ``SPEAKER_COLOURS`` no other speaker there has), on every page they have open
        there, until ``revoke`` or the end of the live session. Returns the colour."""
        room = self._room(room_id)
        if colour is None:
            taken = set(room.drawers.values()) - {room.drawers.get(user_id)}
            colour = next((c for c in SPEAKER_COLOURS if c not in taken), SPEAKER_COLOURS[0])
        try:
            checked = _colour(colour)
        except OverlayError as exc:
            raise ValueError(str(exc)) from None
        room.drawers[user_id] = checked
        for member in room.members.values():
            if member.user_id == user_id:
                member.send(self._rights(member))
        return checked

    def revoke(self, room_id: str, user_id: int) -> bool:
        """Take the right back (a stroke being drawn ends); False when they did not have it."""
        room = self._rooms.get(room_id)
        if room is None or room.drawers.pop(user_id, None) is None:
            return False
        for member in room.members.values():
            if member.user_id == user_id:
                member.revoked()
                member.send(self._rights(member))
        return True

    def drawers(self, room_id: str) -> dict[int, str]:
        room = self._rooms.get(room_id)
        return dict(room.drawers) if room else {}

    def clear_room(self, room_id: str) -> None:
        """The live session ended: nobody keeps the right to draw into the next one."""
        room = self._rooms.get(room_id)
        if room is not None:
            room.drawers.clear()
            room.recent.clear()

    def colour_of(self, member: Member) -> str | None:
        """The colour ``member`` draws in, or None when they may not draw."""
        if member.leads:
            return "#ffd400"
        room = self._rooms.get(member.room_id)
        if room is None or member.user_id is None:
            return None
        return room.drawers.get(member.user_id)

    def _rights(self, member: Member) -> dict[str, Any]:
        colour = self.colour_of(member)
        return {"t": "rights", "draw": colour is not None, "colour": colour,
                "leads": member.leads}

    # -- strokes -------------------------------------------------------------------------
    def _begin(self, member: Member, client_id: int, colour: str, width: float,
               frame: int) -> _Stroke:
        self._next_id += 1
        stroke = _Stroke(f"{self._next_id}", member, client_id, colour, width, frame, frame)
        room = self._room(member.room_id)
        room.recent[stroke.id] = stroke
        self._prune(room)
        return stroke

    def _extend(self, stroke: _Stroke, points: list[tuple[float, float]], frame: int) -> None:
        # A stroke's frames never go back: a later segment cannot show before an earlier one.
        if tick_delta(frame, stroke.last) > 0:
            stroke.last = frame
        stroke.points.extend(points)
        self._fan_out(stroke.member, {
            "t": "seg", "id": stroke.id, "by": stroke.member.subject, "c": stroke.colour,
            "w": stroke.width, "f": stroke.last, "p": [list(p) for p in points],
        })

    def _end(self, stroke: _Stroke, frame: int) -> None:
        if stroke.ended_at is not None:
            return
        if tick_delta(frame, stroke.last) > 0:
            stroke.last = frame
        stroke.ended_at = time.monotonic()
        self._fan_out(stroke.member, {"t": "end", "id": stroke.id, "f": stroke.last})
        if self.on_stroke is not None and stroke.points:
            member = stroke.member
            try:
                self.on_stroke(FinishedStroke(
                    member.room_id, member.subject, member.user_id, member.leads, stroke.colour,
                    stroke.width, tuple(stroke.points), stroke.started, stroke.last))
            except Exception:
                logger.exception("stroke callback failed")

    def _fan_out(self, sender: Member, message: dict[str, Any]) -> None:
        room = self._rooms.get(sender.room_id)
        if room is None:
            return
        text = _text(message)  # once, however many pages
        for member in list(room.members.values()):
            if member is not sender:  # the author's page has drawn it already
                member.send_text(text)

    def _prune(self, room: _Room) -> None:
        now = time.monotonic()
        for key, stroke in list(room.recent.items()):
            old = stroke.ended_at is not None and now - stroke.ended_at > KEEP_SECONDS
            if old or len(room.recent) > KEEP_STROKES:
                del room.recent[key]

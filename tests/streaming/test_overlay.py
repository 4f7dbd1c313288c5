"""Live drawing: fan-out, rights and bounds of ``streaming.overlay``, and the data channel and
RTP clock of real WHEP sessions."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import numpy as np
import pytest
from aiortc import RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from streaming import overlay as overlay_module
from streaming.encoder import VIDEO_CLOCK
from streaming.overlay import (
    MAX_SEGMENT_POINTS,
    MAX_STROKE_POINTS,
    FinishedStroke,
    Overlay,
    media_ticks,
    tick_delta,
)
from streaming.whep import ViewerSessions
from tests.streaming.feeds import broadcast_of, client


class Page:
    """What one page's channel received, parsed."""

    def __init__(self, overlay: Overlay, room: str, name: str, *, user_id: int | None = None,
                 leads: bool = False) -> None:
        self.got: list[dict[str, Any]] = []
        self.member = overlay.attach(room, name, subject=name, user_id=user_id, leads=leads,
                                     send=lambda text: self.got.append(json.loads(text)))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.got if m["t"] == kind]

    def send(self, **message: Any) -> None:
        self.member.receive(json.dumps(message))


def seg(s: int, points: list[list[float]], **extra: Any) -> dict[str, Any]:
    return {"t": "seg", "s": s, "f": media_ticks(), "p": points, **extra}


def test_instructor_strokes_reach_every_other_page_of_the_room_only():
    overlay = Overlay()
    console = Page(overlay, "or1", "console", leads=True)
    student = Page(overlay, "or1", "student", user_id=7)
    other_room = Page(overlay, "or2", "elsewhere", user_id=8)
    assert console.of("rights")[0] == {"t": "rights", "draw": True, "colour": "#ffd400",
                                       "leads": True}
    assert student.of("rights")[0]["draw"] is False
    frame = media_ticks()
    console.send(t="seg", s=1, f=frame, p=[[0.1, 0.2], [0.3, 0.4]], c="#FF0000", w=0.01)
    console.send(t="seg", s=1, f=frame + 3000, p=[[0.5, 0.5]])
    console.send(t="end", s=1, f=frame + 6000)
    segs = student.of("seg")
    assert [s["p"] for s in segs] == [[[0.1, 0.2], [0.3, 0.4]], [[0.5, 0.5]]]
    assert [s["f"] for s in segs] == [frame, frame + 3000]
    assert {s["c"] for s in segs} == {"#ff0000"} and {s["w"] for s in segs} == {0.01}
    assert {s["by"] for s in segs} == {"console"} and len({s["id"] for s in segs}) == 1
    assert student.of("end") == [{"t": "end", "id": segs[0]["id"], "f": frame + 6000}]
    assert console.of("seg") == []  # the author's page drew it already
    assert other_room.of("seg") == []


def test_a_student_may_draw_only_while_allowed_and_in_the_given_colour():
    overlay = Overlay()
    finished: list[FinishedStroke] = []
    overlay.on_stroke = finished.append
    console = Page(overlay, "or1", "console", leads=True)
    student = Page(overlay, "or1", "student", user_id=7)
    bystander = Page(overlay, "or1", "bystander", user_id=9)
    student.send(**seg(1, [[0.5, 0.5]]))
    [refused] = student.of("refused")
    assert "may not draw" in refused["why"]
    assert console.of("seg") == [] and student.member.refused == 1

    overlay.allow("or1", 7, "#35C4FF")
    assert student.of("rights")[-1] == {"t": "rights", "draw": True, "colour": "#35c4ff",
                                        "leads": False}
    assert bystander.of("rights") == [bystander.got[0]]  # only the allowed one is told
    student.send(**seg(2, [[0.5, 0.5], [0.6, 0.6]], c="#000000", w=0.05))
    [got] = console.of("seg")
    assert got["c"] == "#35c4ff" and got["w"] == overlay_module.DEFAULT_WIDTH  # not chosen
    assert bystander.of("seg") == [got]
    # Taking the word back ends the stroke being drawn, and refuses the next.
    assert overlay.revoke("or1", 7) is True
    assert console.of("end")[0]["id"] == got["id"]
    assert student.of("rights")[-1]["draw"] is False
    student.member._told_at = -1.0  # said again after a second
    student.send(**seg(3, [[0.1, 0.1]]))
    assert len(console.of("seg")) == 1 and len(student.of("refused")) == 2
    assert overlay.revoke("or1", 7) is False
    [stroke] = finished
    assert (stroke.author, stroke.user_id, stroke.colour) == ("student", 7, "#35c4ff")
    assert stroke.points == ((0.5, 0.5), (0.6, 0.6))
    with pytest.raises(ValueError, match="#rrggbb"):
        overlay.allow("or1", 7, "red")
    # Without a colour, each speaker gets one no other speaker in the room has.
    first, second = overlay.allow("or1", 7), overlay.allow("or1", 8)
    assert first != second and {first, second} <= set(overlay_module.SPEAKER_COLOURS)
    assert overlay.allow("or1", 7) == first  # asking again keeps it


@pytest.mark.parametrize(("message", "why"), [
    ("not json", "not JSON"),
    ("[1, 2]", "JSON object"),
    (json.dumps({"t": "wipe"}), "unknown message type"),
    (json.dumps({"t": "seg", "s": -1, "p": [[0, 0]]}), "stroke number"),
    (json.dumps({"t": "seg", "s": 1, "p": []}), "non-empty list"),
    (json.dumps({"t": "seg", "s": 1, "p": [[0.5, 1.5]]}), "0..1 of the picture"),
    (json.dumps({"t": "seg", "s": 1, "p": [[0.5]]}), "[x, y] pair"),
    (json.dumps({"t": "seg", "s": 1, "p": [[True, 0]]}), "0..1 of the picture"),
    (json.dumps({"t": "seg", "s": 1, "p": [[0, 0]] * (MAX_SEGMENT_POINTS + 1)}), "at most 64"),
    (json.dumps({"t": "seg", "s": 1, "p": [[0, 0]], "c": "red"}), "#rrggbb"),
    (json.dumps({"t": "seg", "s": 1, "p": [[0, 0]], "w": 0.5}), "width"),
    ("x" * 5000, "too long"),
])
def test_bad_messages_are_refused_with_the_reason_and_reach_nobody(message: str, why: str):
    overlay = Overlay()
    console = Page(overlay, "or1", "console", leads=True)
    student = Page(overlay, "or1", "student", user_id=7)
    console.member.receive(message)
    [refused] = console.of("refused")
    assert why in refused["why"]
    assert student.of("seg") == []


def test_a_stroke_is_bounded_in_points_and_a_page_in_messages_per_second():
    overlay = Overlay()
    console = Page(overlay, "or1", "console", leads=True)
    student = Page(overlay, "or1", "student", user_id=7)
    sent = 0
    while sent + MAX_SEGMENT_POINTS <= MAX_STROKE_POINTS:
        console.member._tokens = 1000.0  # this part is about points, not the rate
        console.send(**seg(1, [[0.5, 0.5]] * MAX_SEGMENT_POINTS))
        sent += MAX_SEGMENT_POINTS
    console.member._tokens = 1000.0
    console.send(**seg(1, [[0.5, 0.5]] * MAX_SEGMENT_POINTS))
    assert "at most 2000 points" in console.of("refused")[-1]["why"]
    assert sum(len(s["p"]) for s in student.of("seg")) == sent
    # A burst past the bucket is refused; the page gets its tokens back with time.
    flood = Page(overlay, "or1", "flood", leads=True)
    for i in range(300):
        flood.send(**seg(10 + i, [[0.1, 0.1]]))
    assert 150 <= flood.member.refused <= 200, flood.member.refused  # 100 saved up, 100 a second
    # ... and told so once, not 200 times.
    assert [m["why"] for m in flood.of("refused")] == ["too many drawing messages: at most 100 a second"]
    flood.member._refilled -= 1.0
    flood.send(**seg(999, [[0.2, 0.2]]))
    assert student.of("seg")[-1]["p"] == [[0.2, 0.2]]


def test_frames_far_from_the_media_clock_are_put_on_now_and_never_go_back():
    overlay = Overlay()
    console = Page(overlay, "or1", "console", leads=True)
    student = Page(overlay, "or1", "student", user_id=7)
    now = media_ticks()
    console.send(t="seg", s=1, f=(now + 60 * VIDEO_CLOCK) % 2**32, p=[[0.1, 0.1]])  # a minute ahead
    console.send(t="seg", s=1, f=(now - 3000) % 2**32, p=[[0.2, 0.2]])  # earlier than the first
    first, second = student.of("seg")
    assert abs(tick_delta(first["f"], now)) < VIDEO_CLOCK // 2
    assert second["f"] == first["f"]
    assert tick_delta(5, 2**32 - 5) == 10 and tick_delta(2**32 - 5, 5) == -10


def test_a_page_that_joins_sees_the_strokes_on_screen_and_a_new_session_clears_rights():
    overlay = Overlay()
    console = Page(overlay, "or1", "console", leads=True)
    console.send(**seg(1, [[0.1, 0.1]]))
    console.send(**seg(1, [[0.2, 0.2]]))
    console.send(t="end", s=1, f=media_ticks())
    console.send(**seg(2, [[0.9, 0.9]]))
    late = Page(overlay, "or1", "late", user_id=7)
    segs = late.of("seg")
    assert [s["p"] for s in segs] == [[[0.1, 0.1], [0.2, 0.2]], [[0.9, 0.9]]]
    assert len(late.of("end")) == 1
    overlay.allow("or1", 7, "#00ff00")
    overlay.clear_room("or1")
    assert overlay.drawers("or1") == {}
    assert Page(overlay, "or1", "later", user_id=7).of("seg") == []
    # A page whose channel is stalled is skipped, not queued without end.
    stalled = overlay.attach("or1", "stalled", subject="s", user_id=None, leads=False,
                             send=lambda text: None, buffered=lambda: 10**7)
    console.send(**seg(3, [[0.5, 0.5]]))
    assert stalled.dropped >= 1
    overlay.detach(stalled)
    assert "stalled" not in [m.session_id for m in overlay.members("or1")]


def moving_frame() -> np.ndarray:
    image = np.zeros((360, 640, 3), np.uint8)
    x = int(time.monotonic() * 200) % 600
    image[:, x: x + 40] = (40, 200, 255)
    return image


async def join_with_channel(sessions: ViewerSessions, broadcast: Any, name: str, *,
                            user_id: int | None, leads: bool):
    pc = client()
    pc.addTransceiver("video", direction="recvonly")
    channel = pc.createDataChannel("overlay")
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    channel.on("message", lambda text: received.put_nowait(json.loads(text)))
    await pc.setLocalDescription(await pc.createOffer())
    viewer, answer = await sessions.join(
        feed=broadcast, offer_sdp=pc.localDescription.sdp, selection=broadcast.choose(None, None),
        subject=name, role="instructor" if leads else "student", user_id=user_id, leads=leads)
    tracks: asyncio.Queue[Any] = asyncio.Queue()
    pc.on("track", tracks.put_nowait)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return pc, channel, received, await asyncio.wait_for(tracks.get(), 10), viewer


async def next_of(queue: asyncio.Queue[dict[str, Any]], kind: str) -> dict[str, Any]:
    while True:
        message = await asyncio.wait_for(queue.get(), 10)
        if message["t"] == kind:
            return message


@pytest.mark.usefixtures("loopback_only")
async def test_real_sessions_get_their_rtp_origin_and_strokes_over_the_data_channel():
    broadcast, outputs = broadcast_of({"program": (moving_frame, 640, 360)}, gop_seconds=1.0)
    await broadcast.go_on_air()
    overlay = Overlay()
    sessions = ViewerSessions(overlay=overlay)
    pcs = []
    try:
        console_pc, console_channel, _, _, _ = await join_with_channel(
            sessions, broadcast, "console", user_id=1, leads=True)
        student_pc, student_channel, student_got, track, viewer = await join_with_channel(
            sessions, broadcast, "student", user_id=7, leads=False)
        pcs = [console_pc, student_pc]
        origin = (await next_of(student_got, "clock"))["origin"]
        # A packet's RTP timestamp minus the origin is its frame's capture instant on the media
        # clock (aiortc's decoder rebases timestamps: read them as they arrive).
        receiver = student_pc.getTransceivers()[0].receiver
        ages: list[float] = []
        handle = receiver._handle_rtp_packet

        async def tap(packet: Any, arrival_time_ms: int) -> None:
            ages.append(tick_delta(media_ticks(), (packet.timestamp - origin) % 2**32)
                        / VIDEO_CLOCK)
            await handle(packet, arrival_time_ms)

        receiver._handle_rtp_packet = tap
        deadline = time.monotonic() + 10
        while len(ages) < 5 and time.monotonic() < deadline:
            try:
                await asyncio.wait_for(track.recv(), 10)
            except MediaStreamError:
                pytest.fail("the student's video ended")
        assert len(ages) >= 5 and all(0 <= age < 0.5 for age in ages), ages
        # The console's stroke reaches the student's page; the student's own is refused.
        frame_ticks = media_ticks()
        console_channel.send(json.dumps({"t": "seg", "s": 1, "f": frame_ticks,
                                         "p": [[0.25, 0.5]]}))
        got = await next_of(student_got, "seg")
        assert (got["p"], got["f"], got["by"]) == ([[0.25, 0.5]], frame_ticks, "console")
        student_channel.send(json.dumps({"t": "seg", "s": 1, "p": [[0.5, 0.5]]}))
        assert "may not draw" in (await next_of(student_got, "refused"))["why"]
        # Leaving the session leaves the drawing.
        await sessions.leave(viewer.id, "test")
        assert [m.subject for m in overlay.members(broadcast.room_id)] == ["console"]
    finally:
        for pc in pcs:
            await pc.close()
        await sessions.stop()
        await broadcast.go_off_air()
        await outputs.stop_all()

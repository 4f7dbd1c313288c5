"""What the API shows of a room: its state, its composition and its camera heads.

Built from the live objects on request; shared by the REST routes and the console's websocket
(``web.routes.events``), so both always describe a room the same way.
"""

from __future__ import annotations

import time

from recorder.storage import StorageStatus
from room_controller.composition import TitleLine
from room_controller.room import Room
from web.live import LiveRooms
from web.schemas import (
    CompositionOut,
    EncoderOut,
    LayoutBody,
    MaskBody,
    PtzHealthOut,
    RoomOut,
    SourceHealthOut,
    SourceOut,
    StorageOut,
    TitleBody,
    ViewerOut,
)


def room_out(
    live: LiveRooms, room: Room, full: bool, storage: StorageStatus | None = None
) -> RoomOut:
    viewers = live.streaming.viewers.in_room(room.id)
    output = live.sessions.get(room.id)
    encoder = None
    if output is not None and full:
        stats = output.on_air.program.encoder.stats()
        elapsed = max(1e-3, time.monotonic() - output.started_monotonic)
        encoder = EncoderOut(
            frames_encoded=stats.frames_encoded, keyframes=stats.keyframes,
            forced_keyframes=stats.forced_keyframes,
            bitrate_kbps=round(stats.bytes_out * 8 / 1000 / elapsed, 1),
            encode_ms_avg=round(stats.encode_ms_avg, 2),
        )
    return RoomOut(
        id=room.id,
        name=room.name,
        state=room.state.value,
        live_since=room.live_since,
        session_title=output.title if output is not None else None,
        program_source=room.program_source,
        sources=[
            SourceOut(
                id=s.id, label=s.label, kind=s.kind,
                health=SourceHealthOut(
                    state=s.health.state.value, fps=round(s.health.fps, 1),
                    width=s.health.width, height=s.health.height,
                    last_frame_age=None if s.health.last_frame_age is None
                    else round(s.health.last_frame_age, 2),
                    error=s.health.error, note=s.health.note,
                ),
            )
            for s in room.source_views()
        ],
        viewer_count=len(viewers),
        viewers=[
            ViewerOut(id=v.id, subject=v.subject, role=v.role, joined_at=v.joined_at,
                      connection_state=v.connection_state)
            for v in viewers
        ] if full else None,
        encoder=encoder,
        storage=StorageOut(free_bytes=storage.free_bytes, level=storage.level.value,
                           message=storage.message) if storage is not None and full else None,
    )


def composition_out(room: Room) -> CompositionOut:
    layout, overlays = room.layout, room.overlays
    title = overlays.title or TitleLine()
    return CompositionOut(
        layout=LayoutBody(kind=layout.kind.value, sources=list(layout.sources),
                          pip_corner=layout.pip_corner.value, pip_size=layout.pip_size),
        masks=[MaskBody(source=m.source or "", x=m.x, y=m.y, w=m.w, h=m.h)
               for m in overlays.masks],
        title=TitleBody(procedure=title.procedure, presenter=title.presenter,
                        institution=title.institution, clock=overlays.clock),
    )


def heads_out(live: LiveRooms, room_id: str) -> list[PtzHealthOut]:
    specs = {d.id: d for d in live.room(room_id).spec.devices}
    controller = live.ptz.get(room_id)
    return [
        PtzHealthOut(id=h.id, label=specs[h.id].label, address=h.address, reachable=h.reachable,
                     last_error=h.last_error, camera_source=specs[h.id].camera_source,
                     last_answer_age=None if h.last_answer_age is None
                     else round(h.last_answer_age, 1))
        for h in (controller.health() if controller is not None else [])
    ]

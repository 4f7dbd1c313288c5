"""Who is watching and how well: ``GET /api/rooms/{room}/viewers`` for the instructor's console."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from library.classrooms import SCREEN_ROLE, screen_labels
from streaming.turn import selected_pair
from streaming.whep import Viewer
from web.auth import Controller
from web.classroom_kit import SCREEN_SUBJECT_PREFIX
from web.deps import DbDep, LiveDep
from web.schemas import ViewerLinkOut

router = APIRouter(prefix="/api/rooms", tags=["viewers"])


def viewer_link_out(viewer: Viewer, classroom: str | None = None) -> ViewerLinkOut:
    stats = viewer.stats
    pair = selected_pair(viewer.pc)
    return ViewerLinkOut(
        id=viewer.id, subject=viewer.subject, role=viewer.role, joined_at=viewer.joined_at,
        classroom=classroom,
        connection_state=viewer.connection_state, rendition=viewer.rendition,
        codec=viewer.codec,
        path=None if pair is None else ("relay" if pair.relayed else pair.local_type),
        rtt_ms=stats.rtt_ms if stats else None,
        fps=stats.fps if stats else 0.0,
        bitrate_kbps=stats.bitrate_kbps if stats else 0.0,
        fraction_lost=stats.fraction_lost if stats else 0.0,
        packets_lost=stats.packets_lost if stats else 0,
        nacks=stats.nacks if stats else 0,
        keyframe_requests=stats.keyframe_requests if stats else 0,
        remb_kbps=stats.remb_kbps if stats else None,
    )


@router.get(
    "/{room_id}/viewers", response_model=list[ViewerLinkOut],
    summary="Each viewer's round-trip time, frame rate, loss, NACKs, bitrate and quality",
)
async def list_viewers(live: LiveDep, db: DbDep, room_id: str,
                       principal: Controller) -> list[ViewerLinkOut]:
    """Figures are sampled once a second on the server; polling faster shows the same ones.
    A classroom's screen is listed with its classroom's name (``classroom``)."""
    viewers = sorted(live.streaming.viewers.in_room(room_id), key=lambda v: v.joined_at)
    screens = {v.id: int(v.subject.removeprefix(SCREEN_SUBJECT_PREFIX)) for v in viewers
               if v.role == SCREEN_ROLE and v.subject.startswith(SCREEN_SUBJECT_PREFIX)}
    labels = await asyncio.to_thread(screen_labels, db, sorted(set(screens.values())))
    return [viewer_link_out(v, labels.get(screens[v.id]) if v.id in screens else None)
            for v in viewers]

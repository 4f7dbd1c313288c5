"""Who is watching and how well: ``GET /api/rooms/{room}/viewers`` for the instructor's console."""

from __future__ import annotations

from fastapi import APIRouter

from streaming.turn import selected_pair
from streaming.whep import Viewer
from web.auth import Controller
from web.deps import LiveDep
from web.schemas import ViewerLinkOut

router = APIRouter(prefix="/api/rooms", tags=["viewers"])


def viewer_link_out(viewer: Viewer) -> ViewerLinkOut:
    stats = viewer.stats
    pair = selected_pair(viewer.pc)
    return ViewerLinkOut(
        id=viewer.id, subject=viewer.subject, role=viewer.role, joined_at=viewer.joined_at,
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
async def list_viewers(live: LiveDep, room_id: str, principal: Controller) -> list[ViewerLinkOut]:
    """Figures are sampled once a second on the server; polling faster shows the same ones."""
    viewers = sorted(live.streaming.viewers.in_room(room_id), key=lambda v: v.joined_at)
    return [viewer_link_out(v) for v in viewers]

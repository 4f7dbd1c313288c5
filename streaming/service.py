"""The live path of the server: every room's broadcast, its viewers and its publishers.

``web/`` asks one thing of each: put a room on air or take it off, join a viewer, let an
encoder publish into a WHIP source. Everything after that (which outputs run, which viewer holds
which, join limits, renditions, releasing what a viewer held when it goes) happens here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from config.settings import Settings
from room_controller.room import Room
from room_controller.sources import WhipSource
from streaming.broadcast import OnAir, RoomBroadcast
from streaming.limits import JoinLimiter
from streaming.outputs import OutputKey, Outputs
from streaming.overlay import Overlay
from streaming.talkback import EndCallback, Talkback
from streaming.turn import rtc_ice_servers
from streaming.whep import LeaveCallback, Viewer, ViewerSessions
from streaming.whip import Publisher, WhipIngest

logger = logging.getLogger(__name__)


class Streaming:
    """Owns the outputs, the broadcasts of the server's rooms, the viewers and the publishers."""

    def __init__(
        self, rooms: Mapping[str, Room], settings: Settings, on_leave: LeaveCallback | None = None,
        on_talkback_end: EndCallback | None = None,
    ) -> None:
        ice_servers = rtc_ice_servers(settings.ice_servers)
        self.outputs = Outputs()
        self.broadcasts = {
            room_id: RoomBroadcast.of_room(room, self.outputs, settings.keyframe_min_interval)
            for room_id, room in rooms.items()
        }
        #: Live drawing over each room's program, on every viewer that opens its channel.
        self.overlay = Overlay()
        self.viewers = ViewerSessions(
            on_leave=on_leave, ice_servers=ice_servers,
            connect_timeout=settings.whep_connect_timeout_seconds, overlay=self.overlay,
        )
        self.join_limits = JoinLimiter(
            settings.whep_joins_per_minute, settings.whep_sessions_per_user
        )
        self.whip = WhipIngest(ice_servers=ice_servers)
        # Accepted students speaking to the room (``streaming.talkback``): grant and revoke.
        self.talkback = Talkback(
            self.broadcasts, self.viewers, ice_servers=ice_servers, on_end=on_talkback_end)

    def start(self) -> None:
        self.viewers.start()

    async def stop(self) -> None:
        await self.talkback.close_all("server stopping")
        await self.viewers.stop()
        await self.whip.close_all("server stopping")
        for broadcast in self.broadcasts.values():
            await broadcast.go_off_air()
        await self.outputs.stop_all()

    def running_outputs(self) -> list[OutputKey]:
        return self.outputs.running()

    # -- on air -------------------------------------------------------------------------------
    async def go_on_air(self, room_id: str) -> OnAir:
        """Start the room's program and sound; on failure nothing is left running."""
        return await self.broadcasts[room_id].go_on_air()

    async def go_off_air(self, room_id: str, reason: str) -> None:
        """Close the room's talkbacks and viewers (with ``reason``) and stop what only the live
        session held."""
        await self.talkback.close_room(room_id, reason=reason)
        await self.viewers.close_room(room_id, reason=reason)
        self.overlay.clear_room(room_id)
        await self.broadcasts[room_id].go_off_air()

    # -- viewers ------------------------------------------------------------------------------
    async def join(
        self, room_id: str, offer_sdp: str, subject: str, role: str, user_id: int | None,
        views: Sequence[str] | None = None, quality: str | None = None,
        sound: str | None = None, leads: bool = False,
    ) -> tuple[Viewer, str]:
        """Join a viewer to a room on air. ``views``: what the offer's video lines carry, in
        order (default: the program, then every source); ``quality``: pin the first line to
        that rendition (default: adaptive from the top); ``sound``: "talkback" for the talkback
        voices alone (the console), default the program sound; ``leads``: the session may draw
        over the program (a controlling role for this room).

        Raises ``NotOnAir``, ``UnknownSourceError`` / ``LookupError`` (bad view or quality
        name), ``JoinRefused`` (limits) or ``OfferError``.
        """
        broadcast = self.broadcasts[room_id]
        broadcast.require_on_air()
        selection = broadcast.choose(views, quality, sound)
        # Counted before the offer is even read: garbage offers cost a join too.
        key = _limit_key(user_id, subject)
        holding = sum(1 for v in self.viewers.all() if _limit_key(v.user_id, v.subject) == key)
        self.join_limits.admit(key, holding)
        viewer, answer = await self.viewers.join(
            feed=broadcast, offer_sdp=offer_sdp, selection=selection, subject=subject,
            role=role, user_id=user_id, leads=leads,
        )
        self.talkback.viewer_joined(viewer)  # a speaker's new session plays the mix-minus
        return viewer, answer

    # -- publishers ---------------------------------------------------------------------------
    async def publish(
        self, room_id: str, source: WhipSource, offer_sdp: str, subject: str
    ) -> tuple[Publisher, str]:
        """An encoder publishes into a WHIP source of a room (see ``streaming.whip``)."""
        return await self.whip.publish(
            room_id=room_id, source=source, offer_sdp=offer_sdp, subject=subject
        )


def _limit_key(user_id: int | None, subject: str) -> str:
    """Whose joins count together: an account, or a script token's subject."""
    return f"user:{user_id}" if user_id is not None else f"subject:{subject}"

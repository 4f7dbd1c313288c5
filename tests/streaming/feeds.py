"""Room broadcasts for streaming tests, made from plain frame functions (no room controller)."""

from __future__ import annotations

from aiortc import RTCPeerConnection

from streaming.broadcast import Picture, RoomBroadcast, Sound, View
from streaming.encoder import FrameSupplier
from streaming.outputs import Outputs
from tests.peers import client_pc


def broadcast_of(
    views: dict[str, tuple[FrameSupplier, int, int]], *, fps: int = 30,
    gop_seconds: float = 1.0, bitrate_kbps: int = 2000, sound: Sound | None = None,
    room_id: str = "demo",
) -> tuple[RoomBroadcast, Outputs]:
    """A broadcast whose views are ``name: (frames, width, height)``, the program first."""
    outputs = Outputs()
    broadcast = RoomBroadcast(
        room_id, {name: View(*view) for name, view in views.items()},
        Picture(fps=fps, gop_seconds=gop_seconds, bitrate_kbps=bitrate_kbps,
                keyframe_min_interval=0.5),
        outputs, sound,
    )
    return broadcast, outputs


def client() -> RTCPeerConnection:
    """A receiving peer with no STUN/TURN server: only loopback candidates."""
    return client_pc()

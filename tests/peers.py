"""Peer connections for the tests and benchmarks: always with an explicit configuration.

aiortc's default configuration names a public STUN server (stun.l.google.com): a peer
connection built with it tries to resolve and reach an address outside this machine. Tests send
traffic only to loopback, so every client peer connection comes from here, and the suite fails
when one is built with the default (``forbid_default_configuration`` in tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

DEFAULT_CONFIGURATION_REFUSED = (
    "RTCPeerConnection() without a configuration names a public STUN server: use "
    "tests.peers.client_pc() (or pass RTCConfiguration(iceServers=[...]) explicitly)"
)


def client_pc(ice_servers: Sequence[RTCIceServer] = ()) -> RTCPeerConnection:
    """A client peer connection using only ``ice_servers`` (none: host candidates only)."""
    return RTCPeerConnection(RTCConfiguration(iceServers=list(ice_servers)))

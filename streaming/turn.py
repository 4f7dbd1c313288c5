"""STUN/TURN for viewers behind NAT: the deployment's ICE servers, and which path a viewer took.

A hospital's classroom link or a student's phone is often behind a NAT or a firewall that lets
only a TURN relay through. The deployment names its servers in ``MEDROOM_ICE_SERVERS``
(``config.settings.IceServer``); ``rtc_ice_servers`` turns them into aiortc's
``RTCIceServer`` for ``ViewerSessions(ice_servers=...)`` and any client MedRoom itself runs;
``link_headers`` into the WHEP answer's ``Link: <turn:...>; rel="ice-server"`` headers and
``browser_ice_servers`` into what MedRoom's own player (whep.js) gives its peer connection, so a
browser behind a NAT relays through the same TURN server.

aiortc (through aioice) uses the first STUN and the first TURN URL it can (UDP or TCP TURN,
TLS TURN over TCP); later ones are ignored. It exposes no candidate-pair statistics, so
``selected_pair`` reads the nominated pair from the ICE connection (aioice's ``_nominated``),
which is what the console shows as a viewer's path (host, srflx or relay).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from aiortc import RTCIceServer, RTCPeerConnection


class IceServerLike(Protocol):
    urls: list[str]
    username: str | None
    credential: str | None


def link_headers(servers: Iterable[IceServerLike]) -> list[str]:
    """WHEP/WHIP ``Link`` header values (RFC 9725 section 4.6) telling the client the servers.

    One value per URL: ``<turn:host:3478>; rel="ice-server"; username="u"; credential="p";
    credential-type="password"`` (the credential parameters only for TURN with credentials).
    """
    values = []
    for server in servers:
        for url in server.urls:
            value = f'<{url}>; rel="ice-server"'
            if url.startswith(("turn:", "turns:")) and server.username and server.credential:
                value += (
                    f'; username="{_quoted(server.username)}"'
                    f'; credential="{_quoted(server.credential)}"; credential-type="password"'
                )
            values.append(value)
    return values


def _quoted(text: str) -> str:
    """An HTTP quoted-string's content (RFC 9110 5.6.4)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def browser_ice_servers(servers: Iterable[IceServerLike]) -> list[dict[str, object]]:
    """The servers as a browser's ``RTCPeerConnection({iceServers})`` takes them."""
    result: list[dict[str, object]] = []
    for server in servers:
        entry: dict[str, object] = {"urls": list(server.urls)}
        if server.username and server.credential:
            entry.update(username=server.username, credential=server.credential)
        result.append(entry)
    return result


def rtc_ice_servers(servers: Iterable[IceServerLike]) -> list[RTCIceServer]:
    """aiortc's ``RTCIceServer`` list for the configured STUN/TURN servers."""
    return [
        RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
        for s in servers
    ]


@dataclass(frozen=True)
class SelectedPair:
    """The candidate pair ICE nominated: which way the media actually flows."""

    local_type: str  # host, srflx, prflx or relay
    local_address: tuple[str, int]
    remote_type: str
    remote_address: tuple[str, int]
    transport: str  # udp or tcp

    @property
    def relayed(self) -> bool:
        return "relay" in (self.local_type, self.remote_type)


def _ice_connection(pc: RTCPeerConnection) -> Any:
    for transceiver in pc.getTransceivers():
        dtls = transceiver.receiver.transport or transceiver.sender.transport
        if dtls is not None:
            return dtls.transport._connection
    for sctp in [pc.sctp] if pc.sctp is not None else []:
        return sctp.transport.transport._connection
    return None


def selected_pair(pc: RTCPeerConnection) -> SelectedPair | None:
    """The nominated candidate pair of ``pc``'s (bundled) ICE transport; None before it."""
    connection = _ice_connection(pc)
    if connection is None:
        return None
    nominated = getattr(connection, "_nominated", {})
    pair = nominated.get(1)  # RTP component; MedRoom always bundles and muxes RTCP
    if pair is None:
        return None
    local = pair.local_candidate
    remote = pair.remote_candidate
    return SelectedPair(
        local_type=str(local.type),
        local_address=(str(local.host), int(local.port)),
        remote_type=str(remote.type),
        remote_address=(str(remote.host), int(remote.port)),
        transport=str(local.transport).lower(),
    )

"""Trickle ICE for WHEP and WHIP sessions (RFC 9725 section 4.3, SDP fragments of RFC 8840).

A client that posts its offer before its ICE candidates are gathered (``whip-whep``,
``@eyevinn/whip-web-client``, MediaMTX's reader.js) sends them afterwards by ``PATCH`` on the
session URL, as an ``application/trickle-ice-sdpfrag`` body::

    a=ice-ufrag:EsAw
    a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1
    m=audio 9 RTP/AVP 0
    a=mid:0
    a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0
    a=end-of-candidates

``add_trickled`` hands each candidate to the session's peer connection (aiortc's
``addIceCandidate``; aioice keeps checking until end-of-candidates, so an offer without any
candidate is fine). A fragment whose ice-ufrag/ice-pwd differ from the offer's asks for an ICE
restart, which MedRoom does not do: ``IceRestartRefused`` (HTTP 422, as the RFC says for a
session that trickles but does not restart); the client ends the session and posts a new offer.

``session_etag`` is the ETag that names the session's ICE session (the answer and each PATCH
carry it; a PATCH whose If-Match names another one is stale).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection
from aiortc.sdp import candidate_from_sdp

TRICKLE_MEDIA_TYPE = "application/trickle-ice-sdpfrag"


class TrickleError(ValueError):
    """The fragment cannot be used; the message says why (HTTP 400)."""


class IceRestartRefused(TrickleError):
    """The fragment asks for an ICE restart (HTTP 422)."""

    def __init__(self) -> None:
        super().__init__(
            "ICE restart is not supported: DELETE this session and POST a new offer"
        )


class StaleSession(TrickleError):
    """If-Match names an ICE session that is not this one (HTTP 412)."""

    def __init__(self, etag: str) -> None:
        super().__init__(
            f"If-Match {etag} is not this session's ICE session: use the ETag of the answer"
        )


@dataclass
class Fragment:
    """What a trickle-ice-sdpfrag body says."""

    ufrag: str | None = None
    pwd: str | None = None
    #: (mid or None when the fragment names no media line, the candidate line's value)
    candidates: list[tuple[str | None, str]] = field(default_factory=list)
    end_of_candidates: bool = False


def parse_fragment(text: str) -> Fragment:
    """Read an SDP fragment (RFC 8840); lines it does not need are skipped."""
    fragment = Fragment()
    mid: str | None = None
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if line.startswith("m="):
            mid = None
        elif line.startswith("a=mid:"):
            mid = line[len("a=mid:"):].strip()
        elif line.startswith("a=ice-ufrag:"):
            fragment.ufrag = line[len("a=ice-ufrag:"):].strip()
        elif line.startswith("a=ice-pwd:"):
            fragment.pwd = line[len("a=ice-pwd:"):].strip()
        elif line.startswith("a=candidate:"):
            fragment.candidates.append((mid, line[len("a=candidate:"):].strip()))
        elif line == "a=end-of-candidates":
            fragment.end_of_candidates = True
    return fragment


def _attribute(sdp: str, name: str) -> str | None:
    for line in sdp.replace("\r\n", "\n").split("\n"):
        if line.startswith(f"a={name}:"):
            return line.split(":", 1)[1].strip()
    return None


def session_etag(pc: RTCPeerConnection) -> str:
    """The ETag of the session's ICE session: both sides' ICE user fragments, hashed."""
    local = pc.localDescription.sdp if pc.localDescription else ""
    remote = pc.remoteDescription.sdp if pc.remoteDescription else ""
    both = f"{_attribute(local, 'ice-ufrag')}:{_attribute(remote, 'ice-ufrag')}"
    return '"' + hashlib.sha256(both.encode()).hexdigest()[:24] + '"'


def _transport_mid(remote_sdp: str, mid: str | None) -> str | None:
    """The mid whose ICE transport carries ``mid``: the first of its BUNDLE group (aiortc
    ignores candidates given for a bundled line), or the first media line when none named."""
    groups = [
        line.split()[1:] for line in remote_sdp.replace("\r\n", "\n").split("\n")
        if line.startswith("a=group:BUNDLE")
    ]
    for group in groups:
        if group and (mid is None or mid in group):
            return group[0]
    if mid is None:
        return _attribute(remote_sdp, "mid")
    return mid


async def add_trickled(pc: RTCPeerConnection, body: str, if_match: str | None) -> None:
    """Add the fragment's candidates to ``pc``.

    Raises ``IceRestartRefused`` for an ICE restart (new credentials, or ``If-Match: *``),
    ``StaleSession`` when ``if_match`` names another ICE session, ``TrickleError`` when a
    candidate line cannot be read.
    """
    fragment = parse_fragment(body)
    remote = pc.remoteDescription.sdp if pc.remoteDescription else ""
    if if_match is not None and if_match.strip() == "*":
        raise IceRestartRefused()
    if (fragment.ufrag is not None and fragment.ufrag != _attribute(remote, "ice-ufrag")) or (
        fragment.pwd is not None and fragment.pwd != _attribute(remote, "ice-pwd")
    ):
        raise IceRestartRefused()
    if if_match is not None and if_match.strip() != session_etag(pc):
        raise StaleSession(if_match.strip())
    candidates = []
    for mid, value in fragment.candidates:
        try:
            candidate = candidate_from_sdp(value)
        except (AssertionError, ValueError, IndexError) as exc:
            raise TrickleError(f"unreadable candidate 'a=candidate:{value[:80]}' ({exc!r})") \
                from None
        if candidate.component == 0:
            # Components count from 1 (RFC 8445 section 5.1.1.1); @eyevinn/whip-web-client
            # 1.1.7 writes its RTP candidates as component 0, which would pair with nothing.
            candidate.component = 1
        candidate.sdpMid = _transport_mid(remote, mid)
        candidates.append(candidate)
    for candidate in candidates:
        await pc.addIceCandidate(candidate)
    if fragment.end_of_candidates:
        await pc.addIceCandidate(None)

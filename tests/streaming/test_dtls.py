"""DTLS with a peer whose certificate is RSA, as GStreamer's webrtcbin has (issue 14).

The RSA peer builds its own OpenSSL context the way GStreamer 1.22 does (``gstdtlsagent.c``:
an RSA-2048 certificate, OpenSSL's broad cipher list), independent of MedRoom's adjustment, so
these tests fail with "no shared cipher" whenever MedRoom offers ECDSA suites only.
"""

from __future__ import annotations

import asyncio
import datetime

import numpy as np
import pytest
from aiortc import RTCSessionDescription
from aiortc.rtcdtlstransport import (
    SRTP_AES128_CM_SHA1_80,
    RTCCertificate,
    RTCDtlsTransport,
    SRTPProtectionProfile,
)
from aiortc.rtcicetransport import RTCIceGatherer, RTCIceTransport
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from OpenSSL import SSL

from streaming import dtls
from streaming.dtls import accept_rsa_peers
from streaming.whep import ViewerSessions
from tests.streaming.feeds import broadcast_of, client

# What GStreamer 1.22's DTLS agent sets (gst-plugins-bad ext/dtls/gstdtlsagent.c).
GSTREAMER_CIPHERS = b"ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH"


class GStreamerLikeCertificate(RTCCertificate):
    """An RSA certificate with GStreamer's own SSL context (not aiortc's, not MedRoom's)."""

    def __init__(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "webrtcbin")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256())
        )
        super().__init__(key=key, cert=cert)  # type: ignore[arg-type]

    def _create_ssl_context(self, srtp_profiles: list[SRTPProtectionProfile]) -> SSL.Context:
        ctx = SSL.Context(SSL.DTLS_METHOD)
        ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, lambda *args: True)
        ctx.use_certificate(self._cert)
        ctx.use_privatekey(self._key)
        ctx.set_cipher_list(GSTREAMER_CIPHERS)
        ctx.set_tlsext_use_srtp(b":".join(p.openssl_profile for p in srtp_profiles))
        return ctx


async def handshake(medroom_role: str) -> tuple[RTCDtlsTransport, RTCDtlsTransport]:
    """MedRoom's DTLS transport and the RSA peer's, over real ICE on loopback."""
    gatherers = [RTCIceGatherer(iceServers=[]), RTCIceGatherer(iceServers=[])]
    gatherers[0]._connection.ice_controlling = True
    ices = [RTCIceTransport(g) for g in gatherers]
    await asyncio.gather(*(g.gather() for g in gatherers))
    for ice, other in ((ices[0], gatherers[1]), (ices[1], gatherers[0])):
        for candidate in other.getLocalCandidates():
            await ice.addRemoteCandidate(candidate)
        await ice.addRemoteCandidate(None)
    await asyncio.gather(*(ice.start(other.getLocalParameters())
                           for ice, other in zip(ices, reversed(gatherers), strict=True)))
    medroom = RTCDtlsTransport(ices[0], [RTCCertificate.generateCertificate()])
    peer = RTCDtlsTransport(ices[1], [GStreamerLikeCertificate()])
    medroom._set_role(medroom_role)
    peer._set_role("server" if medroom_role == "client" else "client")
    await asyncio.wait_for(asyncio.gather(
        medroom.start(peer.getLocalParameters()), peer.start(medroom.getLocalParameters())
    ), 10)
    return medroom, peer


async def close(*transports: RTCDtlsTransport) -> None:
    for t in transports:
        await t.stop()
        await t.transport.stop()


@pytest.mark.parametrize(("medroom_role", "suite"), [
    # WHIP/WHEP: the client offers actpass, MedRoom answers active, so MedRoom is the DTLS
    # client and GStreamer the server that must find a suite its RSA key can sign.
    ("client", "ECDHE-RSA-"),
    ("server", "ECDHE-ECDSA-"),  # MedRoom's own certificate signs
])
async def test_rsa_peer_completes_the_handshake(
    loopback_only: None, medroom_role: str, suite: str
) -> None:
    accept_rsa_peers()
    medroom, peer = await handshake(medroom_role)
    try:
        assert (medroom.state, peer.state) == ("connected", "connected")
        assert medroom._ssl is not None and peer._ssl is not None
        assert (medroom._ssl.get_cipher_name() or "").startswith(suite)
        assert peer._ssl.get_peer_certificate() is not None
    finally:
        await close(medroom, peer)


async def test_browser_like_peers_still_settle_on_ecdsa() -> None:
    accept_rsa_peers()
    ctx = RTCCertificate.generateCertificate()._create_ssl_context([SRTP_AES128_CM_SHA1_80])
    offered = [s for s in SSL.Connection(ctx).get_cipher_list() if not s.startswith("TLS_")]
    assert offered[0] == "ECDHE-ECDSA-AES128-GCM-SHA256"  # RFC 8827's mandatory suite first
    assert "ECDHE-RSA-AES128-GCM-SHA256" in offered
    assert not [s for s in offered if s.startswith(("AES", "RSA", "DHE-"))]  # ECDHE only


async def test_whep_viewer_with_rsa_certificate_decodes(
    loopback_only: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real viewer path: ViewerSessions applies the adjustment by itself."""
    # aiortc as shipped, whatever earlier tests in this process applied.
    monkeypatch.setattr(RTCCertificate, "_create_ssl_context", dtls._aiortc_context)
    broadcast, outputs = broadcast_of(
        {"program": (lambda: np.full((360, 640, 3), 90, np.uint8), 640, 360)}
    )
    await broadcast.go_on_air()
    sessions = ViewerSessions()
    pc = client()
    pc._RTCPeerConnection__certificates = [GStreamerLikeCertificate()]  # type: ignore[attr-defined]
    track: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    pc.on("track", lambda t: None if track.done() else track.set_result(t))
    try:
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        _viewer, answer = await sessions.join(
            feed=broadcast, offer_sdp=pc.localDescription.sdp,
            selection=broadcast.choose(None, None), subject="rsa", role="student", user_id=None,
        )
        assert "a=setup:active" in answer  # MedRoom is the DTLS client
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        received = await asyncio.wait_for(track, 10)
        frame = await asyncio.wait_for(received.recv(), 10)  # type: ignore[attr-defined]
        assert (frame.width, frame.height) == (640, 360)
    finally:
        await pc.close()
        await sessions.close_all("test over")
        await outputs.stop_all()

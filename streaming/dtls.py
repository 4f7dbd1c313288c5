"""DTLS cipher suites that let peers with RSA certificates connect.

aiortc 1.16 offers only ECDHE-ECDSA suites in its DTLS handshake. That is enough between
browsers, which all use ECDSA certificates, but GStreamer's ``webrtcbin`` (Debian's 1.22, and
the hardware encoders built on it) has an RSA certificate: when MedRoom answers its offer,
MedRoom is the DTLS client (``a=setup:active``), GStreamer is the server and must pick a suite
its RSA key can sign, finds none and aborts with "no shared cipher". Upstream: aiortc issue
1434 and pull requests 1392 and 1421 (open, not merged as of aiortc 1.16).

``accept_rsa_peers`` wraps aiortc's ``RTCCertificate._create_ssl_context`` (the one place the
suite list is set, once per DTLS transport) and appends ECDHE-RSA suites after aiortc's own.
aiortc's list is read back from the context, not copied, so a later aiortc that changes it
keeps its change. ECDSA stays first, so browsers still settle on ECDSA; our own certificate
stays ECDSA; forward secrecy stays (ECDHE only, no static-RSA key exchange). Two suites only:
a longer ClientHello gets fragmented, which some embedded DTLS stacks reject (aiortc PR 1011).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aiortc.rtcdtlstransport import (
    SRTP_AES128_CM_SHA1_80,
    RTCCertificate,
    SRTPProtectionProfile,
)
from OpenSSL import SSL

RSA_SUITES = ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384")

_aiortc_context: Callable[[Any, list[SRTPProtectionProfile]], SSL.Context] = (
    RTCCertificate._create_ssl_context
)


@functools.cache
def _suites_with_rsa() -> bytes:
    """aiortc's DTLS 1.2 suites followed by the RSA ones, read once from a context aiortc
    builds (pyOpenSSL freezes a context once a connection reads it, so a throwaway one).
    OpenSSL also lists TLS 1.3 suites there, which DTLS never uses and which are set apart."""
    probe = _aiortc_context(RTCCertificate.generateCertificate(), [SRTP_AES128_CM_SHA1_80])
    suites = [s for s in SSL.Connection(probe).get_cipher_list() if not s.startswith("TLS_")]
    return ":".join(suites + [s for s in RSA_SUITES if s not in suites]).encode("ascii")


def _context_with_rsa_suites(
    self: RTCCertificate, srtp_profiles: list[SRTPProtectionProfile]
) -> SSL.Context:
    ctx = _aiortc_context(self, srtp_profiles)
    ctx.set_cipher_list(_suites_with_rsa())
    return ctx


def accept_rsa_peers() -> None:
    """Offer ECDHE-RSA suites beside aiortc's ECDSA ones in every DTLS handshake of this
    process. Process-wide, idempotent; applies to transports started afterwards."""
    RTCCertificate._create_ssl_context = _context_with_rsa_suites  # type: ignore[method-assign]

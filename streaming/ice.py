"""Which local addresses ICE offers, and a guard on what ICE hands to DTLS.

A room PC often has a hospital interface and an internet interface, and tests must keep media
on loopback; aioice offers every non-loopback interface and never 127.0.0.1. MedRoom therefore
chooses the host addresses itself when ``MEDROOM_ICE_ADDRESSES`` is set. aioice looks the
function up in its module at gathering time, so replacing it there is the one hook it has.

``guard_empty_datagrams``: aioice passes every non-STUN datagram that reaches a viewer's port,
from anybody, to aiortc's DTLS transport, which reads its first byte; an empty UDP datagram
raises there and closes the viewer's connection (found by the garbage test in
``tests/web/test_whep_abuse.py``: one empty packet from any host ended a student's video). The
guard drops empty datagrams where aioice queues received data, for host and relayed paths alike.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import aioice.ice
from aioice.ice import Connection

_aioice_default: Callable[[bool, bool], list[str]] = aioice.ice.get_host_addresses


class IceAddressError(ValueError):
    pass


def set_ice_addresses(addresses: list[str]) -> None:
    """Offer exactly these local addresses (empty: aioice's own choice). Process-wide."""
    checked: list[str] = []
    for address in addresses:
        try:
            checked.append(str(ipaddress.ip_address(address)))
        except ValueError:
            raise IceAddressError(
                f"MEDROOM_ICE_ADDRESSES: '{address}' is not an IP address "
                "(give addresses of this machine's interfaces, e.g. 127.0.0.1)"
            ) from None
    if not checked:
        aioice.ice.get_host_addresses = _aioice_default  # type: ignore[assignment]
        return

    def chosen(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [
            a for a in checked
            if (use_ipv4 and ipaddress.ip_address(a).version == 4)
            or (use_ipv6 and ipaddress.ip_address(a).version == 6)
        ]

    aioice.ice.get_host_addresses = chosen


_queue_received: Callable[[Connection, bytes, int], None] = Connection.data_received


def _data_received_unless_empty(self: Connection, data: bytes, component: int) -> None:
    if data:
        _queue_received(self, data, component)


def guard_empty_datagrams() -> None:
    """Drop empty datagrams before they reach DTLS. Process-wide, idempotent."""
    Connection.data_received = _data_received_unless_empty  # type: ignore[method-assign]

"""Which local addresses ICE offers.

A room PC often has a hospital interface and an internet interface, and tests must keep media
on loopback; aioice offers every non-loopback interface and never 127.0.0.1. MedRoom therefore
chooses the host addresses itself when ``MEDROOM_ICE_ADDRESSES`` is set. aioice looks the
function up in its module at gathering time, so replacing it there is the one hook it has.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import aioice.ice

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

"""Streaming tests keep ICE on loopback (aioice never offers 127.0.0.1 by itself)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streaming.ice import set_ice_addresses


@pytest.fixture
def loopback_only() -> Iterator[None]:
    set_ice_addresses(["127.0.0.1"])
    yield
    set_ice_addresses([])

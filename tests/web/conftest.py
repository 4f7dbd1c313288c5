from __future__ import annotations

from collections.abc import Iterator

import pytest

from streaming.ice import set_ice_addresses


@pytest.fixture(autouse=True)
def loopback_ice() -> Iterator[None]:
    """The test's own aiortc clients offer only 127.0.0.1, as the server does."""
    set_ice_addresses(["127.0.0.1"])
    yield
    set_ice_addresses([])

"""The suite refuses a peer connection built with aiortc's default configuration."""

from __future__ import annotations

import pytest
from aiortc import RTCPeerConnection

from tests.peers import client_pc


async def test_default_configuration_fails_the_test_and_the_helper_passes() -> None:
    with pytest.raises(AssertionError, match="public STUN server"):
        RTCPeerConnection()  # what a test that forgets client_pc() does
    pc = client_pc()
    try:
        assert pc.connectionState == "new"  # built, with no server to reach
    finally:
        await pc.close()

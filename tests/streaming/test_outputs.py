"""Outputs are encoded once and live exactly as long as a lease holds them."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from room_controller.room import UnknownSourceError
from streaming.broadcast import NotOnAir
from streaming.encoder import EncoderSettings, SharedEncoder
from streaming.outputs import OutputKey, Outputs
from streaming.whep import OfferError, ViewerSessions
from tests.streaming.feeds import broadcast_of
from tests.streaming.test_whep_sessions import offer_from_client

pytestmark = pytest.mark.usefixtures("loopback_only")


def grey() -> np.ndarray:
    return np.full((240, 320, 3), 128, np.uint8)


def build() -> SharedEncoder:
    return SharedEncoder(grey, EncoderSettings(width=320, height=240))


async def test_one_encoder_per_output_shared_by_its_holders_and_stopped_by_the_last() -> None:
    outputs = Outputs()
    key = OutputKey("demo", "program")
    live = await outputs.lease(key, SharedEncoder, build)
    recording = await outputs.lease(key, SharedEncoder, build)
    assert live.encoder is recording.encoder and live.encoder.running
    assert outputs.holders(key) == 2 and str(key) == "demo/program"
    await live.release()
    assert recording.encoder.running  # the recording still needs it
    await live.release()  # releasing twice does not take the recording's hold
    assert recording.encoder.running and outputs.holders(key) == 1
    await recording.release()
    assert not recording.encoder.running and outputs.running() == []
    again = await outputs.lease(key, SharedEncoder, build)
    assert again.encoder is not live.encoder and again.encoder.running
    await outputs.stop_all()
    assert not again.encoder.running
    await again.release()  # after stop_all: harmless


async def test_a_viewer_holds_what_it_receives_and_leaving_releases_it() -> None:
    broadcast, outputs = broadcast_of(
        {"program": (grey, 320, 240), "ct": (grey, 320, 240)}, fps=15
    )
    sessions = ViewerSessions()
    with pytest.raises(NotOnAir, match="not live yet"):
        broadcast.require_on_air()
    await broadcast.go_on_air()
    program = OutputKey("demo", "program")
    try:
        client, offer = await offer_from_client()
        viewer, _ = await sessions.join(
            feed=broadcast, offer_sdp=offer, selection=broadcast.choose(["ct"], "240p"),
            subject="s", role="student", user_id=None,
        )
        assert viewer.views == ["ct"] and viewer.rendition == "240p" and viewer.pinned
        assert OutputKey("demo", "ct") in outputs.running()
        # Going off air stops nothing the viewer still holds.
        await broadcast.go_off_air()
        assert program not in outputs.running()
        assert OutputKey("demo", "ct") in outputs.running()
        await sessions.leave(viewer.id, "test")
        assert outputs.running() == []
        # A refused offer leases nothing.
        with pytest.raises(OfferError):
            await sessions.join(
                feed=broadcast, offer_sdp=offer.replace("H264", "XYZ").replace("VP8", "XYZ"),
                selection=broadcast.choose(None, None), subject="s", role="student",
                user_id=None,
            )
        assert outputs.running() == []
        await client.close()
    finally:
        await sessions.close_all("test over")
        await outputs.stop_all()


def test_unknown_views_and_qualities_name_the_choices() -> None:
    broadcast, _ = broadcast_of({"program": (grey, 1280, 720), "ct": (grey, 512, 512)})
    with pytest.raises(UnknownSourceError, match="views: program, ct"):
        broadcast.choose(["endoscope"], None)
    with pytest.raises(LookupError, match="qualities: 720p, 360p"):
        broadcast.choose(None, "1080p")
    assert broadcast.choose(["ct", "program"], None).start.name == "512p"


async def test_an_output_nobody_receives_rests_and_wakes_with_a_keyframe() -> None:
    encoder = build()
    encoder.start()
    try:
        await asyncio.sleep(0.5)
        assert encoder.stats().frames_encoded == 0  # on air, but nobody receives it
        packets: list[object] = []
        encoder.subscribe(packets.append)
        deadline = time.monotonic() + 5
        while not packets and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert packets and packets[0].is_keyframe  # type: ignore[attr-defined]
        assert encoder.stats().frames_encoded >= 1
    finally:
        await encoder.stop()

from __future__ import annotations

import numpy as np

from streaming.encoder import EncoderSettings
from streaming.pool import EncoderPool


def make():  # type: ignore[no-untyped-def]
    return (lambda: np.zeros((240, 320, 3), np.uint8)), EncoderSettings(width=320, height=240)


async def test_one_encoder_per_output_shared_by_its_users_and_stopped_by_the_last() -> None:
    pool = EncoderPool()
    live = await pool.acquire("demo/program", "live", make)
    recording = await pool.acquire("demo/program", "recording", make)
    assert live is recording and live.running
    await pool.release("demo/program", "live")
    assert live.running  # the recording still needs it
    await pool.release("demo/program", "recording")
    assert not live.running and pool.names() == []
    await pool.release("demo/program", "recording")  # releasing twice is harmless
    again = await pool.acquire("demo/program", "live", make)
    assert again is not live and again.running
    await pool.stop_all()
    assert not again.running

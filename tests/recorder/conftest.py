"""Real encoders for the recorder tests: small pictures (320x240, 30 fps, 1 s GOP) for speed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest

from streaming.encoder import EncoderSettings, SharedEncoder

WIDTH, HEIGHT, FPS = 320, 240, 30


def moving_bar(width: int = WIDTH, height: int = HEIGHT) -> Callable[[], np.ndarray]:
    def supply() -> np.ndarray:
        image = np.zeros((height, width, 3), np.uint8)
        x = int(time.monotonic() * 120) % (width - 20)
        image[:, x : x + 20] = (40, 200, 255)
        return image

    return supply


def noise(width: int = WIDTH, height: int = HEIGHT) -> Callable[[], np.ndarray]:
    rng = np.random.default_rng(1)
    return lambda: rng.integers(0, 255, (height, width, 3), np.uint8)


def settings(gop: float = 1.0, bitrate: int = 800) -> EncoderSettings:
    return EncoderSettings(
        width=WIDTH, height=HEIGHT, fps=FPS, bitrate_kbps=bitrate, gop_seconds=gop,
        keyframe_min_interval=0.2,
    )


EncoderFactory = Callable[..., SharedEncoder]


@pytest.fixture
async def encoders() -> AsyncIterator[EncoderFactory]:
    """Start real SharedEncoders on the running loop; all stopped at the end."""
    started: list[SharedEncoder] = []

    def make(name: str = "program", gop: float = 1.0, bitrate: int = 800,
             supply: Callable[[], np.ndarray] | None = None) -> SharedEncoder:
        encoder = SharedEncoder(supply or moving_bar(), settings(gop, bitrate), name=name)
        encoder.start()
        started.append(encoder)
        return encoder

    yield make
    for encoder in started:
        await encoder.stop()

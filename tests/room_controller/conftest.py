from __future__ import annotations

from collections.abc import Iterator

import pytest

from room_controller.sources import Source


@pytest.fixture
def started() -> Iterator[list[Source]]:
    """Sources appended here are stopped at the end of the test, even when it fails."""
    sources: list[Source] = []
    yield sources
    for source in sources:
        source.stop()

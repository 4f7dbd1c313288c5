"""Shared encoders by output, started on first use and stopped when the last user lets go.

A room's program is needed by its live viewers and by its recording; each source's own view
(ISO track) only by the recording. Both ask the pool for an output by name and get the one
encoder that exists for it, so nothing is ever encoded twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from streaming.encoder import EncoderSettings, FrameSupplier, PacketFanOut, SharedEncoder

_E = TypeVar("_E", bound=PacketFanOut)


@dataclass
class _Entry:
    encoder: PacketFanOut
    users: set[str] = field(default_factory=set)


class EncoderPool:
    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = asyncio.Lock()

    async def acquire(
        self, name: str, user: str, make: Callable[[], tuple[FrameSupplier, EncoderSettings]]
    ) -> SharedEncoder:
        """The running encoder of output ``name``, started if nobody uses it yet."""

        def build() -> SharedEncoder:
            supply, settings = make()
            return SharedEncoder(supply, settings, name=name)

        return await self.acquire_built(name, user, SharedEncoder, build)

    async def acquire_built(
        self, name: str, user: str, kind: type[_E], build: Callable[[], _E]
    ) -> _E:
        """The running encoder of output ``name`` (any ``PacketFanOut``, e.g. the audio)."""
        async with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                entry = _Entry(build())
                entry.encoder.start()
                self._entries[name] = entry
            entry.users.add(user)
            if not isinstance(entry.encoder, kind):
                raise TypeError(f"output {name!r} is a {type(entry.encoder).__name__}")
            return entry.encoder

    async def release(self, name: str, user: str) -> None:
        async with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                return
            entry.users.discard(user)
            if not entry.users:
                del self._entries[name]
                await entry.encoder.stop()

    def get(self, name: str) -> SharedEncoder | None:
        entry = self._entries.get(name)
        return entry.encoder if entry is not None and isinstance(
            entry.encoder, SharedEncoder) else None

    def names(self) -> list[str]:
        return list(self._entries)

    async def stop_all(self) -> None:
        async with self._lock:
            entries, self._entries = list(self._entries.values()), {}
        await asyncio.gather(*(e.encoder.stop() for e in entries))

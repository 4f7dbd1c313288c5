"""Running outputs: one encoder per (room, view, rendition, codec), kept alive by its leases.

A room's program is needed by the live session, by every viewer and by the recording; a
source's own view by the recording and by multi-view viewers; a lower rendition only by the
viewers moved down to it; a VP8 encode only by the viewers whose browser has no H.264. Each
asks for the output and gets a ``Lease`` on the one encoder that runs for it: the encoder starts with the first lease and stops when the last one is released.

Ownership is an object with a lifetime, as aiortc's ``MediaRelay`` proxies are: whoever holds a
lease releases that lease, never a key assembled somewhere else. Releasing twice is harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from streaming.encoder import H264, PacketFanOut

PROGRAM = "program"  # the room's composed picture, the first view of every room
AUDIO = "audio"  # the room's program sound
TALKBACK = "talkback"  # the talkback voices alone (the console's loudspeaker)

_E = TypeVar("_E", bound=PacketFanOut)


@dataclass(frozen=True)
class OutputKey:
    """What an encoder encodes: a view of a room at one rendition, in one codec.

    ``rendition`` None is the view at its own size and bitrate (what recordings take); a name
    ("360p") is a lower rung of its ladder, encoded only while a viewer receives it. ``codec``
    is the video codec ("h264", or "vp8" for browsers without H.264); the sound's key keeps
    the default, which says nothing about it.
    """

    room: str
    view: str
    rendition: str | None = None
    codec: str = H264

    def __str__(self) -> str:
        base = f"{self.room}/{self.view}"
        if self.rendition is not None:
            base = f"{base}@{self.rendition}"
        return base if self.codec == H264 else f"{base}:{self.codec}"


def without_key(room: str, speaker: str) -> OutputKey:
    """The program sound of ``room`` without ``speaker``'s talkback voice (mix-minus)."""
    return OutputKey(room, AUDIO, f"without:{speaker}")


class Lease(Generic[_E]):
    """One holder's claim on a running output; ``release`` lets go of it, once."""

    def __init__(self, outputs: Outputs, key: OutputKey, encoder: _E) -> None:
        self._outputs = outputs
        self.key = key
        self.encoder = encoder
        self._released = False

    @property
    def released(self) -> bool:
        return self._released

    async def release(self) -> None:
        if self._released:
            return
        self._released = True
        await self._outputs._let_go(self)

    def __repr__(self) -> str:
        return f"<Lease {self.key}{' released' if self._released else ''}>"


@dataclass
class _Running:
    encoder: PacketFanOut
    leases: set[Lease[Any]] = field(default_factory=set)


class Outputs:
    """Every output being encoded in this server, each once."""

    def __init__(self) -> None:
        self._running: dict[OutputKey, _Running] = {}
        self._lock = asyncio.Lock()

    async def lease(self, key: OutputKey, kind: type[_E], build: Callable[[], _E]) -> Lease[_E]:
        """A lease on the encoder of ``key``, built by ``build`` and started if none runs."""
        async with self._lock:
            running = self._running.get(key)
            if running is None:
                encoder = build()
                encoder.start()
                running = self._running[key] = _Running(encoder)
            if not isinstance(running.encoder, kind):
                raise TypeError(f"output {key} is a {type(running.encoder).__name__}")
            lease = Lease(self, key, running.encoder)
            running.leases.add(lease)
            return lease

    async def _let_go(self, lease: Lease[_E]) -> None:
        async with self._lock:
            running = self._running.get(lease.key)
            if running is None or lease not in running.leases:
                return  # stopped by stop_all meanwhile
            running.leases.discard(lease)
            if running.leases:
                return
            del self._running[lease.key]
        await running.encoder.stop()

    def running(self) -> list[OutputKey]:
        """The outputs being encoded now."""
        return list(self._running)

    def holders(self, key: OutputKey) -> int:
        running = self._running.get(key)
        return 0 if running is None else len(running.leases)

    async def stop_all(self) -> None:
        async with self._lock:
            running, self._running = list(self._running.values()), {}
        await asyncio.gather(*(r.encoder.stop() for r in running))

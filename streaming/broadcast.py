"""A room's broadcast: the views it can send, each at a ladder of renditions, its sound, and
whether it is on air.

The room controller makes pictures; a broadcast turns them into outputs on demand. Every output
comes out as a ``Lease`` (``streaming.outputs``): the live session holds the program and the
sound while on air, a viewer holds what it receives, a recording what it records.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from room_controller.room import Room, UnknownSourceError
from streaming.audio import AudioSettings, ChunkSupplier, SharedAudioEncoder
from streaming.encoder import H264, EncoderSettings, FrameSupplier, SharedEncoder
from streaming.mixer import SoundMixer
from streaming.outputs import AUDIO, PROGRAM, TALKBACK, Lease, OutputKey, Outputs, without_key
from streaming.renditions import Rendition, codec_ladder, find, ladder

logger = logging.getLogger(__name__)


#: The sounds a viewer's audio line may play (``Selection.sound``).
SOUNDS = (AUDIO, TALKBACK)


class NotOnAir(Exception):
    """The room is not broadcasting now; the message says what to wait for."""


@dataclass(frozen=True)
class View:
    """One picture a room can send: the program, or a source's own view (ISO)."""

    supply: FrameSupplier
    width: int
    height: int


@dataclass(frozen=True)
class Sound:
    """The room's program sound: where its chunks come from and how to encode them."""

    supply: ChunkSupplier
    settings: AudioSettings


@dataclass(frozen=True)
class Picture:
    """What every view of a room shares: frame rate, keyframe interval, top bitrate."""

    fps: int
    gop_seconds: float
    bitrate_kbps: int
    keyframe_min_interval: float


@dataclass(frozen=True)
class Selection:
    """What one viewer asked for: the views of its video lines, in order, and the rendition
    its first line starts at (``pinned``: it stays there)."""

    views: list[str]
    start: Rendition
    pinned: bool = False
    #: What its audio line plays: the program sound, or (the console) the talkback voices.
    sound: str = AUDIO


@dataclass
class OnAir:
    """What a live room holds while on air: its program and its sound."""

    program: Lease[SharedEncoder]
    sound: Lease[SharedAudioEncoder] | None

    async def release(self) -> None:
        await self.program.release()
        if self.sound is not None:
            await self.sound.release()


class RoomBroadcast:
    """What one room sends; every output is encoded once however many hold it."""

    def __init__(
        self, room_id: str, views: dict[str, View], picture: Picture, outputs: Outputs,
        sound: Sound | None = None,
    ) -> None:
        if PROGRAM not in views:
            raise ValueError(f"room '{room_id}' has no program view")
        self.room_id = room_id
        self._views = views
        self._picture = picture
        self._sound = sound
        # The one reader of the room's sound: the program, mix-minus and voices-only feeds.
        self.mixer = SoundMixer(sound.supply, sound.settings.channels) if sound else None
        self._outputs = outputs
        self.on_air: OnAir | None = None

    @classmethod
    def of_room(cls, room: Room, outputs: Outputs, keyframe_min_interval: float) -> RoomBroadcast:
        """The broadcast of a room controller's room: its program, then each source's view."""
        program = room.spec.program
        views = {PROGRAM: View(room.program_frame, program.width, program.height)}
        for spec in room.spec.sources:
            supply: Callable[[], np.ndarray] = partial(room.source_frame, spec.id)
            views[spec.id] = View(supply, spec.width, spec.height)
        sound = None
        if room.audio is not None and room.spec.audio is not None:
            sound = Sound(room.audio.read, AudioSettings(
                channels=room.spec.audio.channels, bitrate_kbps=room.spec.audio.bitrate_kbps))
        picture = Picture(program.fps, program.gop_seconds, program.bitrate_kbps,
                          keyframe_min_interval)
        return cls(room.id, views, picture, outputs, sound)

    # -- what it can send ---------------------------------------------------------------------
    @property
    def views(self) -> list[str]:
        """The program, then every source in the room's order."""
        return list(self._views)

    def check_views(self, names: Sequence[str]) -> None:
        for name in names:
            if name not in self._views:
                raise UnknownSourceError(
                    f"no view '{name}' in room '{self.room_id}' (views: {', '.join(self._views)})"
                )

    def choose(self, views: Sequence[str] | None, quality: str | None,
               sound: str | None = None) -> Selection:
        """What a viewer asking for ``views`` (default: every view, program first) at
        ``quality`` (default: adaptive from the top) with ``sound`` ("audio", the program
        sound, by default; "talkback": the talkback voices alone) receives; refuses unknown
        names."""
        names = list(views or self.views)
        self.check_views(names)
        rungs = self.renditions(names[0])
        start = find(rungs, quality) if quality else rungs[0]  # LookupError names the choices
        if sound is not None and sound not in SOUNDS:
            raise LookupError(f"no sound '{sound}' (sounds: {', '.join(SOUNDS)})")
        return Selection(names, start, pinned=quality is not None, sound=sound or AUDIO)

    def renditions(self, view: str, codec: str = H264) -> list[Rendition]:
        """The ladder of a view in ``codec``, best first (the view must exist)."""
        self.check_views([view])
        return codec_ladder(self._ladder(view), codec)

    def _ladder(self, view: str) -> list[Rendition]:
        shape = self._views[view]
        return ladder(shape.width, shape.height, self._picture.bitrate_kbps)

    # -- leases -------------------------------------------------------------------------------
    async def video(
        self, view: str, rendition: str | None = None, codec: str = H264
    ) -> Lease[SharedEncoder]:
        """A lease on ``view`` at ``rendition`` in ``codec`` (None: the top rung of the
        codec's ladder; the view's own size in H.264 is the output recordings share; a lower
        rung: a scaled encode of the same frames)."""
        rungs = self.renditions(view, codec)
        rung = rungs[0] if rendition is None else find(rungs, rendition)
        # Keys name a rung as the view's whole ladder does, whatever the codec's top rung is.
        own_size = rung == self._ladder(view)[0]
        key = OutputKey(self.room_id, view, None if own_size else rung.name, codec)
        return await self._outputs.lease(key, SharedEncoder, partial(self._encoder, key, rung))

    def _encoder(self, key: OutputKey, rung: Rendition) -> SharedEncoder:
        picture = self._picture
        settings = EncoderSettings(
            width=rung.width, height=rung.height, fps=picture.fps,
            bitrate_kbps=rung.bitrate_kbps, gop_seconds=picture.gop_seconds,
            keyframe_min_interval=picture.keyframe_min_interval, codec=key.codec,
        )
        return SharedEncoder(self._views[key.view].supply, settings, name=str(key))

    async def sound(self) -> Lease[SharedAudioEncoder] | None:
        """A lease on the room's Opus encoder of the program sound (with any talkback voices
        mixed in); None for a silent room."""
        return await self._sound_output(OutputKey(self.room_id, AUDIO), room=True, without=None)

    async def sound_for(self, name: str) -> Lease[SharedAudioEncoder] | None:
        """The sound called ``name`` in a ``Selection``."""
        return await (self.talkback_sound() if name == TALKBACK else self.sound())

    async def sound_without(self, speaker: str) -> Lease[SharedAudioEncoder] | None:
        """A lease on the program sound without ``speaker``'s voice (mix-minus: what that
        speaker's own viewer sessions play while they talk back); None for a silent room."""
        return await self._sound_output(
            without_key(self.room_id, speaker), room=True, without=speaker)

    async def talkback_sound(self) -> Lease[SharedAudioEncoder] | None:
        """A lease on the talkback voices alone, without the room's own sound (what the
        operating room's console plays: its own microphone would feed back)."""
        return await self._sound_output(
            OutputKey(self.room_id, TALKBACK), room=False, without=None)

    async def _sound_output(
        self, key: OutputKey, room: bool, without: str | None
    ) -> Lease[SharedAudioEncoder] | None:
        sound, mixer = self._sound, self.mixer
        if sound is None or mixer is None:
            return None
        return await self._outputs.lease(
            key, SharedAudioEncoder,
            lambda: SharedAudioEncoder(
                mixer.feed(room=room, without=without), sound.settings, name=str(key)),
        )

    # -- on air -------------------------------------------------------------------------------
    async def go_on_air(self) -> OnAir:
        """Start the program and the sound for a live session; all or nothing."""
        if self.on_air is not None:
            return self.on_air
        program = await self.video(PROGRAM)
        try:
            sound = await self.sound()
        except BaseException:
            await program.release()
            raise
        self.on_air = OnAir(program, sound)
        return self.on_air

    async def go_off_air(self) -> None:
        on_air, self.on_air = self.on_air, None
        if on_air is not None:
            await on_air.release()

    def require_on_air(self) -> OnAir:
        if self.on_air is None:
            raise NotOnAir(
                f"room '{self.room_id}' is not live yet: wait for the instructor to go live"
            )
        return self.on_air

"""Renditions: each output's ladder of qualities, and when to move a viewer along it.

An output (the program, or a source's own view) is encoded once per rendition, and a rendition
only while somebody receives it: the top one is the output's own size and bitrate (what the
recording takes), the lower ones are scaled copies of the same frames (``SharedEncoder`` resizes).

``QualityController`` decides, from a viewer's link figures each second, whether to move it one
step down (sustained loss, or a bandwidth estimate (REMB) below what it receives) or one step up
(a long clean stretch with room to spare). It only decides; the switch itself happens at a
keyframe of the target rendition (``EncodedVideoTrack.switch``), so the picture never freezes.
"""

from __future__ import annotations

from dataclasses import dataclass

from streaming.encoder import VP8
from streaming.viewer_stats import LinkStats

#: (height, bitrate in kbit/s) of the lower rungs; the top rung is the output itself.
LOWER_RUNGS = ((1080, 4000), (720, 2000), (360, 600))

DOWN_LOSS = 0.05  # fraction lost in a receiver report that counts as a bad second
DOWN_SECONDS = 3  # bad seconds in a row before moving down
UP_SECONDS = 10  # clean seconds in a row before trying one step up
UP_LOSS = 0.01
REMB_MARGIN = 0.8  # REMB below this share of the rendition's bitrate counts as a bad second
UP_HEADROOM = 1.5  # REMB, if any, must exceed the upper rung's bitrate by this much


@dataclass(frozen=True)
class Rendition:
    name: str  # e.g. "720p"
    width: int
    height: int
    bitrate_kbps: int


def ladder(width: int, height: int, bitrate_kbps: int) -> list[Rendition]:
    """The output's renditions, best first: its own size, then smaller standard ones."""
    rungs = [Rendition(f"{height}p", width, height, bitrate_kbps)]
    for rung_height, rung_bitrate in LOWER_RUNGS:
        if rung_height < height:
            # Even dimensions (H.264 4:2:0), same aspect ratio as the output.
            rung_width = max(2, round(width * rung_height / height / 2) * 2)
            rungs.append(Rendition(
                f"{rung_height}p", rung_width, rung_height, min(rung_bitrate, bitrate_kbps)
            ))
    return rungs


#: VP8 (libvpx realtime) costs several times what H.264 (x264 ultrafast) does per frame, so
#: its ladder stops at this height: ``medroom bench vp8`` measures it.
VP8_MAX_HEIGHT = 720


def codec_ladder(rungs: list[Rendition], codec: str) -> list[Rendition]:
    """The rungs of ``rungs`` offered in ``codec``: all of them in H.264; in VP8 those up to
    ``VP8_MAX_HEIGHT`` (the lowest rung if every one is taller)."""
    if codec != VP8:
        return rungs
    return [r for r in rungs if r.height <= VP8_MAX_HEIGHT] or rungs[-1:]


def find(rungs: list[Rendition], name: str) -> Rendition:
    for rung in rungs:
        if rung.name == name:
            return rung
    raise LookupError(
        f"no quality '{name}' here (qualities: {', '.join(r.name for r in rungs)})"
    )


class QualityController:
    """One viewer's rendition decisions; ``observe`` returns the rung to move to, or None."""

    def __init__(self, rungs: list[Rendition], current: str, pinned: bool = False) -> None:
        self.rungs = rungs
        self.index = [r.name for r in rungs].index(current)
        self.pinned = pinned
        self._bad = 0
        self._good = 0
        self.switching = False  # set by whoever switches, while the switch is under way

    @property
    def current(self) -> Rendition:
        return self.rungs[self.index]

    def observe(self, stats: LinkStats) -> Rendition | None:
        if self.pinned or self.switching:
            return None
        rung = self.current
        # A low REMB alone is not trouble: a browser's estimate ramps up from ~300 kbit/s in
        # the first seconds. With some loss beside it, it is.
        remb_low = (
            stats.remb_kbps is not None and stats.remb_kbps < REMB_MARGIN * rung.bitrate_kbps
            and stats.fraction_lost > UP_LOSS
        )
        if stats.fraction_lost >= DOWN_LOSS or remb_low:
            self._bad += 1
            self._good = 0
        elif stats.fraction_lost <= UP_LOSS:
            self._good += 1
            self._bad = 0
        else:
            self._bad = self._good = 0
        if self._bad >= DOWN_SECONDS and self.index + 1 < len(self.rungs):
            self._bad = self._good = 0
            return self.rungs[self.index + 1]
        if self._good >= UP_SECONDS and self.index > 0:
            upper = self.rungs[self.index - 1]
            self._good = 0
            if stats.remb_kbps is None or stats.remb_kbps >= UP_HEADROOM * upper.bitrate_kbps:
                return upper
        return None

    def moved_to(self, name: str) -> None:
        self.index = [r.name for r in self.rungs].index(name)
        self._bad = self._good = 0

"""Lesson chapters from a recording's markers, after the curator's edits and the trim.

Markers are on the session media clock; a published lesson starts at the trim's keyframe, so
every chapter is shifted to lesson time and clipped to the kept window. Order is always by
time: a curator "reorders" chapters by moving their start, which is what a chapter list on a
timeline means (a chapter is where it is in the video, not a slot in a list).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from library.publishing.errors import ChapterError
from recorder.timeline import Marker, TimelineError, vtt_escape, vtt_timestamp


@dataclass(frozen=True)
class Chapter:
    title: str
    start: float  # seconds
    end: float
    marker_id: str | None = None


@dataclass(frozen=True)
class ChapterEdit:
    """A curator's changes, keyed by marker id; markers not named stay as recorded."""

    titles: Mapping[str, str] = field(default_factory=dict)  # rename
    times: Mapping[str, float] = field(default_factory=dict)  # move (session seconds)
    drop: frozenset[str] = frozenset()


def _check_edit(markers: Sequence[Marker], edit: ChapterEdit) -> None:
    known = {m.id for m in markers}
    for what, ids in (("rename", edit.titles), ("move", edit.times), ("drop", edit.drop)):
        unknown = sorted(set(ids) - known)
        if unknown:
            raise ChapterError(f"cannot {what} chapter(s) {', '.join(unknown)}: "
                               "no such marker in this recording")
    for marker_id, at in edit.times.items():
        if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at) \
                or at < 0:
            raise ChapterError(f"chapter {marker_id}: start must be a non-negative number of "
                               f"seconds, got {at!r}")


def curate_chapters(
    markers: Sequence[Marker],
    edit: ChapterEdit | None = None,
    *,
    duration: float,
    window: tuple[float, float] | None = None,
) -> list[Chapter]:
    """Chapters in lesson time: renamed, moved, dropped, then shifted and clipped.

    ``duration`` is the session's length (the last chapter runs to it); ``window`` is the
    published part of the session, ``(start, end)`` in session seconds. Chapters that end
    before the window are dropped, one running into it is clipped to start at 0, those
    starting at or after its end are dropped and the last one is clipped to the lesson end.
    """
    edit = edit or ChapterEdit()
    _check_edit(markers, edit)
    edited: list[Marker] = []
    for marker in markers:
        if marker.id in edit.drop:
            continue
        try:
            # Built through Marker so a new title meets the same rules as a recorded one.
            edited.append(Marker(title=edit.titles.get(marker.id, marker.title),
                                 at=edit.times.get(marker.id, marker.at),
                                 author=marker.author, id=marker.id))
        except TimelineError as exc:
            raise ChapterError(f"chapter {marker.id}: {exc}") from exc
    # Stable sort: two markers at the same time keep their recorded order.
    edited.sort(key=lambda m: m.at)

    start, end = window if window is not None else (0.0, duration)
    if end <= start:
        raise ChapterError(f"the lesson window {start:g}..{end:g} s is empty")
    chapters: list[Chapter] = []
    for i, marker in enumerate(edited):
        chapter_end = edited[i + 1].at if i + 1 < len(edited) else max(duration, end)
        if chapter_end <= marker.at:
            continue  # two markers at one instant: the later one names the chapter
        lo, hi = max(marker.at, start), min(chapter_end, end)
        if hi <= lo:
            continue  # wholly outside the published window
        chapters.append(Chapter(title=marker.title, start=round(lo - start, 3),
                                end=round(hi - start, 3), marker_id=marker.id))
    return chapters


def chapters_to_webvtt(chapters: Sequence[Chapter]) -> str:
    """A WebVTT chapters track (``<track kind="chapters">``); cue ids are the marker ids."""
    out = ["WEBVTT", ""]
    for number, chapter in enumerate(chapters, 1):
        out += [
            chapter.marker_id or str(number),
            f"{vtt_timestamp(chapter.start)} --> {vtt_timestamp(chapter.end)}",
            vtt_escape(chapter.title),
            "",
        ]
    return "\n".join(out) + ("\n" if not chapters else "")

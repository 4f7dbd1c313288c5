"""Curated chapters: rename, move (reorder by time), drop, then shift and clip to the trim."""

from __future__ import annotations

from pathlib import Path

import pytest

from library.publishing.chapters import (
    Chapter,
    ChapterEdit,
    chapters_to_webvtt,
    curate_chapters,
)
from library.publishing.errors import ChapterError
from recorder.timeline import Marker, Timeline

MARKERS = [Marker("Intro", 0.0, id="a"), Marker("Exposure", 30.0, id="b"),
           Marker("Resection", 90.0, id="c"), Marker("Closure", 150.0, id="d")]


def titles(chapters: list[Chapter]) -> list[tuple[str, float, float]]:
    return [(c.title, c.start, c.end) for c in chapters]


def test_markers_become_chapters_to_the_end() -> None:
    assert titles(curate_chapters(MARKERS, duration=180)) == [
        ("Intro", 0, 30), ("Exposure", 30, 90), ("Resection", 90, 150), ("Closure", 150, 180),
    ]


def test_the_same_cues_as_the_recorder_writes(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path)
    for marker in MARKERS:
        timeline.append(marker)
    ours = chapters_to_webvtt(curate_chapters(timeline.markers(), duration=180))
    theirs = timeline.to_webvtt_chapters(180)
    # Same times and titles; our cue ids are the marker ids, so a page can link to a chapter.
    strip_ids = [line for line in ours.splitlines() if line not in {"a", "b", "c", "d"}]
    assert strip_ids == [line for line in theirs.splitlines() if not line.isdigit()]


def test_rename_move_and_drop() -> None:
    edit = ChapterEdit(titles={"b": "Septal flap"}, times={"d": 60.0}, drop=frozenset({"c"}))
    assert titles(curate_chapters(MARKERS, edit, duration=180)) == [
        ("Intro", 0, 30), ("Septal flap", 30, 60), ("Closure", 60, 180),
    ]


def test_trim_window_shifts_clips_and_drops() -> None:
    # Lesson = session 45 s .. 120 s: Intro is gone, Exposure clipped to start at 0,
    # Resection clipped at the end, Closure (after the end) dropped.
    chapters = curate_chapters(MARKERS, duration=180, window=(45.0, 120.0))
    assert titles(chapters) == [("Exposure", 0, 45), ("Resection", 45, 75)]
    assert [c.marker_id for c in chapters] == ["b", "c"]


def test_webvtt_escapes_titles_and_handles_no_chapters() -> None:
    vtt = chapters_to_webvtt([Chapter("A <b> & --> c", 0, 1.5, "x")])
    assert vtt == "WEBVTT\n\nx\n00:00:00.000 --> 00:00:01.500\nA &lt;b&gt; &amp; --&gt; c\n"
    assert chapters_to_webvtt([]) == "WEBVTT\n\n"


@pytest.mark.parametrize(("edit", "message"), [
    (ChapterEdit(titles={"zz": "x"}), "rename chapter"),
    (ChapterEdit(drop=frozenset({"zz"})), "drop chapter"),
    (ChapterEdit(times={"a": -1.0}), "non-negative"),
    (ChapterEdit(times={"a": float("nan")}), "non-negative"),
    (ChapterEdit(titles={"a": "  "}), "empty"),
    (ChapterEdit(titles={"a": "two\nlines"}), "single line"),
])
def test_bad_edits_are_refused(edit: ChapterEdit, message: str) -> None:
    with pytest.raises(ChapterError, match=message):
        curate_chapters(MARKERS, edit, duration=180)

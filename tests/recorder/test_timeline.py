"""Timeline events: validation, durable append, crash-torn last line, renames, WebVTT, JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from recorder.timeline import (
    ChatMessage,
    Marker,
    Note,
    Rename,
    Stroke,
    Timeline,
    TimelineError,
    vtt_timestamp,
)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Marker(""), "title is empty"),
        (lambda: Marker("   \t "), "title is empty"),
        (lambda: Marker("x" * 10_000), "10000 characters long; the limit is 200"),
        (lambda: Marker("two\nlines"), "single line"),
        (lambda: Marker("ok", at=-1), "negative"),
        (lambda: Marker("ok", at=float("nan")), "finite"),
        (lambda: Note("n" * 5001), "limit is 5000"),
        (lambda: Note(""), "note is empty"),
        (lambda: ChatMessage("", author="ana"), "chat message is empty"),
        (lambda: Stroke(((0.1, 0.2),), "red", 2, 0, 1), "#rrggbb"),
        (lambda: Stroke(((0.1, 0.2),), "#12345g", 2, 0, 1), "#rrggbb"),
        (lambda: Stroke(((0.1, 1.2),), "#ff0000", 2, 0, 1), "outside the picture"),
        (lambda: Stroke(((-0.1, 0.5),), "#ff0000", 2, 0, 1), "outside the picture"),
        (lambda: Stroke((), "#ff0000", 2, 0, 1), "at least one point"),
        (lambda: Stroke(((0.1, 0.2, 0.3),), "#ff0000", 2, 0, 1), "pair"),  # type: ignore[arg-type]
        (lambda: Stroke(((0.1, 0.2),), "#ff0000", 0, 0, 1), "width"),
        (lambda: Stroke(((0.1, 0.2),), "#ff0000", 2, 3, 1), "ended_at is before started_at"),
    ],
)
def test_bad_events_are_refused_clearly(make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TimelineError, match=re.escape(message)):
        make()


def test_titles_are_trimmed_and_limits_are_inclusive() -> None:
    assert Marker("  dura opening ").title == "dura opening"
    assert len(Marker("x" * 200).title) == 200
    assert Stroke([(0, 0), (1, 1)], "#A0b0C0", 3, 1.0, 2.5).colour == "#a0b0c0"  # type: ignore[arg-type]


def test_events_survive_reload_and_renames_apply(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path)
    first = timeline.append(Marker("dura openning", at=12.5, author="dr-ana"))
    timeline.append(Note("bleeding controlled\nwith bipolar", at=20.0))
    timeline.append(Stroke(((0.1, 0.1), (0.5, 0.6)), "#ff0000", 4, 21.0, 22.5, at=22.5))
    timeline.append(ChatMessage("what is the approach?", at=23.0, author="marko"))
    timeline.append(Marker("closure", at=30.0))
    timeline.append(Rename(target=first.id, title="dura opening", at=31.0))
    with pytest.raises(TimelineError, match="no marker"):
        timeline.append(Rename(target="nope", title="x"))

    again = Timeline(tmp_path)
    assert [type(e).__name__ for e in again.events()] == [
        "Marker", "Note", "Stroke", "ChatMessage", "Marker"
    ]
    assert [m.title for m in again.markers()] == ["dura opening", "closure"]
    stroke = again.events()[2]
    assert isinstance(stroke, Stroke) and stroke.points == ((0.1, 0.1), (0.5, 0.6))
    assert again.skipped_lines == 0


def test_torn_last_line_is_skipped_and_appending_goes_on(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path)
    timeline.append(Marker("one", at=1))
    timeline.append(Marker("two", at=2))
    raw = timeline.path.read_bytes()
    # A crash in the middle of writing the second line.
    timeline.path.write_bytes(raw[: len(raw) - 15])
    loaded = Timeline(tmp_path)
    assert [m.title for m in loaded.markers()] == ["one"]
    assert loaded.skipped_lines == 1
    loaded.append(Marker("three", at=3))
    assert [m.title for m in Timeline(tmp_path).markers()] == ["one", "three"]


def parse_vtt(text: str) -> list[tuple[float, float, str]]:
    assert text.startswith("WEBVTT\n\n")
    cues = []
    for block in text.strip().split("\n\n")[1:]:
        lines = block.split("\n")
        start, end = lines[1].split(" --> ")
        cues.append((seconds(start), seconds(end), "\n".join(lines[2:])))
    return cues


def seconds(stamp: str) -> float:
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d\d\d", stamp), stamp
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def test_webvtt_chapters_follow_markers(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path)
    timeline.append(Marker("polyp <identified> & biopsied", at=65.25))
    timeline.append(Marker("intro", at=0))
    timeline.append(Marker("closure", at=3725.5))
    timeline.append(Marker("after the end", at=5000))
    cues = parse_vtt(timeline.to_webvtt_chapters(duration=3800.0))
    assert cues == [
        (0.0, 65.25, "intro"),
        (65.25, 3725.5, "polyp &lt;identified&gt; &amp; biopsied"),
        (3725.5, 3800.0, "closure"),
    ]
    assert vtt_timestamp(3725.5) == "01:02:05.500"


def test_empty_timeline_gives_header_only_vtt_and_json(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path)
    assert timeline.to_webvtt_chapters(10.0) == "WEBVTT\n\n"
    doc = json.loads(timeline.to_json(recording="r1"))
    assert doc == {"recording": "r1", "events": [], "markers": []}


def test_json_sidecar_lists_events_with_renames(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path)
    m = timeline.append(Marker("a", at=1))
    timeline.append(Rename(target=m.id, title="b", at=2))
    doc = json.loads(timeline.to_json())
    assert [e["title"] for e in doc["markers"]] == ["b"]
    assert doc["events"][0]["type"] == "marker" and doc["events"][0]["id"] == m.id


def test_append_to_deleted_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "gone"
    folder.mkdir()
    timeline = Timeline(folder)
    folder.rmdir()
    with pytest.raises(TimelineError, match="is gone"):
        timeline.append(Marker("x"))

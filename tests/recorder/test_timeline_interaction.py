"""The live classroom's events on a recording's timeline: kept, reopened, deleted chat left out
of everything read from it, and never published."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from library.publishing.pipeline import _lesson_timeline
from recorder.timeline import (
    ChatMessage,
    Note,
    Poll,
    PollResult,
    Question,
    QuestionStatus,
    Retraction,
    Speaker,
    Timeline,
    TimelineError,
)


def test_classroom_events_survive_a_reopen_and_a_deleted_message_is_gone(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path)
    timeline.append(ChatMessage(text="keep me", at=1.0, author="alice", id="m1"))
    timeline.append(ChatMessage(text="rude words", at=2.0, author="bob", id="m2"))
    timeline.append(Question(question="q1", text="Why 30°?", anonymous=True, at=3.0,
                             author="alice"))
    timeline.append(QuestionStatus(question="q1", status="answering", votes=4, at=4.0,
                                   author="teach"))
    timeline.append(Poll(poll="p1", question="Which nerve?", options=("II", "III"), seconds=30,
                         presence_check=True, at=5.0, author="teach"))
    timeline.append(PollResult(poll="p1", counts=(3, 1), answered=4, at=6.0))
    timeline.append(Speaker(speaker="alice", at=7.0, author="teach"))
    timeline.append(Retraction(target="m2", at=8.0, author="teach"))
    timeline.append(Note(text="a note", at=9.0))
    reopened = Timeline(tmp_path)
    assert reopened.skipped_lines == 0
    kinds = [e.type for e in reopened.events()]
    assert kinds == ["chat", "question", "question_status", "poll", "poll_result", "speaker",
                     "note"]
    poll = reopened.events()[3]
    assert isinstance(poll, Poll) and poll.options == ("II", "III") and poll.presence_check
    assert "rude words" not in reopened.to_json()
    # The file itself only grew: the retraction is a line of its own.
    assert len((tmp_path / "events.jsonl").read_text().splitlines()) == 9


def test_an_unknown_or_broken_classroom_line_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text("\n".join([
        json.dumps({"type": "chat", "text": "ok", "at": 1.0, "id": "m1"}),
        json.dumps({"type": "hologram", "at": 2.0}),
        json.dumps({"type": "poll_result", "poll": "p1", "counts": "many", "at": 3.0}),
        json.dumps({"type": "retraction", "target": "m-never-recorded", "at": 4.0}),
    ]) + "\n")
    timeline = Timeline(tmp_path)
    assert timeline.skipped_lines == 2
    assert [e.type for e in timeline.events()] == ["chat"]


@pytest.mark.parametrize("make, error", [
    (lambda: QuestionStatus(question="q1", status="deleted"), "status must be"),
    (lambda: Poll(poll="p1", question="Q", options=("only",), seconds=30), "2 to 20"),
    (lambda: PollResult(poll="p1", counts=(-1, 2)), "whole numbers"),
    (lambda: Retraction(target=""), "target must be"),
    (lambda: Question(question="q1", text="x" * 2001), "limit is 2000"),
])
def test_bad_classroom_events_are_refused(make: object, error: str) -> None:
    with pytest.raises(TimelineError, match=error):
        make()  # type: ignore[operator]


def test_publishing_leaves_chat_and_deleted_messages_out(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path)
    timeline.append(ChatMessage(text="kept but private", at=1.0, id="m1"))
    timeline.append(ChatMessage(text="deleted words", at=2.0, id="m2"))
    timeline.append(Retraction(target="m2", at=3.0))
    timeline.append(Note(text="course note", at=4.0))
    published = json.dumps(_lesson_timeline(timeline, 0.0, 10.0))
    assert "course note" in published
    assert "deleted words" not in published and "kept but private" not in published
    assert "retraction" not in published

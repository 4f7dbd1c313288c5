"""The classroom conversation a lesson publishes: deleted never, hidden not, inside the trimmed
window, on the lesson clock, students as numbered participants, bounded."""

from __future__ import annotations

import json
from pathlib import Path

from library.publishing.conversation import lesson_conversation
from library.publishing.pipeline import Trim, publish_recording
from recorder.timeline import (
    ChatMessage,
    Poll,
    PollResult,
    Question,
    QuestionStatus,
    Retraction,
    Speaker,
    Stroke,
    Timeline,
)

from .conftest import Recorded

TEACHER = "dr.petrov"


def classroom(folder: Path, base: float = 0.0) -> Timeline:
    """A session: chat, a deleted line, questions moderated three ways, a poll, a talkback."""
    t = Timeline(folder)
    t.append(ChatMessage(text="Why the 30° scope?", at=base + 1.0, author="ana.k", id="c1"))
    t.append(ChatMessage(text="my phone number is 0888", at=base + 1.5, author="ivo.m", id="c2"))
    t.append(Retraction(target="c2", at=base + 1.6, author=TEACHER))
    t.append(ChatMessage(text="Good question", at=base + 2.0, author=TEACHER, id="c3"))
    t.append(Question(question="q1", text="Is the septum <b>deviated</b>?", at=base + 2.2,
                      author="ivo.m"))
    t.append(Question(question="q2", text="Off topic", at=base + 2.4, author="ana.k"))
    t.append(Question(question="q3", text="Who is asking?", anonymous=True, at=base + 2.6,
                      author="zara.d"))
    t.append(Question(question="q4", text="Never moderated", at=base + 2.7, author="ana.k"))
    t.append(QuestionStatus(question="q1", status="approved", votes=1, at=base + 2.8,
                            author=TEACHER))
    t.append(QuestionStatus(question="q1", status="answered", votes=4, at=base + 3.0,
                            author=TEACHER))
    t.append(QuestionStatus(question="q2", status="dismissed", at=base + 3.1, author=TEACHER))
    t.append(QuestionStatus(question="q3", status="answering", votes=2, at=base + 3.2,
                            author=TEACHER))
    t.append(Poll(poll="p1", question="Which approach?", options=("endoscopic", "open"),
                  seconds=30, at=base + 3.3, author=TEACHER))
    t.append(PollResult(poll="p1", counts=(2, 1), answered=3, at=base + 3.5))
    t.append(PollResult(poll="p1", counts=(3, 1), answered=4, shown=True, at=base + 3.6,
                        author=TEACHER))
    t.append(Speaker(speaker="ana.k", at=base + 3.7, author=TEACHER))
    t.append(Speaker(speaker="", at=base + 3.9, author="ana.k"))
    return t


def test_the_conversation_on_the_lesson_clock_with_pseudonyms(tmp_path: Path) -> None:
    t = classroom(tmp_path, base=10.0)
    out = lesson_conversation(t, 10.0, 20.0, people={TEACHER: "Dr. Petrov"})
    items = out["items"]
    assert out["truncated"] is False
    assert [(i["kind"], i["id"]) for i in items] == [
        ("chat", "c1"), ("chat", "c3"), ("question", "q1"), ("question", "q3"),
        ("poll", "p1"), ("speaker", items[-1]["id"])]
    assert [i["at"] for i in items] == [1.0, 2.0, 2.2, 2.6, 3.3, 3.7]
    # The instructor by name; students numbered as a viewer meets them; anonymous stays so.
    assert [i["author"] for i in items] == ["Participant 1", "Dr. Petrov", "Participant 2",
                                           "Anonymous", "Dr. Petrov", "Participant 1"]
    q1 = items[2]
    assert q1["status"] == "answered" and q1["votes"] == 4
    assert q1["text"] == "Is the septum <b>deviated</b>?"  # text, escaped by whoever shows it
    assert items[3]["status"] == "answering" and items[3]["votes"] == 2
    poll = items[4]
    assert poll["options"] == ["endoscopic", "open"] and poll["counts"] == [3, 1]
    assert poll["answered"] == 4
    assert items[5]["end"] == 3.9
    text = json.dumps(out)
    for account in ("ana.k", "ivo.m", "zara.d", TEACHER):
        assert account not in text  # account names never published
    assert "0888" not in text  # the deleted line


def test_hidden_messages_and_segments_and_the_trimmed_window(tmp_path: Path) -> None:
    t = classroom(tmp_path)
    out = lesson_conversation(t, 0.0, 10.0, hidden_messages={"c1", "q1"},
                              hidden=[(3.25, 3.35)])
    assert [i["id"] for i in out["items"]][:2] == ["c3", "q3"]
    assert "p1" not in [i["id"] for i in out["items"]]  # asked inside a hidden segment
    # Hidden ones no longer number anybody: the first student met is now "Participant 1".
    assert out["items"][-1]["author"] == "Participant 1"
    # A window from 2.1 to 3.8 s: earlier lines are out, the talkback is cut at the end.
    window = lesson_conversation(t, 2.1, 3.8)["items"]
    assert [i["kind"] for i in window] == ["question", "question", "poll", "speaker"]
    assert window[0]["at"] == 0.1 and window[-1]["end"] == 1.7
    # No moderator known by name: the account name of the one who ran it is still shown
    # only because they moderated; students never.
    assert window[2]["author"] == TEACHER


def test_a_talkback_under_way_when_the_lesson_starts_shows_from_its_start(
        tmp_path: Path) -> None:
    t = classroom(tmp_path)
    items = lesson_conversation(t, 3.8, 10.0)["items"]
    assert [(i["kind"], i["at"], i["end"]) for i in items] == [("speaker", 0.0, 0.1)]


def test_bounded(tmp_path: Path) -> None:
    t = Timeline(tmp_path)
    for n in range(30):
        t.append(ChatMessage(text=f"line {n}", at=n * 0.1, author=f"s{n % 3}", id=f"m{n}"))
    out = lesson_conversation(t, 0.0, 100.0, limit=10)
    assert len(out["items"]) == 10 and out["truncated"] is True
    assert [i["id"] for i in out["items"]] == [f"m{n}" for n in range(10)]  # the earliest
    assert {i["author"] for i in out["items"]} == {"Participant 1", "Participant 2",
                                                   "Participant 3"}


def test_published_files_never_hold_a_deleted_line(recording: Recorded, tmp_path: Path) -> None:
    start = json.loads((recording.folder / "manifest.json").read_text())["tracks"][0][
        "media_offset"]
    t = classroom(recording.folder, base=start - 0.9)  # most of it inside the 4 s recording
    # The accepted speaker draws: the drawing is published under her number, not her account.
    t.append(Stroke(((0.2, 0.2), (0.4, 0.4)), "#00ff00", 4, start + 2.9, start + 3.0,
                    at=start + 2.9, author="ana.k"))
    out = tmp_path / "lesson"
    publish_recording(recording.folder, out, trim=Trim(None, None), hidden_messages=["c3"],
                      people={TEACHER: "Dr. Petrov"})
    published = json.loads((out / "timeline.json").read_text())
    ids = [i["id"] for i in published["conversation"]]
    assert "c1" in ids and "q1" in ids and "c3" not in ids
    everything = b"".join(p.read_bytes() for p in out.iterdir() if p.suffix in (".json", ".vtt"))
    assert b"0888" not in everything and b"phone number" not in everything
    assert b"ana.k" not in everything and b"ivo.m" not in everything
    by_author = {e["author"] for e in published["events"] if e["type"] == "stroke"}
    speaker = next(i["author"] for i in published["conversation"] if i["kind"] == "speaker")
    assert speaker in by_author and speaker.startswith("Participant ")
    meta = json.loads((out / "lesson.json").read_text())
    assert meta["conversation"] == {"items": len(ids), "truncated": False}

"""The classroom hub: chat, questions, hands, polls, audiences, limits, records, rejoin."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from room_controller.interaction.errors import Conflict, Invalid, NotAllowed, RateLimited
from room_controller.interaction.feed import Event
from room_controller.interaction.hub import InteractionHub
from room_controller.interaction.limits import MAX_CHAT, MAX_OPEN_POLLS, RateLimiter
from room_controller.interaction.participants import Participant
from room_controller.interaction.records import Kind, Record

TEACHER = Participant("teach", "Dr. Ana Popescu", 1, moderator=True)
ALICE = Participant("alice", "Alice A.", 2)
BOB = Participant("bob", "Bob B.", 3)
CARA = Participant("cara", "Cara C.", 4)
EVERYONE = (TEACHER, ALICE, BOB, CARA)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Room:
    """A hub and what each participant received."""

    def __init__(self, **kwargs: Any) -> None:
        self.clock = Clock()
        self.hub = InteractionHub("or-1", 7, clock=self.clock,
                                now=lambda: datetime(2026, 12, 5, 9, 0, tzinfo=UTC), **kwargs)
        self.got: dict[str, list[dict[str, Any]]] = {p.key: [] for p in EVERYONE}
        self.records: list[Record] = []
        self.hub.listeners.append(self._deliver)
        self.hub.sinks.append(self.records.append)

    def _deliver(self, item: Event) -> None:
        for p in EVERYONE:
            text = item.text_for(p)
            if text is not None:
                self.got[p.key].append(json.loads(text))

    def last(self, who: Participant) -> dict[str, Any]:
        return self.got[who.key][-1]

    def send(self, who: Participant, **message: Any) -> None:
        self.hub.handle(who, message)


def test_chat_reaches_everyone_with_the_server_name_and_a_delete_removes_it() -> None:
    room = Room()
    room.send(ALICE, type="chat", text="  why the 30° scope?  ", name="Dr. Fake")
    for p in EVERYONE:
        message = room.last(p)
        assert message["type"] == "chat" and message["seq"] == 1
        assert message["message"]["text"] == "why the 30° scope?"
        assert message["message"]["author"] == {"key": "alice", "name": "Alice A."}
    with pytest.raises(NotAllowed):
        room.send(BOB, type="chat.delete", id="m1")
    room.send(TEACHER, type="chat.delete", id="m1")
    assert all(room.last(p) == {"type": "chat.deleted", "id": "m1", "seq": 2} for p in EVERYONE)
    assert room.hub.snapshot(BOB)["chat"] == []
    assert [r.kind for r in room.records] == [Kind.CHAT, Kind.CHAT_DELETE]
    assert room.records[1].text is None and room.records[1].actor == TEACHER
    with pytest.raises(Invalid, match="no chat message"):
        room.send(TEACHER, type="chat.delete", id="m99")


@pytest.mark.parametrize("text, error", [
    ("", "empty"), ("x" * (MAX_CHAT + 1), "limit is 500"), (42, "must be text"),
    ("bell\x07", "control characters"),
])
def test_bad_chat_is_refused_with_the_reason(text: object, error: str) -> None:
    with pytest.raises(Invalid, match=error):
        Room().send(ALICE, type="chat", text=text)


def test_unknown_and_malformed_messages_say_what_is_expected() -> None:
    room = Room()
    with pytest.raises(Invalid, match="unknown message type 'shout'"):
        room.send(ALICE, type="shout")
    with pytest.raises(Invalid, match="JSON object"):
        room.hub.handle(ALICE, ["chat"])


def test_questions_are_moderated_and_anonymous_only_to_students() -> None:
    room = Room()
    room.send(ALICE, type="question", text="Is the carotid at risk here?", anonymous=True)
    assert room.got["bob"] == []  # pending: only moderators and the asker
    assert room.last(TEACHER)["question"]["author"]["name"] == "Alice A."
    assert room.last(ALICE)["question"]["mine"] is True
    room.send(TEACHER, type="question.status", id="q1", status="approved")
    seen = room.last(BOB)["question"]
    assert seen["status"] == "approved" and seen["author"] is None and seen["anonymous"]
    assert room.last(TEACHER)["question"]["author"]["key"] == "alice"
    room.send(BOB, type="question.vote", id="q1")
    room.send(CARA, type="question.vote", id="q1")
    assert room.last(TEACHER)["question"]["votes"] == 2
    with pytest.raises(Conflict, match="already voted"):
        room.send(BOB, type="question.vote", id="q1")
    with pytest.raises(NotAllowed, match="own question"):
        room.send(ALICE, type="question.vote", id="q1")
    with pytest.raises(NotAllowed):
        room.send(BOB, type="question.status", id="q1", status="dismissed")
    room.send(TEACHER, type="question.status", id="q1", status="answering")
    room.send(TEACHER, type="question.status", id="q1", status="answered")
    with pytest.raises(Conflict, match="cannot become dismissed"):
        room.send(TEACHER, type="question.status", id="q1", status="dismissed")
    with pytest.raises(Invalid, match="status must be one of"):
        room.send(TEACHER, type="question.status", id="q1", status="deleted")
    kinds = [r.kind for r in room.records]
    assert kinds == [Kind.QUESTION, Kind.QUESTION_STATUS, Kind.QUESTION_VOTE,
                     Kind.QUESTION_VOTE, Kind.QUESTION_STATUS, Kind.QUESTION_STATUS]
    assert room.records[0].actor == ALICE and room.records[0].data == {"anonymous": True}


def test_a_dismissed_question_leaves_the_students_list_and_cannot_be_voted() -> None:
    room = Room()
    room.send(ALICE, type="question", text="Off topic?")
    room.send(TEACHER, type="question.status", id="q1", status="approved")
    room.send(TEACHER, type="question.status", id="q1", status="dismissed")
    assert room.last(BOB) == {"type": "question.removed", "id": "q1", "seq": 3}
    assert room.last(ALICE)["question"]["status"] == "dismissed"
    with pytest.raises(Invalid, match="no question"):
        room.send(BOB, type="question.vote", id="q1")
    assert room.hub.snapshot(BOB)["questions"] == []
    assert [q["id"] for q in room.hub.snapshot(ALICE)["questions"]] == ["q1"]


def test_answering_one_question_marks_the_previous_one_answered() -> None:
    room = Room()
    room.send(ALICE, type="question", text="One?")
    room.send(BOB, type="question", text="Two?")
    room.send(TEACHER, type="question.status", id="q1", status="answering")
    room.send(TEACHER, type="question.status", id="q2", status="answering")
    statuses = {q["id"]: q["status"] for q in room.hub.snapshot(TEACHER)["questions"]}
    assert statuses == {"q1": "answered", "q2": "answering"}


def test_hand_queue_positions_accept_grant_and_end() -> None:
    speakers: list[tuple[str, str | None]] = []
    granted: list[str] = []

    def grant(room_id: str, who: Participant) -> dict[str, Any]:
        granted.append(who.key)
        return {"whip": f"/api/rooms/{room_id}/talkback", "token": "t-" + who.key}

    room = Room(grant=grant)
    room.hub.on_speaker_changed.append(lambda r, p: speakers.append((r, p and p.key)))
    room.send(ALICE, type="hand.raise")
    room.send(BOB, type="hand.raise")
    assert room.last(ALICE)["position"] == 1 and room.last(BOB)["position"] == 2
    assert room.last(CARA)["position"] is None and room.last(CARA)["count"] == 2
    assert [h["key"] for h in room.last(TEACHER)["queue"]] == ["alice", "bob"]
    with pytest.raises(Conflict, match="already raised"):
        room.send(ALICE, type="hand.raise")
    with pytest.raises(NotAllowed, match="own hand"):
        room.send(BOB, type="hand.lower", key="alice")
    room.send(ALICE, type="hand.lower")
    assert room.last(BOB)["position"] == 1
    room.send(ALICE, type="hand.raise")
    with pytest.raises(NotAllowed):
        room.send(BOB, type="hand.accept", key="bob")
    room.send(TEACHER, type="hand.accept", key="bob")
    speaking = [m for m in room.got["bob"] if m["type"] == "speaking"]
    assert speaking[-1]["grant"] == {"whip": "/api/rooms/or-1/talkback", "token": "t-bob"}
    assert not any(m["type"] == "speaking" for p in (ALICE, CARA, TEACHER) for m in room.got[p.key])
    assert room.last(CARA)["speaker"] == {"key": "bob", "name": "Bob B."}
    assert room.last(ALICE)["position"] == 1
    assert speakers == [("or-1", "bob")] and granted == ["bob"]
    with pytest.raises(NotAllowed, match="ends a speech"):
        room.send(ALICE, type="hand.end")
    room.send(BOB, type="hand.end")  # the speaker may end it too
    assert [m for m in room.got["bob"] if m["type"] == "speaking"][-1]["speaking"] is False
    assert speakers[-1] == ("or-1", None)
    with pytest.raises(Conflict, match="no one is speaking"):
        room.send(TEACHER, type="hand.end")
    kinds = [r.kind for r in room.records]
    assert kinds == [Kind.HAND_RAISE, Kind.HAND_RAISE, Kind.HAND_LOWER, Kind.HAND_RAISE,
                     Kind.HAND_ACCEPT, Kind.HAND_END]


def test_accepting_another_hand_ends_the_current_speaker() -> None:
    speakers: list[str | None] = []
    room = Room()
    room.hub.on_speaker_changed.append(lambda r, p: speakers.append(p and p.key))
    room.send(ALICE, type="hand.raise")
    room.send(BOB, type="hand.raise")
    room.send(TEACHER, type="hand.accept", key="alice")
    room.send(TEACHER, type="hand.accept", key="bob")
    assert [m["speaking"] for m in room.got["alice"] if m["type"] == "speaking"] == [True, False]
    assert speakers == ["alice", "bob"]
    with pytest.raises(Invalid, match="no raised hand"):
        room.send(TEACHER, type="hand.accept", key="cara")


def test_a_failing_grant_or_hook_does_not_undo_the_acceptance() -> None:
    def broken(room_id: str, who: Participant) -> dict[str, Any]:
        raise RuntimeError("talkback down")

    room = Room(grant=broken)
    room.hub.on_speaker_changed.append(lambda r, p: 1 / 0)  # type: ignore[func-returns-value]
    room.send(ALICE, type="hand.raise")
    room.send(TEACHER, type="hand.accept", key="alice")
    assert room.hub.hands.speaker == ALICE
    assert room.last(ALICE)["type"] == "hands"


def test_polls_count_live_for_moderators_and_show_results_when_asked() -> None:
    room = Room()
    with pytest.raises(NotAllowed):
        room.send(ALICE, type="poll", question="?", options=["a", "b"], seconds=30)
    room.send(TEACHER, type="poll", question="Which nerve is this?",
              options=["Optic", "Oculomotor", "Abducens"], seconds=30, presence_check=True)
    seen = room.last(BOB)["poll"]
    assert seen["open"] and "counts" not in seen and seen["presence_check"]
    room.send(ALICE, type="poll.answer", id="p1", option=0)
    room.send(BOB, type="poll.answer", id="p1", option=2)
    assert room.last(TEACHER)["poll"]["counts"] == [1, 0, 1]
    assert room.last(ALICE) == {"type": "poll.answered", "id": "p1", "option": 0, "seq": 2}
    assert room.got["cara"][-1]["type"] == "poll"  # others learn nothing of single answers
    with pytest.raises(Conflict, match="already answered"):
        room.send(ALICE, type="poll.answer", id="p1", option=1)
    with pytest.raises(Invalid, match="option must be"):
        room.send(CARA, type="poll.answer", id="p1", option=3)
    with pytest.raises(NotAllowed):
        room.send(TEACHER, type="poll.answer", id="p1", option=0)
    room.clock.t += 30
    with pytest.raises(Conflict, match="closed"):
        room.send(CARA, type="poll.answer", id="p1", option=1)
    room.hub.tick()  # the time ran out: closed for everyone, results still hidden
    assert room.last(CARA)["poll"]["open"] is False and "counts" not in room.last(CARA)["poll"]
    room.send(TEACHER, type="poll.show", id="p1")
    assert room.last(CARA)["poll"]["counts"] == [1, 0, 1]
    kinds = [(r.kind, r.actor and r.actor.key) for r in room.records]
    assert kinds == [(Kind.POLL, "teach"), (Kind.POLL_ANSWER, "alice"), (Kind.POLL_ANSWER, "bob"),
                     (Kind.POLL_CLOSE, None), (Kind.POLL_RESULTS, "teach")]
    assert room.records[1].data == {"option": 0, "presence_check": True}


@pytest.mark.parametrize("fields, error", [
    ({"options": ["only"]}, "2 to 6 options"),
    ({"options": ["a"] * 7}, "2 to 6 options"),
    ({"options": ["a", "a"]}, "same"),
    ({"seconds": 1}, "seconds must be"),
    ({"seconds": 10**9}, "seconds must be"),
    ({"question": "x" * 301}, "limit is 300"),
    ({"options": ["a", "b" * 101]}, "limit is 100"),
])
def test_bad_polls_are_refused(fields: dict[str, Any], error: str) -> None:
    message = {"type": "poll", "question": "Q?", "options": ["a", "b"], "seconds": 30, **fields}
    with pytest.raises(Invalid, match=error):
        Room().hub.handle(TEACHER, message)


def test_open_polls_are_bounded() -> None:
    room = Room()
    for i in range(MAX_OPEN_POLLS):
        room.send(TEACHER, type="poll", question=f"Q{i}?", options=["a", "b"], seconds=30)
    with pytest.raises(Conflict, match="close one first"):
        room.send(TEACHER, type="poll", question="one more?", options=["a", "b"], seconds=30)
    room.send(TEACHER, type="poll.close", id="p1")
    room.send(TEACHER, type="poll", question="now?", options=["a", "b"], seconds=30)


def test_rate_limit_says_when_to_retry_and_refills() -> None:
    room = Room()
    for i in range(5):
        room.send(ALICE, type="chat", text=f"hello {i}")
    with pytest.raises(RateLimited) as refused:
        room.send(ALICE, type="chat", text="one too many")
    assert refused.value.code == "rate_limited"
    assert 1.9 <= refused.value.retry_after <= 2.1
    assert "again in 2 s" in str(refused.value)
    room.send(BOB, type="chat", text="others are not slowed")
    room.clock.t += 2.0
    room.send(ALICE, type="chat", text="after waiting")


def test_the_flood_guard_counts_junk_too() -> None:
    limiter = RateLimiter(Clock())
    for _ in range(30):
        limiter.check("mallory", "message")
    with pytest.raises(RateLimited, match="too many messages"):
        limiter.check("mallory", "message")


def test_rejoin_since_seq_gets_what_it_missed_or_a_snapshot() -> None:
    room = Room()
    room.send(ALICE, type="chat", text="first")
    welcome, snapshot = (json.loads(t) for t in room.hub.join(BOB))
    assert welcome["type"] == "welcome" and welcome["seq"] == 1 and not welcome["resumed"]
    assert welcome["you"] == {"key": "bob", "name": "Bob B.", "moderator": False}
    assert [m["text"] for m in snapshot["chat"]] == ["first"]
    room.send(ALICE, type="chat", text="second")
    room.send(ALICE, type="question", text="pending, not for Bob")
    room.send(CARA, type="hand.raise")
    texts = [json.loads(t) for t in room.hub.join(BOB, since=1)]
    assert texts[0]["resumed"] and texts[0]["missed"] == 2
    assert [m["type"] for m in texts[1:]] == ["chat", "hands"]
    assert texts[1]["message"]["text"] == "second" and texts[1]["seq"] == 2
    # A number from the future, or one the backlog no longer covers: a fresh snapshot.
    assert json.loads(room.hub.join(BOB, since=99)[1])["type"] == "snapshot"
    small = Room(backlog=2)
    for i in range(4):
        small.send(CARA, type="chat", text=f"m{i}") if i < 4 else None
        small.clock.t += 5
    assert json.loads(small.hub.join(BOB, since=1)[1])["type"] == "snapshot"
    assert json.loads(small.hub.join(BOB, since=2)[0])["resumed"]


def test_snapshot_tells_a_student_their_votes_answers_hand_and_grant() -> None:
    room = Room(grant=lambda room_id, who: {"token": "x"})
    room.send(ALICE, type="question", text="Q?")
    room.send(TEACHER, type="question.status", id="q1", status="approved")
    room.send(BOB, type="question.vote", id="q1")
    room.send(TEACHER, type="poll", question="P?", options=["a", "b"], seconds=30)
    room.send(BOB, type="poll.answer", id="p1", option=1)
    room.send(CARA, type="hand.raise")
    room.send(ALICE, type="hand.raise")
    room.send(TEACHER, type="hand.accept", key="cara")
    bob = room.hub.snapshot(BOB)
    assert bob["voted"] == ["q1"] and bob["polls"][0]["mine"] == 1
    assert "counts" not in bob["polls"][0] and bob["speaking"] is None
    assert room.hub.snapshot(ALICE)["hands"]["position"] == 1
    assert room.hub.snapshot(CARA)["speaking"]["grant"] == {"token": "x"}
    assert room.hub.snapshot(TEACHER)["polls"][0]["counts"] == [0, 1]


def test_each_rendering_is_encoded_once_for_all_who_share_it() -> None:
    room = Room()
    room.send(ALICE, type="chat", text="shared")
    item = next(room.hub._backlog.after(0))
    assert item.text_for(BOB) is item.text_for(CARA)


def test_display_names_are_tidied_and_bounded() -> None:
    assert Participant("k", "  Dr.\n  Who ").name == "Dr. Who"
    assert Participant("k", "").name == "k"
    assert len(Participant("k", "x" * 500).name) == 100

"""The live classroom's conversation as a lesson publishes it: on the lesson clock, curated,
and with the students' names left out.

What is published, from the recording's timeline (``recorder.timeline``):

- chat lines; a line a moderator deleted during the session is never published (the loaded
  timeline already leaves it out with its retraction, and this module never reads raw events);
- questions whose final status is approved, being answered or answered, with that status and
  their votes at the last moderation (pending and dismissed questions were never shown to the
  class, so they stay out);
- polls with their final results (the last close or show of the poll);
- who had the floor when (an accepted hand's talkback, from its acceptance to its end).

Curators leave things out: ``hidden_messages`` holds chat message ids and question ids, and
nothing inside a hidden segment is published (the player skips those parts).

Names: the people who ran the session (anyone who moderated: set a question's status, asked
a poll, accepted a hand, deleted a message, or marked or annotated the recording; only the
room's staff can) appear by the name ``people`` gives them (their display name; their
account name if none is known). Every
other author is a student, and a student's consent to publication is not assumed: they
appear as "Participant 1", "Participant 2", ... numbered by first appearance in this lesson,
so a reader can follow a thread without learning who spoke, and the same person has a
different number in another lesson. Account names never reach the published files. An
anonymous question stays "Anonymous" (it was anonymous in the room too).

Bounded: at most ``MAX_ITEMS`` items are published (the earliest ones; ``truncated`` says so),
and every text is bounded by the timeline's own limits.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from recorder.timeline import (
    ChatMessage,
    Event,
    Marker,
    Note,
    Poll,
    PollResult,
    Question,
    QuestionStatus,
    Rename,
    Retraction,
    Speaker,
    Timeline,
)

MAX_ITEMS = 2000
MAX_HIDDEN_MESSAGES = 5000
PUBLISHED_STATUSES = frozenset({"approved", "answering", "answered"})
ANONYMOUS = "Anonymous"


def moderators(events: Sequence[Event]) -> set[str]:
    """The account names of the people who ran the session: only the room's staff can
    moderate the classroom or mark and annotate the recording (a stroke may be an accepted
    student's, so it proves nothing). Pass the raw events (``Timeline.raw_events``): the
    loaded view drops retractions and renames."""
    found: set[str] = set()
    for e in events:
        moderated = isinstance(e, QuestionStatus | Poll | Retraction | Marker | Note | Rename) or (
            isinstance(e, Speaker) and bool(e.speaker))
        if moderated and e.author:
            found.add(e.author)
    return found


class Names:
    """Shown names: moderators by name, everyone else numbered by first appearance. One per
    lesson, shared by the conversation and the drawings and notes (an accepted speaker draws
    too), so a participant has one number throughout."""

    def __init__(self, staff: set[str], people: Mapping[str, str]) -> None:
        self._staff = staff
        self._people = people
        self._numbers: dict[str, int] = {}

    def __call__(self, author: str) -> str:
        if not author:
            return ""
        if author in self._staff:
            return self._people.get(author) or author
        number = self._numbers.setdefault(author, len(self._numbers) + 1)
        return f"Participant {number}"


def lesson_conversation(
    timeline: Timeline, start: float, end: float, *,
    hidden: Sequence[tuple[float, float]] = (), hidden_messages: Collection[str] = (),
    people: Mapping[str, str] | None = None, limit: int = MAX_ITEMS, names: Names | None = None,
) -> dict[str, Any]:
    """``{"items": [...], "truncated": bool}``: the conversation between session seconds
    ``start`` and ``end``, on the lesson clock (0 at ``start``), in time order."""
    # Deleted chat lines are already gone from this view, with their retractions.
    events = timeline.events()
    hidden_ids = set(hidden_messages)
    if names is None:
        names = Names(moderators(timeline.raw_events), people or {})

    def shown(at: float) -> bool:
        return start <= at < end and not any(lo <= at < hi for lo, hi in hidden)

    def lesson_time(at: float) -> float:
        return round(max(0.0, at - start), 3)

    # Final state of questions and polls: their last moderation and their last result.
    status: dict[str, QuestionStatus] = {}
    results: dict[str, PollResult] = {}
    for e in events:
        if isinstance(e, QuestionStatus):
            status[e.question] = e
        elif isinstance(e, PollResult):
            results[e.poll] = e

    # Who had the floor: each Speaker event ends the previous interval.
    floors: list[tuple[float, float, str]] = []
    current: tuple[float, str] | None = None
    for e in events:
        if isinstance(e, Speaker):
            if current is not None and e.at > current[0]:
                floors.append((current[0], e.at, current[1]))
            current = (e.at, e.speaker) if e.speaker else None
    if current is not None:
        floors.append((current[0], max(end, current[0]), current[1]))

    items: list[tuple[float, dict[str, Any]]] = []
    for e in events:
        if isinstance(e, ChatMessage):
            if e.id in hidden_ids or not shown(e.at):
                continue
            items.append((e.at, {"kind": "chat", "id": e.id, "at": lesson_time(e.at),
                                 "author": e.author, "text": e.text}))
        elif isinstance(e, Question):
            final = status.get(e.question)
            if (final is None or final.status not in PUBLISHED_STATUSES
                    or e.question in hidden_ids or not shown(e.at)):
                continue
            items.append((e.at, {"kind": "question", "id": e.question, "at": lesson_time(e.at),
                                 "author": e.author, "anonymous": e.anonymous,
                                 "text": e.text, "status": final.status,
                                 "votes": final.votes}))
        elif isinstance(e, Poll):
            if not shown(e.at):
                continue
            result = results.get(e.poll)
            items.append((e.at, {
                "kind": "poll", "id": e.poll, "at": lesson_time(e.at),
                "author": e.author, "text": e.question, "options": list(e.options),
                "counts": list(result.counts) if result else None,
                "answered": result.answered if result else None}))
    for lo, hi, who in floors:
        # A talkback that began before the lesson (or in a hidden part) shows from where the
        # lesson picks it up; one entirely outside is left out.
        begin = max(lo, start)
        while any(a <= begin < b for a, b in hidden) and begin < min(hi, end):
            begin = next(b for a, b in hidden if a <= begin < b)
        if begin >= min(hi, end):
            continue
        items.append((begin, {"kind": "speaker", "id": f"floor-{len(items)}",
                              "at": lesson_time(begin), "end": lesson_time(min(hi, end)),
                              "author": who, "text": "has the floor"}))
    items.sort(key=lambda pair: pair[0])
    out = [item for _, item in items[:limit]]
    for item in out:  # numbered in the order a viewer meets them
        anonymous = item.pop("anonymous", False)
        item["author"] = ANONYMOUS if anonymous else names(item["author"])
    return {"items": out, "truncated": len(items) > limit}

"""What each attendee did in a live session's classroom, counted from its timeline
(``live_interactions``, written by ``library.interactions``): questions asked, poll answers,
presence checks answered of those asked, and talkback (speaking) time.

``count`` is pure over plain ``Event`` values; ``participation_in`` reads the table. The result
goes into the CME engine as ``Participation`` per person and live session.

Talkback time runs from the instructor's acceptance of a hand (``hand.accept``, whose target is
the speaker) to the end of that speech (``hand.end`` with the same target); a speech still open
when the session ended counts until its end (or ``now`` while it is live). Moderators' own
records (they ask polls, they do not answer them) count nothing for them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from library.cme.attendance import Participation
from library.i18n import formats, gettext, ngettext
from library.models import LiveInteraction, LiveSession

# The timeline kinds this module reads (``room_controller.interaction.records.Kind``).
QUESTION = "question"
POLL = "poll"
POLL_ANSWER = "poll.answer"
HAND_ACCEPT = "hand.accept"
HAND_END = "hand.end"
KINDS = (QUESTION, POLL, POLL_ANSWER, HAND_ACCEPT, HAND_END)


@dataclass(frozen=True)
class Event:
    """One timeline record, as far as counting needs it."""

    live_session_id: int
    kind: str
    at: datetime
    actor: str | None
    """Who did it: the account's user name (the CME person id), None for the server."""
    target: str
    """The poll's id; for a hand, the speaker's user name."""
    presence_check: bool = False


@dataclass(frozen=True)
class Counts:
    """One person's participation in one live session, with the presence checks the session
    asked (before the store decides whether they were this person's to answer)."""

    questions: int = 0
    poll_answers: int = 0
    checks_asked: int = 0
    checks_answered: int = 0
    talkback_seconds: int = 0

    def to_participation(self, checks_apply: bool) -> Participation:
        return Participation(
            questions=self.questions, poll_answers=self.poll_answers,
            checks_asked=self.checks_asked if checks_apply else 0,
            checks_answered=self.checks_answered if checks_apply else 0,
            talkback_seconds=self.talkback_seconds)


def count(events: Iterable[Event], ends: Mapping[int, datetime | None], *, now: datetime,
          people: Iterable[str] = ()) -> dict[str, dict[int, Counts]]:
    """Per person (everyone in ``people`` and everyone who did something), per live session
    that had an event: their counts. ``ends`` holds each live session's end (None: live)."""
    ordered = sorted(events, key=lambda e: (e.live_session_id, e.at))
    checks: dict[int, set[str]] = defaultdict(set)  # live session -> presence-check poll ids
    questions: dict[tuple[str, int], int] = defaultdict(int)
    answers: dict[tuple[str, int], set[str]] = defaultdict(set)
    speaking: dict[tuple[str, int], datetime] = {}
    talk: dict[tuple[str, int], float] = defaultdict(float)
    for e in ordered:
        if e.kind == POLL and e.presence_check:
            checks[e.live_session_id].add(e.target)
        elif e.kind == QUESTION and e.actor is not None:
            questions[(e.actor, e.live_session_id)] += 1
        elif e.kind == POLL_ANSWER and e.actor is not None:
            answers[(e.actor, e.live_session_id)].add(e.target)
        elif e.kind == HAND_ACCEPT:
            speaking.setdefault((e.target, e.live_session_id), e.at)
        elif e.kind == HAND_END:
            began = speaking.pop((e.target, e.live_session_id), None)
            if began is not None:
                talk[(e.target, e.live_session_id)] += max(0.0, (e.at - began).total_seconds())
    for (person, live_id), began in speaking.items():  # still speaking at the end
        end = ends.get(live_id) or now
        talk[(person, live_id)] += max(0.0, (end - began).total_seconds())
    lives = sorted({e.live_session_id for e in ordered})
    everyone = set(people) | {p for p, _ in questions} | {p for p, _ in answers} | {
        p for p, _ in talk}
    out: dict[str, dict[int, Counts]] = {}
    for person in sorted(everyone):
        mine: dict[int, Counts] = {}
        for live_id in lives:
            key = (person, live_id)
            polls = checks.get(live_id, set())
            mine[live_id] = Counts(
                questions=questions.get(key, 0), poll_answers=len(answers.get(key, ())),
                checks_asked=len(polls), checks_answered=len(answers.get(key, set()) & polls),
                talkback_seconds=round(talk.get(key, 0.0)))
        out[person] = mine
    return out


def participation_in(session: Session, live_ids: Sequence[int], *, now: datetime,
                     people: Iterable[str] = ()) -> dict[str, dict[int, Counts]]:
    """``count`` over the timelines of the live sessions ``live_ids``."""
    if not live_ids:
        return {}
    rows = session.execute(
        select(LiveInteraction.live_session_id, LiveInteraction.kind, LiveInteraction.at,
               LiveInteraction.actor, LiveInteraction.target, LiveInteraction.data)
        .where(LiveInteraction.live_session_id.in_(live_ids), LiveInteraction.kind.in_(KINDS))
        .order_by(LiveInteraction.live_session_id, LiveInteraction.seq, LiveInteraction.id))
    events = [Event(live_id, kind, at, actor, target,
                    bool((data or {}).get("presence_check")))
              for live_id, kind, at, actor, target, data in rows]
    ends = dict(session.execute(select(LiveSession.id, LiveSession.ended_at)
                                .where(LiveSession.id.in_(live_ids))).all())
    return count(events, ends, now=now, people=people)


def describe(done: Participation, *, checks: bool = True) -> str:
    """"2 questions · 3 poll answers · presence checks 1 of 4 · talkback 1 min 20 s" (without
    the presence checks when ``checks`` is false), in the current language."""
    parts = []
    if done.questions:
        parts.append(ngettext("%(num)s question", "%(num)s questions", done.questions))
    if done.poll_answers:
        parts.append(ngettext("%(num)s poll answer", "%(num)s poll answers", done.poll_answers))
    if done.checks_asked and checks:
        parts.append(gettext("presence checks %(answered)s of %(asked)s",
                             answered=done.checks_answered, asked=done.checks_asked))
    if done.talkback_seconds:
        parts.append(gettext("talkback %(time)s", time=duration(done.talkback_seconds)))
    return " · ".join(parts)


def duration(total_seconds: int) -> str:
    """"45 s", "2 min", "1 min 20 s" (the units abbreviated as the current language does)."""
    minutes, seconds = divmod(total_seconds, 60)
    if not minutes or not seconds:
        return formats.format_duration(total_seconds, "short")
    return " ".join((formats.format_duration(minutes * 60, "short"),
                     formats.format_duration(seconds, "short")))

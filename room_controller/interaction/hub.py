"""One live session's classroom: the messages participants send, the rules that apply to them,
and the numbered events everyone is sent.

``handle(who, message)`` takes one message of the classroom protocol (a dict decoded from the
client's JSON; ``who`` from the server's authentication) and either publishes the events it
causes to ``listeners`` and the records it leaves to ``sinks``, or raises an
``InteractionError``. ``join(who, since)`` is what a (re)connecting client is sent first.

Hook points for the rest of the live classroom (talkback, drawing rights):

* ``on_speaker_changed``: callables ``(room_id, participant_or_None)`` called whenever the
  speaker changes (a hand accepted, a speech ended).
* ``grant``: an injected ``(room_id, participant) -> dict`` called once per accepted hand; the
  dict goes to the accepted participant only, in their ``speaking`` event.

A hook that raises is logged and does not undo the acceptance.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from library.i18n import lazy
from room_controller.interaction.chat import Chat
from room_controller.interaction.errors import Invalid, NotAllowed
from room_controller.interaction.feed import Backlog, Body, Event, event
from room_controller.interaction.hands import Hands
from room_controller.interaction.limits import BACKLOG, RateLimiter, check_id
from room_controller.interaction.participants import Participant
from room_controller.interaction.polls import Poll, Polls
from room_controller.interaction.questions import Question, Questions
from room_controller.interaction.records import Kind, Record

logger = logging.getLogger(__name__)

SpeakerHook = Callable[[str, Participant | None], None]
GrantFactory = Callable[[str, Participant], dict[str, Any]]
MODERATOR_ONLY = frozenset({"chat.delete", "question.status", "hand.accept", "poll",
                            "poll.close", "poll.show"})


def _utcnow() -> datetime:
    return datetime.now(UTC)


class InteractionHub:
    """The classroom of one live session (``room_id``, ``live_session_id``)."""

    def __init__(
        self, room_id: str, live_session_id: int, *, clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utcnow, grant: GrantFactory | None = None,
        limiter: RateLimiter | None = None, backlog: int = BACKLOG,
    ) -> None:
        self.room_id = room_id
        self.live_session_id = live_session_id
        self.clock = clock
        self.now = now
        self.grant = grant
        self.limiter = limiter or RateLimiter(clock)
        self.chat = Chat()
        self.questions = Questions()
        self.hands = Hands()
        self.polls = Polls()
        self.listeners: list[Callable[[Event], None]] = []
        self.sinks: list[Callable[[Record], None]] = []
        self.on_speaker_changed: list[SpeakerHook] = []
        self._backlog = Backlog(backlog)
        self._seq = 0
        self._grant: dict[str, Any] | None = None  # the current speaker's

    @property
    def seq(self) -> int:
        return self._seq

    # -- receiving -------------------------------------------------------------------------------
    def handle(self, who: Participant, message: object) -> None:
        """Apply one message from ``who``; raises ``InteractionError`` when it is refused."""
        self.limiter.check(who.key, "message")
        if not isinstance(message, dict):
            raise Invalid(lazy('a message is a JSON object like {"type": "chat", "text": "..."}'))
        kind = message.get("type")
        action = _ACTIONS.get(kind) if isinstance(kind, str) else None
        if action is None:
            raise Invalid(lazy("unknown message type %(kind)s (one of: %(known)s)", kind=repr(kind),
                               known=", ".join(_ACTIONS)))
        if kind in MODERATOR_ONLY:
            if not who.moderator:
                raise NotAllowed(lazy("only the room's instructors may send %(kind)s", kind=repr(kind)))
            self.limiter.check(who.key, "moderate")
        action(self, who, message)

    def _chat(self, who: Participant, m: dict[str, Any]) -> None:
        self.limiter.check(who.key, "say")
        line = self.chat.post(who, m.get("text"), self.now())
        seq = self._publish(event(self._next(), {"type": "chat", "message": line.body()}))
        self._record(Kind.CHAT, seq, who, line.id, line.text)

    def _chat_delete(self, who: Participant, m: dict[str, Any]) -> None:
        message_id = check_id("id", m.get("id"))
        line = self.chat.delete(message_id)
        seq = self._publish(event(self._next(), {"type": "chat.deleted", "id": message_id}))
        data = {} if line is None else {"author": line.author.key}
        self._record(Kind.CHAT_DELETE, seq, who, message_id, data=data)

    def _ask(self, who: Participant, m: dict[str, Any]) -> None:
        self.limiter.check(who.key, "say")
        question = self.questions.ask(who, m.get("text"), m.get("anonymous", False), self.now())
        seq = self._publish_question(question)
        self._record(Kind.QUESTION, seq, who, question.id, question.text,
                     {"anonymous": question.anonymous})

    def _vote(self, who: Participant, m: dict[str, Any]) -> None:
        self.limiter.check(who.key, "vote")
        question = self.questions.vote(who, check_id("id", m.get("id")))
        seq = self._publish_question(question)
        self._record(Kind.QUESTION_VOTE, seq, who, question.id,
                     data={"votes": len(question.voters)})

    def _moderate_question(self, who: Participant, m: dict[str, Any]) -> None:
        question_id = check_id("id", m.get("id"))
        was_visible = self.questions.get(question_id).visible_to_students()
        question, also = self.questions.moderate(question_id, m.get("status"))
        for changed in [*also, question]:
            seq = self._publish_question(changed, was_visible or changed is not question)
            self._record(Kind.QUESTION_STATUS, seq, who, changed.id,
                         data={"status": changed.status.value, "votes": len(changed.voters)})

    def _raise(self, who: Participant, m: dict[str, Any]) -> None:
        if who.moderator:
            raise NotAllowed(lazy("instructors take the floor; they do not raise a hand"))
        self.limiter.check(who.key, "hand")
        self.hands.raise_(who, self.now())
        self._record(Kind.HAND_RAISE, self._publish_hands(), who, who.key)

    def _lower(self, who: Participant, m: dict[str, Any]) -> None:
        key = m.get("key", who.key)
        if key != who.key and not who.moderator:
            raise NotAllowed(lazy("you can only lower your own hand"))
        if who.moderator:
            self.limiter.check(who.key, "moderate")
        else:
            self.limiter.check(who.key, "hand")
        hand = self.hands.lower(check_id("key", key))
        self._record(Kind.HAND_LOWER, self._publish_hands(), who, hand.who.key)

    def _accept(self, who: Participant, m: dict[str, Any]) -> None:
        accepted, previous = self.hands.accept(check_id("key", m.get("key")))
        if previous is not None:
            self._record(Kind.HAND_END, self._speaking(previous, None), who, previous.key)
        grant: dict[str, Any] = {}
        if self.grant is not None:
            try:
                grant = dict(self.grant(self.room_id, accepted))
            except Exception:
                logger.exception("the grant for %s's accepted hand failed", accepted.key)
        self._grant = grant
        seq = self._speaking(accepted, grant)
        self._record(Kind.HAND_ACCEPT, seq, who, accepted.key)
        self._publish_hands()
        self._speaker_changed(accepted)

    def _end(self, who: Participant, m: dict[str, Any]) -> None:
        speaker = self.hands.speaker
        if not who.moderator and (speaker is None or speaker.key != who.key):
            raise NotAllowed(lazy("only the instructor, or the person speaking, ends a speech"))
        ended = self.hands.end()
        self._grant = None
        seq = self._speaking(ended, None)
        self._record(Kind.HAND_END, seq, who, ended.key)
        self._publish_hands()
        self._speaker_changed(None)

    def end_speech(self, user_id: int) -> bool:
        """End the speech of ``user_id`` when they have the word (their talkback ended on its
        own: their Stop button, a dropped connection); recorded as ended by the speaker. False
        when someone else, or no one, speaks."""
        speaker = self.hands.speaker
        if speaker is None or speaker.user_id != user_id:
            return False
        self._end(speaker, {"type": "hand.end"})
        return True

    def _poll(self, who: Participant, m: dict[str, Any]) -> None:
        poll = self.polls.create(m.get("question"), m.get("options"), m.get("seconds"),
                                 m.get("presence_check", False), self.now(), self.clock())
        seq = self._publish_poll(poll)
        self._record(Kind.POLL, seq, who, poll.id, poll.question,
                     {"options": list(poll.options), "seconds": poll.seconds,
                      "presence_check": poll.presence_check})

    def _answer(self, who: Participant, m: dict[str, Any]) -> None:
        self.limiter.check(who.key, "answer")
        poll = self.polls.answer(who, check_id("id", m.get("id")), m.get("option"), self.clock())
        option = poll.answers[who.key]
        seq = self._publish(event(
            self._next(), None, {"type": "poll", "poll": poll.body(counts=True, now=self.clock())},
            {who.key: {"type": "poll.answered", "id": poll.id, "option": option}}))
        self._record(Kind.POLL_ANSWER, seq, who, poll.id,
                     data={"option": option, "presence_check": poll.presence_check})

    def _close_poll(self, who: Participant | None, poll: Poll) -> None:
        seq = self._publish_poll(poll)
        self._record(Kind.POLL_CLOSE, seq, who, poll.id,
                     data={"counts": poll.counts(), "answered": len(poll.answers)})

    def _poll_close(self, who: Participant, m: dict[str, Any]) -> None:
        self._close_poll(who, self.polls.close(check_id("id", m.get("id"))))

    def _poll_show(self, who: Participant, m: dict[str, Any]) -> None:
        poll = self.polls.show(check_id("id", m.get("id")))
        seq = self._publish_poll(poll)
        self._record(Kind.POLL_RESULTS, seq, who, poll.id,
                     data={"counts": poll.counts(), "answered": len(poll.answers)})

    def tick(self) -> None:
        """Close the polls whose time is up (the web layer calls this every half second)."""
        for poll in self.polls.expired(self.clock()):
            poll.open = False
            self._close_poll(None, poll)

    # -- joining ---------------------------------------------------------------------------------
    def join(self, who: Participant, since: int | None = None) -> list[str]:
        """What a connecting client is sent first: a ``welcome``, then either the events it
        missed since ``since`` (when they are all still kept) or a ``snapshot`` of now."""
        resume = since is not None and 0 <= since <= self._seq and self._backlog.covers(
            since, self._seq)
        missed: list[str] = []
        if resume:
            assert since is not None
            for item in self._backlog.after(since):
                text = item.text_for(who)
                if text is not None:
                    missed.append(text)
        welcome = {"type": "welcome", "seq": self._seq, "room": self.room_id,
                   "session": self.live_session_id, "you": {**who.public(),
                                                            "moderator": who.moderator},
                   "resumed": resume, "missed": len(missed)}
        texts = [json.dumps(welcome, ensure_ascii=False)]
        if not resume:
            texts.append(json.dumps(self.snapshot(who), ensure_ascii=False))
        return texts + missed

    def snapshot(self, who: Participant) -> Body:
        now = self.clock()
        questions = [q.body(reveal=who.moderator or q.author.key == who.key,
                            mine=q.author.key == who.key)
                     for q in self.questions.all()
                     if who.moderator or q.visible_to_students() or q.author.key == who.key]
        if who.moderator:
            hands = self.hands.moderator_body()
        else:
            hands = {**self.hands.public_body(), "position": self.hands.position(who.key)}
        speaker = self.hands.speaker
        return {
            "type": "snapshot", "seq": self._seq,
            "chat": [line.body() for line in self.chat.lines()],
            "questions": questions,
            "voted": [q.id for q in self.questions.all() if who.key in q.voters],
            "hands": hands,
            "speaking": ({"type": "speaking", "speaking": True, "grant": self._grant}
                         if speaker is not None and speaker.key == who.key else None),
            "polls": [{**p.body(counts=who.moderator or p.shown, now=now),
                       "mine": p.answers.get(who.key)} for p in self.polls.all()],
        }

    # -- publishing ------------------------------------------------------------------------------
    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _publish(self, item: Event) -> int:
        self._backlog.add(item)
        for listener in list(self.listeners):
            try:
                listener(item)
            except Exception:
                logger.exception("a classroom listener failed")
        return item.seq

    def _publish_question(self, q: Question, was_visible: bool = False) -> int:
        full = {"type": "question", "question": q.body(reveal=True)}
        public: Body | None = None  # pending: moderators and the asker only
        if q.visible_to_students():
            public = {"type": "question", "question": q.body(reveal=False)}
        elif was_visible:  # dismissed (or back to pending): gone from the students' list
            public = {"type": "question.removed", "id": q.id}
        mine = {"type": "question", "question": q.body(reveal=True, mine=True)}
        return self._publish(event(self._next(), public, full, {q.author.key: mine}))

    def _publish_hands(self) -> int:
        return self._publish(event(self._next(), self.hands.public_body(),
                                   self.hands.moderator_body(), self.hands.personal_bodies()))

    def _publish_poll(self, poll: Poll) -> int:
        now = self.clock()
        return self._publish(event(
            self._next(), {"type": "poll", "poll": poll.body(counts=poll.shown, now=now)},
            {"type": "poll", "poll": poll.body(counts=True, now=now)}))

    def _speaking(self, who: Participant, grant: dict[str, Any] | None) -> int:
        """The accepted (``grant`` a dict) or ended (``None``) speaker is told, and only they."""
        body: Body = ({"type": "speaking", "speaking": True, "grant": grant} if grant is not None
                      else {"type": "speaking", "speaking": False, "grant": None})
        return self._publish(event(self._next(), None, None, {who.key: body}))

    def _speaker_changed(self, who: Participant | None) -> None:
        for hook in list(self.on_speaker_changed):
            try:
                hook(self.room_id, who)
            except Exception:
                logger.exception("an on_speaker_changed hook failed")

    def _record(self, kind: Kind, seq: int, actor: Participant | None, target: str,
                text: str | None = None, data: dict[str, Any] | None = None) -> None:
        record = Record(kind, seq, self.now(), actor, target, text, dict(data or {}))
        for sink in list(self.sinks):
            try:
                sink(record)
            except Exception:
                logger.exception("a classroom record sink failed")


_ACTIONS: dict[str, Callable[[InteractionHub, Participant, dict[str, Any]], None]] = {
    "chat": InteractionHub._chat,
    "chat.delete": InteractionHub._chat_delete,
    "question": InteractionHub._ask,
    "question.vote": InteractionHub._vote,
    "question.status": InteractionHub._moderate_question,
    "hand.raise": InteractionHub._raise,
    "hand.lower": InteractionHub._lower,
    "hand.accept": InteractionHub._accept,
    "hand.end": InteractionHub._end,
    "poll": InteractionHub._poll,
    "poll.answer": InteractionHub._answer,
    "poll.close": InteractionHub._poll_close,
    "poll.show": InteractionHub._poll_show,
}

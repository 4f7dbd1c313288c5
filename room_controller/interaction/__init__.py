"""The live classroom's social layer: chat, moderated questions, the raised-hand queue and
polls of one live session, held in memory by a ``InteractionHub`` (``hub.py``).

Plain values in, plain values out: no web framework and no database here. The web layer feeds
each participant's messages to ``InteractionHub.handle`` and sends what the hub publishes; the
persistence layer listens to the hub's ``Record``s (``records.py``).

Protocol (JSON objects over ``GET /api/rooms/{room}/interaction``, ``web/routes/interaction.py``)
--------------------------------------------------------------------------------------------

Client → server (any message may carry ``"ref"``, echoed in an error it causes; ``M`` marks
moderator-only messages, i.e. the room's instructors and admins)::

    {"type": "chat", "text": str<=500}
    {"type": "chat.delete", "id": "m7"}                                    M
    {"type": "question", "text": str<=500, "anonymous": bool}
    {"type": "question.vote", "id": "q3"}          once per person, not your own
    {"type": "question.status", "id": "q3",
     "status": "approved"|"answering"|"answered"|"dismissed"|"pending"}    M
    {"type": "hand.raise"}                          students only
    {"type": "hand.lower"}                          your own; M may add "key": "<user>"
    {"type": "hand.accept", "key": "<user>"}                               M
    {"type": "hand.end"}                            M, or the speaker themself
    {"type": "poll", "question": str<=300, "options": [2..6 x str<=100],
     "seconds": 5..600, "presence_check": bool}                            M (3 open at most)
    {"type": "poll.answer", "id": "p1", "option": 0-based index}  once, while open
    {"type": "poll.close", "id": "p1"}                                     M
    {"type": "poll.show", "id": "p1"}                                      M

Server → client (every event carries ``"seq"``, its number in the live session)::

    {"type": "welcome", "seq", "room", "session", "you": {"key", "name", "moderator"},
     "resumed": bool, "missed": n}                  first, on every (re)connection
    {"type": "snapshot", "seq", "chat": [message], "questions": [question], "voted": [id],
     "hands": hands, "speaking": speaking|null, "polls": [poll + "mine": option|null]}
                                                    unless resumed (then the missed events)
    {"type": "chat", "message": {"id", "author": {"key", "name"}, "text", "at", "moderator"}}
    {"type": "chat.deleted", "id"}
    {"type": "question", "question": {"id", "text", "author": {"key", "name"}|null,
     "anonymous", "status", "votes", "at", "mine"}}
                     students: approved/answering/answered ones and their own; moderators: all
    {"type": "question.removed", "id"}              to students when one leaves their list
    {"type": "hands", "count", "speaker": {"key", "name"}|null,
     "position": n|null}                            students (their own place)
    {"type": "hands", "count", "speaker", "queue": [{"key", "name", "since"}]}   moderators
    {"type": "speaking", "speaking": true, "grant": {...}}   only to the accepted student;
    {"type": "speaking", "speaking": false, "grant": null}   ... and when it ends
    {"type": "poll", "poll": {"id", "question", "options", "seconds", "presence_check",
     "open", "remaining", "shown", "opened_at", "counts"?, "answered"?}}
                     counts: always to moderators (live, on every answer), to all once shown
    {"type": "poll.answered", "id", "option"}       only to the one who answered
    {"type": "error", "code": "invalid"|"forbidden"|"conflict"|"rate_limited",
     "message", "retry_after"? (seconds), "ref"?}

Rejoin: connect with ``?since=<last seq seen>``; the welcome says ``resumed`` and how many
events follow; when the backlog (2000 events) no longer reaches back, a snapshot comes instead.

Hooks for talkback and drawing (``InteractionHub.on_speaker_changed``, ``InteractionHub.grant``;
``web.interaction.Interactions`` hands its own ``grant`` and ``on_speaker_changed`` to every hub).
"""

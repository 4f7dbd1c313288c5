"""The word, given and taken back: an accepted hand is the speaker's talkback and drawing.

The hand queue (``room_controller.interaction``) decides who speaks; ``streaming`` owns the two
rights that go with it (``streaming.talkback``: a WHIP publish of the speaker's microphone, and
``streaming.overlay``: drawing over the program in a speaker colour). This module ties them:

- a hand accepted: a talkback grant is issued for that one acceptance and its credential goes
  only to the speaker, inside the hub's ``speaking`` message (``grant.talkback``); the speaker
  may draw (``grant.draw.colour``);
- the speech ended (by the instructor, by the speaker in the panel, by a new acceptance, or by
  the end of the live session): both rights are taken back at once;
- the talkback ended on its own (the speaker's Stop button, a dropped connection, an unused
  grant expiring): the speech ends too, so the hand queue, the console and the sound agree.
"""

from __future__ import annotations

import logging
from typing import Any

from room_controller.interaction.participants import Participant
from streaming.talkback import TalkbackEnded, TalkbackRefused
from web.interaction import Interactions
from web.live import LiveRooms

logger = logging.getLogger(__name__)


class SpeakerRights:
    """Hooks the hand queue of every live room to talkback and drawing (``attach`` once)."""

    def __init__(self, live: LiveRooms, interactions: Interactions) -> None:
        self.live = live
        self.interactions = interactions
        self._speaking: dict[str, int] = {}  # room -> the user who has the word

    def attach(self) -> None:
        self.interactions.grant = self.grant
        self.interactions.on_speaker_changed.append(self.speaker_changed)
        self.live.talkback_listeners.append(self.talkback_ended)

    def grant(self, room_id: str, who: Participant) -> dict[str, Any]:
        """What the accepted speaker's page receives: the talkback credential and their colour
        (or the reason one of them cannot be given; the speech goes on with what could)."""
        out: dict[str, Any] = {}
        if who.user_id is None:  # a token without an account: nobody to bind the rights to
            return {"refused": "this sign-in has no account: talkback and drawing need one"}
        streaming = self.live.streaming
        try:
            out["talkback"] = streaming.talkback.issue(
                room_id, who.user_id, allow_camera=False).for_speaker()
        except (TalkbackRefused, LookupError) as exc:
            out["talkback_refused"] = str(exc)
        try:
            out["draw"] = {"colour": streaming.overlay.allow(room_id, who.user_id)}
        except (LookupError, ValueError) as exc:
            out["draw_refused"] = str(exc)
        return out

    def speaker_changed(self, room_id: str, who: Participant | None) -> None:
        previous = self._speaking.pop(room_id, None)
        if who is not None and who.user_id is not None:
            self._speaking[room_id] = who.user_id
        if previous is not None and (who is None or who.user_id != previous):
            self._take_back(room_id, previous)

    def _take_back(self, room_id: str, user_id: int) -> None:
        streaming = self.live.streaming
        streaming.overlay.revoke(room_id, user_id)
        streaming.talkback.revoke_soon(room_id, user_id, "the instructor ended the turn")

    async def talkback_ended(self, ended: TalkbackEnded) -> None:
        if self._speaking.get(ended.room_id) != ended.user_id:
            return  # taken back by the queue already, or never the queue's
        interaction = self.interactions.get(ended.room_id)
        if interaction is not None and interaction.hub.end_speech(ended.user_id):
            logger.info("user %s's speech in room %s ended with their talkback: %s",
                        ended.user_id, ended.room_id, ended.reason)

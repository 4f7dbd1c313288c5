"""The application's state: everything a request may need, in one typed object.

The lifespan builds one ``AppState`` and keeps it as ``app.state.medroom``; nothing else is
stored on ``app.state``. Routes never read ``app.state`` themselves: they take the typed
dependencies of ``web.deps``, which reach this object through ``app_state``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from config.settings import Settings
from library.cme.vault import CnpVault
from library.db import Database
from library.login_throttle import LoginThrottle
from library.media_links import MediaLinkSigner
from streaming.limits import TokenBuckets
from web.classroom_kit import ClassroomKit
from web.live import LiveRooms
from web.publisher import PublishRunner
from web.room_feed import RoomFeed
from web.room_pacs import RoomPacs
from web.room_recordings import RoomRecordings

if TYPE_CHECKING:  # web.auth reads the state through app_state below: no import cycle
    from web.auth import TokenSigner
    from web.interaction import Interactions


@dataclass
class AppState:
    """Everything a request may need, reached as ``request.app.state.medroom``."""

    settings: Settings
    db: Database
    tokens: TokenSigner
    live: LiveRooms
    recordings: RoomRecordings
    publisher: PublishRunner
    cnp_vault: CnpVault
    verify_limits: TokenBuckets  # certificate look-ups per client address (/verify/{n})
    media_links: MediaLinkSigner  # signed, expiring links to published lesson files
    login_throttle: LoginThrottle  # failed log-ins per account and per client address
    classrooms: ClassroomKit  # check-in codes, device cookies, check-in limits
    feed: RoomFeed | None = None  # room state pushed to consoles (set once the rooms run)
    interactions: Interactions | None = None  # each live room's chat, questions, hands, polls
    pacs: RoomPacs | None = None  # the hospital's PACS: retrievals, worklist context, retention


def app_state(connection: HTTPConnection) -> AppState:
    """The state of the app serving this request or websocket."""
    state = getattr(connection.app.state, "medroom", None)
    if isinstance(state, AppState):
        return state
    # Only before the lifespan has run (or after a failed start): say so, do not guess.
    raise RuntimeError("the MedRoom application state is not ready: the app has not started")

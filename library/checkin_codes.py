"""Check-in codes: what a classroom screen shows, bound to its place, presence check and 30 s.

A code is an HMAC of (place, presence check, 30-second window) under the server's secret,
written as 8 characters people can read across a hall and type on a phone. Nothing is stored
per code: the server recomputes the codes of the open checks to recognise one. The current and
the previous window are accepted (a person who scanned at the last second still gets in);
anything older has expired. A place is a classroom (``classroom:<id>``) or the operating room
itself (``room:<id>``), so a code copied from one hall is no code in another.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

WINDOW_SECONDS = 30
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: typed from a screen
CODE_LENGTH = 8
ACCEPTED_WINDOWS = 2  # the current one and the previous one, as a small grace
# How far back a code is still recognised, to say "expired" rather than "not a code".
RECOGNISED_WINDOWS = 40  # 20 minutes


def window_of(at: datetime) -> int:
    return int(at.timestamp()) // WINDOW_SECONDS


def window_ends(window: int) -> float:
    """Unix time at which ``window`` ends (the screen shows the next code then)."""
    return float((window + 1) * WINDOW_SECONDS)


def classroom_place(classroom_id: int) -> str:
    return f"classroom:{classroom_id}"


def room_place(room_id: str) -> str:
    return f"room:{room_id}"


class CodeBook:
    """Makes and recognises codes with one secret (derived for this purpose only)."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"medroom.checkin-code.v1\0" + secret.encode("utf-8")).digest()

    def code(self, place: str, check_id: int, window: int) -> str:
        mac = hmac.new(self._key, f"{place}|{check_id}|{window}".encode(), hashlib.sha256)
        number = int.from_bytes(mac.digest()[:8], "big")
        chars = []
        for _ in range(CODE_LENGTH):
            number, digit = divmod(number, len(CODE_ALPHABET))
            chars.append(CODE_ALPHABET[digit])
        return "".join(chars)


@dataclass(frozen=True)
class Match:
    """Which place, check and window a typed code belongs to."""

    place: str
    check_id: int
    window: int


def normalize(code: str) -> str:
    """What a person typed or a QR link carried: upper case, letters and digits only."""
    return "".join(ch for ch in code.upper()[:64] if ch.isalnum())


def recognise(book: CodeBook, code: str, places: list[str], check_ids: list[int],
              now_window: int) -> Match | None:
    """The (place, check, window) whose code ``code`` is, searching the recent windows."""
    for window in range(now_window, now_window - RECOGNISED_WINDOWS, -1):
        for place in places:
            for check_id in check_ids:
                if hmac.compare_digest(book.code(place, check_id, window), code):
                    return Match(place, check_id, window)
    return None

"""What the classroom routes share: the check-in code book, the device cookies of classroom
screens and phones, and the limits on check-ins and on new pending screens.

A device cookie holds a random key, signed so a forged one is refused before the database is
asked (as the session cookie, ``web/session_cookie.py``). The screen's key is its credential
(the database keeps its SHA-256, and an admin can revoke it); the phone's key only tells one
phone from another, so that one phone checks in one account.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass

import segno
from itsdangerous import BadSignature, Signer
from starlette.requests import HTTPConnection
from starlette.responses import Response

from library.checkin_codes import CodeBook
from library.checkin_throttle import CheckInThrottle
from library.classrooms import new_device_key
from streaming.limits import TokenBuckets

SCREEN_COOKIE = "medroom_screen"
PHONE_COOKIE = "medroom_phone"
DEVICE_MAX_AGE = 400 * 24 * 3600  # a paired screen stays paired across reboots
SCREEN_SUBJECT_PREFIX = "classroom-screen:"



@dataclass
class ClassroomKit:
    codes: CodeBook
    devices: Signer
    screen_csrf_secret: bytes
    throttle: CheckInThrottle
    new_screens: TokenBuckets  # pending screens created per client address
    secure: bool
    random_secret: bytes  # draws the moments of random presence checks

    @classmethod
    def build(cls, secret: str, secure: bool) -> ClassroomKit:
        return cls(
            codes=CodeBook(secret),
            devices=Signer(secret, salt="medroom.device-cookie.v1"),
            screen_csrf_secret=hashlib.sha256(b"medroom.screen-csrf.v1\0" + secret.encode()).digest(),
            throttle=CheckInThrottle(),
            new_screens=TokenBuckets(20),
            secure=secure,
            random_secret=hashlib.sha256(b"medroom.random-checks.v1\0" + secret.encode()).digest(),
        )

    def read(self, connection: HTTPConnection, name: str) -> str | None:
        value = connection.cookies.get(name)
        if not value or len(value) > 200:
            return None
        try:
            return self.devices.unsign(value).decode("utf-8")
        except (BadSignature, UnicodeDecodeError):
            return None

    def write(self, response: Response, name: str, key: str | None) -> None:
        if key is None:
            response.delete_cookie(name, path="/", secure=self.secure, httponly=True,
                                   samesite="lax")
            return
        response.set_cookie(name, self.devices.sign(key).decode("utf-8"), max_age=DEVICE_MAX_AGE,
                            path="/", secure=self.secure, httponly=True, samesite="lax")

    def phone_key(self, connection: HTTPConnection) -> tuple[str, bool]:
        """The phone's key, and whether it is new (then the caller sets the cookie)."""
        key = self.read(connection, PHONE_COOKIE)
        return (key, False) if key is not None else (new_device_key(), True)

    def screen_csrf(self, key: str) -> str:
        """The screen page's token for its unsafe requests (the screen has no log-in session)."""
        return hmac.new(self.screen_csrf_secret, key.encode("utf-8"), hashlib.sha256).hexdigest()

    def screen_csrf_ok(self, key: str, supplied: str | None) -> bool:
        return bool(supplied) and hmac.compare_digest(self.screen_csrf(key), supplied or "")


def screen_subject(screen_id: int) -> str:
    return f"{SCREEN_SUBJECT_PREFIX}{screen_id}"


def checkin_url(connection: HTTPConnection, where: str, code: str) -> str:
    """The address a screen's QR code opens: the phone's check-in page, code filled in."""
    return str(connection.base_url).rstrip("/") + f"/checkin?{where}&code={code}"


@functools.lru_cache(maxsize=256)
def qr_data_uri(url: str) -> str:
    """The QR code of ``url`` as an SVG data URI (the pages' CSP allows data: images).

    Screens ask every second or two and a code lasts 30 s: each is drawn once."""
    return str(segno.make(url, error="m").svg_data_uri(scale=8, border=2, dark="#0b1d2a"))

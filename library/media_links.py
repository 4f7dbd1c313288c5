"""Signed, expiring links to a published lesson's files (video, stills, chapters, timeline).

A link names one file of one lesson and is good for one person until a moment: the signature
is an HMAC-SHA256, under a key derived from the app secret, of (lesson, file, user, expiry).
The user is not in the link; the server takes it from whoever presents the link (session
cookie or bearer token), so a link copied to someone else fails the signature check. Links
expire so that a link leaked into a log, a proxy or a browser history stops working, and a
student who leaves a course loses the videos with the next page load at the latest.

Plain values only: the web layer parses the request, this module says yes or why not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode

KEY_PURPOSE = b"medroom.media-link.v1"
DEFAULT_TTL_SECONDS = 6 * 3600
# One path component of plain characters: no separators, no leading dot (so never "." or
# ".."), nothing a filesystem or a URL decoder could read as a step out of the lesson folder.
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".vtt": "text/vtt; charset=utf-8",
    ".jpg": "image/jpeg",
    ".json": "application/json",
}


class MediaLinkError(Exception):
    """A link was refused; ``str()`` tells the person what happened and what to do."""


class MediaLinkExpired(MediaLinkError):
    pass


class MediaLinkInvalid(MediaLinkError):
    pass


def check_file_name(name: str) -> str:
    """``name`` if it may name a file inside a lesson folder, else ``MediaLinkInvalid``."""
    if not _FILE_NAME.match(name) or ".." in name:
        raise MediaLinkInvalid(f"{name!r} is not a lesson file name")
    if media_type(name) is None:
        raise MediaLinkInvalid(f"{name!r} is not a kind of file lessons serve "
                               f"({', '.join(sorted(MEDIA_TYPES))})")
    return name


def media_type(name: str) -> str | None:
    dot = name.rfind(".")
    return MEDIA_TYPES.get(name[dot:].lower()) if dot > 0 else None


@dataclass(frozen=True)
class MediaLink:
    lesson_id: int
    file: str
    expires: int  # Unix seconds
    signature: str

    @property
    def url(self) -> str:
        query = urlencode({"exp": self.expires, "sig": self.signature})
        return f"/media/lessons/{self.lesson_id}/{quote(self.file)}?{query}"


class MediaLinkSigner:
    """Issues and checks media links with one secret; ``now`` is seconds since the epoch."""

    def __init__(self, secret: str, *, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"media link lifetime must be positive, got {ttl_seconds}")
        # A key of its own: a media signature can never be replayed as a session or API token.
        self._key = hmac.new(secret.encode(), KEY_PURPOSE, hashlib.sha256).digest()
        self.ttl_seconds = ttl_seconds

    def _sign(self, lesson_id: int, file: str, user: str, expires: int) -> str:
        message = "\n".join((str(lesson_id), file, user, str(expires))).encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def issue(self, lesson_id: int, file: str, user: str, *, now: float | None = None,
              ttl_seconds: int | None = None) -> MediaLink:
        check_file_name(file)
        issued = time.time() if now is None else now
        expires = int(issued) + (self.ttl_seconds if ttl_seconds is None else ttl_seconds)
        return MediaLink(lesson_id, file, expires, self._sign(lesson_id, file, user, expires))

    def verify(self, lesson_id: int, file: str, user: str, expires: str | None,
               signature: str | None, *, now: float | None = None) -> None:
        """Accept the link or raise ``MediaLinkInvalid`` / ``MediaLinkExpired``."""
        check_file_name(file)
        if not expires or not signature:
            raise MediaLinkInvalid("this media link is incomplete (exp and sig are needed): "
                                   "open the lesson page again for a fresh link")
        if not re.fullmatch(r"[0-9]{1,12}", expires):  # isdigit() would let '²' reach int()
            raise MediaLinkInvalid("this media link is damaged: open the lesson page again")
        expected = self._sign(lesson_id, file, user, int(expires))
        # Signature first: "expired" is said only of a link we really issued, so a forged
        # link learns nothing about which part was wrong.
        if not hmac.compare_digest(expected, signature):
            raise MediaLinkInvalid("this media link is not valid for you (altered, or issued "
                                   "to someone else): open the lesson page again")
        current = time.time() if now is None else now
        if int(expires) < current:
            when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(expires)))
            raise MediaLinkExpired(f"this media link expired at {when}: reload the lesson page "
                                   "for a fresh one")

"""The language and time zone of whoever is being served, and the translated words.

MedRoom speaks English (the source language of every message), Romanian, Serbian in Cyrillic
and Latin script, and Bulgarian. Messages are gettext catalogs (``locale/<id>/LC_MESSAGES/*.po``,
see ``catalogs.py``); which language and time zone apply is decided once per request (the web
layer's ``LocaleMiddleware``) and kept in a context variable, so templates, error messages, PDFs
and formatted dates all read the same choice without passing it around. Code that renders for
someone else (a certificate in Romanian, whatever the page's language) uses ``use()``.

Placeholders are Python's named ``%(name)s`` everywhere (Python, templates and JavaScript), so a
translator sees one convention and a sentence is never glued together from pieces.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Babel's identifiers (directory names of the catalogs) and the BCP 47 tags pages carry.
LOCALES: dict[str, str] = {
    "en": "en",
    "ro": "ro",
    "sr_Latn": "sr-Latn",
    "sr_Cyrl": "sr-Cyrl",
    "bg": "bg",
}
# Each language named in itself, for the switcher.
NATIVE_NAMES: dict[str, str] = {
    "en": "English",
    "ro": "Română",
    "sr_Latn": "Srpski (latinica)",
    "sr_Cyrl": "Српски (ћирилица)",
    "bg": "Български",
}
SOURCE_LOCALE = "en"
DEFAULT_ZONE = "Europe/Bucharest"


@dataclass(frozen=True)
class Lang:
    """Who is being served: a locale of ``LOCALES`` and an IANA time zone.

    ``zone_chosen``: the zone is the account's setting or the browser's (not the server's
    guess), so pages may trust it without asking the browser again."""

    locale: str = SOURCE_LOCALE
    zone: str = DEFAULT_ZONE
    zone_chosen: bool = False

    @property
    def tag(self) -> str:
        return LOCALES[self.locale]

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.zone)


_current: contextvars.ContextVar[Lang] = contextvars.ContextVar(
    "medroom_lang", default=Lang())  # noqa: B039 (Lang is frozen)


def current() -> Lang:
    return _current.get()


def set_current(lang: Lang) -> contextvars.Token[Lang]:
    return _current.set(lang)


@contextmanager
def use(locale: str | None = None, zone: str | None = None) -> Iterator[Lang]:
    """Render in ``locale`` (and ``zone``) for the duration, e.g. a Romanian certificate."""
    now = current()
    lang = Lang(
        locale=known_locale(locale) or now.locale,
        zone=known_zone(zone) or now.zone,
        zone_chosen=now.zone_chosen or zone is not None,
    )
    token = _current.set(lang)
    try:
        yield lang
    finally:
        _current.reset(token)


def known_locale(value: str | None) -> str | None:
    """The catalog id for a locale id or BCP 47 tag we speak ('sr-Latn' -> 'sr_Latn'), else None."""
    if not value:
        return None
    wanted = value.strip().replace("-", "_")
    for locale in LOCALES:
        if locale.lower() == wanted.lower():
            return locale
    return None


def known_zone(value: str | None) -> str | None:
    """``value`` if it is an IANA time zone this machine knows, else None."""
    if not value or len(value) > 64 or value.startswith(("/", ".")) or ".." in value:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return value


def gettext(message: str, **params: Any) -> str:
    """``message`` in the current language, with ``%(name)s`` placeholders filled."""
    from library.i18n.catalogs import translations

    text = translations(current().locale).gettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, num: int, **params: Any) -> str:
    """The form of ``singular``/``plural`` for ``num`` in the current language (Romanian and
    Serbian have three: 1 / 2-19 / 20+, and 1 / 2-4 / 5+); ``%(num)s`` is filled in."""
    from library.i18n.catalogs import translations

    text = translations(current().locale).ngettext(singular, plural, num)
    return text % {"num": num, **params}


class LazyText(str):
    """A message translated when it is shown, not when it is made: an error raised deep in
    the library is phrased in the language of the request that receives it.

    As a ``str`` it is the English text, so logs and code comparing messages keep working."""

    message: str
    params: dict[str, Any]
    code: str | None

    def __new__(cls, message: str, code: str | None = None, **params: Any) -> Self:
        self = super().__new__(cls, message % params if params else message)
        self.message, self.params, self.code = message, params, code
        return self

    def render(self) -> str:
        # A parameter may itself be a message ("the operating room" inside a sentence).
        return gettext(self.message, **{k: shown(v) if isinstance(v, LazyText) else v
                                        for k, v in self.params.items()})


def lazy(message: str, code: str | None = None, **params: Any) -> LazyText:
    """A message for an error or a notice shown later, maybe to someone else; ``code`` is a
    stable machine-readable name for API clients ('programme_not_found')."""
    return LazyText(message, code, **params)


def shown(text: object) -> str:
    """What a person reads: a ``LazyText`` in the current language, anything else as it is."""
    return text.render() if isinstance(text, LazyText) else str(text)

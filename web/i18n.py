"""Where a request's language and time zone are decided, once, and how pages use them.

The choice, first that applies:
- language: the account's setting; the switcher's cookie (``medroom_lang``, for people not
  logged in); the browser's ``Accept-Language``; the server's default (``MEDROOM_LANGUAGE``);
- time zone: the account's setting; the browser's own zone, which ``/static/i18n.js`` keeps in
  the ``medroom_tz`` cookie; the server's default (``MEDROOM_TIME_ZONE``).

``LocaleMiddleware`` sits inside ``SessionCookies`` (it reads the account's choice from the
session the cookie middleware looked up) and sets ``library.i18n``'s context variable for the
rest of the request, so templates, API errors and PDFs all see the same ``Lang``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from library.i18n import (
    LOCALES,
    NATIVE_NAMES,
    Lang,
    current,
    formats,
    known_locale,
    known_zone,
    lazy,
    set_current,
    shown,
)
from library.i18n.catalogs import catalog_version
from web.session_cookie import SCOPE_KEY, CookieSession

LANG_COOKIE = "medroom_lang"
ZONE_COOKIE = "medroom_tz"
MAX_ACCEPT_LANGUAGE = 512  # bound the header before parsing it
# Tags that name a language we speak under another name: Serbian without a script is Cyrillic
# (CLDR's default, and the official script); Serbo-Croatian and Montenegrin are read in Latin.
ALIASES = {"sr": "sr_Cyrl", "sh": "sr_Latn", "cnr": "sr_Latn", "mo": "ro"}


def from_accept_language(header: str | None) -> str | None:
    """The first language of ``Accept-Language`` we speak, by the browser's preference."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(header[:MAX_ACCEPT_LANGUAGE].split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and quality > 0:
            ranked.append((-quality, index, tag.strip()))
    for _quality, _index, tag in sorted(ranked):
        locale = locale_of_tag(tag)
        if locale:
            return locale
    return None


def locale_of_tag(tag: str) -> str | None:
    """'ro-RO' -> ro, 'sr-Latn-RS' -> sr_Latn, 'sr-RS' -> sr_Cyrl, 'bg' -> bg, 'de' -> None."""
    parts = tag.replace("_", "-").lower().split("-")
    language = parts[0]
    if language == "sr" and "latn" in parts:
        return "sr_Latn"
    if language in ALIASES:
        return ALIASES[language]
    return known_locale(language)


def decide(connection: HTTPConnection, default_locale: str, default_zone: str) -> Lang:
    session = connection.scope.get(SCOPE_KEY)
    record = session.record if isinstance(session, CookieSession) else None
    account_locale = known_locale(record.locale) if record else None
    account_zone = known_zone(record.time_zone) if record else None
    locale = (account_locale or known_locale(connection.cookies.get(LANG_COOKIE))
              or from_accept_language(connection.headers.get("accept-language"))
              or default_locale)
    # The page script writes the zone URI-encoded ("Europe%2FBelgrade").
    browser_zone = known_zone(unquote(connection.cookies.get(ZONE_COOKIE) or ""))
    zone = account_zone or browser_zone or default_zone
    return Lang(locale=locale, zone=zone, zone_chosen=bool(account_zone or browser_zone))


class LocaleMiddleware:
    """ASGI middleware: decides the request's ``Lang`` and sets it for everything below."""

    def __init__(self, app: ASGIApp, *, default_locale: str, default_zone: str) -> None:
        self.app = app
        self.default_locale = default_locale
        self.default_zone = default_zone

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        token = set_current(decide(HTTPConnection(scope), self.default_locale, self.default_zone))
        try:
            await self.app(scope, receive, send)
        finally:
            token.var.reset(token)


# The roles as the header shows them (the value stays the API's).
ROLE_NAMES = {
    "admin": lazy("admin"),
    "instructor": lazy("instructor"),
    "curator": lazy("curator"),
    "student": lazy("student"),
}


def role_name(role: str) -> str:
    return shown(ROLE_NAMES.get(role, role))


def error_code(exc: Any) -> str:
    """The machine-readable code of an HTTP error: the message's own ('unknown_language'), else
    the status's name ('not_found', 'forbidden', 'too_many_requests')."""
    code = getattr(exc.detail, "code", None)
    if code:
        return str(code)
    try:
        return HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return f"http_{exc.status_code}"


def install(env: Any) -> None:
    """Give the Jinja2 environment the catalogs (``_``, ``gettext``, ``ngettext``,
    ``{% trans %}``) and the formats of the viewer's language and zone as filters."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext=_raw_gettext, ngettext=_raw_ngettext, newstyle=True)
    env.policies["ext.i18n.trimmed"] = True
    env.filters.update(
        datetime=formats.format_datetime, date=formats.format_date, time=formats.format_time,
        number=formats.format_number, percent=formats.format_percent,
        duration=formats.format_duration, clock=formats.format_clock,
    )
    env.globals.update(
        lang=current, locales=LOCALES, native_names=NATIVE_NAMES,
        catalog_version=catalog_version, zone_name=formats.zone_name, role_name=role_name,
        now_utc=lambda: datetime.now(UTC),
    )


def _raw_gettext(message: str) -> str:
    # Jinja's newstyle wrapper fills the placeholders (escaping the values) itself.
    from library.i18n.catalogs import translations

    return translations(current().locale).gettext(message)


def _raw_ngettext(singular: str, plural: str, num: int) -> str:
    from library.i18n.catalogs import translations

    return translations(current().locale).ngettext(singular, plural, num)


__all__ = ["LANG_COOKIE", "ZONE_COOKIE", "LocaleMiddleware", "decide",
           "from_accept_language", "install"]

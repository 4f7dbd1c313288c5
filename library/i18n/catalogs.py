"""The gettext catalogs: ``locale/<locale>/LC_MESSAGES/<part>.po``, read at first use.

A language's messages are split into parts by area of the product (``common.po``,
``console.po``, ``cme.po``...), so translators of one area work in one file; a language is the
union of its parts. Catalogs are read from the ``.po`` sources and compiled in memory, so there
is no build step and no compiled file to go stale. ``sr_Latn`` is derived from ``sr_Cyrl``
(``python -m library.i18n.tool derive``); the suite checks that it is.

English is the source language: its catalog is empty and every message is its own msgid.
"""

from __future__ import annotations

import functools
import hashlib
import io
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from library.i18n import LOCALES, SOURCE_LOCALE

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN_DIR = "LC_MESSAGES"


def part_files(locale: str) -> list[Path]:
    return sorted((LOCALE_DIR / locale / DOMAIN_DIR).glob("*.po"))


def read_catalog(path: Path, locale: str) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale, abort_invalid=True)


@functools.cache
def merged_catalog(locale: str) -> Catalog:
    """Every part of ``locale`` as one catalog (the first part to translate a msgid wins;
    the suite refuses two parts translating it differently)."""
    merged = Catalog(locale=Locale.parse(locale), domain="messages")
    for path in part_files(locale):
        for message in read_catalog(path, locale):
            if message.id and message.id not in merged:
                merged[message.id] = message
    return merged


@functools.cache
def translations(locale: str) -> NullTranslations:
    if locale == SOURCE_LOCALE or locale not in LOCALES:
        return NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, merged_catalog(locale))  # fuzzy entries are left out, as msgfmt does
    buffer.seek(0)
    return Translations(buffer, domain="messages")


def plural_tags(locale: str) -> list[str]:
    """CLDR plural categories in gettext's order of forms ('one', 'few', 'other' for ro/sr):
    the browser's ``Intl.PluralRules`` names a category and this gives its form's index."""
    tags = Locale.parse(locale).plural_form.tags
    order = ("zero", "one", "two", "few", "many")
    return [tag for tag in order if tag in tags] + ["other"]


@functools.cache
def script_messages(locale: str, msgids: frozenset[str]) -> dict[str, str | list[str]]:
    """The translations of the messages the page scripts use: msgid (or msgid + "\\x00" +
    plural msgid) -> text (or the list of plural forms)."""
    if locale == SOURCE_LOCALE:
        return {}
    out: dict[str, str | list[str]] = {}
    for message in merged_catalog(locale):
        if not message.id or message.fuzzy:
            continue
        string = message.string
        if isinstance(message.id, tuple | list) and isinstance(string, tuple | list):
            key = message.id[0]
            if key in msgids and all(string):
                out[key + "\x00" + message.id[1]] = [str(form) for form in string]
        elif isinstance(string, str) and message.id in msgids and string:
            out[str(message.id)] = string
    return out


@functools.cache
def catalog_version() -> str:
    """Changes whenever a catalog changes: the scripts' catalog URL carries it (cached forever)."""
    digest = hashlib.sha256()
    for locale in LOCALES:
        for path in part_files(locale):
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]

"""Keeping the catalogs in step with the source: ``python -m library.i18n.tool COMMAND``.

    check            what is missing, untranslated, stale or inconsistent (exit 1 if anything)
    add PART [PATH]  add the messages no part has yet (only those found under PATH, if given)
                     to PART.po of every translated language, untranslated, for a translator
    derive           write sr_Latn from sr_Cyrl (Serbian Latin is transliterated, never typed)
    fill PART LOCALE FILE.json
                     set translations of PART.po from {msgid: text, or [forms] for plurals}
    prune            drop messages the source no longer asks for

The suite runs ``problems()`` (tests/i18n/test_catalogs.py), so a string added to a page
without a translation in every language fails CI, not a user.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import write_po

from library.i18n import LOCALES, SOURCE_LOCALE
from library.i18n.catalogs import DOMAIN_DIR, LOCALE_DIR, part_files, read_catalog
from library.i18n.extraction import ROOT, Found, all_messages
from library.i18n.serbian import to_latin

TRANSLATED = [loc for loc in LOCALES if loc != SOURCE_LOCALE]  # ro, sr_Latn, sr_Cyrl, bg
WRITTEN = [loc for loc in TRANSLATED if loc != "sr_Latn"]  # what translators write
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%%")
# Romanian is written with comma-below ș ț; the cedilla forms ş ţ are an old encoding's error.
CEDILLA = re.compile("[şţŞŢ]")
PROJECT = "MedRoom"


def _new_catalog(locale: str) -> Catalog:
    catalog = Catalog(locale=Locale.parse(locale), domain="messages", project=PROJECT,
                      version="1", copyright_holder=PROJECT, charset="utf-8", fuzzy=False,
                      last_translator="MedRoom translators",
                      language_team=f"MedRoom {LOCALES[locale]}",
                      header_comment=f"# {PROJECT}: {LOCALES[locale]} messages.\n"
                      "# Written by MedRoom's translators; see library/i18n/tool.py.")
    return catalog


def write_catalog(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100, sort_output=False, omit_header=False,
                 include_previous=False, include_lineno=False)


def source_ids(found: Iterable[Found]) -> dict[str, Found]:
    out: dict[str, Found] = {}
    for item in found:
        out.setdefault(item.key, item)
    return out


def _forms(message: Message) -> list[str]:
    string = message.string
    if isinstance(string, tuple | list):
        return [str(form) for form in string]
    return [string or ""]


def problems(found: list[Found] | None = None) -> list[str]:
    """Every way the catalogs disagree with the source or with themselves, as sentences."""
    wanted = source_ids(all_messages() if found is None else found)
    out: list[str] = []
    for locale in TRANSLATED:
        nplurals = len(Locale.parse(locale).plural_form.tags) + 1
        seen: dict[str, tuple[str, list[str]]] = {}
        for path in part_files(locale):
            for message in read_catalog(path, locale):
                if not message.id:
                    continue
                key = message.id if isinstance(message.id, str) else message.id[0]
                forms = _forms(message)
                here = f"{locale}/{path.name}: {key!r}"
                if key in seen and seen[key][1] != forms:
                    out.append(f"{here} is translated differently in {seen[key][0]}")
                seen[key] = (path.name, forms)
                if key not in wanted:
                    out.append(f"{here} is no longer in the source (prune it)")
                    continue
                if isinstance(wanted[key].id, tuple) != isinstance(message.id, tuple):
                    out.append(f"{here} must {'' if isinstance(wanted[key].id, tuple) else 'not '}"
                               "have plural forms")
                    continue
                if message.fuzzy or not all(forms):
                    out.append(f"{here} has no translation ({wanted[key].where})")
                    continue
                if isinstance(message.id, tuple) and len(forms) != nplurals:
                    out.append(f"{here} needs {nplurals} plural forms, has {len(forms)}")
                expected = sorted(set(PLACEHOLDER.findall(key)))
                for form in forms:
                    if sorted(set(PLACEHOLDER.findall(form))) != expected and not (
                        isinstance(message.id, tuple) and "%(num)" not in form):
                        out.append(f"{here}: placeholders {expected} differ in {form!r}")
                        break
                if locale == "ro" and any(CEDILLA.search(f) for f in forms):
                    out.append(f"{here}: ş/ţ with cedilla; Romanian uses ș/ț (comma below)")
        for key, item in wanted.items():
            if key not in seen:
                out.append(f"{locale}: {key!r} ({item.where}) is in no catalog")
    out.extend(_derived_problems())
    return out


def _derived_problems() -> list[str]:
    out = []
    for path in part_files("sr_Cyrl"):
        latin = LOCALE_DIR / "sr_Latn" / DOMAIN_DIR / path.name
        if not latin.exists() or latin.read_bytes() != _derived_bytes(path):
            out.append(f"sr_Latn/{path.name} is not derived from sr_Cyrl/{path.name}: "
                       "run python -m library.i18n.tool derive")
    return out


def _derived_bytes(cyrillic_path: Path) -> bytes:
    cyrillic = read_catalog(cyrillic_path, "sr_Cyrl")
    latin = _new_catalog("sr_Latn")
    for message in cyrillic:
        if not message.id:
            continue
        forms = _forms(message)
        string: str | tuple[str, ...] = (tuple(to_latin(f) for f in forms)
                                         if isinstance(message.id, tuple) else to_latin(forms[0]))
        latin.add(message.id, string, locations=message.locations,
                  flags=message.flags, auto_comments=message.auto_comments)
    import io

    buffer = io.BytesIO()
    write_po(buffer, latin, width=100, sort_output=False, include_previous=False,
             include_lineno=False)
    return _stable(buffer.getvalue())


def _stable(po: bytes) -> bytes:
    """Without the creation date Babel stamps in the header (it would change every run)."""
    return re.sub(rb'"(POT-Creation-Date|PO-Revision-Date): [^"]*\\n"\n', b"", po)


def derive() -> None:
    for path in part_files("sr_Cyrl"):
        target = LOCALE_DIR / "sr_Latn" / DOMAIN_DIR / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_derived_bytes(path))


def add(part: str, under: str | None = None) -> int:
    """Add every source message no part of a language has to ``part``.po, untranslated."""
    found = all_messages()
    if under:
        found = [f for f in found if f.where.startswith(under)]
    added = 0
    for locale in WRITTEN:
        have: set[str] = set()
        for path in part_files(locale):
            have.update(m.id if isinstance(m.id, str) else m.id[0]
                        for m in read_catalog(path, locale) if m.id)
        target = LOCALE_DIR / locale / DOMAIN_DIR / f"{part}.po"
        catalog = read_catalog(target, locale) if target.exists() else _new_catalog(locale)
        for key, item in source_ids(found).items():
            if key in have:
                continue
            empty: str | tuple[str, ...] = ("",) * (len(Locale.parse(locale).plural_form.tags)
                                                   + 1) if isinstance(item.id, tuple) else ""
            path_text, line = item.where.rsplit(":", 1)
            catalog.add(item.id, empty, locations=[(path_text, int(line))],
                        auto_comments=item.comments)
            added += 1
        if len(catalog):
            write_catalog(catalog, target)
            _strip_dates(target)
    return added


def fill(part: str, locale: str, source: Path) -> list[str]:
    """Set the translations of ``part``.po in ``locale`` from a JSON file; returns the msgids
    still untranslated."""
    import json

    path = LOCALE_DIR / locale / DOMAIN_DIR / f"{part}.po"
    catalog = read_catalog(path, locale)
    data = json.loads(source.read_text(encoding="utf-8"))
    for message in catalog:
        key = message.id if isinstance(message.id, str) else (message.id[0] if message.id else "")
        if key and key in data:
            value = data[key]
            message.string = tuple(value) if isinstance(value, list) else value
    write_catalog(catalog, path)
    _strip_dates(path)
    return [str(m.id) for m in catalog if m.id and not all(_forms(m))]


def prune() -> int:
    wanted = source_ids(all_messages())
    dropped = 0
    for locale in WRITTEN:
        for path in part_files(locale):
            catalog = read_catalog(path, locale)
            for message in list(catalog):
                key = message.id if isinstance(message.id, str) else message.id[0]
                if message.id and key not in wanted:
                    catalog.delete(message.id)
                    dropped += 1
            write_catalog(catalog, path)
            _strip_dates(path)
    derive()
    return dropped


def _strip_dates(path: Path) -> None:
    path.write_bytes(_stable(path.read_bytes()))


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "check":
        found = problems()
        for line in found:
            print(line)
        print(f"{len(found)} problem(s)" if found else "catalogs complete")
        return 1 if found else 0
    if command == "add" and len(argv) >= 2:
        print(f"added {add(argv[1], argv[2] if len(argv) > 2 else None)} untranslated entries")
        return 0
    if command == "fill" and len(argv) == 4:
        missing = fill(argv[1], argv[2], Path(argv[3]))
        print(f"{len(missing)} still untranslated" + (": " + "; ".join(missing[:20]) if missing else ""))
        return 0
    if command == "derive":
        derive()
        return 0
    if command == "prune":
        print(f"dropped {prune()} entries")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

__all__ = ["ROOT", "add", "derive", "problems", "prune"]

"""What the source asks to be translated: Babel's extractors over Python, the Jinja2 templates
and the page scripts, with MedRoom's keywords.

- Python: ``gettext``, ``ngettext``, ``lazy`` (not ``_``, which Python code uses as a
  throwaway name).
- Templates: ``_``, ``gettext``, ``ngettext`` and ``{% trans %}`` blocks.
- Scripts: ``gettext``, ``ngettext`` (``web/static/i18n.js``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.extract import extract_from_file

ROOT = Path(__file__).resolve().parents[2]
PYTHON_ROOTS = ("library", "web", "room_controller", "streaming", "recorder", "config")
TEMPLATES = "web/templates"
SCRIPTS = "web/static"
PYTHON_KEYWORDS = {"gettext": None, "ngettext": (1, 2), "lazy": None}
TEMPLATE_KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}
SCRIPT_KEYWORDS = {"gettext": None, "ngettext": (1, 2)}
TEMPLATE_OPTIONS = {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true",
                    "trimmed": "true"}


@dataclass(frozen=True)
class Found:
    """One message in the source: msgid, or (singular, plural) for a plural one."""

    id: str | tuple[str, str]
    where: str  # path:line
    comments: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.id if isinstance(self.id, str) else self.id[0]


def _extract(paths: Iterable[Path], method: str, keywords: dict[str, Any],
             options: dict[str, Any] | None = None) -> list[Found]:
    found = []
    for path in paths:
        for line, message, comments, _context in extract_from_file(
            method, str(path), keywords=keywords, comment_tags=("Translators:",),
            options=options or {}, strip_comment_tags=True,
        ):
            ident = message if isinstance(message, str) else (message[0], message[1])
            found.append(Found(ident, f"{path.relative_to(ROOT)}:{line}", tuple(comments)))
    return found


def python_messages(root: Path = ROOT) -> list[Found]:
    paths = [p for top in PYTHON_ROOTS for p in sorted((root / top).rglob("*.py"))
             if "migrations" not in p.parts and "bench" not in p.parts]
    return _extract(paths, "python", PYTHON_KEYWORDS)


def template_messages(root: Path = ROOT) -> list[Found]:
    return _extract(sorted((root / TEMPLATES).rglob("*.html")), "jinja2.ext:babel_extract",
                    TEMPLATE_KEYWORDS, TEMPLATE_OPTIONS)


def script_messages(root: Path = ROOT) -> list[Found]:
    return _extract(sorted((root / SCRIPTS).glob("*.js")), "javascript", SCRIPT_KEYWORDS)


def all_messages(root: Path = ROOT) -> list[Found]:
    return python_messages(root) + template_messages(root) + script_messages(root)

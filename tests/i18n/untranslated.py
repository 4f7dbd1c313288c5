"""Finding user-facing text that is not asked to be translated (the catalog check's other half:
extraction finds what is marked, this finds what should have been).

- Templates: text between tags and the attributes people read (title, placeholder, aria-label,
  alt, label, value of buttons), outside ``{{ }}`` and ``{% %}``.
- Scripts: string literals that read as words for people (a capital letter then words, or a
  sentence) that are not an argument of ``gettext``/``ngettext``.

Names of things that are the same in every language (MedRoom, WHEP, DICOM, CME...) are allowed.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.jslexer import tokenize
from jinja2 import Environment

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "web" / "templates"
SCRIPTS = ROOT / "web" / "static"
READ_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "label", "data-confirm"}
# Words that are the same in every language: names, standards, units.
SAME_EVERYWHERE = {
    "MedRoom", "WHEP", "WHIP", "DICOM", "DICOMweb", "PACS", "CME", "EMC", "CNP", "CSV", "PDF",
    "XLSX", "QR", "URL", "RTT", "PTZ", "ICE", "SDP", "TURN", "STUN", "OBS", "H.264", "VP8",
    "MWL", "AE", "FPS", "fps", "ms", "kbit/s", "Mbit/s", "px", "OK", "ID", "UTC", "SRT",
    "WebVTT", "VTT", "MP4", "fMP4", "CT", "MR", "RTP", "JSON", "API", "HTTP", "ENT", "ORL",
    # Keys as their keycaps name them, on Romanian, Serbian and Bulgarian keyboards too.
    "Excel", "EMCD",  # a program's name; the College's abbreviation of distance CME
    "Shift", "Ctrl", "Alt", "Tab", "Enter", "Esc", "Space", "Del", "Home", "End", "PgUp", "PgDn",
}
_LETTERS = re.compile(r"[^\W\d_]{2,}")


def _is_words(text: str) -> bool:
    words = [w for w in _LETTERS.findall(text) if w not in SAME_EVERYWHERE]
    return bool(words)


class _TextFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0  # inside <script>/<style>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if value and name in READ_ATTRIBUTES and _is_words(value):
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and _is_words(data):
            self.found.append(data.strip())


def template_text(path: Path) -> list[str]:
    """Text of ``path`` a person reads that is not inside ``{{ }}``/``{% %}`` (so not marked)."""
    env = Environment(extensions=["jinja2.ext.i18n"])
    source = path.read_text(encoding="utf-8")
    # Everything Jinja outputs or decides becomes a neutral placeholder, so only literal text
    # remains; a {% trans %} block is marked as a whole.
    pieces: list[str] = []
    in_trans = False
    for _line, kind, value in env.lex(source):
        if kind == "name" and value == "trans":
            in_trans = True
        elif kind == "name" and value == "endtrans":
            in_trans = False
        if kind == "data" and not in_trans:
            pieces.append(value)
        elif kind in ("variable_begin", "block_begin"):
            pieces.append(" x ")
    finder = _TextFinder()
    finder.feed("".join(pieces))
    return finder.found


_SENTENCE = re.compile(r"^[^\W\d_][^\W\d_'’-]*( [^\W\d_][^\W\d_'’-]*)+[.!?…:]?$|^.*\w[.!?…]$")
_NOT_TEXT = re.compile(r"[#\[\]=<>{}/\\]|^[a-z-]+( [a-z-]+)*$")
_FUNCTIONS = {"gettext", "ngettext"}
_IGNORED_CALLS = {"log", "warn", "error", "debug", "querySelector", "querySelectorAll",
                  "closest", "getAttribute", "setAttribute", "add", "remove", "toggle",
                  "matches", "addEventListener", "removeEventListener", "Error"}


def script_text(path: Path) -> list[str]:
    """String literals of a page script that read as sentences and are not translated."""
    found = []
    stack: list[str] = []  # the call each open parenthesis belongs to
    previous: list[str] = ["", ""]
    for token in tokenize(path.read_text(encoding="utf-8"), jsx=False, dotted=False):
        if token.type == "operator" and token.value == "(":
            stack.append(previous[-1])
        elif token.type == "operator" and token.value == ")" and stack:
            stack.pop()
        elif token.type in ("string", "template_string"):
            text = token.value[1:-1]
            inside = stack[-1] if stack else ""
            if (inside not in _FUNCTIONS and inside not in _IGNORED_CALLS
                    and _SENTENCE.match(text) and not _NOT_TEXT.search(text)
                    and _is_words(text) and " " in text):
                found.append(f"line {token.lineno}: {text}")
        if token.type not in ("linecomment", "multilinecomment"):
            previous = [previous[-1], token.value]
    return found

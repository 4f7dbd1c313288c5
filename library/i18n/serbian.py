"""Serbian is written in two scripts; Cyrillic to Latin is letter for letter and unambiguous.

So the Cyrillic catalog is the one translators write and the Latin one is derived from it
(as Serbian software has long done: the reverse direction is ambiguous, "nj" may be н+ј).
"""

from __future__ import annotations

_CYRILLIC_TO_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ђ": "đ", "е": "e", "ж": "ž", "з": "z",
    "и": "i", "ј": "j", "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n", "њ": "nj", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "ћ": "ć", "у": "u", "ф": "f", "х": "h", "ц": "c",
    "ч": "č", "џ": "dž", "ш": "š",
}
_TABLE = {ord(c): latin for c, latin in _CYRILLIC_TO_LATIN.items()}
for _c, _latin in _CYRILLIC_TO_LATIN.items():
    # Љ before a capital ("ЉУБАВ") is "LJ", before a small letter ("Љубав") "Lj".
    _TABLE[ord(_c.upper())] = _latin[0].upper() + _latin[1:]


def to_latin(text: str) -> str:
    """Serbian Cyrillic text in Latin script; anything else (placeholders, tags) unchanged."""
    out = text.translate(_TABLE)
    if any(c in text for c in "ЉЊЏ"):
        out = _all_caps_digraphs(text, out)
    return out


def _all_caps_digraphs(text: str, out: str) -> str:
    """'ЉУБАВ' -> 'LJUBAV', not 'LjUBAV': redo letter by letter, looking at the next one."""
    parts = []
    for i, c in enumerate(text):
        latin = c.translate(_TABLE)
        if c in "ЉЊЏ" and i + 1 < len(text) and text[i + 1].isupper():
            latin = latin.upper()
        parts.append(latin)
    return "".join(parts)

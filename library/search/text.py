"""Search text: folding, the user's words, the backends' query strings, highlighted snippets.

User input is never query syntax. It is cut into words (runs of letters and digits; everything
else separates words), each word is folded the way the index was (lower case, diacritics
removed), and the words are handed to the database as quoted terms: FTS5 ``"word"`` strings
and PostgreSQL ``'word'`` lexemes, both inside a bound parameter. So ``OR``, ``NEAR(``, ``*``,
``"``, ``-``, ``:`` and ``'; DROP`` are searched as the words they contain, or are nothing.
Every word must match (AND); the last one also matches as a prefix, so results come while the
person is still typing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_QUERY_WORDS = 12
MAX_WORD = 60
PREFIX_MIN = 2  # a one-letter prefix would match half the vocabulary
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower case without diacritics: 'Ședință' -> 'sedinta', 'Хирургија' -> 'хирургија'."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", kept).casefold()


@dataclass(frozen=True)
class Terms:
    """The words of a query, folded; ``prefix``: the last word also matches as a prefix."""

    words: tuple[str, ...]
    prefix: bool

    def __bool__(self) -> bool:
        return bool(self.words)


def query_terms(text: str) -> Terms:
    words: list[str] = []
    for match in _WORD.finditer(fold(text)):
        word = match.group()[:MAX_WORD]
        if word not in words:
            words.append(word)
    words = words[:MAX_QUERY_WORDS]
    # A query typed to its end ("polyp ") wants whole words only.
    prefix = bool(words) and len(words[-1]) >= PREFIX_MIN and not text[-1:].isspace()
    return Terms(tuple(words), prefix)


def fts5_query(terms: Terms) -> str:
    """An FTS5 MATCH string: every word a quoted string (no operator can appear)."""
    parts = [f'"{w}"' for w in terms.words]  # words hold letters and digits only
    if terms.prefix:
        parts[-1] += "*"
    return " AND ".join(parts)


def tsquery(terms: Terms) -> str:
    """A ``to_tsquery('simple', ...)`` string: quoted lexemes joined by &."""
    parts = [f"'{w}'" for w in terms.words]
    if terms.prefix:
        parts[-1] += ":*"
    return " & ".join(parts)


def folded_words(folded: str) -> set[str]:
    """The words of text that is already folded (as stored beside the index)."""
    return {m.group() for m in _WORD.finditer(folded)}


def _matches(word: str, terms: Terms, index: int) -> bool:
    last = index == len(terms.words) - 1
    term = terms.words[index]
    return word == term or (last and terms.prefix and word.startswith(term))


def words_held(folded: str, terms: Terms) -> int:
    """How many of the query's words ``folded`` text holds, matched as the index matches."""
    if not any(term in folded for term in terms.words):
        return 0  # most documents of a result hold none: skip splitting them into words
    words = folded_words(folded)
    return sum(1 for i in range(len(terms.words)) if any(_matches(w, terms, i) for w in words))


@dataclass(frozen=True)
class Fragment:
    text: str
    hit: bool


def snippet(text: str, terms: Terms, width: int = 160) -> tuple[Fragment, ...]:
    """The part of ``text`` around the first matching word, the matching words marked.

    Matching is on folded words, as the index matches, so 'sedinta' marks 'ședință'. The
    result is plain text in pieces; the page escapes it and wraps the hits in <mark>.
    """
    if not text:
        return ()
    hits: list[tuple[int, int]] = []
    for match in _WORD.finditer(text):
        word = fold(match.group())
        if any(_matches(word, terms, i) for i in range(len(terms.words))):
            hits.append(match.span())
    start = 0
    if hits and len(text) > width:
        # Begin a little before the first hit, at a word boundary.
        start = max(0, hits[0][0] - width // 4)
        space = text.rfind(" ", 0, start)
        start = space + 1 if space >= 0 and start - space < 20 else start
    end = min(len(text), start + width)
    pieces: list[Fragment] = []
    if start > 0:
        pieces.append(Fragment("…", False))
    cursor = start
    for lo, hi in hits:
        if hi <= start or lo >= end:
            continue
        lo, hi = max(lo, start), min(hi, end)
        if lo > cursor:
            pieces.append(Fragment(text[cursor:lo], False))
        pieces.append(Fragment(text[lo:hi], True))
        cursor = hi
    if cursor < end:
        pieces.append(Fragment(text[cursor:end], False))
    if end < len(text):
        pieces.append(Fragment("…", False))
    return tuple(pieces)

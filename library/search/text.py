"""Search text: folding, the user's words, the backends' query strings, highlighted snippets.

Folding makes the four languages meet in one index. Text is lower-cased, Cyrillic is written in
Latin letters, and diacritics are removed, on both sides (what is indexed and what is typed):
'Хирургија', 'Hirurgija' and 'hirurgija' are one word, 'Ședință' (comma below), 'Şedinţă'
(cedilla, as old keyboards write it) and 'sedinta' are one word, and the Bulgarian
'ендоскопия' is 'endoskopiya' letter by letter, or 'endoskopia' as the streamlined system (the
official Latin spelling) ends it.

Some letters are read more than one way by the people who type them: 'Đorđe' is 'Djordje' to
most and 'Dorde' to some; Bulgarian 'шев' is 'šev' next to Serbian but 'shev' in Bulgarian Latin.
Such a word has several *forms* (at most three); the index holds all of a word's forms, a query
word matches when any of its forms is in the index, so two words match when some reading of one
is some reading of the other: "Ђорђе", "Đorđe" and "Djordje" find each other, and "Dorde"
finds the first two (a 'dj' typed in Latin cannot be known to be đ: 'adjust').

User input is never query syntax. It is cut into words (runs of letters and digits; everything
else separates words), each word is folded the way the index was, and the words are handed to
the database as quoted terms: FTS5 ``"word"`` strings and PostgreSQL ``'word'`` lexemes, both
inside a bound parameter. So ``OR``, ``NEAR(``, ``*``, ``"``, ``-``, ``:`` and ``'; DROP`` are
searched as the words they contain, or are nothing. Every word must match (AND); the last one
also matches as a prefix, so results come while the person is still typing.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

MAX_QUERY_WORDS = 12
MAX_WORD = 60
PREFIX_MIN = 2  # a one-letter prefix would match half the vocabulary
# A word: a letter or digit, then letters, digits and combining marks, so text typed in
# decomposed form ('s' + U+0326 COMMA BELOW) is one word, not two.
_WORD = re.compile(r"[^\W_](?:[^\W_]|[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff"
                   r"\ufe20-\ufe2f])*")

# Cyrillic in Latin letters. Serbian Cyrillic and Serbian Latin are one alphabet in two scripts,
# letter for letter (Vuk's and Gaj's), so every letter Serbian has is written as a Serb writes
# it in Latin; the diacritics then go like all others (č, ć -> c; š -> s; ž -> z). The letters
# Serbian lacks follow the Bulgarian streamlined system (the official one since 2009, on
# passports and signs): щ sht, ъ a, ь y, ю yu, я ya, й y. Letters of Russian, Ukrainian and
# Macedonian text follow their usual Latin spelling.
_CYRILLIC = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ђ": "đ", "е": "e", "ж": "ž", "з": "z",
    "и": "i", "ј": "j", "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n", "њ": "nj", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "ћ": "ć", "у": "u", "ф": "f", "х": "h", "ц": "c",
    "ч": "č", "џ": "dž", "ш": "š",
    "щ": "sht", "ъ": "a", "ь": "y", "ю": "yu", "я": "ya", "й": "y",
    "ё": "e", "ы": "y", "э": "e", "і": "i", "ї": "yi", "є": "ye", "ґ": "g", "ў": "u",
    "ѓ": "gj", "ќ": "kj", "ѕ": "dz",
})
# Bulgarian streamlined Latin for the letters it writes differently from Serbian: a second form
# of a Cyrillic word holding them, so 'shev' (Bulgarian typed in Latin) finds 'шев'.
_BULGARIAN = str.maketrans({"ж": "zh", "ц": "ts", "ч": "ch", "ш": "sh"})
# Latin letters that have no decomposition, so removing diacritics would leave them alone.
# đ becomes 'dj', not 'd': it is the spelling Serbian itself uses wherever đ cannot be written
# (telegrams, old keyboards, 'Djokovic' in the world's press), and people typing without
# diacritics write 'Djordje' far more often than 'Dorde'. 'd' alone would also make 'Đorđe'
# and 'Dorde' one word but lose 'Djordje'. Words with đ also get the form with plain 'd' (see
# _BARE), so those who type 'Dorde' find it too.
_LATIN = str.maketrans({"đ": "dj", "ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "ı": "i",
                        "ħ": "h", "ŧ": "t", "ð": "d", "þ": "th"})
_BARE = str.maketrans({"đ": "d", "ђ": "d"})
# The streamlined system writes 'ия' at the end of a word as 'ia' ('София' Sofia, 'ендоскопия'
# endoskopia): that is a second form too, beside the letter-by-letter 'iya'.
_FINAL_IA = re.compile(r"ия(?![^\W_])")
_BARE_LETTERS = frozenset("đђ")
_BULGARIAN_LETTERS = frozenset("жцчш")
# A word holding one of them may have more than one form.
_TRIGGER_WORD = re.compile(r"(?<![^\W_])[^\W_]*?[đђжцчшя][^\W_]*")


_FOLDED_KEPT = 20_000  # characters; the four languages and their neighbours need a few hundred


class _Folded(dict[int, str]):
    """A ``str.translate`` table folding each character: lower case, Cyrillic in Latin,
    diacritics removed. A character is worked out the first time it is seen, then looked up
    (folding is a table lookup per character, as fast as the old fold, Latin or Cyrillic)."""

    def __missing__(self, code: int) -> str:
        lowered = chr(code).casefold().translate(_CYRILLIC)
        decomposed = unicodedata.normalize("NFKD", lowered)
        kept = "".join(c for c in decomposed if not unicodedata.combining(c))
        folded = kept.casefold().translate(_LATIN)
        if len(self) < _FOLDED_KEPT:  # text of every script, or garbage, cannot grow it forever
            self[code] = folded
        return folded


_FOLDED = _Folded()


def _fold_nfc(text: str) -> str:
    folded = text.translate(_FOLDED)
    return folded if folded.isascii() else unicodedata.normalize("NFC", folded)


def fold(text: str) -> str:
    """Lower case, Latin letters, no diacritics: 'Ședință' -> 'sedinta',
    'Хирургија' -> 'hirurgija', 'Đorđe' and 'Ђорђе' -> 'djordje', 'ендоскопия' -> 'endoskopiya'.
    """
    if text.isascii():
        return text.lower()
    # Composed first: 'и' + U+0306 is 'й' (y), not 'и' with a breve to drop.
    return _fold_nfc(unicodedata.normalize("NFC", text))


def _readings(text: str) -> list[str]:
    """The text folded each way it is read: ``fold(text)`` first, then the others, if any."""
    if text.isascii():
        return [text.lower()]
    composed = unicodedata.normalize("NFC", text)
    readings = [_fold_nfc(composed)]
    lowered = composed.casefold()
    letters = set(lowered)
    if letters & _BARE_LETTERS:
        readings.append(_fold_nfc(lowered.translate(_BARE)))
    if letters & _BULGARIAN_LETTERS or ("я" in letters and _FINAL_IA.search(lowered)):
        readings.append(_fold_nfc(_FINAL_IA.sub("иа", lowered).translate(_BULGARIAN)))
    return readings


def _forms(readings: list[str]) -> list[tuple[str, ...]]:
    """Each word of the text, as its forms: the folded word first, then its other forms."""
    words = [[m.group() for m in _WORD.finditer(r)] for r in readings]
    first = words[0]
    if any(len(w) != len(first) for w in words[1:]):  # cannot happen: letters map to letters
        return [(w,) for w in first]
    out = []
    for i, word in enumerate(first):
        forms = [word]
        forms += [w[i] for w in words[1:] if w[i] not in forms]
        out.append(tuple(forms))
    return out


def _word_forms(text: str) -> list[tuple[str, ...]]:
    return _forms(_readings(text))


@functools.lru_cache(maxsize=16384)
def _forms_of_word(word: str) -> tuple[str, ...]:
    """The forms of one word as written (a snippet's words repeat: kept, not refolded)."""
    forms = _word_forms(word)
    return forms[0] if forms else ()


def fold_for_index(text: str) -> str:
    """What the index holds for ``text``: ``fold(text)``, then the other forms of its words
    that read more than one way ('Ђорђе у Нишу' -> 'djordje u nisu dorde nishu')."""
    folded = fold(text)
    if text.isascii():
        return folded
    extra: list[str] = []
    for match in _TRIGGER_WORD.finditer(unicodedata.normalize("NFC", text).casefold()):
        extra += [f for f in _forms_of_word(match.group())[1:] if f not in extra]
    return folded + " " + " ".join(extra) if extra else folded


@dataclass(frozen=True)
class Terms:
    """The words of a query, folded; ``prefix``: the last word also matches as a prefix.

    ``forms[i]`` holds every form of ``words[i]`` (itself first); a word matches when any of
    its forms does.
    """

    words: tuple[str, ...]
    prefix: bool
    forms: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        if len(self.forms) != len(self.words):
            object.__setattr__(self, "forms", tuple((w,) for w in self.words))

    def __bool__(self) -> bool:
        return bool(self.words)


def query_terms(text: str) -> Terms:
    words: list[str] = []
    forms: list[tuple[str, ...]] = []
    for word_forms in _word_forms(text):
        cut = tuple(dict.fromkeys(f[:MAX_WORD] for f in word_forms))
        if cut[0] not in words:
            words.append(cut[0])
            forms.append(cut)
    words, forms = words[:MAX_QUERY_WORDS], forms[:MAX_QUERY_WORDS]
    # A query typed to its end ("polyp ") wants whole words only.
    prefix = bool(words) and len(words[-1]) >= PREFIX_MIN and not text[-1:].isspace()
    if prefix:  # 'Đ' typed so far: 'dj' as a prefix, but not 'd'
        forms[-1] = tuple(f for f in forms[-1] if len(f) >= PREFIX_MIN)
    return Terms(tuple(words), prefix, tuple(forms))


def _alternatives(forms: tuple[str, ...], quote: str, suffix: str, sep: str) -> str:
    parts = [f"{quote}{f}{quote}{suffix}" for f in forms]  # forms hold letters and digits only
    return parts[0] if len(parts) == 1 else "(" + sep.join(parts) + ")"


def fts5_query(terms: Terms) -> str:
    """An FTS5 MATCH string: every word a quoted string (no operator can appear but the AND and
    OR put here); a word of several forms is their OR."""
    last = len(terms.words) - 1
    return " AND ".join(
        _alternatives(forms, '"', "*" if terms.prefix and i == last else "", " OR ")
        for i, forms in enumerate(terms.forms))


def tsquery(terms: Terms) -> str:
    """A ``to_tsquery('simple', ...)`` string: quoted lexemes joined by & (and | for forms)."""
    last = len(terms.words) - 1
    return " & ".join(
        _alternatives(forms, "'", ":*" if terms.prefix and i == last else "", " | ")
        for i, forms in enumerate(terms.forms))


def folded_words(folded: str) -> set[str]:
    """The words of text that is already folded (as stored beside the index)."""
    return {m.group() for m in _WORD.finditer(folded)}


def _matches(words: tuple[str, ...] | set[str], terms: Terms, index: int) -> bool:
    """Whether any of ``words`` (forms of one word, or all words of a text) matches the query's
    word ``index`` in any of its forms, as the index matches."""
    forms = terms.forms[index]
    if terms.prefix and index == len(terms.words) - 1:
        return any(w.startswith(f) for w in words for f in forms)
    return any(f in words for f in forms)


def words_held(folded: str, terms: Terms) -> int:
    """How many of the query's words ``folded`` text holds, matched as the index matches."""
    if not any(form in folded for forms in terms.forms for form in forms):
        return 0  # most documents of a result hold none: skip splitting them into words
    words = folded_words(folded)
    return sum(1 for i in range(len(terms.words)) if _matches(words, terms, i))


@dataclass(frozen=True)
class Fragment:
    text: str
    hit: bool


def snippet(text: str, terms: Terms, width: int = 160) -> tuple[Fragment, ...]:
    """The part of ``text`` around the first matching word, the matching words marked.

    Matching is on folded words, as the index matches, so 'sedinta' marks 'ședință' and
    'hirurgija' marks 'хирургија': the marks are always on the words as written. The result
    is plain text in pieces; the page escapes it and wraps the hits in <mark>.
    """
    if not text:
        return ()
    hits: list[tuple[int, int]] = []
    for match in _WORD.finditer(text):
        # Every form of the word as written: 'Ђорђе' is marked for 'djordje' and for 'dorde'.
        forms = _forms_of_word(match.group())
        if forms and any(_matches(forms, terms, i) for i in range(len(terms.words))):
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

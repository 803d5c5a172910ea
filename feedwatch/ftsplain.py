"""Which texts FTS5 reads word for word as the query matcher does ("plain" texts).

The store's full-text index (FTS5, ``unicode61 remove_diacritics 2``) and the query matcher
(``query.py``: Unicode casefold, marks removed, words of letters and digits) agree on the words
of almost every text, but not all: SQLite's Unicode tables are older than Python's, so to FTS5
a newer emoji is a token (alone, it breaks a phrase; glued to a word, it joins the two), some
marks split a word, and a few letters fold differently (Greek tonos, ``ǡ``, ``ß``). For a plain
text the FTS5 answer to a word query *is* the matcher's answer, so a re-filter can take it
without running the matcher on every update (:meth:`feedwatch.query.Query.fts_exact`); other
texts still go through the matcher.

The character classes come from probing SQLite with every code point below ``PROBED_END``
(:func:`probe`); ``tests/test_ftsplain.py`` probes again and fails when the tables here no
longer cover the SQLite in use. Regenerate with ``python -m feedwatch.ftsplain >
feedwatch/_ftschars.py``. The store records which tables flagged its texts and flags them
again when they change (``Store._flag_plain``).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import re
import sqlite3
import sys
import unicodedata
from typing import Final

from . import _ftschars
from .query import fold

__all__ = ["TABLES_VERSION", "is_plain", "probe", "tables"]

_KINDS: Final = ("letter", "glue", "drop", "folds_away")  # by precedence
PROBED_END: Final = 0x30000  # code points from here on are taken as not plain
Spans = tuple[tuple[int, int], ...]


def _class(spans: Spans) -> str:
    def escape(c: int) -> str:
        return f"\\U{c:08x}" if c > 0xFFFF else f"\\u{c:04x}"

    return "".join(escape(a) if a == b else f"{escape(a)}-{escape(b)}" for a, b in spans)


def _index() -> tuple[list[int], list[tuple[int, str]]]:
    """Every probed span, sorted by its first code point, with its kind; where spans of two
    kinds overlap the first kind in _KINDS wins."""
    cuts = sorted({point for kind in _KINDS for first, last in getattr(_ftschars, kind.upper())
                   for point in (first, last + 1)})
    starts: list[int] = []
    ends: list[tuple[int, str]] = []
    for first, after in itertools.pairwise(cuts):  # pieces no span boundary cuts
        kind = next((k for k in _KINDS if _covers(getattr(_ftschars, k.upper()), first)), None)
        if kind is None:
            continue
        if ends and ends[-1] == (first - 1, kind):
            ends[-1] = (after - 1, kind)
        else:
            starts.append(first)
            ends.append((after - 1, kind))
    return starts, ends


def _covers(spans: Spans, point: int) -> bool:
    k = bisect.bisect_right(spans, (point, sys.maxunicode + 1)) - 1
    return k >= 0 and spans[k][0] <= point <= spans[k][1]


# Which tables and rules flagged a stored text: the store flags its texts again when this
# changes (regenerated tables, a new Python's Unicode data, a change to is_plain below).
_RULES: Final = 2
TABLES_VERSION: Final = hashlib.sha256(repr((
    _RULES, PROBED_END, unicodedata.unidata_version, _ftschars.LETTER, _ftschars.GLUE,
    _ftschars.DROP, _ftschars.FOLDS_AWAY)).encode()).hexdigest()[:16]


@functools.cache
def _lookup() -> tuple[list[int], list[tuple[int, str]], re.Pattern[str]]:
    """The span index, and a cheap first pass: characters that may matter. Astral ones
    (emoji mostly) as one range, because a class with many astral ranges makes the regex
    engine slow on every character. Built on the first text that is not ASCII (~25 ms:
    not at every start of the program)."""
    starts, ends = _index()
    suspect = re.compile("[" + _class(tuple(
        (a, min(last, 0xFFFF)) for a, (last, _) in zip(starts, ends, strict=True)
        if a <= 0xFFFF)) + "\U00010000-\U0010ffff]")
    return starts, ends, suspect


def _kind(char: str) -> str | None:
    c = ord(char)
    if c >= PROBED_END:
        return "letter"  # never probed: assume the worst
    starts, ends, _ = _lookup()
    k = bisect.bisect_right(starts, c) - 1
    if k >= 0 and c <= ends[k][0]:
        return ends[k][1]
    return None


def _word_beside(text: str, at: int, step: int) -> bool:
    """Whether the next character from ``at`` in direction ``step`` that our folding keeps is
    a letter or digit."""
    at += step
    while 0 <= at < len(text) and _covers(_ftschars.FOLDS_AWAY, ord(text[at])):
        at += step
    return 0 <= at < len(text) and text[at].isalnum()


def is_plain(*texts: str) -> bool:
    """Whether FTS5 tokenizes every one of ``texts`` into the matcher's words, in the same
    order with nothing between them."""
    for text in texts:
        if text.isascii():
            continue
        for m in _lookup()[2].finditer(text):
            at = m.start()
            kind = _kind(text[at])
            # A "glue" character is part of a token to FTS5 even on its own (a newer emoji
            # between two words breaks a phrase there), a separator to the matcher.
            if kind in ("letter", "glue"):
                return False
            if kind == "drop" and _word_beside(text, at, -1) and _word_beside(text, at, 1):
                return False
    return True


# --- probing SQLite: where its tokenizer and our folding part ways -------------------------

_TWINS: Final = {"ё": "е", "й": "и", "ї": "і", "ў": "у"}  # query.py spells these out for FTS5
_WORDS: Final = re.compile(r"[^\W_]+")


def probe(db: sqlite3.Connection | None = None) -> dict[str, list[int]]:
    """Code points where FTS5 and the matcher disagree on ``"q<c>q"``, by kind; and those our
    folding removes ("folds_away")."""
    db = db or sqlite3.connect(":memory:")
    probed = [c for c in range(0x20, PROBED_END) if not 0xD800 <= c < 0xE000]
    db.execute("CREATE VIRTUAL TABLE temp.probe USING fts5(x, "
               "tokenize='unicode61 remove_diacritics 2')")
    db.execute("CREATE VIRTUAL TABLE temp.probe_terms USING fts5vocab(temp, probe, 'instance')")
    db.executemany("INSERT INTO temp.probe (rowid, x) VALUES (?, ?)",
                   [(c, f"q{chr(c)}q") for c in probed])
    tokens: dict[int, list[str]] = {}
    for term, doc in db.execute("SELECT term, doc FROM temp.probe_terms ORDER BY doc, offset"):
        tokens.setdefault(doc, []).append(term)
    db.execute("DROP TABLE temp.probe_terms")
    db.execute("DROP TABLE temp.probe")
    kinds: dict[str, list[int]] = {kind: [] for kind in _KINDS}
    for c in probed:
        char = chr(c)
        if fold(char) == "":
            kinds["folds_away"].append(c)
        ours, theirs = _WORDS.findall(fold(f"q{char}q")), tokens.get(c, [])
        if ours == theirs or (len(ours) == len(theirs) == 1 and ours[0] == "".join(
                _TWINS.get(x, x) for x in theirs[0])):
            continue
        if ours == ["q", "q"] and len(theirs) == 1:
            kinds["glue"].append(c)  # a separator to us, part of a token to FTS5
        elif ours == ["qq"] and theirs == ["q", "q"]:
            kinds["drop"].append(c)  # folded away by us, a separator to FTS5
        else:
            kinds["letter"].append(c)  # a letter to both, folded differently
    return kinds


def _spans(points: list[int]) -> list[tuple[int, int]]:
    spans: list[list[int]] = []
    for c in points:
        if spans and spans[-1][1] == c - 1:
            spans[-1][1] = c
        else:
            spans.append([c, c])
    return [(a, b) for a, b in spans]


def tables(kinds: dict[str, list[int]]) -> str:
    """The source of ``_ftschars.py`` for probed ``kinds``."""
    lines = ['"""Code point spans (first, last) where SQLite\'s FTS5 tokenizer and the query '
             'matcher part', "ways. Generated by ``python -m feedwatch.ftsplain``; "
             'do not edit."""', ""]
    for kind in _KINDS:
        lines.append(f"{kind.upper()} = (")
        row = "   "
        for first, last in _spans(kinds[kind]):
            cell = f" (0x{first:X}, 0x{last:X}),"
            if len(row) + len(cell) > 99:
                lines.append(row)
                row = "   "
            row += cell
        if row.strip():
            lines.append(row)
        lines.append(")")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - a maintenance tool
    sys.stdout.write(tables(probe()))

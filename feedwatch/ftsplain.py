"""Which texts FTS5 reads word for word as the query matcher does ("plain" texts).

The store's full-text index (FTS5, ``unicode61 remove_diacritics 2``) and the query matcher
(``query.py``: Unicode casefold, marks removed, words of letters and digits) agree on the words
of almost every text, but not all: SQLite's Unicode tables are older than Python's, so a newer
emoji glued to a word makes one FTS token of both, and a few letters fold differently (Greek
tonos, ``ǡ``, ``ß``). For a plain text the FTS5 answer to a word query *is* the matcher's
answer, so a re-filter can take it without running the matcher on every update
(:meth:`feedwatch.query.Query.fts_exact`); other texts still go through the matcher.

The character classes come from probing SQLite with every code point (:func:`probe`);
``tests/test_ftsplain.py`` probes again and fails when the tables here no longer describe the
SQLite in use. Regenerate with ``python -m feedwatch.ftsplain > feedwatch/_ftschars.py``.
"""

from __future__ import annotations

import bisect
import itertools
import re
import sqlite3
import sys
from typing import Final

from . import _ftschars
from .query import fold

__all__ = ["is_plain", "probe", "tables"]

_KINDS: Final = ("letter", "glue", "drop", "folds_away")  # by precedence
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


_STARTS, _ENDS = _index()
# A cheap first pass: characters that may matter. Astral ones (emoji mostly) as one range,
# because a class with many astral ranges makes the regex engine slow on every character.
_SUSPECT: Final = re.compile("[" + _class(tuple(
    (a, min(last, 0xFFFF)) for a, (last, _) in zip(_STARTS, _ENDS, strict=True) if a <= 0xFFFF
)) + "\U00010000-\U0010ffff]")


def _kind(char: str) -> str | None:
    c = ord(char)
    k = bisect.bisect_right(_STARTS, c) - 1
    if k >= 0 and c <= _ENDS[k][0]:
        return _ENDS[k][1]
    return None


def _word_beside(text: str, at: int, step: int) -> bool:
    """Whether the next character from ``at`` in direction ``step`` that our folding keeps is
    a letter or digit."""
    at += step
    while 0 <= at < len(text) and _kind(text[at]) == "folds_away":
        at += step
    return 0 <= at < len(text) and text[at].isalnum()


def is_plain(*texts: str) -> bool:
    """Whether FTS5 tokenizes every one of ``texts`` into the matcher's words."""
    for text in texts:
        if text.isascii():
            continue
        for m in _SUSPECT.finditer(text):
            at = m.start()
            kind = _kind(text[at])
            if kind == "letter":
                return False
            if kind == "glue" and (_word_beside(text, at, -1) or _word_beside(text, at, 1)):
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
    probed = [c for c in range(0x20, 0x30000) if not 0xD800 <= c < 0xE000]
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

"""FTS5 as the matcher: for plain texts the index's answer to an exact query is the matcher's.

The re-filter of the whole history trusts ``Query.fts_exact`` on texts ``is_plain`` accepts,
so these tests hold the two to the matcher on a real SQLite FTS5 table."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedwatch import ftsplain
from feedwatch.query import DictDocument, parse


@pytest.fixture(scope="module")
def probed() -> dict[str, list[int]]:
    return ftsplain.probe()  # every code point through a real FTS5 table: ~2 s


def test_tables_cover_the_sqlite_in_use(probed: dict[str, list[int]]) -> None:
    """Every code point where this SQLite's FTS5 and our folding part ways is in the shipped
    tables under a kind at least as strict (letter > glue > drop): a text they call plain is
    read alike by both. Regenerate with ``python -m feedwatch.ftsplain >
    feedwatch/_ftschars.py`` when this fails."""
    strictness = {"letter": 3, "glue": 2, "drop": 1}
    loose = []
    for kind, points in probed.items():
        if kind == "folds_away":
            continue
        for c in points:
            shipped = ftsplain._kind(chr(c))
            if strictness.get(shipped or "", 0) < strictness[kind]:
                loose.append((hex(c), kind, shipped))
    assert loose == []
    folds_away = [c for c in range(0x20, 0x30000) if ftsplain._kind(chr(c)) == "folds_away"]
    assert set(probed["folds_away"]) - set(probed["drop"]) - set(probed["letter"]) \
        - set(probed["glue"]) <= set(folds_away)


def test_shipped_tables_are_what_the_generator_writes(probed: dict[str, list[int]]) -> None:
    if sqlite3.sqlite_version != "3.40.1":
        pytest.skip(f"tables generated with SQLite 3.40.1, this is {sqlite3.sqlite_version}")
    generated = ftsplain.tables(probed)
    shipped = Path(ftsplain.__file__).with_name("_ftschars.py").read_text(encoding="utf-8")
    assert generated == shipped


@pytest.mark.parametrize(("text", "plain"), [
    ("Talks resume in Istanbul, officials say", True),
    ("Переговоры в Стамбуле: ёлка, йод, Її, ўсё", True),  # letters FTS5 keeps apart, spelled out
    ("❗️ Breaking: talks resume", True),  # the emoji selector sits beside no word
    ("⚡️Срочно", True),
    ("Talks 🔴 resume", True),  # an emoji SQLite knows: a separator to both
    ("Talks 🤝 resume", False),  # a newer one: a token of its own to FTS5, a phrase breaks
    ("Talks🤝resume", False),  # ... glued to words it joins them into one token
    ("s\u0332\u0336tar", False),  # two marks FTS5 takes for separators, inside a word
    ("Hi\ufe0e\ufe0fthere", False),
    ("naive\U000e0100ij", False),  # beyond the probed code points: assumed the worst
    ("❗\ufe0f\ufe0e Breaking", True),
    ("Straße", False),  # we fold ß to ss, FTS5 does not
    ("Αθήνα", False),  # Greek tonos: folded differently
    ("cafe\u0301s", True),  # a combining accent both drop
    ("cafe\u0305s", False),  # one FTS5 takes for a separator: "cafe" + "s" to it
    ("", True),
])
def test_is_plain(text: str, plain: bool) -> None:
    assert ftsplain.is_plain(text) is plain
    assert ftsplain.is_plain("ascii title", text) is plain


# --- the property: on plain texts, FTS5 answers exact queries as the matcher does ---------

_WORDS = ["talks", "Talks", "talk", "istanbul", "İstanbul", "ceasefire", "cease", "fire",
          "ёлка", "Елка", "йод", "иод", "стамбул", "Стамбуле", "café", "cafe", "g7",
          "talks_x", "x", "ǡb", "straße", "strasse", "Άθήνα", "停火", "6,000"]
_GLUE = [" ", " ", " ", ", ", "-", "_", "'", "\u00a0", "—", "\n", "\u0301", "\u0305", "\ufe0f",
         "🤝", "🔴", "❗️", "\u200d", "", "«", ".", " 🤝 ", "\u0332\u0336", "\ufe0e\ufe0f",
         "\U000e0100", " 🔴 "]
_TERMS = ["talks", "talk*", "istanbul", "ceasefire", '"cease fire"', "fire", "елка", "ёлка",
          "йод", "стамбул*", "cafe", "g7", "x", "strasse", '"talks istanbul"', "title:talks",
          "text:cease*"]


@st.composite
def texts(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(st.sampled_from(_WORDS), st.sampled_from(_GLUE)),
                          max_size=8))
    return "".join(w + g for w, g in parts)


@st.composite
def queries(draw: st.DrawFn) -> str:
    term = st.sampled_from(_TERMS)
    shape = draw(st.sampled_from(["{a}", "{a} {b}", "{a} OR {b}", "{a} -{b}", "-{a}",
                                  "({a} OR {b}) -{c}", "-{a} -{b}", "{a} ({b} OR -{c})"]))
    return shape.format(a=draw(term), b=draw(term), c=draw(term))


def _fts_ids(db: sqlite3.Connection, expression: str | None) -> set[int]:
    if expression is None:
        return set()
    return {r[0] for r in db.execute("SELECT rowid FROM t WHERE t MATCH ?", (expression,))}


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(texts(), texts()), min_size=1, max_size=12), queries())
def test_fts_exact_equals_the_matcher_on_plain_texts(docs: list[tuple[str, str]],
                                                      text: str) -> None:
    query = parse(text)
    exact = query.fts_exact()
    if exact is None:
        return
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(title, text, "
               "tokenize='unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO t (rowid, title, text) VALUES (?, ?, ?)",
                   [(k, title, body) for k, (title, body) in enumerate(docs, 1)])
    everything = set(range(1, len(docs) + 1))
    found = (_fts_ids(db, exact.include) if exact.include else everything) \
        - _fts_ids(db, exact.exclude)
    for k, (title, body) in enumerate(docs, 1):
        if not ftsplain.is_plain(title, body):
            continue
        doc = DictDocument(title, body, "src", None, None)
        assert (k in found) == query.matches(doc), (text, exact, title, body)


@pytest.mark.parametrize(("text", "include", "exclude"), [
    ("talks", '"talks"', None),
    ("talks -football", '("talks" NOT "football")', None),
    ("-football -футбол", None, '("football" OR ("футбол" OR "фўтбол"))'),  # ў: see _FTS_TWINS
    ('"cease fire" OR truce*', '("cease fire" OR "truce"*)', None),
    ("title:talks", 'title : "talks"', None),
])
def test_fts_exact_forms(text: str, include: str | None, exclude: str | None) -> None:
    exact = parse(text).fts_exact()
    assert exact is not None
    assert (exact.include, exact.exclude) == (include, exclude)


@pytest.mark.parametrize("text", [
    "6000", "/talks/", "source:reuters", "lang:en", "❗", "停火", "talks OR 6000", "",
    "NOT NOT talks",
])
def test_no_exact_form(text: str) -> None:
    assert parse(text).fts_exact() is None

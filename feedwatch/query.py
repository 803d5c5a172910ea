"""The filter language: a query is parsed once, then matched against many updates.

    (istanbul OR стамбул) (talks OR переговоры*) -"football" source:reuters

* Words match whole words, ignoring case and accents (``café`` = ``CAFE``); ``word*`` is a
  prefix. Numbers match across digit grouping: ``6000`` = ``6,000`` = ``6 000`` = ``6.000``.
* ``"a phrase"`` matches its words in sequence, whatever spaces or punctuation separate them.
* Terms are ANDed; ``OR`` (or ``|``) binds tighter than AND, so ``a b OR c`` is ``a (b OR c)``.
  ``-term`` or ``NOT term`` excludes; parentheses group; an explicit ``AND`` is accepted.
* ``title:``, ``text:``, ``source:``, ``url:`` and ``lang:`` restrict the next term, phrase,
  regex or group; without a field a term looks at the title and the text. ``source:`` matches
  from the start of a word (``source:reuters`` finds "Reuters World"), ``url:`` is a plain
  substring, ``lang:en`` matches "en" and "en-US".
* ``/regex/`` (flags ``i``, ``m``, ``s``) searches the original text, with a time limit.

The module is pure (no I/O). :meth:`Query.matches` compiles to closures over precompiled
regexes, so re-filtering a history is cheap (about a microsecond per ASCII update; other text
is folded once and cached); :meth:`Query.highlights` gives spans into the original strings;
:meth:`Query.fts_expression` lets the store pre-select candidates with SQLite FTS5.
"""

from __future__ import annotations

import itertools
import math
import re
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import regex

__all__ = [
    "FIELDS",
    "DictDocument",
    "Document",
    "FtsExact",
    "Query",
    "QueryError",
    "clear_caches",
    "fold",
    "match_all",
    "parse",
]

FIELDS: Final = ("title", "text", "source", "url", "lang")
REGEX_TIMEOUT: Final = 0.05  # seconds a /regex/ may spend on one document
REGEX_STRIKES: Final = 3  # timeouts after which a regex is given up on, until reset()

_MAX_DEPTH: Final = 64  # nesting of groups, NOT and fields
_MAX_REGEX: Final = 1000  # characters in a /regex/ ...
_MAX_REPEAT: Final = 1000  # ... and in its {m,n} counts and their product: compiling is costly
_MAX_FTS_FORMS: Final = 32  # spellings of one word the FTS5 pre-selection may list
_CACHE_CHARS: Final = 16_000_000  # folded characters of non-ASCII titles+texts kept (x2 at most)


# --------------------------------------------------------------------------------------------
# Folding: one canonical form for matching (lower case, no accents)


_DIACRITICS = re.compile("[\u0300-\u036f]+")
# Marks we strip: all but the Cyrillic titlo family and the marks for symbols (such as the
# keycap of 1️⃣), which live in blocks the fast path below treats as mark-free.
_MARKS = regex.compile(r"[\p{M}--[\u0483-\u0489\u20d0-\u20f0]]+", regex.V1)
# 256-character blocks (high bytes of UTF-16 code units) without marks to strip, where
# lower() agrees with casefold() but for the characters in _SHORTCUTS, and where canonical
# decomposition only adds marks from U+0300-U+036F: Latin, Cyrillic, Hangul, punctuation and
# symbols, CJK ideographs, fullwidth forms. Text made only of these and emoji takes the
# fast path (tests check these claims for every character).
_PLAIN_BLOCKS: Final = bytes(
    [0x00, 0x01, 0x02, 0x04, 0x11, *range(0x20, 0x2C), 0x2E, 0x2F, *range(0x31, 0xA0),
     *range(0xAC, 0xD8), 0xFF]
)
_SURROGATES: Final = bytes(range(0xD8, 0xE0))
# Done by hand on the fast path: precomposed letters common enough to deserve a way around
# NFD (ё, й, ї), the mark lower() gives İ, and where casefold() differs from lower().
_SHORTCUTS: Final = (
    ("ё", "е"), ("й", "и"), ("ї", "і"), ("i\u0307", "i"), ("ı", "i"), ("ß", "ss"),
    ("µ", "μ"), ("ſ", "s"), ("ŉ", "ʼn"), ("ǰ", "j"),
)  # fmt: skip


class _Cache:
    """Two generations of folded text, bounded by characters: cheap, and it keeps the
    updates filtered again and again (the visible history) warm."""

    def __init__(self, budget: int, measure: Callable[[Any], int]) -> None:
        self.budget = budget  # characters per generation
        self.measure = measure
        self.young: dict[Any, Any] = {}
        self.old: dict[Any, Any] = {}
        self.size = 0

    def get(self, key: Any) -> Any:
        value = self.young.get(key)
        if value is None:
            value = self.old.get(key)
            if value is not None:
                self.put(key, value)
        return value

    def put(self, key: Any, value: Any) -> None:
        self.young[key] = value
        self.size += self.measure(value)
        if self.size > self.budget:
            self.old, self.young, self.size = self.young, {}, 0

    def clear(self) -> None:
        self.young, self.old, self.size = {}, {}, 0


_folds = _Cache(1 << 20, len)
_doc_folds = _Cache(_CACHE_CHARS, lambda folded: len(folded[0]))
_char_folds: dict[str, str] = {}


def fold(text: str) -> str:
    """Text in matching form: Unicode casefold, canonical decomposition, marks removed.

    Both queries and documents go through this, so "Zelensky" meets "zelensky" and "café"
    meets "cafe". ASCII takes a fast path; other strings are cached (they come back often:
    the same update is filtered again each time the query changes).
    """
    if text.isascii():
        return text.lower()
    folded = _folds.get(text)
    if folded is None:
        folded = _fold_unicode(text)
        _folds.put(text, folded)
    return folded


def clear_caches() -> None:
    """Forget folded text kept for speed (for memory pressure, tests and benchmarks)."""
    _folds.clear()
    _doc_folds.clear()
    _char_folds.clear()


def _fold_unicode(text: str) -> str:
    if "\ufe0f" in text:  # the emoji presentation selector: a mark, but a very common one
        text = text.replace("\ufe0f", "")
    if not _plain(text):
        return _fold_exact(text)
    folded = text.lower()
    for composed, plain in _SHORTCUTS:
        if composed in folded:
            folded = folded.replace(composed, plain)
    if unicodedata.is_normalized("NFD", folded):
        return folded
    return _DIACRITICS.sub("", unicodedata.normalize("NFD", folded))


def _fold_exact(text: str) -> str:
    """The definition of folding; _fold_unicode's fast path must agree with it. Turkish
    dotless ı is i, as casefold makes İ: "Çırağan" is found as "ciragan" and "ÇIRAĞAN"."""
    return _MARKS.sub("", unicodedata.normalize("NFD", text.casefold().replace("ı", "i")))


def _plain(text: str) -> bool:
    """Whether all of text lies in _PLAIN_BLOCKS or is emoji (U+1F000-U+1FFFF).

    Checked on UTF-16 high bytes with bytes operations, which run at C speed: a regex scan
    for marks would cost as much as the whole fold.
    """
    units = text.encode("utf-16-le", "surrogatepass")
    high = units[1::2]
    rest = high.translate(None, _PLAIN_BLOCKS)
    if not rest:
        return True
    if rest.translate(None, _SURROGATES) or any(b in rest for b in b"\xd9\xda\xdb"):
        return False
    at = high.find(0xD8)  # a leading surrogate: D83C-D83F lead to emoji, others do not
    while at >= 0:
        if not 0x3C <= units[2 * at] <= 0x3F:
            return False
        at = high.find(0xD8, at + 1)
    return True


def _fold_char(char: str) -> str:
    folded = _char_folds.get(char)
    if folded is None:
        folded = _char_folds[char] = char.lower() if char.isascii() else _fold_unicode(char)
    return folded


def _fold_doc(title: str, text: str) -> tuple[str, int]:
    """Title and text folded into one string, joined by NUL; and where the title ends."""
    if title.isascii() and text.isascii():
        return f"{title}\x00{text}".lower(), len(title)
    key = (title, text)
    folded = _doc_folds.get(key)
    if folded is None:
        joined = _fold_unicode(f"{title}\x00{text}")
        folded = (joined, joined.find("\x00"))
        _doc_folds.put(key, folded)
    return folded


def _fold_map(text: str) -> tuple[str, list[int] | None]:
    """Fold text keeping track of where each folded character came from.

    Returns the folded text and, for each folded position plus one past the end, the index of
    its source character in ``text`` (None when folding kept every position, as for ASCII).
    """
    if text.isascii():
        return text.lower(), None
    parts: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        piece = _fold_char(char)
        parts.append(piece)
        origin.extend([index] * len(piece))
    origin.append(len(text))
    return "".join(parts), origin


def _original_span(origin: list[int] | None, start: int, end: int) -> tuple[int, int]:
    """Map a span of folded text back to the original (marks dropped at its end included)."""
    if origin is None:
        return start, end
    last = origin[end - 1]
    after = origin[end]
    return origin[start], after if after != last else last + 1


# --------------------------------------------------------------------------------------------
# Public types


class QueryError(ValueError):
    """A query that does not parse. ``column`` is 1-based and points at the culprit."""

    def __init__(self, message: str, query: str, column: int) -> None:
        super().__init__(f"{message} (column {column})")
        self.message = message
        self.query = query
        self.column = column

    def pretty(self) -> str:
        """The query's line with a caret under the column, for a terminal."""
        start = self.query.rfind("\n", 0, self.column - 1) + 1
        end = self.query.find("\n", start)
        line = self.query[start:] if end < 0 else self.query[start:end]
        pad = "".join(
            "\t" if c == "\t" else " " * _cell_width(c) for c in line[: self.column - 1 - start]
        )
        return f"{line}\n{pad}^"


def _cell_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


class Document(Protocol):
    """What a query reads; :class:`feedwatch.model.Update` satisfies it."""

    @property
    def title(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def url(self) -> str | None: ...

    @property
    def lang(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class DictDocument:
    """A :class:`Document` built from a mapping, such as a JSON line."""

    title: str = ""
    text: str = ""
    source: str = ""
    url: str | None = None
    lang: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> DictDocument:
        """Take the known keys, tolerating missing ones and non-string values."""

        def text(key: str) -> str:
            value = data.get(key)
            return value if isinstance(value, str) else "" if value is None else str(value)

        def optional(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        return cls(text("title"), text("text"), text("source"), optional("url"), optional("lang"))


Highlight = tuple[str, int, int]
# A compiled test takes the document and a one-slot memo for its folded title and text.
_Test = Callable[[Any, list[Any]], bool]


class Query:
    """A parsed query: a predicate on documents, plus highlights and an FTS5 pre-selection.

    Build one with :func:`parse`. Instances may be used from several threads: their only
    state is the regex time-out bookkeeping.
    """

    __slots__ = ("_guard", "_positive", "_root", "_test", "source")

    def __init__(self, source: str, root: _Node | None = None) -> None:
        self.source = source
        self._root = root
        self._guard = _RegexGuard()
        self._test: _Test | None = None if root is None else _compile(root, self._guard)
        self._positive: tuple[_Leaf, ...] = () if root is None else tuple(_positive(root))

    def __repr__(self) -> str:
        return f"Query({self.source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Query) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)

    @property
    def is_empty(self) -> bool:
        """True for a query without terms: it matches everything."""
        return self._root is None

    @property
    def timed_out(self) -> bool:
        """True if a /regex/ ran out of time on some document since the last :meth:`reset`."""
        return self._guard.timed_out

    @timed_out.setter
    def timed_out(self, value: bool) -> None:
        if value:
            self._guard.timed_out = True
        else:
            self.reset()

    def reset(self) -> None:
        """Forget regex time-outs, and try regexes that were given up on again."""
        self._guard.reset()

    def matches(self, doc: Document | Mapping[str, Any]) -> bool:
        """Whether the document satisfies the query. Mappings are read as :class:`DictDocument`."""
        test = self._test
        if test is None:
            return True
        if type(doc) is dict:
            doc = DictDocument.from_mapping(doc)
        try:
            return test(doc, [None])
        except AttributeError:
            if isinstance(doc, Mapping):
                return test(DictDocument.from_mapping(doc), [None])
            raise

    __call__ = matches

    def highlights(self, doc: Document | Mapping[str, Any]) -> list[Highlight]:
        """Spans ``(field, start, end)`` of the original strings that positive terms matched.

        Spans are sorted and merged per field; fields are "title", "text", "source", "url".
        """
        if not self._positive:
            return []
        if isinstance(doc, Mapping):
            doc = DictDocument.from_mapping(doc)
        folds = _Folds(doc)
        found: dict[str, list[tuple[int, int]]] = {}
        for leaf in self._positive:
            for name, start, end in leaf.spans(doc, folds, self._guard):
                found.setdefault(name, []).append((start, end))
        spans: list[Highlight] = []
        for name in ("title", "text", "source", "url"):
            merged: list[list[int]] = []
            for start, end in sorted(found.get(name, ())):
                if merged and start <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], end)
                else:
                    merged.append([start, end])
            spans.extend((name, start, end) for start, end in merged)
        return spans

    def fts_expression(self) -> str | None:
        """An FTS5 MATCH expression selecting a superset of the matching documents.

        Meant for a table with columns (title, text) and ``tokenize='unicode61
        remove_diacritics 2'``. None when no useful superset can be written, e.g. for a query
        made only of negations, regexes or source/url/lang terms: then scan everything.
        """
        return None if self._root is None else self._root.fts()

    def fts_exact(self) -> FtsExact | None:
        """The query as FTS5 expressions with exactly the matcher's answer on *plain* texts.

        Plain texts are those FTS5 tokenizes into our words (:func:`feedwatch.ftsplain.
        is_plain`); for them a re-filter can take the index's answer as is. The matching
        updates are those in ``include`` (all when None) and not in ``exclude``. None when
        some term has no exact FTS5 form (numbers, symbols, regexes, source/url/lang, words
        of scripts without spaces) or for the empty query.
        """
        root = self._root
        if root is None:
            return None
        expression = root.exact()
        if expression is not None:
            return FtsExact(expression, None)
        negated = [root] if isinstance(root, _Not) else list(root.parts) \
            if isinstance(root, _And) else []
        if negated and all(isinstance(p, _Not) for p in negated):
            excluded = [p.part.exact() for p in negated]  # type: ignore[union-attr]
            if all(e is not None for e in excluded):
                return FtsExact(None, _fts_any(excluded))  # type: ignore[arg-type]
        return None


@dataclass(frozen=True, slots=True)
class FtsExact:
    """A query answered by FTS5 for plain texts: matches of ``include`` (every text when
    None) less matches of ``exclude`` (none when None)."""

    include: str | None
    exclude: str | None


def parse(query: str) -> Query:
    """Parse a query; raises :class:`QueryError` pointing at the problem.

    An empty (or blank) query is valid and matches everything.
    """
    return Query(query, _Parser(query).parse())


def match_all() -> Query:
    """The empty query: matches everything, highlights nothing."""
    return Query("")


# --------------------------------------------------------------------------------------------
# Lexer

_OPERATORS: Final = ("OR", "AND", "NOT")
_QUOTES: Final = {'"': '"', "“": '”"', "„": '“”"', "«": "»"}
_HYPHENS: Final = "-\u2010\u2011"
_FIELD_PREFIX = re.compile(r"([A-Za-z]+):")
_VERBATIM: Final = ("source", "url", "lang")  # fields whose value is read up to a space


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # ( ) OR AND NOT FIELD WORD PHRASE REGEX
    text: str
    pos: int  # 0-based offset into the query
    prefix: bool = False  # trailing * (words and phrases)
    flags: str = ""  # regex flags


def _error(message: str, query: str, pos: int) -> QueryError:
    return QueryError(message, query, max(1, min(pos + 1, len(query) + 1)))


def _lex(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(query)
    field_end = -1  # index right after the latest field's colon
    verbatim = False  # that field takes a verbatim value
    while i < n:
        char = query[i]
        after_field = i == field_end
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(_Token(char, char, i))
            i += 1
        elif char == "|":
            start = i
            while i < n and query[i] == "|":
                i += 1
            tokens.append(_Token("OR", "|", start))
        elif char in _QUOTES:
            i = _lex_phrase(query, i, tokens)
        elif char == "/" and i + 1 < n and not query[i + 1].isspace():
            i = _lex_regex(query, i, tokens)
        elif after_field and verbatim and char != "-":
            i = _lex_verbatim(query, i, tokens)
        elif char == "-" and i + 1 < n and not query[i + 1].isspace() and query[i + 1] not in ")|":
            tokens.append(_Token("NOT", "-", i))
            i += 1
        elif (m := _FIELD_PREFIX.match(query, i)) is not None:
            name, end = m.group(1).lower(), m.end()
            following = query[end] if end < n else ""
            if name in FIELDS:
                if not following or following.isspace() or following in ")|":
                    raise _error(f"'{name}:' needs a term right after the colon", query, i)
                tokens.append(_Token("FIELD", name, i))
                i = field_end = end
                verbatim = name in _VERBATIM
            elif name in ("http", "https") and query.startswith("//", end):
                tokens.append(_Token("FIELD", "url", i))
                i = _lex_verbatim(query, i, tokens)
            elif following and not following.isspace() and following not in ")|":
                fields = ", ".join(f"{f}:" for f in FIELDS)
                raise _error(f"unknown field '{name}:' (fields are {fields})", query, i)
            else:
                i = _lex_word(query, i, tokens, after_field)
        else:
            i = _lex_word(query, i, tokens, after_field)
    return tokens


def _lex_word(query: str, i: int, tokens: list[_Token], after_field: bool) -> int:
    start, n = i, len(query)
    while i < n and not query[i].isspace() and query[i] not in "()|" and query[i] not in _QUOTES:
        i += 1
    word = query[start:i]
    if word in _OPERATORS and not after_field:
        tokens.append(_Token(word, word, start))
    else:
        stem = word.rstrip("*")
        tokens.append(_Token("WORD", stem, start, prefix=len(stem) < len(word)))
    return i


def _lex_verbatim(query: str, i: int, tokens: list[_Token]) -> int:
    """A source/url/lang value: everything up to a space, minus unbalanced closing parens."""
    start, n = i, len(query)
    while i < n and not query[i].isspace():
        i += 1
    word = query[start:i]
    while word.endswith(")") and word.count(")") > word.count("("):
        word, i = word[:-1], i - 1
    stem = word.rstrip("*")
    tokens.append(_Token("WORD", stem, start, prefix=len(stem) < len(word)))
    return i


def _lex_phrase(query: str, i: int, tokens: list[_Token]) -> int:
    closers = _QUOTES[query[i]]
    end = i + 1
    while end < len(query) and query[end] not in closers:
        end += 1
    if end >= len(query):
        raise _error("unclosed quote", query, i)
    prefix = query.startswith("*", end + 1)
    tokens.append(_Token("PHRASE", query[i + 1 : end], i, prefix=prefix))
    return end + 1 + prefix


def _lex_regex(query: str, i: int, tokens: list[_Token]) -> int:
    n = len(query)
    j = i + 1
    in_class = False
    while j < n:
        char = query[j]
        if char == "\\":
            j += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            j += 1
            if j < n and query[j] == "^":
                j += 1
            if j < n and query[j] == "]":  # a leading ] is a literal
                j += 1
            continue
        elif char == "/":
            break
        j += 1
    if j >= n:
        raise _error("unclosed regex: it needs a closing '/'", query, i)
    k = j + 1
    while k < n and query[k].isalpha():
        if query[k] not in "ims":
            raise _error(f"unknown regex flag '{query[k]}' (flags are i, m, s)", query, k)
        k += 1
    if k < n and not query[k].isspace() and query[k] not in ")|":
        raise _error("a regex must be followed by a space or ')'", query, k)
    tokens.append(_Token("REGEX", query[i + 1 : j], i, flags=query[j + 1 : k]))
    return k


# --------------------------------------------------------------------------------------------
# Atoms: the pieces of a word or phrase, each with its regex and its FTS5 spellings

_W: Final = r"[^\W_]"  # a word character: letter or digit (the underscore is punctuation)
_GAP: Final = r"(?:[^\w\x00]|_)+"  # between two words; never crosses from title into text
_GAP_OPT: Final = r"(?:[^\w\x00]|_)*"  # next to a symbol
_NUM_SEP: Final = "[.,'\u00a0\u2007\u2009\u202f ]"  # thousands separators
_NUM_SPACE: Final = "[\u00a0\u2007\u2009\u202f ]"
_NUMBER = r"[0-9]+(?:[.,'\u00a0\u2007\u2009\u202f][0-9]+|[ ][0-9]{3}(?![0-9]))*"
_PIECES = re.compile(rf"({_NUMBER})(?!{_W})|({_W}+)|(\S)")
_NUMBER_SEPS = re.compile(_NUM_SEP)
# Scripts written without spaces: their words are matched as substrings.
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]"
)
# Letters whose FTS5 form (unicode61, remove_diacritics 2) we can predict: ASCII, Latin with
# diacritics, Cyrillic. Anything else keeps a term out of the FTS5 pre-selection.
_FTS_SAFE = re.compile("[a-z0-9\u00c0-\u024f\u1e00-\u1eff\u0400-\u052f]+")
# Letters our folding merges into the key's letter but FTS5 keeps apart: the pre-selection
# lists these spellings too ("ss" may also be an indexed "ß"). Rarer ones are left out to keep
# expressions short (see FTS_GAPS): a document spelled with them can match a query and yet
# escape the pre-selection.
_FTS_TWINS: Final = {"е": "ё", "и": "й", "і": "ї", "у": "ў"}
# (Turkish ı too: listing it as a twin of every i made ordinary English phrases too long
# for an exact form. A text holding any of these is not plain, so the matcher judges it.)
FTS_GAPS: Final = "ѐѝѓќӑӓӗӂӝӟӣӥӧӯӱӳӵӹӛӫӭѷԨԪԬԮǡǣǽǿı"


@dataclass(frozen=True, slots=True)
class _Atom:
    kind: str  # "word", "number"; or, matched as substrings, "symbol" and "unspaced" (CJK…)
    text: str  # folded; digits for an integer, "12.5" for a decimal
    needle: str  # a substring of every match, for a cheap pre-check
    fts: tuple[str, ...] | None  # FTS5 token strings it may be indexed as; None: unknown
    fts_prefix: bool = False  # the FTS5 forms are prefixes (the word had too many forms)

    @property
    def spaced(self) -> bool:
        return self.kind in ("word", "number")


def _word_atom(text: str) -> _Atom:
    if _UNSPACED.search(text):
        return _Atom("unspaced", text, text, None)
    forms, truncated = _fts_forms(text)
    return _Atom("word", text, text, forms, truncated)


def _number_atoms(raw: str) -> list[_Atom]:
    """``6,000`` → one integer; ``1.5`` → one decimal; ``1.2.3`` → three integers."""
    groups = _NUMBER_SEPS.split(raw)
    seps = _NUMBER_SEPS.findall(raw)
    fraction = ""
    if seps and seps[-1] in ".," and len(groups[-1]) != 3:
        fraction, groups, seps = groups[-1], groups[:-1], seps[:-1]
    grouped = len(groups) == 1 or (len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:]))
    if not grouped:
        return [a for piece in re.split(r"\D+", raw) if piece for a in _number_atoms(piece)]
    digits = "".join(groups)
    chunks = _thousands(digits)
    forms = [" ".join(p) for p in _splits(chunks)] if len(chunks) <= 4 else None
    if forms is not None and fraction:
        forms = [f"{form} {fraction}" for form in forms]
    text = f"{digits}.{fraction}" if fraction else digits
    needle = max([*chunks, fraction], key=len)
    return [_Atom("number", text, needle, tuple(forms) if forms else None)]


def _thousands(digits: str) -> list[str]:
    head = len(digits) % 3 or 3
    return [digits[:head]] + [digits[k : k + 3] for k in range(head, len(digits), 3)]


def _splits(chunks: list[str]) -> Iterator[list[str]]:
    """Every way to write the chunks with or without a separator between neighbours."""
    for cuts in itertools.product((False, True), repeat=len(chunks) - 1):
        parts = [chunks[0]]
        for cut, chunk in zip(cuts, chunks[1:], strict=True):
            if cut:
                parts.append(chunk)
            else:
                parts[-1] += chunk
        yield parts


def _atomize(folded: str) -> tuple[list[_Atom], list[str]]:
    """Split folded text into atoms, and the text found between consecutive atoms."""
    atoms: list[_Atom] = []
    gaps: list[str] = []
    last_end = 0
    for m in _PIECES.finditer(folded):
        number, word, other = m.groups()
        if other is not None:
            glued = bool(atoms) and atoms[-1].kind == "symbol" and last_end == m.start()
            if not (unicodedata.category(other).startswith("S") or (glued and other == "\u200d")):
                continue  # punctuation separates
            if glued:  # one emoji sequence, or "++" in "c++"
                text = atoms[-1].text + other
                atoms[-1] = _Atom("symbol", text, text, None)
                last_end = m.end()
                continue
            new = [_Atom("symbol", other, other, None)]
        elif number is not None:
            new = _number_atoms(number)
        else:
            new = [_word_atom(word)]
        if atoms:
            gaps.append(folded[last_end : m.start()])
        gaps.extend(" " for _ in new[1:])
        atoms.extend(new)
        last_end = m.end()
    return atoms, gaps


def _atom_regex(atom: _Atom, first: bool, open_end: bool) -> str:
    """The atom's regex; ``first`` adds the left word boundary, ``open_end`` drops the right."""
    if not atom.spaced:
        return re.escape(atom.text)
    if atom.kind == "word":
        core = re.escape(atom.text)
        # The literal comes first so that the regex engine can scan for it quickly.
        left = f"(?<!{_W}{core})" if first else ""
        return core + left + (f"{_W}*" if open_end else f"(?!{_W})")  # a prefix: whole word
    whole, _, fraction = atom.text.partition(".")
    chunks = _thousands(whole)
    head = chunks[0]
    # In "1 600 000" the "600 000" is not 600000: a 3-digit head may continue a number.
    left = "".join(
        f"(?<!(?<![0-9])[0-9]{{{k}}}{_NUM_SPACE}{head})" for k in (1, 2, 3)
    ) if len(head) == 3 else ""
    out = f"{head}(?<!{_W}{head})(?<![0-9][.,']{head}){left}"
    out += "".join(f"{_NUM_SEP}?{chunk}" for chunk in chunks[1:])
    if fraction:
        out += f"[.,]{fraction}"
    return out + f"(?!{_W})(?![.,'][0-9])(?!{_NUM_SPACE}[0-9]{{3}}(?![0-9]))"


def _sequence_regex(atoms: tuple[_Atom, ...], prefix: bool) -> str:
    parts = []
    for k, atom in enumerate(atoms):
        if k:
            parts.append(_GAP if atoms[k - 1].spaced and atom.spaced else _GAP_OPT)
        parts.append(_atom_regex(atom, k == 0, prefix and k == len(atoms) - 1))
    return "".join(parts)


def _fts_forms(word: str) -> tuple[tuple[str, ...] | None, bool]:
    """How FTS5 may have indexed a word that folds to ``word``; and whether those are prefixes.

    FTS5 folds case and strips Latin diacritics as we do, but keeps a few letters apart that we
    merge (ё and е, й and и, ß and ss…). Too many spellings: fall back to prefixes of a stem.
    """
    if not _FTS_SAFE.fullmatch(word):
        return None, False
    forms = [""]
    for k, char in enumerate(word):
        grown = [form + option for form in forms for option in (char, *_FTS_TWINS.get(char, ""))]
        if k and char == "s" and word[k - 1] == "s":
            grown += [form[:-1] + "ß" for form in forms if form.endswith("s")]
        if len(grown) > _MAX_FTS_FORMS:
            return (tuple(forms), True) if k else (None, False)
        forms = grown
    return tuple(forms), False


def _open_forms(forms: tuple[str, ...]) -> list[str]:
    """Forms used as prefixes: one ending in "s" may be the start of an indexed "ß"."""
    return [*forms, *(f[:-1] + "ß" for f in forms if f.endswith("s"))]


def _fts_string(text: str, prefix: bool = False) -> str:
    return '"' + text.replace('"', '""') + '"' + ("*" if prefix else "")


def _fts_any(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "(" + " OR ".join(items) + ")"


def _fts_all(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "(" + " AND ".join(items) + ")"


def _product(forms: list[tuple[str, ...] | None]) -> Iterator[tuple[str, ...]]:
    return itertools.product(*(f or () for f in forms))


def _fts_phrase(atoms: tuple[_Atom, ...], prefix: bool) -> str | None:
    """FTS5 phrases for atoms in sequence, one per spelling; None when an atom's spellings
    are unknown, or prefixes of a stem before the last atom, or there are too many."""
    last = len(atoms) - 1
    forms = [atom.fts for atom in atoms]
    if any(f is None for f in forms) or any(a.fts_prefix for a in atoms[:last]):
        return None
    if math.prod(len(f or ()) for f in forms) > _MAX_FTS_FORMS:
        return None
    if prefix or atoms[last].fts_prefix:
        forms[last] = tuple(_open_forms(forms[last]))  # type: ignore[arg-type]
        return _fts_any([_fts_string(" ".join(c), True) for c in _product(forms)])
    return _fts_any([_fts_string(" ".join(c)) for c in _product(forms)])


def _fts_sequence(atoms: tuple[_Atom, ...], prefix: bool) -> str | None:
    """FTS5 for atoms in sequence: a phrase when it is small enough, else each atom ANDed."""
    phrase = _fts_phrase(atoms, prefix)
    if phrase is not None:
        return phrase
    last = len(atoms) - 1
    parts = []
    for k, atom in enumerate(atoms):
        if atom.fts is None:
            continue
        if atom.fts_prefix or (prefix and k == last):
            parts.append(_fts_any([_fts_string(f, True) for f in _open_forms(atom.fts)]))
        else:
            parts.append(_fts_any([_fts_string(f) for f in atom.fts]))
    return _fts_all(parts) if parts else None


def _fts_phrase_exact(atoms: tuple[_Atom, ...], prefix: bool) -> str | None:
    """FTS5 for words in sequence that matches exactly what the matcher does on plain texts:
    the phrases, for words whose every spelling is known (no numbers, symbols or stems)."""
    if any(a.kind != "word" or a.fts_prefix for a in atoms):
        return None
    return _fts_phrase(atoms, prefix)


# --------------------------------------------------------------------------------------------
# Syntax tree: boolean nodes and leaves, each knowing its test, spans and FTS5 form


class _RegexGuard:
    """Time-out bookkeeping shared by a query's regexes."""

    __slots__ = ("strikes", "timed_out")

    def __init__(self) -> None:
        self.timed_out = False
        self.strikes: dict[int, int] = {}

    def strike(self, leaf: _Regex) -> None:
        self.timed_out = True
        self.strikes[id(leaf)] = self.strikes.get(id(leaf), 0) + 1

    def given_up(self, leaf: _Regex) -> bool:
        return self.strikes.get(id(leaf), 0) >= REGEX_STRIKES

    def reset(self) -> None:
        self.timed_out = False
        self.strikes.clear()


class _Folds:
    """Folded fields of one document with their offset maps, computed on demand."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self._cache: dict[str, tuple[str, list[int] | None]] = {}

    def __call__(self, name: str) -> tuple[str, list[int] | None]:
        if name not in self._cache:
            self._cache[name] = _fold_map(getattr(self.doc, name) or "")
        return self._cache[name]


@dataclass(frozen=True, slots=True)
class _And:
    parts: tuple[_Node, ...]

    def fts(self) -> str | None:
        parts = [e for e in (p.fts() for p in self.parts) if e is not None]
        return _fts_all(parts) if parts else None

    def exact(self) -> str | None:
        wanted = [p.exact() for p in self.parts if not isinstance(p, _Not)]
        unwanted = [p.part.exact() for p in self.parts if isinstance(p, _Not)]
        if not wanted or None in wanted or None in unwanted:
            return None  # FTS5 has no "everything but": a lone NOT has no expression
        expression = _fts_all(wanted)  # type: ignore[arg-type]
        if unwanted:
            expression = f"({expression} NOT {_fts_any(unwanted)})"  # type: ignore[arg-type]
        return expression


@dataclass(frozen=True, slots=True)
class _Or:
    parts: tuple[_Node, ...]

    def fts(self) -> str | None:
        parts = [p.fts() for p in self.parts]
        if any(e is None for e in parts):
            return None  # one side may match anything
        return _fts_any(parts)  # type: ignore[arg-type]

    def exact(self) -> str | None:
        parts = [p.exact() for p in self.parts]
        return None if None in parts else _fts_any(parts)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class _Not:
    part: _Node

    def fts(self) -> str | None:
        return None

    def exact(self) -> str | None:
        return None  # only as a part of an AND (see _And.exact and Query.fts_exact)


def _fields_of(name: str | None) -> tuple[str, ...]:
    return ("title", "text") if name is None else (name,)


@dataclass(frozen=True, slots=True, eq=False)
class _Words:
    """Words, numbers, phrases and symbols, in the title, the text or either."""

    field: str | None  # None, "title" or "text"
    alternatives: tuple[tuple[_Atom, ...], ...]  # e.g. (cease, fire) and (ceasefire,)
    prefix: bool
    pattern: re.Pattern[str] = field(init=False)
    needles: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        source = "|".join(_sequence_regex(atoms, self.prefix) for atoms in self.alternatives)
        object.__setattr__(self, "pattern", re.compile(source))
        needles = {max((a.needle for a in atoms), key=len) for atoms in self.alternatives}
        object.__setattr__(self, "needles", tuple(sorted(needles)))

    def test(self, guard: _RegexGuard) -> _Test:
        search, needles = self.pattern.search, self.needles
        literal = len(self.alternatives) == 1 and len(self.alternatives[0]) == 1 \
            and not self.alternatives[0][0].spaced
        if self.field is None and len(needles) == 1:
            needle = needles[0]
            if literal:
                return lambda d, m: needle in (m[0] or _memo(d, m))[0]

            def anywhere(d: Any, m: list[Any]) -> bool:
                s = (m[0] or _memo(d, m))[0]
                return needle in s and search(s) is not None

            return anywhere
        in_title = self.field == "title"
        whole = self.field is None

        def within(d: Any, m: list[Any]) -> bool:
            s, n = m[0] or _memo(d, m)
            lo, hi = (0, len(s)) if whole else (0, n) if in_title else (n + 1, len(s))
            if not any(s.find(x, lo, hi) >= 0 for x in needles):
                return False
            return search(s, lo, hi) is not None

        return within

    def spans(self, doc: Document, folds: _Folds, guard: _RegexGuard) -> Iterator[Highlight]:
        for name in _fields_of(self.field):
            folded, origin = folds(name)
            for m in self.pattern.finditer(folded):
                if m.end() > m.start():
                    yield (name, *_original_span(origin, m.start(), m.end()))

    def fts(self) -> str | None:
        alternatives = [_fts_sequence(atoms, self.prefix) for atoms in self.alternatives]
        if any(e is None for e in alternatives):
            return None
        expression = _fts_any(alternatives)  # type: ignore[arg-type]
        return expression if self.field is None else f"{self.field} : {expression}"

    def exact(self) -> str | None:
        alternatives = [_fts_phrase_exact(atoms, self.prefix) for atoms in self.alternatives]
        if None in alternatives:
            return None
        expression = _fts_any(alternatives)  # type: ignore[arg-type]
        return expression if self.field is None else f"{self.field} : {expression}"


def _memo(doc: Any, memo: list[Any]) -> tuple[str, int]:
    memo[0] = folded = _fold_doc(doc.title, doc.text)
    return folded


@dataclass(frozen=True, slots=True, eq=False)
class _Attr:
    """A source, url or lang term."""

    field: str  # "source", "url" or "lang"
    value: str  # folded
    prefix: bool
    pattern: re.Pattern[str] | None = None  # source: the words, from the start of a word

    def test(self, guard: _RegexGuard) -> _Test:
        value = self.value
        if self.field == "lang":
            if self.prefix:
                return lambda d, m: (d.lang or "").casefold().startswith(value)
            dash, underscore = value + "-", value + "_"

            def lang(d: Any, m: list[Any]) -> bool:
                code = (d.lang or "").casefold()
                return code == value or code.startswith((dash, underscore))

            return lang
        if self.field == "url":
            return lambda d, m: value in fold(d.url or "")
        search = self.pattern.search  # type: ignore[union-attr]
        return lambda d, m: search(fold(d.source or "")) is not None

    def spans(self, doc: Document, folds: _Folds, guard: _RegexGuard) -> Iterator[Highlight]:
        if self.field == "lang":
            return
        folded, origin = folds(self.field)
        if self.pattern is not None:
            found = [(m.start(), m.end()) for m in self.pattern.finditer(folded)]
        else:
            found, at = [], folded.find(self.value)
            while at >= 0 and self.value:
                found.append((at, at + len(self.value)))
                at = folded.find(self.value, at + 1)
        for start, end in found:
            if end > start:
                yield (self.field, *_original_span(origin, start, end))

    def fts(self) -> str | None:
        return None

    def exact(self) -> str | None:
        return None


@dataclass(frozen=True, slots=True, eq=False)
class _Regex:
    """A /regex/ on the original (unfolded) text, with a time limit per document."""

    field: str | None
    pattern: Any  # regex.Pattern[str]

    def _values(self, doc: Any) -> tuple[str, ...]:
        if self.field is None:
            return (doc.title, doc.text)
        return (getattr(doc, self.field) or "",)

    def test(self, guard: _RegexGuard) -> _Test:
        search = self.pattern.search

        def matches(d: Any, m: list[Any]) -> bool:
            if guard.given_up(self):
                return False
            deadline = time.perf_counter() + REGEX_TIMEOUT
            try:
                for value in self._values(d):
                    left = deadline - time.perf_counter()
                    if left <= 0:
                        raise TimeoutError
                    if search(value, timeout=left) is not None:
                        return True
            except TimeoutError:
                guard.strike(self)
            return False

        return matches

    def spans(self, doc: Document, folds: _Folds, guard: _RegexGuard) -> Iterator[Highlight]:
        names = _fields_of(self.field)
        if guard.given_up(self) or "lang" in names:
            return
        deadline = time.perf_counter() + REGEX_TIMEOUT
        try:
            for name, value in zip(names, self._values(doc), strict=True):
                left = max(deadline - time.perf_counter(), 0.001)
                for m in self.pattern.finditer(value, timeout=left):
                    if m.end() > m.start():
                        yield (name, m.start(), m.end())
        except TimeoutError:
            guard.strike(self)

    def fts(self) -> str | None:
        return None

    def exact(self) -> str | None:
        return None


_Leaf = _Words | _Attr | _Regex
_Node = _And | _Or | _Not | _Leaf


def _cost(node: _Node) -> int:
    """Rough evaluation cost, to try cheap tests first in AND and OR."""
    if isinstance(node, _Attr):
        return 0
    if isinstance(node, _Words):
        return 1
    if isinstance(node, _Regex):
        return 3
    if isinstance(node, _Not):
        return _cost(node.part)
    return max(_cost(p) for p in node.parts)


def _compile(node: _Node, guard: _RegexGuard) -> _Test:
    """Turn the tree into nested closures: the per-document work is only calls and searches."""
    if isinstance(node, _Not):
        inner = _compile(node.part, guard)
        return lambda d, m: not inner(d, m)
    if isinstance(node, _And | _Or):
        tests = [_compile(p, guard) for p in sorted(node.parts, key=_cost)]
        if isinstance(node, _And):
            if len(tests) == 2:
                first, second = tests
                return lambda d, m: first(d, m) and second(d, m)

            def every(d: Any, m: list[Any]) -> bool:
                return all(t(d, m) for t in tests)

            return every
        if len(tests) == 2:
            first, second = tests
            return lambda d, m: first(d, m) or second(d, m)

        def some(d: Any, m: list[Any]) -> bool:
            return any(t(d, m) for t in tests)

        return some
    return node.test(guard)


def _positive(node: _Node, negated: bool = False) -> Iterator[_Leaf]:
    """Leaves not under an odd number of negations: those whose matches are highlighted."""
    if isinstance(node, _Not):
        yield from _positive(node.part, not negated)
    elif isinstance(node, _And | _Or):
        for part in node.parts:
            yield from _positive(part, negated)
    elif not negated:
        yield node


# --------------------------------------------------------------------------------------------
# Parser: recursive descent over the tokens
#
#   query    := sequence
#   sequence := { ["AND"] either }
#   either   := unary { ("OR" | "|") unary }
#   unary    := ("-" | "NOT") unary | FIELD unary | "(" sequence ")" | WORD | PHRASE | REGEX


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = _lex(query)
        self.at = 0
        self.depth = 0

    def parse(self) -> _Node | None:
        return self._sequence(None, None)

    def _peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _ends_operand(self) -> bool:
        tok = self._peek()
        return tok is None or tok.kind in (")", "OR", "AND")

    def _error(self, message: str, pos: int) -> QueryError:
        return _error(message, self.query, pos)

    def _sequence(self, field: str | None, opener: _Token | None) -> _Node | None:
        parts: list[_Node] = []
        seen = False
        while (tok := self._peek()) is not None and tok.kind != ")":
            seen = True
            if tok.kind == "AND":
                self.at += 1
                if not parts or self._ends_operand():
                    raise self._error("AND needs a term on both sides", tok.pos)
                continue
            node = self._either(field)
            if node is not None:
                parts.append(node)
        if opener is None and tok is not None:
            raise self._error("unbalanced parenthesis: nothing to close here", tok.pos)
        if opener is not None:
            if tok is None:
                raise self._error("unbalanced parenthesis: '(' is never closed", opener.pos)
            if not seen:
                raise self._error("empty parentheses", opener.pos)
            self.at += 1
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else _And(tuple(parts))

    def _either(self, field: str | None) -> _Node | None:
        items = [self._unary(field)]
        operator = None
        while (tok := self._peek()) is not None and tok.kind == "OR":
            operator = tok
            self.at += 1
            if self._ends_operand():
                raise self._error("OR needs a term on both sides", tok.pos)
            items.append(self._unary(field))
        if operator is None:
            return items[0]
        if any(item is None for item in items):
            raise self._error("OR needs a term on both sides", operator.pos)
        return _Or(tuple(items))  # type: ignore[arg-type]

    def _unary(self, field: str | None) -> _Node | None:
        tok = self.tokens[self.at]
        self.at += 1
        if tok.kind in ("OR", "AND"):
            raise self._error(f"{tok.kind} needs a term on both sides", tok.pos)
        if tok.kind not in ("NOT", "FIELD", "("):
            return self._term(tok, field)
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self._error("nested too deeply", tok.pos)
        try:
            if tok.kind == "(":
                return self._sequence(field, tok)
            if self._ends_operand():
                raise self._error(self._needs(tok), tok.pos)
            inner = self._unary(tok.text if tok.kind == "FIELD" else field)
            if inner is None:
                raise self._error(self._needs(tok), tok.pos)
            return _Not(inner) if tok.kind == "NOT" else inner
        finally:
            self.depth -= 1

    @staticmethod
    def _needs(tok: _Token) -> str:
        name = f"'{tok.text}:'" if tok.kind == "FIELD" else f"'{tok.text}'"
        return f"{name} needs a term after it"

    def _term(self, tok: _Token, field: str | None) -> _Node | None:
        if tok.kind == "REGEX":
            return _Regex(field, self._regex(tok))
        if tok.kind == "PHRASE" and not tok.text.strip():
            raise self._error("empty phrase", tok.pos)
        if field in _VERBATIM:
            return self._attr(tok, field)  # type: ignore[arg-type]
        atoms, gaps = _atomize(fold(tok.text))
        if not atoms:
            if tok.kind == "PHRASE":
                raise self._error("nothing to match in this phrase", tok.pos)
            return None  # bare punctuation, such as a dash between words
        alternatives = [tuple(atoms)]
        hyphenated = tok.kind == "WORD" and len(atoms) > 1 and all(
            a.kind == "word" or a.kind == "number" for a in atoms
        ) and all(g and set(g) <= set(_HYPHENS) for g in gaps)
        if hyphenated:  # cease-fire also finds "ceasefire"
            alternatives.append((_word_atom("".join(a.text for a in atoms)),))
        if tok.prefix:  # the last atom becomes a prefix, also when it was a number
            alternatives = [
                (*atoms[:-1], _word_atom(atoms[-1].text)) if atoms[-1].kind == "number"
                and "." not in atoms[-1].text else atoms
                for atoms in alternatives
            ]
        try:
            return _Words(field, tuple(alternatives), tok.prefix)
        except (re.error, OverflowError, RecursionError) as exc:
            raise self._error("this term is too complex", tok.pos) from exc

    def _attr(self, tok: _Token, field: str) -> _Attr | None:
        value = fold(tok.text).strip()
        if field == "lang":
            value = value.casefold()
            return _Attr("lang", value, tok.prefix) if value else None
        if field == "url":
            return _Attr("url", value, tok.prefix) if value else None
        atoms, _ = _atomize(value)
        if not atoms:
            return None
        pattern = re.compile(_sequence_regex(tuple(atoms), prefix=True))
        return _Attr("source", value, True, pattern)

    def _regex(self, tok: _Token) -> Any:
        pattern, start = tok.text, tok.pos + 1
        if not pattern:
            raise self._error("empty regex", tok.pos)
        if len(pattern) > _MAX_REGEX:
            raise self._error(f"regex longer than {_MAX_REGEX} characters", tok.pos)
        total = 1
        for m in re.finditer(r"\{(\d+)(?:,(\d*))?\}", pattern):
            count = max(int(m.group(1)), int(m.group(2) or 0))
            total *= max(count, 1)
            if total > _MAX_REPEAT:
                raise self._error("regex repeat counts are too large", start + m.start())
        flags = 0
        for flag in tok.flags:
            flags |= {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL}[flag]
        try:
            return regex.compile(pattern, flags)
        except regex.error as exc:
            at = start + (exc.pos if exc.pos is not None else 0)
            raise self._error(f"invalid regex: {exc.msg}", min(at, start + len(pattern))) from None
        except (ValueError, OverflowError, RecursionError, MemoryError) as exc:
            raise self._error(f"invalid regex: {exc}", tok.pos) from None

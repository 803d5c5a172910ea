"""Near-duplicate clustering of updates: exact keys plus a time-windowed similarity index.

Pure logic, no I/O. One story arrives from many sources, reworded, truncated, marked with
emoji and sometimes in Russian or Ukrainian; :class:`ClusterIndex` folds those copies into one
cluster whose id is the id of its first (headline) update.

Two layers:

* **exact** — same canonical URL (homepages ignored), same forward origin, or identical
  normalized text: join immediately, even when near-duplicate matching is disabled;
* **near** — an inverted index over the rarest terms of each update (postings capped, old
  updates evicted) yields a few candidates inside the time window; each is scored with
  IDF-weighted overlap (learned online) that also accepts a short post contained in a longer
  one, then penalised for conflicting numbers or opposite event verbs ("began" vs "ended").
  Updates in different scripts (Cyrillic vs Latin) are compared through language-neutral
  anchors instead: numbers, transliterated name skeletons and event classes, under a stricter
  rule.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from itertools import islice
from typing import Any
from urllib.parse import urlsplit

import regex
from anyascii import anyascii

from feedwatch.textutil import canonical_url

__all__ = [
    "ClusterIndex",
    "Decision",
    "DedupeDoc",
    "DedupeSettings",
    "bcubed_scores",
    "cluster_records",
    "normalize",
    "pairwise_scores",
    "similarity",
]


# --------------------------------------------------------------------------- public records


@dataclass(frozen=True, slots=True)
class DedupeDoc:
    """What clustering needs to know about one update."""

    id: int
    source: str
    published: float  # unix seconds
    title: str
    text: str
    url: str | None = None
    forwarded_url: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """Where an added update went and why."""

    cluster: int  # id of the cluster's headline update; == doc.id for a new cluster
    joined: bool  # True when it joined an existing cluster
    score: float  # similarity to the best match (1.0 for exact copies)
    reason: str  # "new" | "exact-url" | "forward" | "exact-text" | "near"


@dataclass(frozen=True, slots=True)
class DedupeSettings:
    """Knobs of the clustering. ``threshold`` was tuned on the dev set's training split."""

    window: float = 6 * 3600.0
    threshold: float = 0.4
    enabled: bool = True
    cross_language: bool = True  # compare Cyrillic and Latin updates through anchors
    margin: float | None = None  # extra retention past the window; None → one more window


# --------------------------------------------------------------------------- normalization

_URL = re.compile(r"(?:https?://|www\.|t\.me/)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+")
_VIA = re.compile(r"\b(?:via|через)\s+@?\w+", re.IGNORECASE)
_SOURCE_LINE = re.compile(
    r"^\s*(?:source|sources|photo|video|источник|фото|видео|джерело|відео)\s*:.*$",
    re.IGNORECASE | re.MULTILINE,
)
_FOOTER_WORDS = re.compile(
    r"subscribe|follow us|join us|our channel|stay (?:informed|tuned)|"
    r"подпис|наш канал|читайте нас|підпис|приєднуйтесь",
    re.IGNORECASE,
)
_MARKER_WORDS = (
    r"breaking(?:\s+news)?|update[ds]?|more|adding|also|urgent|just\s+in|developing|flash|"
    r"exclusive|live|correction|срочно|молния|важно|ещ[её]|дополнение|подробнее|обновлено|"
    r"терміново|блискавка|важливо|ще|додаємо|доповнення|детальніше|оновлено"
)
# A marker opens a line ("⚡️ BREAKING:", "More:", "❗️Срочно —") and is followed by ":" or a dash.
_MARKER = regex.compile(
    rf"^[^\p{{L}}\p{{N}}\n]*(?:(?:{_MARKER_WORDS})\s*[:—–|!-]+[^\p{{L}}\p{{N}}\n]*)+",
    regex.IGNORECASE | regex.MULTILINE,
)
# "(Reuters)", "(AP)", "(РИА Новости)": a parenthesised name of one to three capitalised words.
_PAREN_TAG = regex.compile(r"\(\s*\p{Lu}[\p{L}.&]*(?:\s+\p{Lu}[\p{L}.&]*){0,2}\s*\)")
# "— Reuters", "- AP" closing a line.
_DASH_TAG = regex.compile(
    r"\s[—–-]{1,2}\s*\p{Lu}[\p{L}.&]*(?:\s+\p{Lu}[\p{L}.&]*){0,2}[\s.]*$", regex.MULTILINE
)
_STRESS = re.compile("[\u0300-\u036f\u00ad\u200b-\u200d\u2060\ufe0f]")
_TOKEN = re.compile(
    r"(?P<time>(?<![\d.,:])\d{1,2}:\d{2}(?![\d:]))"
    r"|(?P<group>(?<![\d.,])\d{1,3}(?:(?:,|[ \u00a0\u202f\u2009])\d{3})+(?![\d]|[.,]\d))"
    r"|(?P<num>\d+(?:[.,]\d+)?)"
    r"|(?P<word>[^\W\d_]+(?:['’ʼ][^\W\d_]+)*)"
)
_APOSTROPHES = re.compile("['’ʼ]")
_MULTIPLIERS = {
    **dict.fromkeys(("thousand", "thousands", "k", "тыс", "тысяч", "тысячи", "тысяча",
                     "тис", "тисяч", "тисячі", "тисяча"), 1000),
    **dict.fromkeys(("million", "millions", "mln", "m", "млн", "миллион", "миллиона",
                     "миллионов", "мільйон", "мільйона", "мільйонів"), 1_000_000),
    **dict.fromkeys(("billion", "billions", "bn", "млрд", "миллиард", "миллиарда",
                     "миллиардов", "мільярд", "мільярда", "мільярдів"), 1_000_000_000),
}  # fmt: skip


def _strip_tags(text: str) -> str:
    """Remove URLs, mentions, markers, source tags and subscribe footers from raw text."""
    # Each pattern runs only when a cheap test says it could match: this is the hot path.
    if "/" in text or "www." in text:
        text = _URL.sub(" ", text)
    if "@" in text or "via " in text or "Via " in text or "через" in text:
        text = _MENTION.sub(" ", _VIA.sub(" ", text))
    if ":" in text:
        text = _SOURCE_LINE.sub(" ", text)
    if _FOOTER_WORDS.search(text):
        if "\n" in text:
            lines = text.split("\n")
            text = "\n".join(line for line in lines if not _FOOTER_WORDS.search(line))
        elif len(text) < 80:
            text = ""  # a post that is nothing but a footer
    if not text[:1].isalnum() or ":" in text or "\n" in text:
        text = _MARKER.sub(" ", text)
    if "(" in text:
        text = _PAREN_TAG.sub(" ", text)
    if "-" in text or "—" in text or "–" in text:
        text = _DASH_TAG.sub(" ", text)
    return text


def _canon_number(raw: str, group: bool) -> str:
    """'6,000' / '6 000' → '6000'; '6,1' / '6.10' → '6.1'; '6.0' → '6'."""
    if group:
        return re.sub(r"\D", "", raw).lstrip("0") or "0"
    raw = raw.replace(",", ".")
    if "." not in raw:
        return raw.lstrip("0") or "0"
    whole, frac = raw.split(".", 1)
    frac = frac.rstrip("0")
    whole = whole.lstrip("0") or "0"
    return f"{whole}.{frac}" if frac else whole


def _scale(number: str, factor: int) -> str:
    """Apply a word multiplier: ('1.5', 1000) → '1500'."""
    try:
        value = Decimal(number) * factor
    except InvalidOperation:
        return number
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _raw_tokens(text: str) -> list[tuple[str, str]]:
    """(kind, token) pairs of already-stripped text: kind is 'w' word, 'n' number, 't' time;
    words keep their case (capitalisation marks names)."""
    out: list[tuple[str, str]] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        tok = m.group()
        if kind == "word":
            low = tok.casefold()
            if out and out[-1][0] == "n" and low in _MULTIPLIERS:
                out[-1] = ("n", _scale(out[-1][1], _MULTIPLIERS[low]))
                continue
            if "'" in tok or "’" in tok or "ʼ" in tok:
                tok = re.sub(r"['’ʼ]s$", "", tok, flags=re.IGNORECASE)
                tok = _APOSTROPHES.sub("", tok)
            out.append(("w", tok))
        elif kind == "time":
            out.append(("t", tok.zfill(5)))
        else:
            out.append(("n", _canon_number(tok, kind == "group")))
    return out


def _prepare(text: str) -> str:
    """Unicode clean-up shared by every path: drop stress marks and variation selectors."""
    return _STRESS.sub("", text)


def normalize(text: str) -> list[str]:
    """Tokens for comparison: casefolded words and canonical numbers, with markers, emoji,
    punctuation, URLs, mentions and source tags stripped. Works for Latin and Cyrillic."""
    return [
        tok.casefold().replace("ё", "е") if kind == "w" else tok
        for kind, tok in _raw_tokens(_strip_tags(_prepare(text)))
    ]


# --------------------------------------------------------------------------- features

_STOP_WORDS = """
    a an the and or but nor so yet if then than that this these those there here it its it's
    is are was were be been being am do does did done has have had having will would shall
    should can could may might must of in on at to for from by with without about into onto
    over under after before during since until up down out off as not no yes all any some
    each every both either neither other another such own same very just only also too more
    most much many few less least again further once he she they we you i me him her them us
    my your his their our who whom whose which what when where why how said says say saying
    told tells according reported reports report reporting breaking update updates adding
    urgent live new latest news via amid while per one s t mr ms st nd rd th am pm
    и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только
    ее её мне было вот от меня еще ещё нет о из ему теперь когда даже ну вдруг ли если уже
    или ни быть был него до вас нибудь опять уж вам ведь там потом себя ничего ей может они
    тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего раз тоже себе под
    будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем
    чтобы нее сейчас были куда зачем всех никогда можно при наконец два об другой хоть после
    над больше тот через эти нас про всего них какая много разве три эту моя впрочем хорошо
    свою этой перед иногда лучше чуть том нельзя такой им более всегда конечно всю между
    это также заявил заявила заявили сообщил сообщила сообщили сообщает сообщают говорит
    сказал сказала передает срочно молния важно
    і й та але що як це цей ця ці той та ті він вона вони ми ви я ти його її їх їм на в у
    до з із зі від по за для про при над під без через між після перед не ні так також вже
    ще теж лише тільки як коли де чи або був була було були буде є бути може можуть свій
    своє своя свої який яка яке які котрий заявив заявила заявили повідомив повідомила
    повідомили повідомляє каже сказав сказала терміново важливо блискавка
"""
_STOP = frozenset(_STOP_WORDS.split())
# Opposed event states: two reports carrying opposite ones describe different events.
# Entries of five letters or more match as prefixes, shorter ones only as whole words.
_EVENT_WORDS: dict[str, tuple[str, ...]] = {
    "start": ("began", "begin", "begun", "start", "kicked", "underway", "resume", "commence",
              "начал", "начн", "начин", "старт", "возобнов", "розпоч", "почал", "почин",
              "почн", "відновил"),
    "end": ("ended", "ending", "ends", "end", "finish", "conclud", "wrapped", "lasted",
            "заверш", "закончи", "законч", "окончен", "длил", "закінч", "тривал"),
    "delay": ("delay", "postpon", "late", "behind", "задерж", "отлож", "перенес", "откладыв",
              "затрим", "відклад", "перенос", "опізн", "опазд"),
    "on": ("issued", "declared", "imposed", "introduc", "объявл", "введен", "ввели",
           "оголош", "запровад"),
    "off": ("lifted", "cancel", "revoked", "отмен", "снят", "сняли", "скасов", "знят",
            "зняли"),
    "agree": ("agreed", "agree", "accept", "approv", "договор", "соглас", "домовил",
              "погодил", "одобр", "схвал"),
    "reject": ("reject", "refus", "declin", "отказ", "отклон", "отверг", "відмов",
               "відхил"),
}  # fmt: skip
_EVENT_PREFIXES = {k: tuple(w for w in v if len(w) >= 5) for k, v in _EVENT_WORDS.items()}
_EVENT_EXACT = {w: k for k, v in _EVENT_WORDS.items() for w in v if len(w) < 5}
_BE = frozenset(("is", "are", "was", "were", "s", "now"))
_CONTEXT_EVENTS = frozenset(("over", "way"))
_OPPOSED = frozenset(
    {("start", "end"), ("start", "delay"), ("end", "delay"), ("on", "off"),
     ("agree", "reject")}
)  # fmt: skip
_MONTH_WORDS = """
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec января февраля марта апреля мая июня
    июля августа сентября октября ноября декабря січня лютого березня квітня травня червня
    липня серпня вересня жовтня листопада грудня"""
_MONTHS = frozenset(_MONTH_WORDS.split())
_CYRILLIC = re.compile("[\u0400-\u04ff]")
_RU_LETTERS = re.compile("[ыэъ]")
_UK_LETTERS = re.compile("[іїєґ]")
_CYR_ENDING_WORDS = """
    иями ями ами ого его ому ему ими ыми ых их ий ый ой ая яя ое ее ую юю ом ем ам ям
    ах ях ов ев ей ия ие ию ии ье ья ью ться тся илась ились ился илось ила ило или
    ілися илися лися лись ла ли ло ся сь ет ют ут ит ат ят ать ять ить еть ість ості
    іть ові еві ою ею ої ій а я о е ы и у ю ь й і ї є"""
_CYR_ENDINGS = tuple(sorted(set(_CYR_ENDING_WORDS.split()), key=len, reverse=True))
_LAT_SUFFIXES = (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""))
_SKELETON_LEN = 3
_SKELETON_PAIRS = (
    ("shch", "s"), ("sch", "s"), ("sh", "s"), ("zh", "z"), ("kh", "h"), ("ch", "c"),
    ("ph", "f"), ("ck", "k"), ("w", "v"), ("q", "k"), ("x", "ks"), ("j", "i"), ("z", "s"),
    ("g", "h"),
)  # fmt: skip


@lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    """A light, language-agnostic stem: strip a common ending, keep at most six letters."""
    if _CYRILLIC.search(word):
        base = _cyr_base(word)
    else:
        if not word.isascii():
            word = anyascii(word).lower()
        base = word
        if len(word) > 4 and not word.endswith(("ss", "us", "is")):
            for suffix, repl in _LAT_SUFFIXES:
                if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                    base = word[: -len(suffix)] + repl
                    break
        if base.endswith("e") and len(base) > 3:
            base = base[:-1]
    return base[:6]


def _cyr_base(word: str) -> str:
    """Strip one inflectional ending from a Cyrillic word (stem kept ≥ 3 letters)."""
    for ending in _CYR_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)]
    return word


@lru_cache(maxsize=1 << 16)
def _skeleton(word: str) -> str:
    """Script-neutral key of a name: transliterate, fold similar spellings, keep the first
    letter and the next consonants ('Зеленського' and 'Zelensky' → 'zlns'); four letters
    are kept so that case endings fall off."""
    s = anyascii(word).lower()
    for a, b in _SKELETON_PAIRS:
        s = s.replace(a, b)
    s = re.sub(r"c(?=[eiy])", "s", s).replace("c", "k")
    s = re.sub(r"[^a-z]", "", s)
    if not s:
        return ""
    out = [s[0]]
    for ch in s[1:]:
        if ch in "aeiouy" or ch == out[-1]:
            continue
        out.append(ch)
    return "".join(out)[:_SKELETON_LEN]


def _event_classes(word: str, prev: str) -> Iterable[str]:
    """Event states a word signals; 'over' and 'way' count only in 'is over', 'under way'."""
    if word == "over":
        if prev in _BE:
            yield "end"
        return
    if word == "way":
        if prev == "under":
            yield "start"
        return
    exact = _EVENT_EXACT.get(word)
    if exact:
        yield exact
    for name, prefixes in _EVENT_PREFIXES.items():
        if word.startswith(prefixes):
            yield name


@dataclass(frozen=True, slots=True)
class _Features:
    """Everything the index compares, extracted once per update."""

    exact_seq: tuple[str, ...]  # normalized tokens for the exact-text key
    terms: frozenset[str]  # stems and numbers (same-script similarity)
    anchors: frozenset[str]  # 'x:'+name skeletons, numbers, 'e:'+event (cross-script)
    quantities: frozenset[str]  # numbers that are not years, dates or clock times
    events: frozenset[str]
    lang: str  # "lat" (Latin script), "ru", "uk" or "cyr" (Cyrillic, language unclear)


def _combined(title: str, text: str) -> list[tuple[str, str]]:
    """Raw tokens of title + text, the title dropped when the text already starts with it
    (Telegram 'titles' are the post's first line)."""
    t = _raw_tokens(_strip_tags(_prepare(title))) if title else []
    b = _raw_tokens(_strip_tags(_prepare(text))) if text else []
    if t and [x[1].casefold() for x in b[: len(t)]] == [x[1].casefold() for x in t]:
        return b
    return t + b


@lru_cache(maxsize=1 << 17)
def _word(low: str) -> tuple[str | None, str | None, tuple[str, ...], int]:
    """Cached analysis of one casefolded word: (term or None for stopwords, anchor or None,
    context-free event classes, script: 0 Latin, 1 Russian, 2 Ukrainian, 3 other Cyrillic)."""
    if _CYRILLIC.search(low):
        script = 1 if _RU_LETTERS.search(low) else 2 if _UK_LETTERS.search(low) else 3
    else:
        script = 0
    events = tuple(_event_classes(low, ""))
    if low in _STOP or len(low) < 2:
        return None, None, events, script
    anchor = None
    if len(low) >= 4:
        sk = _skeleton(low)
        if len(sk) >= 3:
            anchor = "x:" + sk
    return _stem(low), anchor, events, script


def extract(title: str, text: str) -> _Features:
    """Features of one update (pure; exposed for debugging and tests)."""
    raw = _combined(title, text)
    seq: list[str] = []
    terms: set[str] = set()
    anchors: set[str] = set()
    quantities: set[str] = set()
    events: set[str] = set()
    scripts = [0, 0, 0, 0]
    prev = ""
    for i, (kind, tok) in enumerate(raw):
        if kind == "w":
            low = tok.casefold().replace("ё", "е")
            seq.append(low)
            term, anchor, evs, script = _word(low)
            scripts[script] += 1
            if low in _CONTEXT_EVENTS:
                events.update(_event_classes(low, prev))
            elif evs:
                events.update(evs)
            if term is not None:
                terms.add(term)
                if anchor is not None:
                    anchors.add(anchor)
            prev = low
            continue
        seq.append(tok)
        terms.add(tok)
        anchors.add(tok)
        if kind == "n":
            nxt = raw[i + 1][1].casefold() if i + 1 < len(raw) else ""
            is_year = len(tok) == 4 and tok.isdigit() and 1900 <= int(tok) <= 2100
            is_day = tok.isdigit() and int(tok) <= 31 and (prev in _MONTHS or nxt in _MONTHS)
            if not (is_year or is_day):
                quantities.add(tok)
        prev = ""
    if events:
        tags = ["e:" + e for e in events]
        anchors.update(tags)
        terms.update(tags)
    lat, ru, uk, cyr = scripts
    return _Features(
        tuple(seq), frozenset(terms), frozenset(anchors), frozenset(quantities),
        frozenset(events), _language(lat, ru + uk + cyr, ru, uk),
    )  # fmt: skip


def _language(lat: int, cyr: int, ru: int, uk: int) -> str:
    """Coarse language from word counts: Latin script, or Russian/Ukrainian by their own
    letters (ы э ъ vs і ї є ґ)."""
    if lat >= cyr:
        return "lat"
    if ru > uk:
        return "ru"
    if uk > ru:
        return "uk"
    return "cyr"


def _cross_pair(a: str, b: str) -> bool:
    """True when two updates need the cross-language comparison."""
    return a != b or a == "cyr"


# --------------------------------------------------------------------------- similarity


def _numbers_conflict(a: frozenset[str], b: frozenset[str]) -> float:
    """Multiplier for the quantities two reports carry: 1.0 when one side's numbers are a
    subset of the other's, lower when each has numbers the other lacks."""
    if not a or not b or a <= b or b <= a:
        return 1.0
    return 0.75 if a & b else 0.35


def _events_conflict(a: frozenset[str], b: frozenset[str]) -> int:
    """2 when each report has an event state opposed to one only the other has ("talks
    began" vs "talks ended"), 1 when one adds a state opposed to one they share ("started"
    vs "start delayed"), else 0."""
    if not a or not b or a == b:
        return 0
    only_a, only_b = a - b, b - a
    if any((x, y) in _OPPOSED or (y, x) in _OPPOSED for x in only_a for y in only_b):
        return 2
    extra = only_a or only_b
    other = b if only_a else a
    if any((x, y) in _OPPOSED or (y, x) in _OPPOSED for x in extra for y in other):
        return 1
    return 0


def _penalty(fa: _Features, fb: _Features) -> float:
    """Combined multiplier for hard-negative signals between two updates."""
    p = _numbers_conflict(fa.quantities, fb.quantities)
    conflict = _events_conflict(fa.events, fb.events)
    if conflict:
        p *= _EVENT_PENALTY if conflict == 2 else _EVENT_PENALTY_PARTIAL
    return p


def _overlap(
    a: frozenset[str], wa: Mapping[str, float], sa: float,
    b: frozenset[str], wb: Mapping[str, float], sb: float,
) -> tuple[float, float, int]:
    """(weighted overlap, containment of the smaller side, shared count); each side is
    weighted in its own IDF frame so snapshots taken at different times stay comparable."""
    shared = a & b
    if not shared or sa <= 0 or sb <= 0:
        return 0.0, 0.0, 0
    ca = sum(wa[t] for t in shared) / sa
    cb = sum(wb[t] for t in shared) / sb
    both = (ca * sa + cb * sb) / (sa + sb)
    small = ca if len(a) <= len(b) else cb
    return both, small, len(shared)


def _text_score(both: float, small: float, n_shared: int, n_small: int) -> float:
    """Similarity from overlap figures: overall overlap, or containment of a short post in a
    longer one when enough of its terms are shared."""
    score = both
    if n_shared >= 3 or (n_shared >= 2 and n_shared == n_small):
        score = max(score, _CONTAIN_FACTOR * small**_CONTAIN_POWER)
    return min(score, 1.0)


def similarity(a_title: str, a_text: str, b_title: str, b_text: str) -> float:
    """Similarity of two updates with flat weights (no corpus statistics): a debugging aid
    and a way to reason about the index's scores in tests."""
    fa, fb = extract(a_title, a_text), extract(b_title, b_text)
    wa = dict.fromkeys(fa.terms, 1.0)
    wb = dict.fromkeys(fb.terms, 1.0)
    both, small, n = _overlap(fa.terms, wa, len(wa), fb.terms, wb, len(wb))
    return _text_score(both, small, n, min(len(wa), len(wb))) * _penalty(fa, fb)


# --------------------------------------------------------------------------- the index

_EVENT_PENALTY = 0.45
_EVENT_PENALTY_PARTIAL = 0.75
_IDF_POWER = 1.5
_CONTAIN_FACTOR = 0.85
_CONTAIN_POWER = 1.0
_PRIOR_DOCS = 50.0  # pseudo-documents that keep IDF sensible while few updates are indexed
_QUERY_TERMS = 8  # rarest terms of a new update used to look up candidates
_QUERY_ANCHORS = 3  # rarest name anchors used for cross-script candidates
_POSTINGS_CAP = 48  # most recent postings read per query term
_MAX_CANDIDATES = 16  # candidates scored in full
_CANDIDATE_FLOOR = 0.1  # skip candidates whose lookup weight is below this share of the best
_MIN_EXACT_TOKENS = 5
_SAME_SOURCE_BONUS = 0.2  # same-source pairs need a higher score (follow-ups, not copies)
_CROSS_MAX_AGE = 3 * 3600.0
_CROSS_EXTRA = 0.1  # the cross-language route needs threshold + this
_CROSS_MIN_EVIDENCE = 3  # 2 per shared quantity (3 if specific) + 1 per shared skeleton
_CROSS_NUMBER_WEIGHT = 1.5
_CROSS_HALF = 1.5  # evidence at which the cross-language score is 0.5


@dataclass(slots=True)
class _Doc:
    """An indexed update."""

    serial: int
    ext: int
    source: str
    published: float
    cluster: int
    f: _Features
    w: dict[str, float]  # IDF snapshot of terms at indexing time
    wsum: float
    keys: tuple[str, ...]  # exact keys
    fwd: str | None  # exact key of the forward origin
    posted: tuple[str, ...]  # postings this update appears in


@dataclass(slots=True)
class _Match:
    score: float
    doc: _Doc


def _url_key(url: str | None) -> str | None:
    """Exact key for a URL, or None for URLs that identify a site rather than an item."""
    canon = canonical_url(url)
    if not canon:
        return None
    try:
        path = urlsplit(canon).path
    except ValueError:
        return None
    if path in ("", "/") and "?" not in canon:
        return None
    return "u:" + canon


class ClusterIndex:
    """Decides, for each new update, whether it starts a cluster or joins one seen within the
    time window. Memory stays bounded: updates older than the newest one by more than
    window + margin are evicted."""

    def __init__(self, settings: DedupeSettings = DedupeSettings()) -> None:
        self.settings = settings
        self._docs: dict[int, _Doc] = {}  # serial → indexed update
        self._post: dict[str, dict[int, None]] = {}  # term → serials, oldest first
        self._df: dict[str, int] = {}  # document frequency of terms and anchors
        self._exact: dict[str, int] = {}  # exact key → latest serial carrying it
        self._shared_urls: set[str] = set()  # URL keys one source uses for several items
        self._heads: dict[int, int] = {}  # cluster id → serial of its headline
        self._heap: list[tuple[float, int]] = []  # (published, serial) for eviction
        self._serial = 0
        self._newest = -math.inf
        self._norm = 1.0  # largest possible IDF at the last query

    def __len__(self) -> int:
        return len(self._docs)

    # -- public operations

    def add(self, doc: DedupeDoc) -> Decision:
        """Decide which cluster ``doc`` belongs to, then index it."""
        f = extract(doc.title, doc.text)
        keys = self._exact_keys(doc, f)
        self._advance(doc.published)
        wall = self._weights(f)
        decision = self._decide(doc, f, wall, keys)
        self._index(doc, f, wall, keys, decision.cluster)
        return decision

    def restore(self, doc: DedupeDoc, cluster: int) -> None:
        """Re-index a stored update with its known cluster (replay after a restart)."""
        f = extract(doc.title, doc.text)
        self._advance(doc.published)
        if doc.published < self._cutoff():
            return
        self._index(doc, f, self._weights(f), self._exact_keys(doc, f), cluster)

    # -- decision

    def _decide(
        self, doc: DedupeDoc, f: _Features, wall: dict[str, float], keys: tuple[str, ...]
    ) -> Decision:
        hit = self._exact_hit(doc, keys)
        if hit is not None:
            return hit
        if not self.settings.enabled:
            return Decision(doc.id, False, 0.0, "new")
        ranked = self._score_candidates(doc, f, wall)
        best = 0.0
        for match in ranked:
            best = max(best, match.score)
            if match.score < self._needed(doc, f, match.doc):
                continue
            if self._chain_conflict(f, match.doc):
                continue
            return Decision(match.doc.cluster, True, round(match.score, 4), "near")
        return Decision(doc.id, False, round(best, 4), "new")

    def _needed(self, doc: DedupeDoc, f: _Features, other: _Doc) -> float:
        need = self.settings.threshold
        if other.source == doc.source:
            need += _SAME_SOURCE_BONUS
        return need

    def _chain_conflict(self, f: _Features, matched: _Doc) -> bool:
        """Refuse a cluster whose headline contradicts the new update (stops A→B→C drift)."""
        head_serial = self._heads.get(matched.cluster)
        if head_serial is None or head_serial == matched.serial:
            return False
        head = self._docs.get(head_serial)
        return head is not None and _penalty(f, head.f) < 0.5

    def _exact_keys(self, doc: DedupeDoc, f: _Features) -> tuple[str, ...]:
        keys: list[str] = []
        fwd = _url_key(doc.forwarded_url)
        if fwd:
            keys.append(fwd)
        own = _url_key(doc.url)
        if own and own != fwd:
            keys.append(own)
        if len(f.exact_seq) >= _MIN_EXACT_TOKENS:
            keys.append(f"h:{hash(f.exact_seq):x}")
        return tuple(keys)

    def _exact_hit(self, doc: DedupeDoc, keys: tuple[str, ...]) -> Decision | None:
        fwd = _url_key(doc.forwarded_url)
        for key in keys:
            serial = self._exact.get(key)
            other = self._docs.get(serial) if serial is not None else None
            if other is None or abs(other.published - doc.published) > self.settings.window:
                continue
            if key.startswith("u:") and (key in self._shared_urls or other.source == doc.source):
                continue  # a live blog or section page, not one item
            if key.startswith("h:"):
                reason = "exact-text"
            elif key in (fwd, other.fwd):
                reason = "forward"
            else:
                reason = "exact-url"
            return Decision(other.cluster, True, 1.0, reason)
        return None

    # -- near layer

    def _weights(self, f: _Features) -> dict[str, float]:
        """Current IDF of every term and anchor of an update (computed once per update)."""
        n = float(len(self._docs))
        self._norm = math.log(n + _PRIOR_DOCS) ** _IDF_POWER
        top = n + _PRIOR_DOCS
        df = self._df
        return {k: math.log(top / (df.get(k, 0) + 1.0)) ** _IDF_POWER for k in f.terms | f.anchors}

    def _score_candidates(
        self, doc: DedupeDoc, f: _Features, wall: dict[str, float]
    ) -> list[_Match]:
        """Best match per cluster, best first, from a bounded candidate set."""
        w = {t: wall[t] for t in f.terms}
        wsum = sum(w.values())
        xw = wall if self.settings.cross_language else None
        posts = self._post
        # Rarest keys that some indexed update shares (unseen keys find nothing).
        # Ties are broken by the key itself so that results never depend on hash order.
        query = sorted((t for t in f.terms if t in posts), key=lambda t: (-w[t], t))
        del query[_QUERY_TERMS:]
        if xw is not None:
            names = [t for t in f.anchors if t in posts and t.startswith("x:")]
            names.sort(key=lambda t: (-wall[t], t))
            query += names[:_QUERY_ANCHORS]
        acc: dict[int, float] = {}
        get = acc.get
        for t in query:
            weight = wall[t]
            for serial in islice(reversed(posts[t]), _POSTINGS_CAP):
                acc[serial] = get(serial, 0.0) + weight
        if not acc:
            return []
        top = heapq.nlargest(_MAX_CANDIDATES, acc, key=acc.__getitem__)
        floor = acc[top[0]] * _CANDIDATE_FLOOR  # far weaker lookups cannot pass anyway
        window = self.settings.window
        best: dict[int, _Match] = {}
        for serial in top:
            if acc[serial] < floor:
                break
            other = self._docs[serial]
            dt = abs(other.published - doc.published)
            if dt > window:
                continue
            score = self._pair_score(f, w, wsum, xw, other, dt)
            if score <= 0.0:
                continue
            prev = best.get(other.cluster)
            if prev is None or score > prev.score:
                best[other.cluster] = _Match(score, other)
        return sorted(best.values(), key=lambda m: m.score, reverse=True)

    def _pair_score(
        self, f: _Features, w: dict[str, float], wsum: float,
        xw: dict[str, float] | None, other: _Doc, dt: float,
    ) -> float:  # fmt: skip
        """Similarity of a new update to an indexed one, after penalties and time decay; the
        cross-language route is discounted so that it must clear a higher bar."""
        of = other.f
        both, small, n_shared = _overlap(f.terms, w, wsum, of.terms, other.w, other.wsum)
        score = _text_score(both, small, n_shared, min(len(f.terms), len(of.terms)))
        if xw is not None and dt <= _CROSS_MAX_AGE and _cross_pair(f.lang, of.lang):
            score = max(score, _cross_score(f, xw, other, self._norm) - _CROSS_EXTRA)
        if score <= 0.0:
            return 0.0
        decay = 1.0 - 0.15 * dt / self.settings.window
        return score * decay * _penalty(f, of)

    # -- bookkeeping

    def _index(
        self, doc: DedupeDoc, f: _Features, wall: dict[str, float], keys: tuple[str, ...],
        cluster: int,
    ) -> None:  # fmt: skip
        w = {t: wall[t] for t in f.terms}
        posted = tuple(f.terms.union([a for a in f.anchors if a.startswith("x:")]))
        self._serial += 1
        serial = self._serial
        d = _Doc(serial, doc.id, doc.source, doc.published, cluster, f, w, sum(w.values()),
                 keys, _url_key(doc.forwarded_url), posted)  # fmt: skip
        self._docs[serial] = d
        post = self._post
        for t in posted:
            plist = post.get(t)
            if plist is None:
                post[t] = {serial: None}
            else:
                plist[serial] = None
        df = self._df
        for a in wall:
            df[a] = df.get(a, 0) + 1
        for key in keys:
            held = self._docs.get(self._exact.get(key, 0))
            if key.startswith("u:") and held and held.source == doc.source and held.f != f:
                self._shared_urls.add(key)
            self._exact[key] = serial
        head = self._heads.get(cluster)
        if head is None or (doc.id == cluster and self._docs[head].ext != cluster):
            self._heads[cluster] = serial
        heapq.heappush(self._heap, (doc.published, serial))

    def _cutoff(self) -> float:
        s = self.settings
        margin = s.window if s.margin is None else s.margin
        return self._newest - s.window - margin

    def _advance(self, published: float) -> None:
        """Move the clock to ``published`` (if newer) and evict what fell out of retention."""
        if published > self._newest:
            self._newest = published
        cutoff = self._cutoff()
        heap = self._heap
        while heap and heap[0][0] < cutoff:
            _, serial = heapq.heappop(heap)
            self._evict(serial)

    def _evict(self, serial: int) -> None:
        d = self._docs.pop(serial, None)
        if d is None:
            return
        for t in d.posted:
            plist = self._post.get(t)
            if plist is not None:
                plist.pop(serial, None)
                if not plist:
                    del self._post[t]
        for a in d.f.anchors | d.f.terms:
            left = self._df.get(a, 0) - 1
            if left > 0:
                self._df[a] = left
            else:
                self._df.pop(a, None)
        for key in d.keys:
            if self._exact.get(key) == serial:
                del self._exact[key]
                self._shared_urls.discard(key)
        if self._heads.get(d.cluster) == serial:
            del self._heads[d.cluster]


def _cross_score(f: _Features, xw: dict[str, float], other: _Doc, norm: float) -> float:
    """Cross-language similarity from the specific anchors two updates share (quantities,
    transliterated name and word skeletons, event classes): zero without enough specific
    evidence, else rising with the summed, normalised rarity of what they share."""
    shared = f.anchors & other.f.anchors
    if len(shared) < 2:
        return 0.0
    quantities = sum(2 + (len(q) >= 3) for q in shared & f.quantities)
    names = sum(1 for a in shared if a.startswith("x:"))
    if quantities + names < _CROSS_MIN_EVIDENCE:
        return 0.0
    evidence = 0.0
    for a in shared:
        weight = xw[a] / norm
        if a.startswith("e:"):
            weight *= 0.5
        elif a in f.quantities:
            weight *= _CROSS_NUMBER_WEIGHT
        evidence += weight
    return evidence / (evidence + _CROSS_HALF)


# --------------------------------------------------------------------------- batch helpers


def _to_unix(value: Any) -> float | None:
    """ISO 8601 string (naive means UTC) or unix number → unix seconds; None if unusable."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).strip())
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def cluster_records(
    records: Iterable[Mapping[str, Any]], settings: DedupeSettings = DedupeSettings()
) -> list[tuple[Any, Any]]:
    """Cluster plain records (id, source, published, title, text, url[, forwarded_url]) in
    published-time order; returns (id, cluster id) pairs in input order, where the cluster
    id is the id of the cluster's headline record. A record without a usable time takes the
    time of the record before it in the input."""
    rows = list(records)
    times: list[float] = []
    last = 0.0
    for r in rows:
        t = _to_unix(r.get("published"))
        last = last if t is None else t
        times.append(last)
    index = ClusterIndex(settings)
    assigned: list[int] = [0] * len(rows)
    for i in sorted(range(len(rows)), key=lambda k: times[k]):
        r = rows[i]
        doc = DedupeDoc(
            id=i, source=str(r.get("source") or ""), published=times[i],
            title=str(r.get("title") or ""), text=str(r.get("text") or ""),
            url=r.get("url") or None, forwarded_url=r.get("forwarded_url") or None,
        )  # fmt: skip
        assigned[i] = index.add(doc).cluster
    return [(r.get("id"), rows[assigned[i]].get("id")) for i, r in enumerate(rows)]


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise_scores(truth: Sequence[Any], predicted: Sequence[Any]) -> tuple[float, float, float]:
    """Pairwise (precision, recall, F1) of a clustering against gold labels, item by item.
    With no predicted (or gold) pairs the corresponding figure is 1.0."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted differ in length")
    cells: dict[tuple[Any, Any], int] = {}
    gold: dict[Any, int] = {}
    pred: dict[Any, int] = {}
    for t, p in zip(truth, predicted, strict=True):
        cells[t, p] = cells.get((t, p), 0) + 1
        gold[t] = gold.get(t, 0) + 1
        pred[p] = pred.get(p, 0) + 1
    tp = sum(_pairs(c) for c in cells.values())
    pp = sum(_pairs(c) for c in pred.values())
    gp = sum(_pairs(c) for c in gold.values())
    precision = tp / pp if pp else 1.0
    recall = tp / gp if gp else 1.0
    return precision, recall, _f1(precision, recall)


def bcubed_scores(truth: Sequence[Any], predicted: Sequence[Any]) -> tuple[float, float, float]:
    """B-cubed (precision, recall, F1): per-item overlap of its predicted and gold clusters,
    averaged over items."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted differ in length")
    if not truth:
        return 1.0, 1.0, 1.0
    cells: dict[tuple[Any, Any], int] = {}
    gold: dict[Any, int] = {}
    pred: dict[Any, int] = {}
    for t, p in zip(truth, predicted, strict=True):
        cells[t, p] = cells.get((t, p), 0) + 1
        gold[t] = gold.get(t, 0) + 1
        pred[p] = pred.get(p, 0) + 1
    n = len(truth)
    precision = sum(cells[t, p] / pred[p] for t, p in zip(truth, predicted, strict=True)) / n
    recall = sum(cells[t, p] / gold[t] for t, p in zip(truth, predicted, strict=True)) / n
    return precision, recall, _f1(precision, recall)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0

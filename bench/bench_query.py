"""Speed of the filter language: re-filtering 100k stored updates with a new query.

A deterministic synthetic history of short news updates about one story: about 60% English,
35% Russian, 5% Telegram-style posts with emoji; numbers written "6,000" / "6 000"; a few
accented names. Each query is parsed and matched against every update (the case when FTS5
cannot narrow the candidates): "cold" with empty caches, as right after start-up, and "warm",
as when the query is edited again (non-ASCII text is folded once, then cached). With ``--fts``
the store's paths are timed too: an in-memory FTS5 table pre-selects with ``fts_expression()``
and ``matches`` runs on the candidates only; and the dashboard's exact path, where the index
answers ``fts_exact()`` for plain texts and the matcher only sees the others.

    python bench/bench_query.py [--n 100000] [--fts] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import time
from datetime import UTC, datetime

from feedwatch.ftsplain import is_plain
from feedwatch.model import Update
from feedwatch.query import clear_caches, parse

QUERIES = [
    "istanbul talks",
    '(istanbul OR стамбул*) (talks OR переговор*) -"football"',
    "-football -футбол",
    '"prisoner exchange" OR "обмен пленными"',
    "6000 title:ceasefire",
    "source:reuters lang:en",
    "/zelensk(y|iy)/i",
    "❗",
]



def _words(text: str) -> list[str]:
    return text.split()


_EN = _words(
    "talks in Istanbul resume as delegations meet for a second day; officials say a ceasefire "
    "proposal is on the table and a prisoner exchange could follow within weeks the "
    "president said negotiations were difficult but constructive sanctions energy grain "
    "corridor drones strikes overnight region governor casualties reported army ministry "
    "statement agreement draft memorandum mediators Turkey foreign minister Erdogan Zelensky "
    "Zelenskiy Kremlin spokesman Peskov said Washington Brussels humanitarian evacuation "
    "football match stadium fans"
)
_RU = _words(
    "переговоры в Стамбуле возобновились делегации встретились второй день подряд по словам "
    "источника обсуждается прекращение огня и обмен пленными который может состояться уже "
    "на этой неделе президент заявил что переговоры идут трудно но конструктивно ещё санкции "
    "энергетика зерновой коридор беспилотники удары ночью область губернатор пострадавшие "
    "министерство обороны заявление соглашение меморандум посредники Турция министр Эрдоган "
    "Зеленский Песков Кремль Вашингтон гуманитарный эвакуация футбол матч стадион болельщики"
)
_SOURCES_EN = ("Reuters World", "BBC News", "AP", "Al Jazeera English", "Kyiv Independent")
_SOURCES_RU = ("ТАСС", "Meduza", "РИА Новости", "Интерфакс", "rian_ru", "bbcrussian")
_MARKERS = ("❗️", "⚡️", "🔴", "‼️")


def _number(rng: random.Random, russian: bool) -> str:
    value = rng.choice((6000, 1200, 250, 15, 3, 12000, 1000, 500, 2024))
    if value < 1000:
        return str(value)
    return f"{value:,}".replace(",", "\u00a0" if russian else ",")


def _sentence(rng: random.Random, words: list[str], lo: int, hi: int, russian: bool) -> str:
    picked = [rng.choice(words) for _ in range(rng.randint(lo, hi))]
    if rng.random() < 0.4:
        picked.insert(rng.randrange(len(picked) + 1), _number(rng, russian))
    text = " ".join(picked)
    return text[:1].upper() + text[1:] + "."


def history(n: int, seed: int) -> list[Update]:
    rng = random.Random(seed)
    now = datetime(2025, 5, 16, tzinfo=UTC)
    updates = []
    for i in range(n):
        roll = rng.random()
        russian = roll >= 0.6
        words = _RU if russian else _EN
        title = _sentence(rng, words, 6, 12, russian)[:-1]
        text = " ".join(_sentence(rng, words, 8, 16, russian) for _ in range(rng.randint(1, 3)))
        if not russian and rng.random() < 0.03:  # now and then a name with its accents
            text = text.replace("Erdogan", "Erdoğan")
        if roll >= 0.95:  # a Telegram post: no title, emoji up front
            title, text = "", f"{rng.choice(_MARKERS)} {title}. {text}"
        source = rng.choice(_SOURCES_RU if russian else _SOURCES_EN)
        url = f"https://example.org/{'ru' if russian else 'en'}/{i}"
        updates.append(Update(i + 1, source, str(i), now, now, title, text, url, i + 1,
                              lang="ru" if russian else "en"))
    return updates


def time_scan(query: str, updates: list[Update]) -> tuple[float, int]:
    started = time.perf_counter()
    q = parse(query)
    matches = q.matches
    found = sum(1 for u in updates if matches(u))
    return time.perf_counter() - started, found


def fts_table(updates: list[Update]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(title, text, "
               "tokenize='unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO t (rowid, title, text) VALUES (?, ?, ?)",
                   [(u.id, u.title, u.text) for u in updates])
    return db


def time_store_path(query: str, updates: list[Update], db: sqlite3.Connection,
                    ) -> tuple[float, int, int | None]:
    """Pre-select with FTS5 (when it helps), then match the candidates."""
    started = time.perf_counter()
    q = parse(query)
    expression = q.fts_expression()
    if expression is None:
        candidates = updates
    else:
        ids = [r[0] for r in db.execute("SELECT rowid FROM t WHERE t MATCH ?", (expression,))]
        candidates = [updates[i - 1] for i in ids]
    found = sum(1 for u in candidates if q.matches(u))
    elapsed = time.perf_counter() - started
    return elapsed, found, None if expression is None else len(candidates)


def _ids(db: sqlite3.Connection, expression: str) -> set[int]:
    (joined,) = db.execute("SELECT group_concat(rowid) FROM t WHERE t MATCH ?",
                           (expression,)).fetchone()
    return set(map(int, joined.split(","))) if joined else set()


def time_exact_path(query: str, updates: list[Update], db: sqlite3.Connection,
                    not_plain: list[Update]) -> tuple[float, int] | None:
    """The dashboard's path: the index's exact answer for plain texts, the matcher for the
    others. None when the query has no exact FTS5 form."""
    started = time.perf_counter()
    q = parse(query)
    exact = q.fts_exact()
    if exact is None:
        return None
    found = _ids(db, exact.include) if exact.include else {u.id for u in updates}
    if exact.exclude:
        found -= _ids(db, exact.exclude)
    odd = {u.id for u in not_plain}
    found -= odd
    found |= {u.id for u in not_plain if q.matches(u)}
    return time.perf_counter() - started, len(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fts", action="store_true", help="also time the FTS5 store path")
    args = parser.parse_args(argv)

    updates = history(args.n, args.seed)
    ascii_share = sum(u.title.isascii() and u.text.isascii() for u in updates) / len(updates)
    chars = sum(len(u.title) + len(u.text) for u in updates) / len(updates)
    print(f"{len(updates):,} updates, {chars:.0f} characters on average, "
          f"{ascii_share:.0%} pure ASCII")
    scale = 100_000 / len(updates)

    print(f"\nparse + matches over every update, cold then warm\n{'query':<58} {'matches':>8} "
          f"{'ms/100k':>9} {'µs/doc':>7} {'ms/100k':>9} {'µs/doc':>7}")
    totals = [0.0, 0.0]
    for query in QUERIES:
        clear_caches()
        cells = []
        for k in range(2):
            elapsed, found = time_scan(query, updates)
            totals[k] += elapsed
            cells.append(f"{elapsed * 1000 * scale:>9.1f} {elapsed / len(updates) * 1e6:>7.2f}")
        print(f"{query:<58} {found:>8,} {cells[0]} {cells[1]}")
    cold, warm = (t / len(QUERIES) * 1000 * scale for t in totals)
    print(f"{'mean':<58} {'':>8} {cold:>9.1f} {'':>7} {warm:>9.1f}")

    if args.fts:
        started = time.perf_counter()
        db = fts_table(updates)
        print(f"\nFTS5 pre-selection then matches (index built in "
              f"{time.perf_counter() - started:.1f} s)")
        print(f"{'query':<58} {'matches':>8} {'candid.':>8} {'ms/100k':>9} (cold)")
        for query in QUERIES:
            clear_caches()
            elapsed, found, candidates = time_store_path(query, updates, db)
            shown = "all" if candidates is None else f"{candidates:,}"
            print(f"{query:<58} {found:>8,} {shown:>8} {elapsed * 1000 * scale:>9.1f}")

        odd = [u for u in updates if not is_plain(u.title, u.text)]
        print(f"\nexact: the index answers for plain texts, the matcher for the other "
              f"{len(odd):,} ({len(odd) / len(updates):.1%})")
        print(f"{'query':<58} {'matches':>8} {'ms/100k':>9} (cold)")
        exact_ms: list[float] = []
        for query in QUERIES:
            clear_caches()
            timed = time_exact_path(query, updates, db, odd)
            if timed is None:
                print(f"{query:<58} {'(no exact form: pre-selection + matcher)':>40}")
                continue
            elapsed, found = timed
            exact_ms.append(elapsed * 1000 * scale)
            print(f"{query:<58} {found:>8,} {exact_ms[-1]:>9.1f}")
        print(f"\nexact path: {sum(exact_ms) / len(exact_ms):.1f} ms/100k mean, "
              f"{max(exact_ms):.1f} max, over the {len(exact_ms)} queries with an exact form")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Speed of ClusterIndex.add with 100k updates already seen.

A deterministic synthetic stream: events drawn from a Zipf-like vocabulary, each reported by
1-6 sources minutes apart (reworded, truncated, marker-laden, some Cyrillic), spread over 30
days so that the 6 h window holds a realistic few hundred to few thousand updates. The first
100k updates are indexed untimed; the next ones are timed one by one.

    python bench/bench_dedupe.py [--warm 100000] [--timed 5000] [--days 30]
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import sys
import time
from collections.abc import Iterator

from feedwatch.dedupe import ClusterIndex, DedupeDoc, DedupeSettings, extract

_SYLLABLES = ("ka", "ro", "mi", "ten", "sar", "vol", "din", "pre", "lu", "gor", "sta", "ber",
              "no", "vik", "ul", "tra", "sen", "mor", "an", "zel")  # fmt: skip
_CYR = ("ка", "ро", "ми", "тен", "сар", "вол", "дин", "пре", "лу", "гор")
_MARKERS = ("", "", "", "❗️", "⚡️BREAKING: ", "More: ", "Adding: ")
_GLUE = ("the", "of", "in", "and", "to", "after", "says", "on", "a", "for")


def _vocabulary(rng: random.Random, size: int, parts: tuple[str, ...]) -> list[str]:
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(parts) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def _zipf_pick(rng: random.Random, words: list[str]) -> str:
    """Rank-frequency ~ 1/rank: a few very common words, a long tail of rare ones."""
    rank = int(len(words) ** rng.random()) - 1
    return words[rank]


def stream(n: int, days: float, seed: int = 7) -> Iterator[DedupeDoc]:
    """n synthetic updates in published-time order (small jitter allowed)."""
    rng = random.Random(seed)
    latin = _vocabulary(rng, 30_000, _SYLLABLES)
    cyrillic = _vocabulary(rng, 8_000, _CYR)
    sources = [f"source{i}" for i in range(60)]
    span = days * 86400.0
    t = 1_748_000_000.0
    produced = 0
    while produced < n:
        t += rng.expovariate(1.0) * span / n * 3.2  # ~3.2 updates per event on average
        cyr = rng.random() < 0.15
        vocab = cyrillic if cyr else latin
        fact = [_zipf_pick(rng, vocab) for _ in range(rng.randint(8, 30))]
        numbers = [str(rng.randint(1, 9999)) for _ in range(rng.randint(0, 2))]
        for _ in range(rng.choice((1, 1, 2, 3, 4, 5, 6))):
            if produced >= n:
                break
            words = [w for w in fact if rng.random() > 0.25]
            words += [rng.choice(_GLUE) for _ in range(4)] + numbers
            rng.shuffle(words)
            if rng.random() < 0.3:
                words = words[: max(6, len(words) // 2)]
            text = rng.choice(_MARKERS) + " ".join(words)
            title = "" if rng.random() < 0.5 else " ".join(words[:8])
            produced += 1
            yield DedupeDoc(
                id=produced, source=rng.choice(sources), published=t + rng.uniform(0, 3600),
                title=title, text=text, url=f"https://ex.org/n/{produced}",
            )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ClusterIndex.add speed")
    parser.add_argument("--warm", type=int, default=100_000, help="updates indexed first")
    parser.add_argument("--timed", type=int, default=5_000, help="updates timed after")
    parser.add_argument("--days", type=float, default=30.0, help="span of the warm stream")
    args = parser.parse_args(argv)
    total = args.warm + args.timed
    docs = list(stream(total, args.days * total / args.warm))
    index = ClusterIndex(DedupeSettings())
    started = time.perf_counter()
    for d in docs[: args.warm]:
        index.add(d)
    warm_s = time.perf_counter() - started
    # The same updates again on a copy of the index, their features extracted ahead, as the
    # parse worker does for a poll of 16 feeds or more: what the main process pays.
    twin = copy.deepcopy(index)
    timed_docs = docs[args.warm :]
    features = [extract(d.title, d.text) for d in timed_docs]
    times: list[float] = []
    joined = 0
    for d in timed_docs:
        t0 = time.perf_counter()
        joined += index.add(d).joined
        times.append(time.perf_counter() - t0)
    decide: list[float] = []
    for d, f in zip(timed_docs, features, strict=True):
        t0 = time.perf_counter()
        twin.add(d, f)
        decide.append(time.perf_counter() - t0)
    times.sort()
    mean_ms = statistics.fmean(times) * 1000
    median_ms = times[len(times) // 2] * 1000
    p99_ms = times[int(len(times) * 0.99)] * 1000
    print(f"warm: {args.warm} updates over {args.days:g} days in {warm_s:.1f} s "
          f"({warm_s / args.warm * 1000:.3f} ms/update); indexed now: {len(index)}")  # fmt: skip
    print(f"timed: {args.timed} updates: mean {mean_ms:.3f} ms/update, median {median_ms:.3f} ms, "
          f"p99 {p99_ms:.3f} ms, joined {joined / args.timed:.0%}")  # fmt: skip
    print(f"the same, features extracted ahead (the main process's share during a poll): "
          f"mean {statistics.fmean(decide) * 1000:.3f} ms/update")
    return 0


if __name__ == "__main__":
    sys.exit(main())

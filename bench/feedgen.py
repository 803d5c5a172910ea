"""N realistic feeds for the benchmarks: RSS 2.0 and Atom 1.0, ~20 items each.

Deterministic for a seed. Items report stories drawn from a world of 8,000 with a skew (most
reported once, a few by dozens of feeds, reworded each time: the near-duplicates clustering
must find), in words drawn from Zipf-distributed vocabularies (20k Latin-script, 6k Cyrillic
for the 12% of stories in Russian) plus real place and person names (accents), numbers and
a few emoji. Summaries carry HTML (paragraphs, bold, links with tracking parameters, entities,
an image; CDATA in some RSS feeds). Every item has a GUID/id, a link, an author most of the
time, and a date: outlets post every few minutes to once a day (log-normal, median an hour),
so a feed's 20 items span minutes to weeks before now. Feeds are 15-30 KB, about what news
sites serve.

    python -m bench.feedgen --n 100 --out /tmp/feeds     # writes the files to look at
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ITEMS = 20
EVENTS = 8000  # stories in the world; items pick them with a skew, so a few are everywhere

PLACES = ["Istanbul", "Kyiv", "Moscow", "Ankara", "Geneva", "Brussels", "Warsaw", "Odesa",
          "Kharkiv", "Washington", "Beijing", "São Paulo", "Zürich", "Kraków", "Reykjavík",
          "Nairobi", "Jakarta", "Lagos", "Montréal", "Bogotá"]
PEOPLE = ["Zelenskiy", "Erdoğan", "Umerov", "Medinsky", "Fidan", "Rubio", "Lavrov", "Sybiha",
          "Lula", "Macron", "Tusk", "Scholz", "Guterres", "Grossi", "Ramaphosa", "Modi"]
GLUE = ["the", "of", "in", "and", "to", "after", "says", "on", "a", "for", "over", "with",
        "as", "at", "from", "amid", "by", "new", "first", "more"]
MARKERS = ["", "", "", "", "", "BREAKING: ", "Update: ", "Live: ", "⚡️ ", "❗️ ", "🇺🇦 "]
_SYLLABLES = ("ka", "ro", "mi", "ten", "sar", "vol", "din", "pre", "lu", "gor", "sta", "ber",
              "no", "vik", "ul", "tra", "sen", "mor", "an", "zel", "tion", "er", "ing", "pol")
_CYR = ("ка", "ро", "ми", "тен", "сар", "вол", "дин", "пре", "лу", "гор", "ста", "бер", "ния",
        "ов", "ск")
OUTLETS = ["Wire", "Ledger", "Herald", "Post", "Tribune", "Daily", "Courier", "Observer",
           "Monitor", "Gazette", "Times", "Chronicle", "Dispatch", "Bulletin", "Review"]


@dataclass(frozen=True, slots=True)
class Feed:
    path: str  # URL path on the server, e.g. "/feeds/f0007.atom"
    body: bytes
    content_type: str
    last_modified: datetime
    format: str  # "rss" or "atom"
    items: int


@dataclass(frozen=True, slots=True)
class _Event:
    words: tuple[str, ...]  # the facts every report of it shares
    numbers: tuple[str, ...]
    lang: str


class _World:
    """Vocabularies (Zipf-distributed, like real text) and the stories feeds report."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"world/{seed}")
        self.latin = _vocabulary(rng, 20_000, _SYLLABLES)
        self.cyrillic = _vocabulary(rng, 6_000, _CYR)
        self.events = [self._event(rng) for _ in range(EVENTS)]

    def word(self, rng: random.Random, lang: str) -> str:
        vocab = self.cyrillic if lang == "ru" else self.latin
        return vocab[int(len(vocab) ** rng.random()) - 1]  # rank-frequency ~ 1/rank

    def _event(self, rng: random.Random) -> _Event:
        lang = "ru" if rng.random() < 0.12 else "en"
        words = [self.word(rng, lang) for _ in range(rng.randint(6, 14))]
        words.insert(rng.randrange(len(words)), rng.choice(PLACES))
        if rng.random() < 0.6:
            words.insert(rng.randrange(len(words)), rng.choice(PEOPLE))
        numbers = tuple(f"{rng.randint(2, 9999):,}" for _ in range(rng.randint(0, 2)))
        return _Event(tuple(words), numbers, lang)

    def pick(self, rng: random.Random) -> _Event:
        return self.events[int(len(self.events) ** rng.random()) - 1]


def _vocabulary(rng: random.Random, size: int, parts: tuple[str, ...]) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(parts) for _ in range(rng.randint(2, 4))))
    ranked = sorted(words)
    rng.shuffle(ranked)  # rank = frequency order; not alphabetical
    return ranked


def _report(rng: random.Random, world: _World, event: _Event) -> tuple[str, list[str]]:
    """One outlet's wording of an event: (title, sentences)."""
    facts = [w for w in event.words if rng.random() > 0.2]
    title_words = facts[: rng.randint(5, 10)] + list(event.numbers)
    title_words += [rng.choice(GLUE) for _ in range(rng.randint(1, 3))]
    rng.shuffle(title_words)
    title = " ".join(title_words)
    title = rng.choice(MARKERS) + title[0].upper() + title[1:]
    sentences = []
    for k in range(rng.randint(2, 5)):
        if k == 0:
            words = facts + list(event.numbers) + [rng.choice(GLUE) for _ in range(4)]
            rng.shuffle(words)
        else:  # background of this outlet's own
            words = [world.word(rng, event.lang) if rng.random() < 0.7 else rng.choice(GLUE)
                     for _ in range(rng.randint(8, 22))]
        sentence = " ".join(words)
        sentences.append(sentence[0].upper() + sentence[1:] + ".")
    return title, sentences


def _summary_html(rng: random.Random, sentences: list[str], link: str) -> str:
    parts = []
    for sentence in sentences:
        text = escape(sentence)
        if rng.random() < 0.3:
            word = text.split(" ")[rng.randrange(len(text.split(" ")))]
            text = text.replace(word, f"<b>{word}</b>", 1)
        if rng.random() < 0.15:
            text = text.replace(" ", " &amp; ", 1)
        if rng.random() < 0.1:
            text += " &#8220;Quoted&#8221; &mdash; a source said."
        parts.append(f"<p>{text}</p>")
    if rng.random() < 0.6:
        parts.append(f'<p>Read more: <a href="{escape(link)}?utm_source=rss&amp;utm_medium=feed"'
                     f' rel="nofollow">full story &amp; reaction</a></p>')
    if rng.random() < 0.3:
        parts.insert(0, f'<img src="https://img.example.org/{rng.randrange(10**6)}.jpg" '
                        f'alt="" width="640" height="360"/>')
    return "".join(parts)


def _items(rng: random.Random, world: _World, idx: int, host: str, now: datetime
           ) -> list[dict[str, object]]:
    out = []
    # How often this outlet posts: log-normal, median an hour (a wire every few minutes, a
    # blog once a day), so the newest 20 items of a feed span minutes to weeks.
    every = min(max(rng.lognormvariate(math.log(60), 1.0), 3.0), 1440.0)
    when = now - timedelta(minutes=rng.uniform(0, every))
    for j in range(ITEMS):
        event = world.pick(rng)
        title, sentences = _report(rng, world, event)
        slug = hashlib.sha1(f"{idx}/{j}/{title}".encode()).hexdigest()[:10]
        link = f"https://{host}/news/{now:%Y/%m/%d}/{slug}"
        out.append({"title": title, "lang": event.lang, "link": link,
                    "guid": f"{host}-{idx}-{j}-{slug}", "when": when,
                    "summary": _summary_html(rng, sentences, link),
                    "author": rng.choice(["Staff", "Olena Kovalenko", "Mehmet Yılmaz",
                                          "Анна Петрова", "J. Smith", ""])})
        when -= timedelta(minutes=every * rng.uniform(0.3, 1.7))
    return out


def _rss(idx: int, name: str, host: str, items: list[dict[str, object]], cdata: bool) -> str:
    body = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        f"<title>{escape(name)}</title>\n<link>https://{host}/</link>\n"
        f"<description>Latest news from {escape(name)}</description>\n<language>en</language>\n"
        f'<atom:link href="https://{host}/rss" rel="self" type="application/rss+xml"/>\n'
        f"<lastBuildDate>{format_datetime(items[0]['when'])}</lastBuildDate>\n"  # type: ignore[arg-type]
    ]
    for it in items:
        summary = str(it["summary"])
        desc = f"<![CDATA[{summary}]]>" if cdata else escape(summary)
        author = f"<dc:creator>{escape(str(it['author']))}</dc:creator>" if it["author"] else ""
        body.append(
            f"<item>\n<title>{escape(str(it['title']))}</title>\n<link>{it['link']}</link>\n"
            f'<guid isPermaLink="false">{it["guid"]}</guid>\n'
            f"<pubDate>{format_datetime(it['when'])}</pubDate>\n{author}"  # type: ignore[arg-type]
            f"<category>World</category>\n<description>{desc}</description>\n</item>\n")
    body.append("</channel>\n</rss>\n")
    return "".join(body)


def _atom(idx: int, name: str, host: str, items: list[dict[str, object]]) -> str:
    def iso(dt: object) -> str:
        return dt.isoformat().replace("+00:00", "Z")  # type: ignore[attr-defined]

    body = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
        'xml:lang="en">\n'
        f"<title>{escape(name)}</title>\n<id>tag:{host},2025:feed</id>\n"
        f'<link href="https://{host}/"/>\n<link rel="self" href="https://{host}/atom"/>\n'
        f"<updated>{iso(items[0]['when'])}</updated>\n"
    ]
    for it in items:
        lang = ' xml:lang="ru"' if it["lang"] == "ru" else ""
        author = (f"<author><name>{escape(str(it['author']))}</name></author>\n"
                  if it["author"] else "")
        body.append(
            f"<entry{lang}>\n<title>{escape(str(it['title']))}</title>\n"
            f'<link rel="alternate" type="text/html" href="{it["link"]}"/>\n'
            f"<id>tag:{host},2025:{it['guid']}</id>\n<published>{iso(it['when'])}</published>\n"
            f"<updated>{iso(it['when'])}</updated>\n{author}"
            f'<summary type="html">{escape(str(it["summary"]))}</summary>\n</entry>\n')
    body.append("</feed>\n")
    return "".join(body)


def generate(n: int, seed: int = 1, now: datetime | None = None) -> list[Feed]:
    """N feeds, alternating RSS and Atom (every third RSS feed uses CDATA).

    Items are dated in the hours before ``now`` (default: the current hour), as in a live
    story, so that clustering sees them inside its window."""
    now = now or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    world = _World(seed)
    feeds = []
    for idx in range(n):
        rng = random.Random(f"{seed}/{idx}")
        name = f"{rng.choice(PLACES)} {rng.choice(OUTLETS)} {idx}"
        host = f"news{idx}.example.org"
        items = _items(rng, world, idx, host, now)
        last_modified = now - timedelta(seconds=rng.randint(0, 3600))
        if idx % 2 == 0:
            text, ctype, fmt, path = (_rss(idx, name, host, items, cdata=idx % 3 == 0),
                                      "application/rss+xml; charset=utf-8", "rss",
                                      f"/feeds/f{idx:05d}.rss")
        else:
            text, ctype, fmt, path = (_atom(idx, name, host, items),
                                      "application/atom+xml; charset=utf-8", "atom",
                                      f"/feeds/f{idx:05d}.atom")
        feeds.append(Feed(path, text.encode("utf-8"), ctype, last_modified, fmt, len(items)))
    return feeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    total = 0
    for feed in generate(args.n, args.seed):
        (args.out / feed.path.rsplit("/", 1)[1]).write_bytes(feed.body)
        total += len(feed.body)
    print(f"{args.n} feeds, {total / args.n / 1024:.1f} KB each on average, in {args.out}")


if __name__ == "__main__":
    main()

"""Sinks for the headless commands: JSON lines (for scripts) and plain text (for people)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from typing import IO, Any

from .model import EventKind, Update, UpdateEvent
from .textutil import one_line, truncate


@lru_cache(maxsize=1024)  # (a poll's updates share their first-seen time, many their date)
def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def update_record(update: Update, kind: EventKind = EventKind.NEW,
                  highlights: Sequence[tuple[str, int, int]] = ()) -> dict[str, Any]:
    """The JSON object of one update; the field names are a public contract."""
    record: dict[str, Any] = {
        "id": update.id,
        "cluster": update.cluster,
        "source": update.source,
        "published": iso(update.published),
        "title": update.title,
        "text": update.text,
        "url": update.url,
        "sources_in_cluster": update.sources_in_cluster,
        "kind": kind.value,
        "first_seen": iso(update.first_seen),
        "revision": update.revision,
        "edited": update.revision > 1,
    }
    if kind is EventKind.JOINED:
        record["joined"] = update.cluster
    optional = {
        "lang": update.lang, "author": update.author, "views": update.views,
        "forwarded_from": update.forwarded_from, "forwarded_url": update.forwarded_url,
        "media": list(update.media) or None,
    }
    record.update({k: v for k, v in optional.items() if v is not None})
    if highlights:
        record["highlights"] = [list(h) for h in highlights]
    return record


# (one encoder: json.dumps with an option builds a new one for every line)
_encode = json.JSONEncoder(ensure_ascii=False).encode


class Sink:
    """Writes events to a stream, one line each. A live sink (``tail``) flushes every line
    so that pipes see it at once; a batch (``once``, ``search``) is flushed at its end."""

    def __init__(self, stream: IO[str], fmt: str = "jsonl", *, live: bool = True) -> None:
        self.stream = stream
        self.fmt = fmt
        self.live = live

    def write(self, event: UpdateEvent,
              highlights: Sequence[tuple[str, int, int]] = ()) -> None:
        if self.fmt == "jsonl":
            line = _encode(update_record(event.update, event.kind, highlights))
        else:
            line = format_text(event)
        self.stream.write(line + "\n")
        if self.live:
            self.stream.flush()

    def flush(self) -> None:
        self.stream.flush()


def stored_event(update: Update) -> UpdateEvent:
    """An update read back from the store, as the poll that stored it announced it: a new
    story, or a report that joined one."""
    return UpdateEvent(EventKind.NEW if update.is_headline else EventKind.JOINED, update)


def story_order(events: Iterable[UpdateEvent]) -> list[UpdateEvent]:
    """Events in published-time order, except that a story's first report (its headline)
    comes before the reports that joined it in the same batch: a report published earlier
    but stored later (a slower source) would otherwise name a story not printed yet."""
    ordered = sorted(events, key=lambda e: (e.update.published, e.update.id))
    heads = {e.update.id for e in ordered if e.update.is_headline}
    out: list[UpdateEvent] = []
    held: dict[int, list[UpdateEvent]] = {}
    for event in ordered:
        update = event.update
        if not update.is_headline and update.cluster in heads:
            held.setdefault(update.cluster, []).append(event)
            continue
        out.append(event)
        if update.is_headline:
            heads.discard(update.id)
            out += held.pop(update.id, [])
    return out


def collapsed(events: Sequence[UpdateEvent]) -> list[UpdateEvent]:
    """One line per story: reports that joined a story are left out, and the story's line
    counts the sources the batch shows for it (not the count when its headline came)."""
    counts: dict[int, int] = {}
    for event in events:
        update = event.update
        counts[update.cluster] = max(counts.get(update.cluster, 0), update.sources_in_cluster)
    return [replace(e, update=replace(e.update, sources_in_cluster=counts[e.update.cluster]))
            for e in events if e.kind is not EventKind.JOINED]


def format_text(event: UpdateEvent) -> str:
    u = event.update
    when = u.published.astimezone().strftime("%Y-%m-%d %H:%M")
    headline = one_line(u.title) or truncate(one_line(u.text), 160)
    marks = []
    if event.kind is EventKind.JOINED:
        marks.append(f"(joins #{u.cluster}, {u.sources_in_cluster} sources)")
    elif u.sources_in_cluster > 1:
        more = u.sources_in_cluster - 1
        marks.append(f"(+{more} source{'' if more == 1 else 's'})")
    if event.kind is EventKind.EDITED:
        marks.append("(edited)")
    tail = f"  {u.url}" if u.url else ""
    extra = (" " + " ".join(marks)) if marks else ""
    return f"{when}  [{one_line(u.source)}] {headline}{extra}{tail}"

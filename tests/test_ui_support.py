"""Shared helpers for the dashboard tests: the demo story stored without polling, and a
deterministic clock and time zone, so snapshots do not depend on the wall clock or on
clustering heuristics that other work may tune."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from feedwatch.config import Topic, parse_topic
from feedwatch.demo.story import FEEDS, ISTANBUL, ITEMS, STORY_START
from feedwatch.model import Entry, Update
from feedwatch.store import Store

# Snapshot "now": 16:45 Istanbul time on the story's day, after the last item.
FIXED_NOW = STORY_START.replace(hour=16, minute=45)
TZ = ISTANBUL

# The demo story's clusters as a person would draw them (index of each item's headline item),
# frozen so snapshots do not move when dedupe.py's thresholds are tuned.
CLUSTERS = (0, 0, 2, 2, 2, 2, 6, 6, 6, 6, 6, 11, 12, 13, 13, 13, 13, 17, 17, 17, 17, 21, 21,
            21, 21, 25, 25, 25, 25, 25, 25, 25, 32, 32, 32, 35, 35, 35, 35, 35, 35, 41, 41, 41,
            41, 41)


def source_name(slug: str) -> str:
    feed = next(f for f in FEEDS if f.slug == slug)
    return feed.title.split(" —")[0].split(":")[0].strip()


def demo_topic(*, query: str = "", alert: str = "bodies OR тела* OR breakthrough*",
               bell: bool = False, interval: str = "1h") -> Topic:
    """The demo topic (same source names as `feedwatch demo`), pointing nowhere."""
    lines = ["[topic]", 'name = "Istanbul talks (demo replay)"', f"query = '{query}'",
             f'interval = "{interval}"', f"alert = '{alert}'", f"bell = {str(bell).lower()}", ""]
    for feed in FEEDS:
        lines += ["[[source]]", f'name = "{source_name(feed.slug)}"']
        if feed.format == "telegram":
            lines.append(f'telegram = "{feed.slug}"')
        else:
            lines.append(f'url = "http://127.0.0.1:9/feeds/{feed.slug}.xml"')
        lines.append("")
    return parse_topic("\n".join(lines))


def item_url(index: int) -> str:
    item = ITEMS[index]
    feed = next(f for f in FEEDS if f.slug == item.feed)
    if feed.format == "telegram":
        return f"https://t.me/{feed.slug}/{48210 + index * 2}"
    return f"{feed.site}/2025/06/02/{index:03d}"


def populate(store: Store, until: datetime = FIXED_NOW) -> dict[int, int]:
    """Store the story's items published up to ``until`` (and the edits made by then),
    clustered as CLUSTERS says. Returns item index → update id."""
    ids: dict[int, int] = {}
    for index, item in enumerate(ITEMS):
        if item.published > until:
            continue
        head = CLUSTERS[index]

        def classify(update: Update, head: int = head) -> int:
            return ids.get(head, update.id)

        entry = Entry(key=f"{item.feed}-{index}", title=item.title, text=item.text,
                      url=item_url(index), published=item.published,
                      media=(item.media,) if item.media else ())
        events = store.ingest(source_name(item.feed), [entry],
                              item.published + timedelta(seconds=30), classify=classify)
        ids[index] = events[0].update.id
    for index, item in enumerate(ITEMS):
        if item.edited is not None and item.edited_text and item.edited <= until \
                and index in ids:
            entry = Entry(key=f"{item.feed}-{index}", title=item.title, text=item.edited_text,
                          url=item_url(index), published=item.published,
                          media=(item.media,) if item.media else ())
            store.ingest(source_name(item.feed), [entry], item.edited)
    return ids


def fixed_clock(now: datetime = FIXED_NOW) -> Callable[[], datetime]:
    return lambda: now


async def wait_for(condition: Callable[[], bool], pilot: object, timeout: float = 10.0,
                   what: str = "condition") -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)  # type: ignore[attr-defined]
    await asyncio.sleep(0)


def db_path(tmp_path: Path) -> Path:
    return tmp_path / "feedwatch.db"

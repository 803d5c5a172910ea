"""The dashboard's pure parts: row order, display text and highlight mapping, history load."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_ui_support import demo_topic, wait_for

from feedwatch.model import Entry, Update
from feedwatch.store import Store
from feedwatch.ui import app as app_module
from feedwatch.ui.app import FeedwatchApp
from feedwatch.ui.rows import Row, RowList, flatten, headline_text, spans_for

T0 = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


def update(id: int, minutes: float, title: str = "t", text: str = "",
           media: tuple[str, ...] = ()) -> Update:
    at = T0 + timedelta(minutes=minutes)
    return Update(id=id, source="s", key=str(id), published=at, first_seen=at, title=title,
                  text=text, url=None, cluster=id, media=media)


def test_rows_are_newest_first_and_late_items_bisect_into_place() -> None:
    rows = RowList([Row(update(1, 0)), Row(update(2, 10)), Row(update(3, 20))])
    assert [r.update.id for r in rows] == [3, 2, 1]
    late = Row(update(4, 5))
    assert rows.insert(late) == 2
    assert [r.update.id for r in rows] == [3, 2, 4, 1]
    same_time = Row(update(5, 10))  # ties: the later id first, as the store orders them
    assert rows.insert(same_time) == 1
    assert rows.index(late) == 3 and rows.remove(late) == 3 and rows.index(late) is None


def test_flatten_drops_controls_and_maps_spans() -> None:
    raw = "Breaking:\u202e  talks\x1b[31m in\n\nIstanbul\u200b"
    flat = flatten(raw)
    assert flat.text == "Breaking: talks[31m in Istanbul"
    start = raw.index("Istanbul")
    a, b = flat.span(start, start + len("Istanbul"))
    assert flat.text[a:b] == "Istanbul"
    kept = flatten(raw, keep_newlines=True)
    assert "in\n\nIstanbul" in kept.text
    plain = flatten("already clean")
    assert plain.starts is None and plain.span(2, 5) == (2, 5)


def test_headline_is_title_else_first_line_else_media() -> None:
    assert headline_text(update(1, 0, "Title", "body")) == ("title", 0, "Title")
    field, offset, piece = headline_text(update(1, 0, "", "\n\nFirst line\nsecond"))
    assert (field, piece) == ("text", "First line") and offset == 2
    assert headline_text(update(1, 0, "", "", media=("photo",)))[2] == "[photo]"


def test_spans_are_clipped_to_the_shown_line() -> None:
    text = "\nIstanbul talks begin\nmore about Istanbul"
    field, offset, piece = headline_text(update(1, 0, "", text))
    flat = flatten(piece)
    later = text.rindex("Istanbul")
    spans = [("text", 1, 9), ("text", later, later + 8), ("title", 0, 3)]
    assert spans_for(spans, field, offset, flat, len(piece)) == [(0, 8)]


async def test_big_history_loads_behind_the_first_page(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "FIRST_PAGE", 10)
    monkeypatch.setattr(app_module, "LOAD_CHUNK", 7)
    now = datetime.now(UTC)
    with Store(tmp_path / "fw.db") as store:
        # stored out of time order, so chunks read by id must be merged back into time order
        entries = [Entry(f"k{i}", f"Story {i} about item {i * 37}", "", url=None,
                         published=now - timedelta(minutes=(i * 7919) % 500))
                   for i in range(60)]
        store.ingest("Bosphorus Wire", entries, now)
        app = FeedwatchApp(demo_topic(alert=""), store, live=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(lambda: app._history_complete and app.stream.row_count == 60, pilot,
                           what="history")
            shown = [r.update for r in app.stream.rows]
            assert shown == sorted(shown, key=lambda u: (u.published, u.id), reverse=True)
            assert len(app.history) == 60


async def test_command_palette_commands(tmp_path: Path) -> None:
    with Store(tmp_path / "fw.db") as store:
        app = FeedwatchApp(demo_topic(), store, live=False)
        async with app.run_test() as pilot:
            await pilot.pause()
            titles = " | ".join(c.title for c in app.get_system_commands(app.screen))
            for expected in ("Pause or resume", "Refresh now", "Search history", "Sources",
                             "Mark all read", "Open link", "Mute source", "Help"):
                assert expected in titles

"""The dashboard driven by Pilot with a real engine polling loopback feeds into real SQLite."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from conftest import Site
from rich.console import Console
from test_ui_support import FIXED_NOW, TZ, demo_topic, fixed_clock, populate, wait_for
from textual import events
from textual.pilot import Pilot

from feedwatch.config import Topic, parse_topic
from feedwatch.model import Entry, Update
from feedwatch.store import Store
from feedwatch.ui.app import FeedwatchApp, UpdateArrived
from feedwatch.ui.filterbar import QueryBar
from feedwatch.ui.help import HelpScreen
from feedwatch.ui.rows import Row

NOW = datetime.now(UTC).replace(microsecond=0)

# Distinct stories (no shared vocabulary), so clustering keeps them apart.
STORIES = {
    "quake": ("Earthquake of magnitude 6.1 shakes coastal Chile",
              "Seismologists recorded the tremor offshore near Valparaíso; no tsunami warning."),
    "budget": ("Parliament approves revised municipal budget for schools",
               "Councillors voted 31 to 12 for extra classroom funding across districts."),
    "eclipse": ("Astronomers photograph rare annular eclipse over Patagonia",
                "Observatory teams captured the ring of fire from several mountain stations."),
    "strike": ("Dock workers extend strike at container terminals",
               "Union leaders said picket lines at the harbour will continue through Friday."),
    "vaccine": ("Regulator clears updated influenza vaccine for winter",
                "Pharmacies will receive first shipments of the reformulated doses next month."),
    "bridge": ("Engineers reopen suspension bridge after cable repairs",
               "Traffic resumed on the crossing following eleven weeks of maintenance work."),
}


def item(key: str, minutes_ago: float, *, link: str | None = None, title: str | None = None,
         text: str | None = None) -> dict[str, str]:
    base_title, base_text = STORIES.get(key, (key, key))
    return {
        "guid": key,
        "title": title if title is not None else base_title,
        "text": text if text is not None else base_text,
        "link": link or f"https://news.example/{key}",
        "date": format_datetime(NOW - timedelta(minutes=minutes_ago)),
    }


def rss(*items: dict[str, str]) -> str:
    body = "".join(
        f"<item><title>{escape(i['title'])}</title><guid>{escape(i['guid'])}</guid>"
        f"<link>{escape(i['link'])}</link><description>{escape(i['text'])}</description>"
        f"<pubDate>{i['date']}</pubDate></item>" for i in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}'
            "</channel></rss>")


def topic_for(site: Site, *names: str, interval: str = "1h", query: str = "",
              alert: str = "", bell: bool = False) -> Topic:
    lines = ["[topic]", 'name = "Test topic"', f"query = '{query}'", f"alert = '{alert}'",
             f"interval = \"{interval}\"", f"bell = {str(bell).lower()}"]
    for name in names:
        lines += ["[[source]]", f'name = "{name}"', f'url = "{site.url(f"/{name}.xml")}"']
    return parse_topic("\n".join(lines))


def footer_keys(app: FeedwatchApp) -> dict[str, str]:
    """Key → label of the bindings the footer shows now."""
    return {b.key: b.description for _, b, enabled, _ in app.active_bindings.values()
            if enabled and b.show}


def titles(app: FeedwatchApp) -> list[str]:
    return [row.update.title for row in app.stream.rows]


def detail_text(app: FeedwatchApp) -> str:
    """The detail pane's content as plain text."""
    console = Console(width=100, file=io.StringIO(), record=True)
    console.print(app.detail.rendered)
    return console.export_text()


def line_text(app: FeedwatchApp, index: int) -> str:
    view = app.stream
    return view.render_line(index - view.scroll_offset.y).text


async def poll_until(app: FeedwatchApp, pilot: Pilot, condition: Callable[[], bool],
                     what: str, timeout: float = 10.0) -> None:
    """Ask the engine to poll now until ``condition()`` holds: a refresh that lands while a
    source's previous poll is still finishing is skipped by the scheduler, so retry."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        app.engine.refresh()
        try:
            await wait_for(condition, pilot, timeout=1.5, what=what)
        except AssertionError:
            continue


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "feedwatch.db") as store:
        yield store


async def test_new_update_appears_at_top_unread(site: Site, store: Store) -> None:
    site.put("/wire.xml", rss(item("quake", 30), item("budget", 20)))
    app = FeedwatchApp(topic_for(site, "wire"), store)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 2, pilot, what="first poll")
        assert titles(app) == [STORIES["budget"][0], STORIES["quake"][0]]
        site.put("/wire.xml", rss(item("quake", 30), item("budget", 20), item("eclipse", 1)))
        await poll_until(app, pilot, lambda: len(app.stream.rows) == 3, what="new item")
        top = app.stream.rows[0]
        assert top.update.title == STORIES["eclipse"][0]
        assert top.unread
        assert "●" in line_text(app, 0)
        await wait_for(lambda: "3 stories" in str(app.query_one("#stream-count").render()),
                       pilot, what="status line")


async def test_late_item_lands_at_its_place_not_on_top(site: Site, store: Store) -> None:
    site.put("/wire.xml", rss(item("quake", 60), item("budget", 10)))
    app = FeedwatchApp(topic_for(site, "wire"), store)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 2, pilot, what="first poll")
        # published 40 minutes ago, but it only shows up in the feed now
        site.put("/wire.xml", rss(item("quake", 60), item("budget", 10), item("strike", 40)))
        await poll_until(app, pilot, lambda: len(app.stream.rows) == 3, what="late item")
        assert titles(app) == [STORIES["budget"][0], STORIES["strike"][0], STORIES["quake"][0]]


async def test_second_source_bumps_count_instead_of_adding_a_row(site: Site,
                                                                 store: Store) -> None:
    site.put("/wire.xml", rss(item("quake", 30), item("budget", 20)))
    site.put("/desk.xml", rss())
    app = FeedwatchApp(topic_for(site, "wire", "desk"), store)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 2, pilot, what="first poll")
        quake = next(r for r in app.stream.rows if r.update.source == "wire"
                     and r.update.title.startswith("Earthquake"))
        # the same report (same link and text) from another source
        site.put("/desk.xml", rss(item("quake", 28)))
        await poll_until(app, pilot, lambda: quake.sources == 2, what="joined event")
        assert len(app.stream.rows) == 2
        assert quake.updated
        index = app.stream.index_of(quake)
        assert index is not None
        assert "+1" in line_text(app, index)


async def test_edited_item_updates_its_row_in_place(site: Site, store: Store) -> None:
    site.put("/wire.xml", rss(item("quake", 30), item("budget", 20)))
    app = FeedwatchApp(topic_for(site, "wire"), store)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 2, pilot, what="first poll")
        fixed = "Earthquake of magnitude 6.4 shakes coastal Chile"
        site.put("/wire.xml", rss(item("quake", 30, title=fixed), item("budget", 20)))
        await poll_until(app, pilot, lambda: fixed in titles(app), what="edit")
        assert len(app.stream.rows) == 2
        index = titles(app).index(fixed)
        assert line_text(app, index).rstrip().endswith("edited")


async def test_filter_refilters_history_and_bad_query_keeps_the_last_one(
        tmp_path: Path, store: Store) -> None:
    populate(store)
    app = FeedwatchApp(demo_topic(), store, clock=fixed_clock(), tz=TZ, live=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 12, pilot, what="history")
        await pilot.press("slash")
        bar = app.query_one("#filter", QueryBar)
        assert bar.input.has_focus
        await pilot.press(*"bodies")
        await wait_for(lambda: len(app.stream.rows) == 1, pilot, what="re-filter")
        assert "bodies" in (app.stream.rows[0].update.text + app.stream.rows[0].update.title)
        assert app.stream.highlighter(app.stream.rows[0].update)  # matches are highlighted
        # an unbalanced query: error shown inline, the previous filter keeps working
        await pilot.press("space", "(", "f", "o", "o")
        await wait_for(lambda: bar.has_class("-invalid"), pilot, what="error")
        assert str(bar.query_one(".query-error").render()).strip()
        assert app.engine.filter.query is not None
        assert app.engine.filter.query.matches(app.stream.rows[0].update)
        assert len(app.stream.rows) == 1
        # clearing the filter brings the whole history back
        bar.input.value = ""
        await wait_for(lambda: len(app.stream.rows) == 12, pilot, what="cleared filter")
        assert not bar.has_class("-invalid")
        await pilot.press("enter")
        assert app.stream.has_focus


async def test_keys_in_one_burst_with_slash_go_to_the_filter(store: Store) -> None:
    """A paste or a laggy link delivers "/qatar" at once: every key after "/" is the
    query's, none is a dashboard command ("q" would quit, "s" switch tabs)."""
    populate(store)
    app = FeedwatchApp(demo_topic(), store, clock=fixed_clock(), tz=TZ, live=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 12, pilot, what="history")
        for key in ["slash", *"qatar"]:  # queued together, as a terminal sends a burst
            app.post_message(events.Key(key, None if key == "slash" else key))
        await pilot.pause()
        assert app.is_running
        bar = app.query_one("#filter", QueryBar)
        assert bar.value == "qatar"
        await pilot.press("space", "slash", "q", "slash")  # in a query, "/" is text
        assert bar.value == "qatar /q/" and bar.input.has_focus
        await pilot.press("escape", "question_mark")  # from the help screen: the same
        assert isinstance(app.screen, HelpScreen) and not app.stream.follow
        for key in ["slash", *"ok"]:
            app.post_message(events.Key(key, None if key == "slash" else key))
        await pilot.pause()
        assert app.is_running and not isinstance(app.screen, HelpScreen)
        assert bar.value == "qatar /q/ok" and bar.input.has_focus
        assert app.stream.follow  # as closing help with esc leaves it
        await pilot.press("escape", "question_mark", "ctrl+c")  # ctrl+c quits from help too
        await pilot.pause()
        assert not app.is_running


async def test_ctrl_c_quits_as_in_any_terminal_program(store: Store) -> None:
    app = FeedwatchApp(demo_topic(), store, clock=fixed_clock(), tz=TZ, live=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert not app.is_running


async def test_open_refuses_non_http_links(store: Store) -> None:
    now = datetime.now(UTC)
    store.ingest("Bosphorus Wire", [
        Entry("a", "Click me for a surprise", "x", url="javascript:alert(1)",
              published=now - timedelta(minutes=1)),
        Entry("b", "Local file posing as a story", "y", url="file:///etc/passwd",
              published=now - timedelta(minutes=2)),
        Entry("c", "A proper web story", "z", url="https://news.example/ok",
              published=now - timedelta(minutes=3)),
    ], now)
    opened: list[str] = []

    def opener(url: str) -> bool:
        opened.append(url)
        return True

    app = FeedwatchApp(demo_topic(alert=""), store, live=False, opener=opener)
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 3, pilot, what="history")
        await pilot.press("o")
        await pilot.press("j", "o")
        await pilot.pause()
        refused = [n for n in app._notifications if n.severity == "error"]
        assert len(refused) == 2
        assert "javascript:alert(1)" in refused[0].message
        assert "only http(s)" in refused[0].message
        assert opened == []
        await pilot.press("j", "o")
        await wait_for(lambda: opened == ["https://news.example/ok"], pilot, what="opener")


async def test_pause_stops_the_stream_and_resume_catches_up(site: Site, store: Store) -> None:
    site.put("/wire.xml", rss(item("quake", 30)))
    app = FeedwatchApp(topic_for(site, "wire", interval="1s"), store)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 1, pilot, what="first poll")
        await pilot.press("p")
        assert app.paused and app.engine.paused
        assert "PAUSED" in str(app.header.render())
        polls = len(site.log)
        site.put("/wire.xml", rss(item("quake", 30), item("bridge", 1)))
        await pilot.pause(1.6)  # more than one interval
        assert len(site.log) <= polls + 1  # at most a poll already in flight
        assert len(app.stream.rows) == 1
        await pilot.press("p")
        assert not app.paused
        await wait_for(lambda: len(app.stream.rows) == 2, pilot, timeout=5, what="catch-up")
        assert app.stream.rows[0].update.title == STORIES["bridge"][0]
        assert "LIVE" in str(app.header.render())


async def test_markup_in_titles_is_displayed_literally(store: Store) -> None:
    now = datetime.now(UTC)
    nasty = "[bold red]breaking[/] [@click=app.quit]press here[/] \x1b[31mred"
    store.ingest("Bosphorus Wire", [Entry("m", nasty, "[link=file:///]x[/link]",
                                          url="https://news.example/m",
                                          published=now - timedelta(minutes=1))], now)
    app = FeedwatchApp(demo_topic(alert=""), store, live=False)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 1, pilot, what="history")
        line = line_text(app, 0)
        assert "[bold red]breaking[/] [@click=app.quit]press here[/]" in line
        assert "\x1b" not in line
        strip = app.stream.render_line(0)
        assert all(seg.style is None or not seg.style.meta for seg in strip)  # no @click
        await pilot.click("#stream", offset=(60, 0))
        await pilot.press("enter")
        await wait_for(lambda: app.detail.detail is not None, pilot, what="detail")
        body = detail_text(app)
        assert "[link=file:///]x[/link]" in body
        assert app.is_running


async def test_scrolled_away_reader_keeps_place_and_sees_new_count(site: Site,
                                                                   store: Store) -> None:
    now = datetime.now(UTC)
    store.ingest("wire", [Entry(f"old{i}", f"Archive story number {i} about topic {i * 7919}",
                                f"body {i}", url=f"https://news.example/old{i}",
                                published=now - timedelta(hours=2, minutes=i))
                          for i in range(80)], now)
    site.put("/wire.xml", rss())
    app = FeedwatchApp(topic_for(site, "wire"), store)
    async with app.run_test(size=(120, 30)) as pilot:
        view = app.stream
        await wait_for(lambda: len(view.rows) == 80, pilot, what="history")
        for _ in range(40):
            await pilot.press("j")
        await pilot.pause()
        reading = view.current
        assert reading is not None
        screen_y = view.cursor - view.scroll_offset.y
        assert view.scroll_offset.y > 0
        site.put("/wire.xml", rss(item("vaccine", 1), item("eclipse", 2)))
        await poll_until(app, pilot, lambda: len(view.rows) == 82, what="new arrivals")
        await pilot.pause()
        assert view.current is reading
        assert view.cursor - view.scroll_offset.y == screen_y  # the row did not move
        label = str(app.query_one("#new-above").render())
        assert "▲ 2 new" in label
        await pilot.press("g")
        await pilot.pause()
        assert view.cursor == 0 and view.scroll_offset.y == 0
        assert view.rows[0].update.title == STORIES["vaccine"][0]
        assert str(app.query_one("#new-above").render()).strip() == ""


async def test_reader_keeps_place_even_when_all_rows_fit_on_screen(site: Site,
                                                                   store: Store) -> None:
    site.put("/wire.xml", rss(item("quake", 50), item("budget", 40), item("strike", 30)))
    app = FeedwatchApp(topic_for(site, "wire"), store)
    async with app.run_test(size=(120, 30)) as pilot:
        view = app.stream
        await wait_for(lambda: len(view.rows) == 3, pilot, what="first poll")
        await pilot.press("j")
        reading, screen_y = view.current, view.cursor - view.scroll_offset.y
        site.put("/wire.xml", rss(item("quake", 50), item("budget", 40), item("strike", 30),
                                  item("bridge", 1)))
        await poll_until(app, pilot, lambda: len(view.rows) == 4, what="new item")
        await pilot.pause()
        assert view.current is reading
        assert view.cursor - view.scroll_offset.y == screen_y
        assert "▲ 1 new" in str(app.query_one("#new-above").render())
        await pilot.press("g")
        assert view.scroll_offset.y == 0 and view.rows[0].update.title == STORIES["bridge"][0]


async def test_following_reader_at_top_sees_new_rows(site: Site, store: Store) -> None:
    site.put("/wire.xml", rss(item("quake", 30)))
    app = FeedwatchApp(topic_for(site, "wire"), store)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 1, pilot, what="first poll")
        site.put("/wire.xml", rss(item("quake", 30), item("budget", 1)))
        await poll_until(app, pilot, lambda: len(app.stream.rows) == 2, what="new item")
        assert app.stream.cursor == 0 and app.stream.scroll_offset.y == 0
        assert app.stream.current is not None
        assert app.stream.current.update.title == STORIES["budget"][0]


async def test_a_key_pressed_as_a_new_row_takes_the_cursor_acts_on_the_row_before(
        site: Site, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Live mode puts the cursor on the newest row; a key pressed within SLIDE_GRACE of that
    was aimed at the row the reader was on (enter must not open, nor m mute, a story that
    slid under the cursor as the key went down). Later keys act on what is highlighted."""
    import feedwatch.ui.stream as stream_module

    monkeypatch.setattr(stream_module, "SLIDE_GRACE", 60.0)  # (a slow CI machine)
    site.put("/wire.xml", rss(item("quake", 30)))
    app = FeedwatchApp(topic_for(site, "wire"), store)
    async with app.run_test(size=(120, 30)) as pilot:
        view = app.stream
        await wait_for(lambda: len(view.rows) == 1, pilot, what="first poll")
        site.put("/wire.xml", rss(item("quake", 30), item("budget", 1)))
        await poll_until(app, pilot, lambda: len(view.rows) == 2, what="new item")
        assert view.current is not None
        assert view.current.update.title == STORIES["budget"][0]  # live mode: the newest
        await pilot.press("enter")
        await wait_for(lambda: STORIES["quake"][0] in detail_text(app), pilot, what="detail")
        assert view.current.update.title == STORIES["quake"][0]
        await pilot.press("escape")
        monkeypatch.setattr(stream_module, "SLIDE_GRACE", 0.0)
        await pilot.press("g", "enter")  # nothing slid: the highlighted row
        await wait_for(lambda: STORIES["budget"][0] in detail_text(app), pilot, what="detail")


def test_slide_grace_remembers_the_first_row_and_yields_to_moves(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two rows in one poll: the row the reader was on is the one before the first; a key
    that moves the cursor itself (G, space, a click) ends the grace."""
    import feedwatch.ui.stream as stream_module
    from feedwatch.ui.rows import Row
    from feedwatch.ui.stream import StreamView

    monkeypatch.setattr(stream_module, "SLIDE_GRACE", 60.0)
    now = datetime.now(UTC)

    def row(n: int) -> Row:
        return Row(Update(id=n, source="s", key=str(n), published=now + timedelta(minutes=n),
                          first_seen=now, title=f"story {n}", text="", url=None, cluster=n))

    view = StreamView()
    view.insert(row(1))
    assert view.current is not None and view.current.update.id == 1
    view.insert(row(2))
    view.insert(row(3))
    assert view.current.update.id == 3  # live mode: the newest
    aimed = view.take_aim()
    assert aimed is not None and aimed.update.id == 1 and view.current is aimed
    view.cursor = 0
    view.insert(row(4))
    view.cursor = len(view.rows) - 1  # G
    assert view.take_aim() is view.rows[len(view.rows) - 1]


async def test_alert_notifies_and_rings_only_for_live_updates(site: Site, store: Store) -> None:
    now = datetime.now(UTC)
    store.ingest("wire", [Entry("h", "Urgent: old history item", "from yesterday",
                                url="https://news.example/h",
                                published=now - timedelta(hours=3))], now)
    site.put("/wire.xml", rss())
    bells: list[int] = []
    app = FeedwatchApp(topic_for(site, "wire", alert="urgent", bell=True), store,
                       bell=lambda: bells.append(1))
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 1, pilot, what="history")
        await wait_for(lambda: site.statuses("/wire.xml"), pilot, what="first poll")
        await pilot.pause(0.6)
        assert bells == [] and not app._notifications
        site.put("/wire.xml", rss(item("quake", 1, title="Urgent: earthquake off Chile")))
        await poll_until(app, pilot, lambda: bells == [1], what="bell")
        alerts = [n for n in app._notifications if n.severity == "warning"]
        assert len(alerts) == 1 and "earthquake" in alerts[0].message


async def test_sources_panel_shows_errors_and_mutes(site: Site, store: Store) -> None:
    site.put("/wire.xml", rss(item("quake", 30)))
    site.put("/desk.xml", rss(item("budget", 20)))
    app = FeedwatchApp(topic_for(site, "wire", "desk", "gone"), store)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 2, pilot, what="first poll")
        await wait_for(lambda: "gone" in app._states and app._states["gone"].failures, pilot,
                       what="failing source")
        assert "1 failing" in str(app.header.render())
        await pilot.press("s")
        panel = app.sources_panel
        assert panel.has_focus
        gone = [str(c) for c in panel.get_row("gone")]
        assert "failing" in gone[2] and "404" in gone[6]
        # mute "desk" from the panel: its story leaves the stream
        panel.move_cursor(row=panel.get_row_index("desk"))
        await pilot.press("m")
        await wait_for(lambda: len(app.stream.rows) == 1, pilot, what="muted")
        await wait_for(lambda: store.muted_sources() == {"desk"}, pilot, what="saved mute")
        assert "muted" in str(panel.get_row("desk")[2])
        await pilot.pause()
        assert footer_keys(app)["m"] == "Unmute"  # the footer names what m does here
        panel.move_cursor(row=panel.get_row_index("wire"))
        await pilot.pause()
        assert footer_keys(app)["m"] == "Mute"
        panel.move_cursor(row=panel.get_row_index("desk"))
        await pilot.press("m")
        await wait_for(lambda: len(app.stream.rows) == 2, pilot, what="unmuted")
        # m in the stream mutes the selected row's source
        await pilot.press("s")
        assert app.stream.has_focus
        source = app.stream.current.update.source  # type: ignore[union-attr]
        await pilot.press("m")
        await wait_for(lambda: len(app.stream.rows) == 1, pilot, what="muted from stream")
        assert all(r.update.source != source for r in app.stream.rows)


async def test_detail_shows_sources_and_revisions(store: Store) -> None:
    populate(store)
    app = FeedwatchApp(demo_topic(), store, clock=fixed_clock(), tz=TZ, live=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 12, pilot, what="history")
        edited = next(r for r in app.stream.rows if r.update.edited)
        app.stream.move_to(edited)
        await pilot.press("enter")
        await wait_for(lambda: app.detail.detail is not None, pilot, what="detail")
        body = detail_text(app)
        assert "Reported by" in body and "Revision history" in body
        assert body.count("https://") >= edited.sources
        await pilot.press("enter")  # enter again: focus the pane to scroll it
        assert app.detail.has_focus
        await pilot.press("escape")
        assert not app.detail.has_class("-open") and app.stream.has_focus


async def test_search_history(store: Store) -> None:
    populate(store)
    app = FeedwatchApp(demo_topic(), store, clock=fixed_clock(), tz=TZ, live=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 12, pilot, what="history")
        await pilot.press("ctrl+f")
        await pilot.press(*"Fidan", "enter")
        await wait_for(lambda: len(app.results.rows) > 0, pilot, what="results")
        assert all("fidan" in (r.update.title + r.update.text).lower() for r in app.results.rows)
        assert app.results.has_focus
        await pilot.press("enter")
        await wait_for(lambda: app.detail.detail is not None, pilot, what="detail")
        # nothing found: it says so, and the keys typed next are a new query, not commands
        search = app.query_one("#search", QueryBar)
        await pilot.press("escape")
        await wait_for(lambda: app.results.has_focus, pilot, what="detail closed")
        await pilot.press("ctrl+f")
        await wait_for(lambda: search.input.has_focus, pilot, what="search input")
        await pilot.press("ctrl+u", *"zzzqqq", "enter")
        await wait_for(lambda: "0 found" in str(search.query_one(".query-status").render()),
                       pilot, what="no results")
        assert app.results.empty_text.startswith("Nothing in the stored history matches")
        await wait_for(lambda: search.input.has_focus, pilot, what="focus back in the input")
        await pilot.press("backspace", *"x")
        assert search.input.value == "zzzqqx"


async def test_mark_all_read_and_help(site: Site, store: Store) -> None:
    site.put("/wire.xml", rss(item("quake", 30), item("budget", 20)))
    app = FeedwatchApp(topic_for(site, "wire"), store)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 2, pilot, what="first poll")
        assert all(isinstance(r, Row) and r.unread for r in app.stream.rows)
        await pilot.press("a")
        assert not any(r.unread for r in app.stream.rows)
        await pilot.press("question_mark")
        assert app.screen.__class__.__name__ == "HelpScreen"
        await pilot.press("escape")
        assert app.screen.__class__.__name__ != "HelpScreen"
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


# --- found by using the dashboard in a real terminal ---------------------------------------

def arrive(app: FeedwatchApp, store: Store, key: str, title: str, minutes_after: float,
           source: str = "Bosphorus Wire", text: str = "") -> None:
    """A live update, as the engine would deliver it (no network, no polling)."""
    published = FIXED_NOW + timedelta(minutes=minutes_after)
    events = store.ingest(source, [Entry(key, title, text or title,
                                         url=f"https://news.example/{key}",
                                         published=published)], published)
    for event in events:
        app.post_message(UpdateArrived(event))


async def test_open_details_are_not_swapped_by_a_new_arrival(store: Store) -> None:
    """At the top with details open, a new story must not slide under the cursor and
    replace what the reader is reading: it counts as "▲ 1 new" instead."""
    populate(store)
    app = FeedwatchApp(demo_topic(), store, clock=fixed_clock(), tz=TZ, live=False)
    async with app.run_test(size=(140, 40)) as pilot:
        view = app.stream
        await wait_for(lambda: app._history_complete and view.row_count == 12, pilot,
                       what="history")
        reading = view.current
        assert reading is not None and view.cursor == 0
        await pilot.press("enter")
        await wait_for(lambda: app.detail.detail is not None, pilot, what="detail")
        arrive(app, store, "late", "Volcanic ash closes regional airports", 5)
        await wait_for(lambda: view.row_count == 13, pilot, what="arrival")
        await pilot.pause(0.1)
        assert view.current is reading
        assert view.cursor - view.scroll_offset.y == 0  # same place on screen
        assert app.detail.detail is not None
        assert app.detail.detail.headline.id == reading.update.id
        assert "▲ 1 new" in str(app.query_one("#new-above").render())
        # Closed again: live mode follows new arrivals at the top as before.
        await pilot.press("escape", "g")
        arrive(app, store, "later", "Ferry services resume after storm", 6)
        await wait_for(lambda: view.row_count == 14, pilot, what="second arrival")
        assert view.cursor == 0 and view.current is not None
        assert view.current.update.title == "Ferry services resume after storm"


async def test_search_result_opens_that_item_not_its_cluster_headline(store: Store) -> None:
    populate(store)
    app = FeedwatchApp(demo_topic(), store, clock=fixed_clock(), tz=TZ, live=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(lambda: app._history_complete, pilot, what="history")
        await pilot.press("ctrl+f", *"Fidan", "enter")
        await wait_for(lambda: app.results.row_count > 0, pilot, what="results")
        members = [r for r in app.results.rows if r.update.id != r.update.cluster]
        assert members, "the demo has search hits that are not their cluster's headline"
        app.results.move_to(members[0])
        await pilot.press("enter")
        await wait_for(lambda: app.detail.detail is not None, pilot, what="detail")
        assert app.detail.detail.headline.id == members[0].update.id
        # esc: details → results → the stream
        await pilot.press("escape")
        assert app.results.has_focus and app._active_tab() == "search-tab"
        await pilot.press("escape")
        assert app._active_tab() == "stream-tab" and app.stream.has_focus


async def test_escape_leaves_sources_and_search_input(store: Store) -> None:
    populate(store)
    app = FeedwatchApp(demo_topic(), store, clock=fixed_clock(), tz=TZ, live=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(lambda: app._history_complete, pilot, what="history")
        await pilot.press("s")
        assert app.sources_panel.has_focus
        assert "escape" in app.screen.active_bindings  # shown in the footer
        await pilot.press("escape")
        assert app._active_tab() == "stream-tab" and app.stream.has_focus
        await pilot.press("ctrl+f")
        await pilot.press("escape")  # from the search box to its results …
        assert app.results.has_focus
        await pilot.press("escape")  # … and back to the stream
        assert app.stream.has_focus


async def test_filter_match_count_follows_live_arrivals(store: Store) -> None:
    populate(store)
    app = FeedwatchApp(demo_topic(query="istanbul"), store, clock=fixed_clock(), tz=TZ,
                       live=False)
    async with app.run_test(size=(140, 40)) as pilot:
        view = app.stream
        status = app.query_one("#filter", QueryBar).query_one(".query-status")
        # The bar's count agrees with the stream (it used to keep the count of a pass that ran
        # before the history or any live update was in).
        await wait_for(lambda: app._history_complete and view.row_count > 0
                       and str(status.render()) == f"{view.row_count} matches",
                       pilot, what="history")
        before = view.row_count
        arrive(app, store, "late", "Istanbul ferry strike called off", 5)
        arrive(app, store, "other", "Weather: sunny spells", 6)
        await wait_for(lambda: view.row_count == before + 1, pilot, what="arrival")
        await wait_for(lambda: str(status.render()) == f"{before + 1} matches", pilot,
                       what="status follows")


async def test_pause_key_says_resume_while_paused(store: Store) -> None:
    populate(store)
    app = FeedwatchApp(demo_topic(), store, clock=fixed_clock(), tz=TZ, live=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(lambda: app._history_complete, pilot, what="history")
        assert app.screen.active_bindings["p"].binding.description == "Pause"
        await pilot.press("p")
        assert app.paused
        assert app.screen.active_bindings["p"].binding.description == "Resume"
        await pilot.press("p")
        assert not app.paused


async def test_narrow_terminal_keeps_topic_and_headlines_readable(store: Store) -> None:
    populate(store)
    app = FeedwatchApp(demo_topic(), store, clock=fixed_clock(), tz=TZ, live=False)
    async with app.run_test(size=(60, 20)) as pilot:
        await wait_for(lambda: app._history_complete, pilot, what="history")
        header = str(app.header.render())
        assert "Istanbul talks" in header and len(header) == 60
        badge = app.stream.badge_width_for(app.stream.size.width)
        assert badge < 18
        title_room = app.stream.size.width - 20 - badge
        assert title_room >= 25
        line = line_text(app, 0)
        assert len(line) == app.stream.size.width
        await pilot.press("question_mark")
        box = app.screen.query_one("#help-box")
        assert box.max_scroll_y > 0
        await pilot.press("j", "j")
        assert box.scroll_y == 2  # the stream's keys scroll the help too


async def test_photo_only_post_shows_its_marker_once(store: Store) -> None:
    now = datetime.now(UTC)
    store.ingest("Frontline Flash", [Entry("p", "[photo]", "[photo]",
                                           url="https://t.me/frontline_flash/1",
                                           published=now - timedelta(minutes=1),
                                           media=("photo",))], now)
    app = FeedwatchApp(demo_topic(alert=""), store, live=False)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(lambda: app.stream.row_count == 1, pilot, what="history")
        await pilot.press("enter")
        await wait_for(lambda: app.detail.detail is not None, pilot, what="detail")
        head = detail_text(app).split("── Reported by")[0]
        assert head.count("[photo]") == 1


async def test_filter_shows_a_story_when_any_of_its_reports_matches(store: Store) -> None:
    """The headline is English, a later report of the same story Russian: a Cyrillic query
    shows the story (and a report joining live brings its story in, too)."""
    now = datetime.now(UTC)
    (head,) = store.ingest("Bosphorus Wire", [
        Entry("h", "Talks in Istanbul ended", "The delegations left the palace",
              published=now - timedelta(minutes=10))], now)
    store.ingest("Telegram RU", [
        Entry("m", "Переговоры в Стамбуле завершились", "Делегации покинули дворец",
              published=now - timedelta(minutes=8))], now, classify=lambda _: head.update.id)
    (budget,) = store.ingest("Ledger", [
        Entry("b", "Budget vote delayed", "Parliament adjourned",
              published=now - timedelta(minutes=5))], now)
    app = FeedwatchApp(demo_topic(alert=""), store, live=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 2, pilot, what="history")
        await pilot.press("slash", *"переговор*")
        await wait_for(lambda: titles(app) == ["Talks in Istanbul ended"], pilot,
                       what="story shown for its Russian report")
        assert app.stream.rows[0].sources == 2
        # a matching report joins the budget story live: that story appears as well
        (joined,) = store.ingest("Telegram UA", [
            Entry("j", "Переговоры о бюджете отложены", "Рада",
                  published=now - timedelta(minutes=4))], now,
            classify=lambda _: budget.update.id)
        app.post_message(UpdateArrived(joined))
        await wait_for(lambda: "Budget vote delayed" in titles(app), pilot, what="live join")


async def test_an_edited_lone_report_that_joins_a_story_folds_into_its_row(
        store: Store) -> None:
    now = datetime.now(UTC)
    (story,) = store.ingest("Bosphorus Wire", [
        Entry("s", "Sides agree to exchange 6,000 bodies", "Medinsky said",
              published=now - timedelta(minutes=10))], now)
    (lone,) = store.ingest("Frontline", [
        Entry("f", "Russia will hand over 5,000 bodies", "Medinsky",
              published=now - timedelta(minutes=8))], now)
    app = FeedwatchApp(demo_topic(alert=""), store, live=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 2, pilot, what="history")
        (moved,) = store.ingest("Frontline", [
            Entry("f", "Russia will hand over 6,000 bodies", "Medinsky",
                  published=now - timedelta(minutes=8))], now,
            reclassify=lambda _: story.update.id)
        assert moved.update.cluster == story.update.id
        app.post_message(UpdateArrived(moved))
        await wait_for(lambda: len(app.stream.rows) == 1, pilot, what="row folded")
        assert titles(app) == ["Sides agree to exchange 6,000 bodies"]
        assert app.stream.rows[0].sources == 2
        assert app.history.get(lone.update.id) is None


@pytest.mark.parametrize("query", ["resume OR strasse", "resume OR /stra(ss|ß)e/i"])
async def test_refilter_agrees_with_the_matcher_where_the_index_reads_otherwise(
        store: Store, query: str) -> None:
    """The index answers for plain texts (first query), the matcher for the rest (glued
    emoji, ß) and for queries the index cannot answer exactly (second): same stories."""
    now = datetime.now(UTC)

    def story(source: str, key: str, title: str, minutes_ago: float,
              joins: int | None = None) -> int:
        (event,) = store.ingest(source, [Entry(key, title, "", published=now - timedelta(
            minutes=minutes_ago))], now, classify=None if joins is None else lambda _: joins)
        return event.update.id

    story("Wire", "a", "Talks🤝resume in Geneva", 9)  # one glued token to FTS5
    story("Wire", "b", "Talks resume on Monday", 8)
    story("Wire", "c", "Straße blocked by protest", 7)
    budget = story("Wire", "d", "Budget vote delayed", 6)
    story("Desk", "d2", "Talks resume over the budget", 5, joins=budget)
    story("Wire", "e", "Talks resume after the football match", 4)  # muted
    final = story("Wire", "f", "Football final tonight", 3)  # muted headline...
    story("Desk", "f2", "Play will resume at nine", 2, joins=final)  # ... hides its story
    story("Wire", "g", "Weather report", 1)
    topic = parse_topic("\n".join([
        "[topic]", 'name = "t"', 'mute = "football"',
        "[[source]]", 'name = "Wire"', 'url = "http://127.0.0.1:9/w.xml"',
        "[[source]]", 'name = "Desk"', 'url = "http://127.0.0.1:9/d.xml"']))
    app = FeedwatchApp(topic, store, live=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 5, pilot, what="history")
        await pilot.press("slash", *query)
        expected = ["Budget vote delayed", "Straße blocked by protest", "Talks resume on Monday",
                    "Talks🤝resume in Geneva"]
        await wait_for(lambda: titles(app) == expected, pilot, what="filtered stories")
        shown = app.engine.filter
        assert (shown.query is not None and shown.query.fts_exact() is not None) \
            == (query == "resume OR strasse")
        assert [r.member_match for r in app.stream.rows] == [True, False, False, False]


async def test_live_reports_during_a_refilter_are_judged_by_it(store: Store) -> None:
    """Reports that arrive while the re-filter waits for the index are not in its answers:
    a muted story arriving then stays hidden, a matching one shows, and a report joining a
    story live brings that story in."""
    now = datetime.now(UTC)
    store.ingest("Wire", [Entry("a", "Weather report", "", published=now - timedelta(minutes=9))],
                 now)
    (budget,) = store.ingest("Wire", [Entry("b", "Budget vote delayed", "",
                                            published=now - timedelta(minutes=8))], now)
    topic = parse_topic("\n".join([
        "[topic]", 'name = "t"', 'mute = "football"',
        "[[source]]", 'name = "Wire"', 'url = "http://127.0.0.1:9/w.xml"',
        "[[source]]", 'name = "Desk"', 'url = "http://127.0.0.1:9/d.xml"']))
    app = FeedwatchApp(topic, store, live=False)
    ask = app._ask_index
    arrivals: list[list[Entry]] = []

    def ask_then_deliver(*args: object) -> object:  # (the database thread)
        reply = ask(*args)  # type: ignore[arg-type]
        while arrivals:
            entries = arrivals.pop(0)
            joining = entries[0].key == "j"  # (joins the budget story, from another source)
            for event in store.ingest("Desk" if joining else "Wire", entries, now,
                                      classify=(lambda _: budget.update.id) if joining
                                      else None):
                app.call_from_thread(app.post_message, UpdateArrived(event))
            time.sleep(0.3)  # the loop applies them before the pass goes on
        return reply

    app._ask_index = ask_then_deliver  # type: ignore[method-assign]
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 2, pilot, what="history")
        arrivals.append([Entry("f", "Football final tonight", "",
                               published=now - timedelta(minutes=2))])
        arrivals.append([Entry("w", "Weather warning issued", "",
                               published=now - timedelta(minutes=1))])
        await pilot.press("slash", *"weather")
        await wait_for(lambda: not arrivals and not app._filtering, pilot, what="first pass")
        await pilot.pause(0.3)
        assert titles(app) == ["Weather warning issued", "Weather report"]
        arrivals.append([Entry("j", "Weather delays the budget vote", "",
                               published=now - timedelta(minutes=7))])
        await pilot.press("space", "backspace")  # the same query again: a new pass
        await wait_for(lambda: not arrivals and not app._filtering, pilot, what="second pass")
        await pilot.pause(0.3)
        assert titles(app) == ["Weather warning issued", "Budget vote delayed",
                               "Weather report"]


async def test_every_footer_key_fits_an_80_column_terminal(store: Store) -> None:
    """The stream, details and sources footers show each of their keys whole at 80 columns
    (the keys left out are listed by ?)."""
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    store.ingest("Bosphorus Wire", [Entry("a", "Talks resume", "In Istanbul",
                                          published=datetime.now(UTC))], datetime.now(UTC))
    app = FeedwatchApp(demo_topic(alert=""), store, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: len(app.stream.rows) == 1, pilot, what="history")

        async def shown() -> list[str]:
            await pilot.pause()
            footer = app.screen.query_one(Footer)
            keys = list(footer.query(FooterKey))
            assert keys, "no footer keys"
            for key in keys:
                assert key.region.right <= 80, f"{key.description!r} is cut"
            return [key.description for key in keys]

        assert {"Story", "Quit", "Help", "Filter", "Find", "Open", "Mute"} <= set(await shown())
        await pilot.press("enter")
        assert "Close" in await shown()
        await pilot.press("escape", "s")
        assert {"Mute", "Poll"} <= set(await shown())
        await pilot.press("ctrl+f")  # the search tab, its box focused
        assert "Back" in await shown()
        await pilot.press("escape")  # its results
        assert "Quit" in await shown()
        await pilot.press("escape", "slash")  # the filter bar
        assert "Back" in await shown()


async def test_live_dashboard_shows_history_while_another_process_holds_the_write_lock(
        tmp_path: Path) -> None:
    """Startup writes only to follow renamed sources; a write lock held elsewhere (cron's
    `once` storing a big batch) past the busy timeout must not keep history off screen."""
    import sqlite3

    db = tmp_path / "fw.db"
    with Store(db) as first:
        first.ingest("Bosphorus Wire", [Entry("a", "Talks resume", "In Istanbul",
                                              published=datetime.now(UTC))], datetime.now(UTC))
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    store = Store(db, timeout=0.2)
    try:
        app = FeedwatchApp(demo_topic(alert=""), store, live=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(lambda: len(app.stream.rows) == 1, pilot, what="history")
    finally:
        other.execute("ROLLBACK")
        other.close()
        store.close()


async def test_the_row_under_the_cursor_stays_while_help_is_open(site: Site,
                                                                 store: Store) -> None:
    """A reader on the newest row opens help; stories arriving meanwhile must not slide
    under the cursor (`o` after closing would open a story never seen): they are counted."""
    now = datetime.now(UTC)
    store.ingest("wire", [Entry("old", "Archive story about the port", "body",
                                url="https://news.example/old",
                                published=now - timedelta(hours=2))], now)
    site.put("/wire.xml", rss())
    app = FeedwatchApp(topic_for(site, "wire"), store)
    async with app.run_test(size=(120, 30)) as pilot:
        view = app.stream
        await wait_for(lambda: len(view.rows) == 1, pilot, what="history")
        reading = view.current
        await pilot.press("question_mark")
        site.put("/wire.xml", rss(item("vaccine", 1)))
        await poll_until(app, pilot, lambda: len(view.rows) == 2, what="new arrival")
        await pilot.press("escape")
        await pilot.pause()
        assert view.current is reading
        assert "▲ 1 new" in str(app.query_one("#new-above").render())
        await pilot.press("g")
        await pilot.pause()
        assert view.current is not reading and view.cursor == 0


async def test_sources_tab_shows_the_selected_sources_whole_error_at_80_columns(
        site: Site, store: Store) -> None:
    """The table's error column is cut on a narrow terminal; the line under the table says
    the selected source's whole error (or warning)."""
    site.put("/good.xml", rss(item("vaccine", 1)))  # (/bad.xml is not served: HTTP 404)
    app = FeedwatchApp(topic_for(site, "good", "bad"), store)
    async with app.run_test(size=(80, 24)) as pilot:
        await poll_until(app, pilot, lambda: bool(
            app._states.get("bad") and app._states["bad"].last_error), what="the 404")
        await pilot.press("s")
        await pilot.pause()
        assert str(app.source_note.render()) == ""  # "good" is selected: nothing to say
        await pilot.press("j")
        await pilot.pause()
        note = str(app.source_note.render())
        assert note.startswith("bad: ") and "404" in note
        assert app.source_note.region.width <= 80 and app.source_note.region.height >= 1

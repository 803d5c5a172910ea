"""Snapshots of the dashboard on the demo story, with a fixed clock and time zone.

The store is filled directly (no polling) and the app runs with ``live=False``, so every
pixel is deterministic. Regenerate after a deliberate change with ``--snapshot-update`` and
look at the SVGs in tests/__snapshots__/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from test_ui_support import FIXED_NOW, TZ, demo_topic, fixed_clock, populate, wait_for
from textual.pilot import Pilot

from feedwatch.model import SourceState
from feedwatch.store import Store
from feedwatch.ui.app import FeedwatchApp

SIZE = (140, 40)
SnapCompare = Callable[..., bool]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "feedwatch.db") as store:
        populate(store)
        yield store


def make_app(store: Store, query: str = "") -> FeedwatchApp:
    return FeedwatchApp(demo_topic(query=query), store, clock=fixed_clock(), tz=TZ,
                        live=False, subtitle="demo replay ×120")


async def loaded(pilot: Pilot) -> None:
    app = pilot.app
    assert isinstance(app, FeedwatchApp)
    await wait_for(lambda: app._history_complete and app.stream.row_count > 0
                   and "stories" in str(app.count_label.render()), pilot, what="history")


def test_main_screen(snap_compare: SnapCompare, store: Store) -> None:
    assert snap_compare(make_app(store), terminal_size=SIZE, run_before=loaded)


def test_detail_pane(snap_compare: SnapCompare, store: Store) -> None:
    async def open_detail(pilot: Pilot) -> None:
        await loaded(pilot)
        await pilot.press("j", "enter")
        app = pilot.app
        assert isinstance(app, FeedwatchApp)
        await wait_for(lambda: app.detail.detail is not None, pilot, what="detail")

    assert snap_compare(make_app(store), terminal_size=SIZE, run_before=open_detail)


def test_filter_highlights_matches(snap_compare: SnapCompare, store: Store) -> None:
    async def type_filter(pilot: Pilot) -> None:
        await loaded(pilot)
        await pilot.press("slash", *"istanbul OR bodies", "enter")
        app = pilot.app
        assert isinstance(app, FeedwatchApp)
        await wait_for(lambda: app.stream.has_focus and "match" in
                       str(app.query_one("#filter").query_one(".query-status").render()),
                       pilot, what="re-filter")

    assert snap_compare(make_app(store), terminal_size=SIZE, run_before=type_filter)


def test_sources_panel(snap_compare: SnapCompare, store: Store) -> None:
    ok = FIXED_NOW - timedelta(seconds=40)
    store.save_state(SourceState("Bosphorus Wire", last_ok=ok, last_attempt=ok,
                                 next_due=FIXED_NOW + timedelta(seconds=20)))
    store.save_state(SourceState("Global Monitor headlines", last_ok=ok - timedelta(minutes=9),
                                 last_attempt=ok, failures=3,
                                 last_error="server error 503 (Service Unavailable); "
                                            "retrying with backoff",
                                 next_due=FIXED_NOW + timedelta(minutes=4)))
    store.save_state(SourceState("Kyiv Ledger", last_ok=ok, last_attempt=ok,
                                 next_due=FIXED_NOW + timedelta(seconds=5)))
    store.set_muted("Срочно | Мир", True)

    async def open_sources(pilot: Pilot) -> None:
        await loaded(pilot)
        await pilot.press("s")

    assert snap_compare(make_app(store), terminal_size=SIZE, run_before=open_sources)


def test_help_screen(snap_compare: SnapCompare, store: Store) -> None:
    async def open_help(pilot: Pilot) -> None:
        await loaded(pilot)
        await pilot.press("question_mark")

    assert snap_compare(make_app(store), terminal_size=SIZE, run_before=open_help)

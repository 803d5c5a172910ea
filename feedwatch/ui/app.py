"""The dashboard: owns the engine, turns its events into messages, keeps the views in step.

Threads: the engine runs on Textual's loop; store reads go through the engine's single
database thread (``engine.db``). Handlers on the loop only touch in-memory rows, so the
screen never waits on the network or the disk. Bulk CPU work (loading 100k rows,
re-filtering them) runs on the loop in slices of a few milliseconds: a worker thread would
hold the GIL and every keypress would queue behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import heapq
import itertools
import logging
import time
import webbrowser
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, tzinfo
from typing import Any, ClassVar, NamedTuple, TypeVar

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Label, Static, TabbedContent, TabPane
from textual.worker import WorkerCancelled, WorkerFailed, get_current_worker

from ..config import Topic
from ..engine import Engine
from ..model import EventKind, Health, SourceState, Update, UpdateEvent
from ..query import DictDocument, Document, Query, QueryError, parse
from ..store import Store, StoreError
from ..textutil import is_safe_link
from ..topicfilter import IndexAnswers
from .detail import Detail, DetailPane
from .filterbar import QueryBar, SearchBar
from .header import FeedHeader
from .help import HelpScreen
from .rows import History, Row, RowList, Span, flatten, headline_text, row_key
from .sources import SourcesPanel
from .stream import StreamView

log = logging.getLogger("feedwatch.ui")

FIRST_PAGE = 300  # rows read before the first paint; the rest loads behind it
LOAD_CHUNK = 2000  # updates per DB round trip while loading the history
SEARCH_PROMPT = "Type a query above to search the whole history."
SLICE = 0.008  # seconds of CPU the loop spends on bulk work before it lets keys through
SEARCH_LIMIT = 1000  # results shown by ctrl+f
SEARCH_SCAN = 20_000  # FTS candidates examined per search
COUNTS_DELAY = 0.1  # seconds: the status line is recounted at most this often
COMPACT_FOOTER_BELOW = 120  # columns
ALERT_COALESCE = 0.4  # seconds: a burst of alerts becomes one notification and one bell

T = TypeVar("T")
Clock = Callable[[], datetime]
Opener = Callable[[str], bool]


def utcnow() -> datetime:
    return datetime.now(UTC)


def open_in_browser(url: str) -> bool:
    """Open ``url`` in a graphical browser; False when only a terminal browser exists
    (it would take over the dashboard's terminal) or none at all."""
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    if type(browser) is webbrowser.GenericBrowser:  # lynx, w3m, www-browser …
        return False
    try:
        return bool(browser.open(url, new=2))
    except Exception:  # a broken browser setup must not crash the dashboard
        log.exception("cannot open %s", url)
        return False


async def sliced(items: Iterable[T], fn: Callable[[Any], object], *, batched: bool = False,
                 cancelled: Callable[[], bool] = lambda: False) -> bool:
    """Apply ``fn`` to every item (or, ``batched``, to lists of items) on the loop, yielding
    every SLICE seconds so input and repaints interleave. Returns False when ``cancelled()``
    turned true on the way."""
    clock = time.perf_counter
    iterator = iter(items)
    while True:
        deadline = clock() + SLICE
        while clock() < deadline:
            batch = list(itertools.islice(iterator, 256))
            if not batch:
                return True
            if batched:
                fn(batch)
                continue
            for item in batch:
                fn(item)
        await asyncio.sleep(0)
        if cancelled():
            return False


class _IndexReply(NamedTuple):
    """What the index told a re-filter (see ``FeedwatchApp._ask_index``)."""

    answers: IndexAnswers | None  # exact answers for plain updates
    candidates: set[int] | None  # else the FTS5 pre-selection, when there is one
    stories: set[int]  # clusters a report other than the headline shows


class UpdateArrived(Message):
    """An engine event, delivered on the loop as a message."""

    def __init__(self, event: UpdateEvent) -> None:
        super().__init__()
        self.event = event


class StateArrived(Message):
    """A source's new polling state."""

    def __init__(self, state: SourceState) -> None:
        super().__init__()
        self.state = state


class FeedwatchApp(App[int]):
    """Watch one topic live: header, filter bar, stream / search / sources, detail pane."""

    CSS_PATH = "feedwatch.tcss"
    TITLE = "feedwatch"
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (100, "-wide")]

    BINDINGS: ClassVar[list[BindingType]] = [
        # esc first: when it applies (details open, or another tab) it is the key to know.
        Binding("escape", "close_detail", "Close"),
        Binding("escape", "back", "Back"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False),  # what a terminal user tries first
        Binding("question_mark", "help", "Help"),
        # priority: run before the keys that follow in the same burst are routed (a paste,
        # a laggy link): they must reach the filter, not act as commands ("/qatar" quit)
        Binding("slash", "filter", "Filter", priority=True),
        Binding("ctrl+f", "search", "Find"),  # (in the history; short: the footer fits)
        Binding("p", "toggle_pause", "Pause"),
        Binding("p", "resume", "Resume"),
        # (r and a are left out of the footer, and listed by ?, so that the footer's keys
        # fit an 80-column terminal)
        Binding("r", "refresh", "Refresh", show=False),
        Binding("s", "sources", "Sources"),
        Binding("a", "mark_all_read", "All read", show=False),
        Binding("o", "open_link", "Open"),
        Binding("m", "mute_selected", "Mute"),
    ]

    paused: reactive[bool] = reactive(False, init=False)

    def __init__(self, topic: Topic, store: Store, *, engine: Engine | None = None,
                 subtitle: str | None = None, clock: Clock | None = None,
                 tz: tzinfo | None = None, bell: Callable[[], None] | None = None,
                 opener: Opener | None = None, live: bool = True) -> None:
        super().__init__()
        self.topic = topic
        self.store = store
        self.engine = engine or Engine(topic, store)
        self.subtitle_text = subtitle
        self.clock: Clock = clock or utcnow
        self.tz = tz
        self.live = live
        self._bell = bell or self.bell
        self._opener = opener or open_in_browser
        self.history = History()
        self._folded: set[int] = set()  # stories whose only report moved into another
        self._member_rows: set[Row] = set()  # rows shown for a report other than the headline
        self._marked: set[Row] = set()  # rows showing ● or ◆ (pruned when counting)
        self._muted: set[str] = set()
        self._states: dict[str, SourceState] = {}
        self._held: list[UpdateEvent] = []  # events that arrived while paused
        self._alerts: list[Update] = []
        self._alert_timer: Timer | None = None
        self._filter_generation = 0
        self._filtering = False  # a re-filter pass is running: the bar says "filtering…"
        self._filter_status = ""
        self._history_complete = False
        self._detail_open = False
        self._search_query: Query | None = None
        self._engine_started = False
        self._engine_stopped = False
        self._count_text = ""
        self._counts_timer: Timer | None = None
        self.engine.subscribe(self._on_engine_event)
        self.engine.subscribe_states(self._on_engine_state)

    # --- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        names = [s.name for s in self.topic.sources]
        # Kept as attributes: handlers reach them on every event and keypress.
        self.header = FeedHeader(self.topic.name, self.subtitle_text, clock=self.clock,
                                 tz=self.tz, id="header")
        self.stream = StreamView(highlighter=self._highlights, is_alert=self._is_alert,
                                 tz=self.tz, today=self.today, sources=names, empty="Loading…",
                                 id="stream")
        self.results = StreamView(highlighter=self._search_highlights, tz=self.tz,
                                  today=self.today, sources=names, empty=SEARCH_PROMPT,
                                  id="results")
        self.sources_panel = SourcesPanel(self.topic.sources, tz=self.tz, id="sources")
        self.source_note = Static("", id="source-note")
        self.detail = DetailPane(tz=self.tz, today=self.today, highlighter=self._highlights,
                                 id="detail")
        self.count_label = Label("loading history…", id="stream-count")
        self.new_label = Label("", id="new-above")
        yield self.header
        yield QueryBar("filter /", self.topic.query, id="filter",
                       placeholder="all stories — type a query, e.g. istanbul OR стамбул*")
        with Horizontal(id="body"):
            with TabbedContent(id="tabs", initial="stream-tab"):
                with TabPane("Stream", id="stream-tab"):
                    with Horizontal(id="stream-status", classes="status-line"):
                        yield self.count_label
                        yield self.new_label
                    yield self.stream
                with TabPane("Search", id="search-tab"):
                    yield SearchBar("search", "", id="search",
                                   placeholder="search all stored updates, then enter")
                    yield self.results
                with TabPane("Sources", id="sources-tab"):
                    yield self.sources_panel
                    yield self.source_note
            yield self.detail
        yield Footer()

    def today(self) -> date:
        return self.clock().astimezone(self.tz).date()

    # --- start-up and shutdown ---------------------------------------------------------

    def on_mount(self) -> None:
        self.stream.focus()
        self.header.polling = self.live
        self._startup()

    @work(group="startup", exit_on_error=False)
    async def _startup(self) -> None:
        """First page → paint; then the engine; then the whole history behind the paint.

        The bulk read goes in id-ordered chunks through the DB thread and rows are built on
        the loop in short slices: one long CPU-bound thread would hold the GIL and make every
        keypress wait (a convoy), which is exactly the freeze this app must not have.
        """
        engine, store = self.engine, self.store
        try:
            if self.live:  # (before anything is read: rows then show sources' new names)
                with contextlib.suppress(StoreError):  # (locked: the engine tries again)
                    await engine.db(engine.follow_renames)
            self._states = await engine.db(store.states)
            self._muted = await engine.db(store.muted_sources)
            self._show_states()
            first = await engine.db(store.headlines, FIRST_PAGE)
            for row in (Row(u) for u in first):
                self.history.add(row)
            self.stream.set_rows([r for r in self.history.rows() if self._visible(r)])
            if first:
                self.header.last_update = max(u.first_seen for u in first)
            if self.live:
                self._start_engine()
            if len(first) == FIRST_PAGE:
                # Hundreds of thousands of long-lived, acyclic objects: a full pass of the
                # cyclic collector over them pauses the UI for 200+ ms, so keep it off while
                # they are made and move them out of its sight afterwards.
                gc.disable()
                try:
                    await self._load_history()
                finally:
                    gc.freeze()
                    gc.enable()
            self._history_complete = True
            self._update_counts()
        except StoreError as exc:
            self.notify(str(exc), title="Database problem", severity="error", markup=False,
                        timeout=30)

    @work(group="engine", exit_on_error=False)
    async def _start_engine(self) -> None:
        try:
            await self.engine.start()
            self._engine_started = True
        except Exception as exc:
            log.exception("engine failed to start")
            self.notify(f"cannot start polling: {exc}", severity="error", markup=False)

    async def _load_history(self) -> None:
        """Read every headline in id-ordered chunks, sort each chunk, k-way merge them in
        slices, and swap the result in; rows that arrived live meanwhile are kept."""
        engine, store = self.engine, self.store
        chunks: list[list[Row]] = []
        loaded_ids: set[int] = set()
        after = 0
        while chunk := await engine.db(store.updates_after, after, LOAD_CHUNK):
            after = chunk[-1].id
            rows = [Row(u) for u in chunk if u.is_headline]
            rows.sort(key=row_key)
            loaded_ids.update(r.id for r in rows)
            chunks.append(rows)
            await asyncio.sleep(0)
        known = self.history.by_cluster  # the first page and live arrivals win
        by_cluster: dict[int, Row] = {}
        ordered: list[Row] = []

        def take(row: Row) -> None:
            if row.id in self._folded:
                return
            row = known.get(row.id, row)
            by_cluster[row.id] = row
            ordered.append(row)

        await sliced(heapq.merge(*chunks, key=row_key), take)
        chunks.clear()
        history = RowList()
        history.rows = ordered
        for row in list(self.history.by_cluster.values()):
            if row.id not in loaded_ids:  # arrived after its chunk was read
                by_cluster[row.id] = row
                history.insert(row)
        self.history.replace(by_cluster, history.rows)
        # Filter the whole history (this also supersedes a re-filter the user started while
        # only the first page was in memory).
        try:
            await self._run_filter(self._filter_generation).wait()
        except (WorkerCancelled, WorkerFailed):
            pass  # a newer re-filter took over, over the full history

    async def action_quit(self) -> None:
        await self._stop_engine()
        self.exit(0)

    async def _stop_engine(self) -> None:
        if not self._engine_stopped:
            self._engine_stopped = True
            try:
                await self.engine.stop()
            except Exception:
                log.exception("engine did not stop cleanly")

    async def on_unmount(self) -> None:
        await self._stop_engine()

    # --- engine → messages -------------------------------------------------------------

    def _on_engine_event(self, event: UpdateEvent) -> None:
        self.post_message(UpdateArrived(event))

    def _on_engine_state(self, state: SourceState) -> None:
        self.post_message(StateArrived(state))

    def on_update_arrived(self, message: UpdateArrived) -> None:
        if self.paused:
            self._held.append(message.event)
            self.header.held = len(self._held)
            return
        self._apply(message.event)

    def on_state_arrived(self, message: StateArrived) -> None:
        self._states[message.state.source] = message.state
        self._show_states()

    # --- applying events ---------------------------------------------------------------

    def _visible(self, row: Row) -> bool:
        update = row.update
        if update.source in self._muted:
            return False
        topic = self.engine.filter
        return topic.show(update) or (row.member_match and not topic.hides(update))

    def _member_shows(self, update: Document) -> bool:
        """A report joining a story would show on its own: the story shows for it."""
        return update.source not in self._muted and self.engine.filter.show(update)

    def _apply(self, event: UpdateEvent) -> None:
        update = event.update
        self.header.last_update = self.header.now = self.clock()
        if event.kind is EventKind.NEW:
            row = self.history.get(update.cluster)
            if row is None:
                row = Row(update, unread=True)
                self._add_live(row)
            else:  # the history load read it from the store before its event came
                row.unread = True
                row.touch()
                self._marked.add(row)
                self.stream.refresh_row(row)
            self._maybe_alert(row, update)
        elif event.kind is EventKind.JOINED:
            alone = self.history.get(update.id)
            if update.id != update.cluster:
                self._folded.add(update.id)  # a history chunk read earlier must not revive it
            if alone is not None and update.id != update.cluster:
                # an edited lone report now belongs to another story: its row goes
                self.history.discard(alone)
                if self.stream.index_of(alone) is not None:
                    self.stream.remove(alone)
            row = self.history.get(update.cluster)
            if row is None:
                self._fetch_headline(update)
                return
            row.sources = max(row.sources, update.sources_in_cluster)
            row.updated = True
            if not row.member_match and self._member_shows(update):
                row.member_match = True
                self._member_rows.add(row)
                self.history.changed(row)
                if self.stream.index_of(row) is None and self._visible(row):
                    self.stream.insert(row)
            row.touch()
            self._marked.add(row)
            self.stream.refresh_row(row)
            self._maybe_alert(row, update)
            self._refresh_detail_if(row)
        else:
            self._apply_edit(update)
        self._update_counts()

    def _add_live(self, row: Row) -> None:
        self.history.add(row)
        self._marked.add(row)
        if self._visible(row):
            self.stream.insert(row)

    def _apply_edit(self, update: Update) -> None:
        row = self.history.get(update.cluster)
        if row is None:
            return
        if update.id == row.update.id:
            before = self.stream.index_of(row) is not None
            row.update = update
            self.history.changed(row)
            row.sources = max(row.sources, update.sources_in_cluster)
            after = self._visible(row)
            if before and not after:
                self.stream.remove(row)
            elif after and not before:
                self.stream.insert(row)
        row.updated = True
        row.touch()
        self._marked.add(row)
        self.stream.refresh_row(row)
        self._maybe_alert(row, update)
        self._refresh_detail_if(row)

    @work(group="headline", exit_on_error=False)
    async def _fetch_headline(self, joined: Update) -> None:
        """A source joined a story we have not loaded yet: read its headline, then show it."""
        try:
            head = await self.engine.db(self.store.get, joined.cluster)
        except StoreError:
            return
        if head is None or self.history.get(head.cluster) is not None:
            existing = self.history.get(joined.cluster)
            if existing is not None:
                existing.sources = max(existing.sources, joined.sources_in_cluster)
                existing.updated = True
                existing.touch()
                self._marked.add(existing)
                self.stream.refresh_row(existing)
            return
        row = Row(head, updated=True)
        self._add_live(row)
        self._maybe_alert(row, joined)
        self._update_counts()

    # --- alerts ------------------------------------------------------------------------

    def _is_alert(self, update: Update) -> bool:
        return self.engine.filter.alert(update)

    def _maybe_alert(self, row: Row, update: Update) -> None:
        """Live matches of the topic's alert query: one notification (and bell) per burst."""
        if row.alerted or update.source in self._muted:
            return
        if not self.engine.filter.alert(update):
            return
        row.alerted = True
        self._alerts.append(update)
        if self._alert_timer is None:
            self._alert_timer = self.set_timer(ALERT_COALESCE, self._flush_alerts)

    def _flush_alerts(self) -> None:
        self._alert_timer = None
        alerts, self._alerts = self._alerts, []
        if not alerts:
            return
        lines = []
        for update in alerts[:3]:
            _, _, piece = headline_text(update)
            lines.append(f"{flatten(update.source).text}: {flatten(piece).text[:160]}")
        if len(alerts) > 3:
            lines.append(f"… and {len(alerts) - 3} more")
        title = "Alert" if len(alerts) == 1 else f"{len(alerts)} alerts"
        self.notify("\n".join(lines), title=title, severity="warning", timeout=12,
                    markup=False)
        if self.topic.bell:
            self._bell()

    # --- header, counts, sources -------------------------------------------------------

    def _show_states(self) -> None:
        ok = failing = waiting = 0
        for spec in self.topic.enabled_sources:
            state = self._states.get(spec.name)
            health = state.health if state is not None else Health.NEW
            if health is Health.OK:
                ok += 1
            elif health is Health.NEW:
                waiting += 1
            else:
                failing += 1
        self.header.set_health(ok, failing, waiting)
        self.sources_panel.update_states(self._states, self._muted, self.clock(), self.paused)
        self.source_note.update(self.sources_panel.note())

    @on(DataTable.RowHighlighted, "#sources")
    def _source_highlighted(self) -> None:
        self.source_note.update(self.sources_panel.note())

    def _update_counts(self) -> None:
        """Ask for the status line to be recounted, at most a few times a second."""
        if self._counts_timer is None:
            self._counts_timer = self.set_timer(COUNTS_DELAY, self._recount)

    def _recount(self) -> None:
        self._counts_timer = None
        total = len(self.history)
        shown = self.stream.row_count
        self._marked = {r for r in self._marked if r.unread or r.updated}
        unread = sum(1 for r in self._marked
                     if r.unread and self.stream.index_of(r) is not None)
        if not total:
            text = "no stories yet — waiting for the sources" if self._history_complete \
                else "loading history…"
        else:
            text = f"{shown:,} of {total:,} stories" if shown != total else f"{total:,} stories"
            if not self._history_complete:
                text += " (loading older…)"
            if unread:
                text += f" · {unread:,} unread"
            if self._muted:
                text += f" · muted: {', '.join(sorted(flatten(m).text for m in self._muted))}"
        if not self._filtering:
            self._show_match_count()  # live arrivals and mutes change it too
        if text != self._count_text:  # a label update re-lays out the screen: only on change
            self._count_text = text
            self.count_label.update(Text(text))
        empty = "No stories match the filter." if total and not shown else \
            "No stories yet — waiting for the sources…" if self._history_complete else "Loading…"
        if empty != self.stream.empty_text:
            self.stream.empty_text = empty
            self.stream.refresh()

    def _show_match_count(self) -> None:
        query = self.engine.filter.query
        if query is None or query.is_empty:
            self._set_filter_status("")
            return
        shown = self.stream.row_count
        self._set_filter_status(f"{shown:,} {'match' if shown == 1 else 'matches'}")

    def _set_filter_status(self, status: str) -> None:
        if status != self._filter_status:
            self._filter_status = status
            self.query_one("#filter", QueryBar).set_status(status)

    @on(StreamView.NewAbove, "#stream")
    def _new_above(self, message: StreamView.NewAbove) -> None:
        label = self.new_label
        label.update(Text(f"▲ {message.count} new · g to jump") if message.count else "")
        label.set_class(bool(message.count), "-active")

    def watch_paused(self, paused: bool) -> None:
        self.refresh_bindings()
        self.header.paused = paused
        self.header.held = len(self._held)
        self._show_states()

    # --- the filter --------------------------------------------------------------------

    def _highlights(self, update: Update) -> list[Span]:
        try:
            return self.engine.filter.highlights(update)
        except Exception:  # a highlighter bug must not break rendering
            log.exception("highlights failed")
            return []

    @on(QueryBar.Changed, "#filter")
    def _filter_changed(self, message: QueryBar.Changed) -> None:
        bar = message.bar
        try:
            self.engine.filter.set_query(message.text)
        except QueryError as exc:
            bar.show_error(f"{exc.message} — still showing the last valid filter", exc.column)
            return
        bar.clear_error()
        self._refilter()
        if message.submitted:
            self.stream.focus()

    @on(QueryBar.Done, "#filter")
    def _filter_done(self) -> None:
        self.stream.focus()

    def _refilter(self) -> None:
        self._filter_generation += 1
        self._filtering = True
        self.stream.restyle()
        self._set_filter_status("filtering…")
        self._run_filter(self._filter_generation)

    @work(group="filter", exclusive=True, exit_on_error=False)
    async def _run_filter(self, generation: int) -> None:
        """Re-filter the whole history, then swap the result in.

        The full-text index answers for every update whose text it reads as the matcher
        does (nearly all: see ``ftsplain``), so most rows cost a few set lookups; the matcher
        runs on the rest, on the loop in short slices. A story shows when its headline does
        or, unless ``mute`` hides the headline, another of its reports does."""
        topic = self.engine.filter
        history = self.history
        # The snapshot comes first: anything that changes after it (a live arrival the index
        # has not seen, an edit, a report matching live) shows in the version and is judged
        # afresh at the end.
        rows = list(history.rows())
        version = history.version
        touched = history.touched = set()
        try:
            reply = await self.engine.db(self._ask_index, topic.query, frozenset(self._muted))
        except StoreError:  # the matcher alone still gives the right answer
            reply = _IndexReply(None, None, set())
        if generation != self._filter_generation:
            return
        muted = set(self._muted)
        answers, candidates, stories = reply
        show, prejudge = topic.show, topic.prejudge
        hides, prejudge_hides = topic.hides, topic.prejudge_hides
        not_plain = answers.not_plain if answers is not None else set()
        # The common case, a set lookup or three per row: the index knows the query's answer
        # and nothing else (mute, a source's own query, a muted source) has a say.
        known = answers.query if answers is not None and topic.mute is None \
            and not topic.per_source and not muted else None
        picked: list[Row] = []

        member_rows = self._member_rows
        for row in list(member_rows):  # last pass's member matches: judged afresh below
            if row.id not in touched:
                row.member_match = False
                member_rows.discard(row)

        def shows(row: Row, update: Update, uid: int) -> bool:
            if update.source in muted:
                return False
            if uid not in not_plain and candidates is not None and uid not in candidates:
                verdict: bool | None = False
            else:
                verdict = prejudge(answers, uid, update.source) if answers else None
            if verdict if verdict is not None else show(update):
                return True
            if update.cluster not in stories:
                return False
            hidden = prejudge_hides(answers, uid) if answers else None
            if hidden if hidden is not None else hides(update):
                return False
            row.member_match = True
            member_rows.add(row)
            return True

        def select(batch: list[Row]) -> None:
            for row in batch:
                if shows(row, row.update, row.update.id):
                    picked.append(row)

        by_cluster = history.by_cluster

        def pick(batch: list[int]) -> None:
            """The common case: rows the index named (and only those: most rows are cold in
            the CPU's cache, and visiting them all cost more than the rest of the pass)."""
            for uid in batch:
                row = by_cluster.get(uid)
                if row is None or row.update.id != uid:
                    continue  # a report that is not a story's headline
                if uid in not_plain:
                    if shows(row, row.update, uid):
                        picked.append(row)
                elif uid in known:  # type: ignore[operator]
                    picked.append(row)
                else:  # another report shows the story (no mute to hide its headline)
                    row.member_match = True
                    member_rows.add(row)
                    picked.append(row)

        if known is not None:
            ids = itertools.chain(known, (c for c in stories if c not in known), (
                u for u in not_plain if u not in known and u not in stories))
            done = await sliced(ids, pick, batched=True,
                                cancelled=lambda: generation != self._filter_generation)
            picked.sort(key=row_key)
        else:
            done = await sliced(rows, select, batched=True,
                                cancelled=lambda: generation != self._filter_generation)
        if not done or generation != self._filter_generation:
            return
        shown = RowList()
        shown.rows = picked
        if history.version != version:
            # The history changed while this pass ran (live arrivals, edits, a regroup, the
            # first page swapped for the whole history): rows folded away go, and rows changed
            # or not in the snapshot are judged now.
            seen = {id(row) for row in rows}
            shown_ids = {row.id for row in picked}
            shown.rows = [row for row in rows if history.get(row.id) is row and (
                self._visible(row) if row.id in touched else row.id in shown_ids)]
            for row in history.rows():
                if id(row) not in seen and self._visible(row) and shown.index(row) is None:
                    shown.insert(row)
        self.stream.set_rows(shown.rows)
        self._filtering = False
        self._show_match_count()
        self._update_counts()

    def _ask_index(self, query: Query | None, muted: frozenset[str]) -> _IndexReply:
        """(Database thread.) What the index can tell a re-filter, in one call while the loop
        waits (so no GIL is fought over): the exact answers for the view queries; the FTS5
        pre-selection when the query has none; and the stories another report than the
        headline shows (the matcher judges the reports the index cannot). All from one
        state of the database, though another process may index meanwhile."""
        with self.store.snapshot():
            return self._read_index(query, muted)

    def _read_index(self, query: Query | None, muted: frozenset[str]) -> _IndexReply:
        store, topic = self.store, self.engine.filter
        answers = topic.answers(store.fts_exact, store.not_plain)
        if (query is None or query.is_empty) and not topic.per_source:
            return _IndexReply(answers, None, set())  # a headline fails only for mute: no help
        expression = query.fts_expression() if query is not None else None
        candidates = None
        if expression and (answers is None or answers.query is None):
            candidates = store.fts_ids(expression)
        may_match = answers.query if answers is not None and answers.query is not None \
            else candidates
        not_plain = answers.not_plain if answers is not None else store.not_plain()
        stories: set[int] = set()
        unsure: list[int] = []
        for uid, cluster, source in store.member_refs():
            if cluster in stories or source in muted:
                continue
            if may_match is not None and uid not in may_match and uid not in not_plain:
                continue
            verdict = topic.prejudge(answers, uid, source) if answers is not None else None
            if verdict is None:
                unsure.append(uid)
            elif verdict:
                stories.add(cluster)
        for cluster, *doc in store.members(unsure):
            if cluster not in stories and self._member_shows(DictDocument(*doc)):
                stories.add(cluster)
        return _IndexReply(answers, candidates, stories)

    # --- search ------------------------------------------------------------------------

    def _search_highlights(self, update: Update) -> list[Span]:
        query = self._search_query
        return query.highlights(update) if query is not None else []

    @on(QueryBar.Changed, "#search")
    def _search_changed(self, message: QueryBar.Changed) -> None:
        bar = message.bar
        text = message.text.strip()
        if not text:
            bar.clear_error()
            self._search_query = None
            self.results.empty_text = SEARCH_PROMPT
            self.results.set_rows([])
            bar.set_status("")
            return
        try:
            query = parse(text)
        except QueryError as exc:
            bar.show_error(exc.message, exc.column)
            return
        bar.clear_error()
        self._search_query = query
        bar.set_status("searching…")
        self._run_search(query)
        if message.submitted:
            self.results.focus()

    @on(QueryBar.Done, "#search")
    def _search_done(self) -> None:
        self.results.focus()

    @work(group="search", exclusive=True, exit_on_error=False)
    async def _run_search(self, query: Query) -> None:
        expression = query.fts_expression()
        try:
            if expression:
                found = await self.engine.db(self.store.search, expression, SEARCH_SCAN)
            else:
                found = await self.engine.db(self.store.latest, SEARCH_SCAN)
        except StoreError as exc:
            self.query_one("#search", QueryBar).show_error(str(exc))
            return
        matched: list[Update] = []
        done = await sliced(found, lambda u: matched.append(u) if query.matches(u) else None,
                            cancelled=lambda: query is not self._search_query)
        if not done or query is not self._search_query:
            return
        matches = matched[:SEARCH_LIMIT]
        self.results.empty_text = "Nothing in the stored history matches this query."
        self.results.set_rows([Row(u) for u in matches])
        self.results.restyle()
        bar = self.query_one("#search", QueryBar)
        if not matches and self.results.has_focus:
            bar.input.focus()  # nothing to browse: the reader's next keys are a new query
        more = "+" if len(matches) >= SEARCH_LIMIT else ""
        capped = not expression and len(found) >= SEARCH_SCAN  # (else: all of it was read)
        scope = f" (newest {SEARCH_SCAN:,} scanned)" if capped else ""
        bar.set_status(f"{len(matches):,}{more} found{scope}")

    # --- detail ------------------------------------------------------------------------

    @on(StreamView.Selected)
    def _selected(self, message: StreamView.Selected) -> None:
        if self._detail_open and self.detail.detail is not None \
                and self.detail.detail.headline.id == message.row.update.id:
            self.detail.focus()
            return
        self._open_detail(message.row)

    @on(StreamView.Highlighted)
    def _highlighted(self, message: StreamView.Highlighted) -> None:
        if self._detail_open and message.row is not None and message.view.has_focus:
            self._load_detail(message.row.update)
        if message.view is self.stream:
            self._update_counts()

    def _open_detail(self, row: Row) -> None:
        self._detail_open = True
        # While its details are open the reader is on that story: new arrivals must not
        # slide under the cursor (and swap the pane's content); they count as "▲ N new".
        self.stream.follow = False
        self.detail.add_class("-open")
        self.refresh_bindings()
        self.query_one("#body").add_class("-detail-open")
        self.detail.show_loading(row.update)
        self._load_detail(row.update)
        if self.screen.has_class("-narrow"):
            self.detail.focus()  # the pane covers the stream on a narrow terminal

    def _refresh_detail_if(self, row: Row) -> None:
        shown = self.detail.detail
        if self._detail_open and shown is not None and shown.headline.cluster == row.id:
            self._load_detail(shown.headline)

    @work(group="detail", exclusive=True, exit_on_error=False)
    async def _load_detail(self, update: Update) -> None:
        store = self.store

        def load() -> Detail:
            # The update itself, fresh: a stream row's headline, or the very item a search
            # found (not its cluster's headline, which may be another source's words).
            head = store.get(update.id) or update
            members = store.cluster_members(update.cluster) or [head]
            revisions = {m.id: store.revisions(m.id) for m in members if m.revision > 1}
            return Detail(head, members, revisions)

        await asyncio.sleep(0.03)  # holding j/k: only the row the cursor settles on loads
        try:
            detail = await self.engine.db(load)
        except StoreError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        if not get_current_worker().is_cancelled and self._detail_open:
            self.detail.show(detail)

    def action_close_detail(self) -> None:
        if not self._detail_open:
            return
        focused_detail = self.detail.has_focus
        self._detail_open = False
        self.stream.follow = True
        self.detail.remove_class("-open")
        self.refresh_bindings()
        self.query_one("#body").remove_class("-detail-open")
        if focused_detail or self.focused is None:
            self._focus_active_view()

    @on(DetailPane.CloseRequested)
    def _detail_close(self) -> None:
        self.action_close_detail()

    def _focus_active_view(self) -> None:
        tab = self._active_tab()
        if tab == "search-tab":
            self.results.focus()
        elif tab == "sources-tab":
            self.sources_panel.focus()
        else:
            self.stream.focus()

    # --- actions -----------------------------------------------------------------------

    def _aimed_update(self) -> Update | None:
        """The update a key acts on (see StreamView.take_aim: it may move the cursor)."""
        if self.detail.has_focus and self.detail.detail is not None:
            return self.detail.detail.headline
        view = self.results if self.query_one(TabbedContent).active == "search-tab" \
            else self.stream
        row = view.take_aim()
        return row.update if row is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Which of two bindings on one key applies (and shows in the footer) right now."""
        if action == "toggle_pause":
            return not self.paused
        if action == "resume":
            return self.paused
        if action == "close_detail":
            return self._detail_open
        if action == "back":
            return not self._detail_open and self._active_tab() not in (None, "stream-tab")
        if action == "open_link":  # the Sources tab has no story selected
            return self._detail_open or self._active_tab() != "sources-tab"
        return True

    def _active_tab(self) -> str | None:
        try:
            return self.query_one(TabbedContent).active
        except Exception:  # before compose, or while shutting down
            return None

    def action_back(self) -> None:
        """esc on the Search or Sources tab: back to the stream."""
        self.query_one(TabbedContent).active = "stream-tab"
        self.stream.focus()

    def action_resume(self) -> None:
        if self.paused:
            self.action_toggle_pause()

    def action_help(self) -> None:
        # Away from the stream, the reader's row must not change under them (an `o` right
        # after closing would open a story they never saw): arrivals count as "▲ N new".
        self.stream.follow = False
        self.push_screen(HelpScreen(), lambda _: self._follow_again())

    def _follow_again(self) -> None:
        self.stream.follow = not self._detail_open

    def action_filter(self) -> None:
        if isinstance(self.focused, Input):  # a "/" typed in a query (a regex) is text
            self.focused.post_message(events.Key("slash", "/"))
            return
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()  # (at once: the keys after "/" belong to the filter)
            self._follow_again()  # (what closing help with esc does, through its callback)
        if self.screen is not self.screen_stack[0]:
            return  # another screen on top: "/" is not for the stream there
        self.query_one(TabbedContent).active = "stream-tab"
        self.query_one("#filter", QueryBar).focus_input()

    def action_search(self) -> None:
        self.query_one(TabbedContent).active = "search-tab"
        self.query_one("#search", QueryBar).focus_input()

    def action_sources(self) -> None:
        tabs = self.query_one(TabbedContent)
        if tabs.active == "sources-tab":
            tabs.active = "stream-tab"
            self.stream.focus()
        else:
            tabs.active = "sources-tab"
            self.sources_panel.focus()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, message: TabbedContent.TabActivated) -> None:
        if message.pane.id == "sources-tab":
            self._show_states()
        self.refresh_bindings()

    def action_toggle_pause(self) -> None:
        if self.paused:
            self.engine.resume()
            self.paused = False
            held, self._held = self._held, []
            for event in held:
                self._apply(event)
            self.header.held = 0
            self.engine.refresh()
            self.notify("Resumed: polling every source now to catch up.", timeout=3)
        else:
            self.engine.pause()
            self.paused = True
            self.notify("Paused: no polling and the stream stands still (p resumes).",
                        timeout=3)

    def action_refresh(self) -> None:
        if self.paused:
            self.notify("Paused — press p to resume polling.", severity="warning", timeout=3)
            return
        if not self._engine_started:
            self.notify("Not polling (offline view).", severity="warning", timeout=3)
            return
        self.engine.refresh()
        self.notify("Polling every source now…", timeout=2)

    def action_mark_all_read(self) -> None:
        changed = sum(row.mark_read() for row in self._marked)
        self._marked.clear()
        self.stream.restyle()
        self._update_counts()
        self.notify(f"Marked {changed:,} stor{'y' if changed == 1 else 'ies'} read.", timeout=2)

    def action_open_link(self) -> None:
        update = self._aimed_update()
        if update is None:
            return
        url = update.url
        if not url:
            self.notify("This story has no link.", severity="warning", timeout=3)
            return
        if not is_safe_link(url):
            shown = flatten(url).text[:120]
            self.notify(f"Refusing to open {shown!r}: only http(s) links are opened.",
                        title="Not opened", severity="error", markup=False, timeout=6)
            return
        self._open_url(url)

    @work(group="browser", thread=True, exit_on_error=False)
    def _open_url(self, url: str) -> None:
        if self._opener(url):
            self.call_from_thread(self.notify, f"Opened {url}", timeout=2, markup=False)
            return
        self.call_from_thread(self.copy_to_clipboard, url)
        self.call_from_thread(self.notify, f"No graphical browser found; link copied to the "
                              f"clipboard:\n{url}", severity="warning", markup=False, timeout=8)

    def action_mute_selected(self) -> None:
        update = self._aimed_update()
        if update is not None:
            self._set_muted(update.source, True)

    @on(SourcesPanel.MuteToggled)
    def _mute_toggled(self, message: SourcesPanel.MuteToggled) -> None:
        self._set_muted(message.source, message.source not in self._muted)

    @on(SourcesPanel.RefreshRequested)
    def _refresh_source(self, message: SourcesPanel.RefreshRequested) -> None:
        if self.paused:
            self.notify("Paused — press p to resume polling.", severity="warning", timeout=3)
            return
        self.engine.refresh(message.source)
        self.notify(f"Polling {message.source} now…", timeout=2, markup=False)

    def _set_muted(self, source: str, muted: bool) -> None:
        if muted:
            self._muted.add(source)
        else:
            self._muted.discard(source)
        self._save_muted(source, muted)
        self._show_states()
        self._refilter()
        verb = "Muted" if muted else "Unmuted"
        hint = " — its stories are hidden; unmute in sources (s, then m)" if muted else ""
        self.notify(f"{verb} {flatten(source).text}{hint}", timeout=4, markup=False)

    @work(group="mute", exit_on_error=False)
    async def _save_muted(self, source: str, muted: bool) -> None:
        try:
            await self.engine.db(self.store.set_muted, source, muted)
        except StoreError as exc:
            self.notify(str(exc), severity="error", markup=False)

    def on_resize(self, event: events.Resize) -> None:
        # Less padding between footer keys on a narrow terminal, so more of them fit (ctrl+p
        # is listed in the help screen).
        narrow = event.size.width < COMPACT_FOOTER_BELOW
        for footer in self.query(Footer):
            if footer.compact != narrow:
                footer.compact = narrow
                footer.show_command_palette = not narrow
                footer.refresh(recompose=True)

    def _tick(self) -> None:
        if self.query_one(TabbedContent).active == "sources-tab":
            self._show_states()

    def on_ready(self) -> None:
        self.set_interval(1.0, self._tick)

    # --- command palette ---------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Filter the stream  /", "Edit the topic query live",
                            self.action_filter)
        yield SystemCommand("Search history  ctrl+f", "Query every stored update",
                            self.action_search)
        yield SystemCommand("Pause or resume polling  p", "Stop the stream; resume catches up",
                            self.action_toggle_pause)
        yield SystemCommand("Refresh now  r", "Poll every source now", self.action_refresh)
        yield SystemCommand("Sources  s", "Health, errors, mute / unmute",
                            self.action_sources)
        yield SystemCommand("Mark all read  a", "Clear every ● and ◆ mark",
                            self.action_mark_all_read)
        yield SystemCommand("Open link  o", "Open the selected story in the browser",
                            self.action_open_link)
        yield SystemCommand("Mute source  m", "Hide the selected story's source",
                            self.action_mute_selected)
        yield SystemCommand("Jump to newest  g", "Back to the top of the stream",
                            self.stream.action_first)
        yield SystemCommand("Help  ?", "Keys, marks and query syntax", self.action_help)


def run_dashboard(topic: Topic, store: Store, *, subtitle: str | None = None) -> int:
    """Run the dashboard until the user quits; returns the process exit code."""
    app = FeedwatchApp(topic, store, subtitle=subtitle)
    app.run()
    return app.return_code or 0

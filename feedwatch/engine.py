"""Wires scheduler, fetch, parse, store and dedupe; publishes UpdateEvents to subscribers.

A source's whole life is ``_poll``: fetch (network, on the loop, async) → parse (worker
thread) → ingest + clustering (the single database thread) → new state → events. Nothing
raises out of a poll: every failure becomes the source's ``last_error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from .config import SourceSpec, Topic
from .dedupe import ClusterIndex, DedupeDoc, DedupeSettings, extract
from .fetch import MAX_RETRY_AFTER, Fetcher, FetchError, Validators
from .model import Entry, EventKind, SourceKind, SourceState, Update, UpdateEvent
from .sources.feed import FeedParseError, ParsedFeed, parse_feed
from .sources.telegram import ChannelPage, TelegramPageError, parse_channel_page
from .store import Store, StoreError
from .textutil import guess_lang
from .topicfilter import TopicFilter

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger("feedwatch.engine")

T = TypeVar("T")
# (title, text) → dedupe features computed ahead, by a parse worker process
Features = dict[tuple[str, str], Any]
TELEGRAM_PERMALINK_BASE = "https://t.me"
MAX_TELEGRAM_PAGES = 20  # pages followed back per poll to close a gap (~400 posts)
JITTER = 0.1  # ± fraction of the interval
# Topics with at least this many feeds parse them in worker processes, one per core.
PARSE_PROCESSES_FROM = 16
SAVE_GATHER = 0.005  # seconds a state save waits for other polls' states to share its commit
# The full-text index takes new updates in bulk (Store.index_pending): when this many wait,
# or when the database thread has nothing else to do and FTS_IDLE seconds have passed. Until
# then a history filter asks the matcher about them.
FTS_BATCH = 4000
FTS_IDLE = 2.0


def _settle(future: asyncio.Future[T], result: T | BaseException) -> None:
    if future.done():  # the poll was cancelled (stop)
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


def utcnow() -> datetime:
    return datetime.now(UTC)


def next_delay(interval: float, failures: int, *, retry_after: float | None = None,
               max_backoff: float = 3600.0, rng: Callable[[], float] = random.random) -> float:
    """Seconds until the next poll: the interval ± jitter, doubled per consecutive failure up
    to ``max_backoff``, and never sooner than a server's Retry-After (itself capped)."""
    base = interval
    if failures > 0:
        base = min(interval * 2.0 ** min(failures, 30), max(max_backoff, interval))
    if retry_after is not None:
        base = max(base, min(retry_after, MAX_RETRY_AFTER))
    return base * (1.0 + JITTER * (2.0 * rng() - 1.0))


@dataclass(frozen=True, slots=True)
class PollResult:
    source: str
    events: tuple[UpdateEvent, ...] = ()
    error: str | None = None
    not_modified: bool = False
    warning: str | None = None
    state: SourceState | None = None
    db_error: str | None = None  # the database failed (locked, read-only, full): exit 3
    skipped: str | None = None  # why this source was not polled this time

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class _Fetched:
    entries: list[Entry] = field(default_factory=list)
    not_modified: bool = False
    warning: str | None = None
    validators: Validators = field(default_factory=Validators)
    cursor: str | None = None
    features: Features = field(default_factory=dict)  # precomputed by a parse worker


class SourceUnavailable(Exception):
    """A source-level problem found after a successful HTTP fetch (e.g. no preview)."""


Subscriber = Callable[[UpdateEvent], None]
StateSubscriber = Callable[[SourceState], None]


class Engine:
    """Polls a topic's sources, stores what they say and tells subscribers what changed."""

    def __init__(self, topic: Topic, store: Store, *, fetcher: Fetcher | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.topic = topic
        self.store = store
        self.clock = clock
        self.fetcher = fetcher or Fetcher(topic.fetch)
        self._own_fetcher = fetcher is None
        tg_host = urlsplit(topic.telegram_base_url).hostname
        if tg_host:
            self.fetcher.limit_host(tg_host, 1)  # one request at a time per Telegram host
        self.filter = TopicFilter(topic)
        settings = DedupeSettings(window=topic.dedupe.window, enabled=topic.dedupe.enabled)
        if topic.dedupe.threshold is not None:
            settings = replace(settings, threshold=topic.dedupe.threshold)
        self.index = ClusterIndex(settings)
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feedwatch-db")
        # feedparser is pure Python: with many feeds, parsing in threads would share one core
        # (and the GIL) with the event loop and the database thread; worker processes use the
        # other cores, one left to this process (on 2 cores, 1 worker was ~25% faster than 2
        # on the 1,000-feed bench). Few feeds: threads (no process start-up).
        feeds = sum(1 for s in topic.enabled_sources if s.kind is SourceKind.FEED)
        cores = os.cpu_count() or 1
        self._parse_processes = cores - 1 if cores > 1 and feeds >= PARSE_PROCESSES_FROM else 0
        self._parse_pool: ProcessPoolExecutor | None = None
        self._subscribers: list[Subscriber] = []
        self._state_subscribers: list[StateSubscriber] = []
        self._scheduler: AsyncIOScheduler | None = None
        self._running: set[str] = set()
        self._poll_tasks: set[asyncio.Task[None]] = set()
        self._index_ready = False
        self._renames_followed = False
        self._features: Features = {}
        # Each source's state as of its last poll: the engine is the one writer of fetch
        # state, so after the first read a poll needs no database read.
        self._states: dict[str, SourceState] = {}
        self._unsaved: dict[str, SourceState] = {}
        self._batch: asyncio.Task[None] | None = None  # the state save being gathered
        self._saves: set[asyncio.Task[None]] = set()
        self._waiting: list[tuple[SourceSpec, list[Entry], Features,
                                  asyncio.Future[list[UpdateEvent]]]] = []
        self._waiting_lock = threading.Lock()
        self._indexed_at = time.monotonic()  # when the full-text index last took updates
        self.paused = False

    # --- subscribers -------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> None:
        self._subscribers.append(callback)

    def subscribe_states(self, callback: StateSubscriber) -> None:
        self._state_subscribers.append(callback)

    def _publish(self, events: Sequence[UpdateEvent]) -> None:
        for event in events:
            for callback in list(self._subscribers):
                try:
                    callback(event)
                except Exception:
                    log.exception("subscriber failed on %s", event.kind)

    def _publish_state(self, state: SourceState) -> None:
        for callback in list(self._state_subscribers):
            try:
                callback(state)
            except Exception:
                log.exception("state subscriber failed")

    # --- database thread ---------------------------------------------------------------

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store call on the single database thread, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._db, fn, *args)

    def follow_renames(self) -> None:
        """A source renamed in the topic file keeps its history (matched by feed URL or
        channel): its updates are not new again, and its validators stay valid."""
        if self._renames_followed:
            return
        for old, new in self.store.follow_renames(source_identities(self.topic)):
            log.info("source %r is now named %r: its history moved with it", old, new)
        self._renames_followed = True

    def _restore_index(self) -> None:
        if self._index_ready:
            return
        since = self.clock() - timedelta(seconds=self.topic.dedupe.window * 2)
        for update in self.store.since(since):
            self.index.restore(_dedupe_doc(update), update.cluster)
        self._index_ready = True

    def _classify(self, update: Update) -> int:
        features = self._features.get((update.title, update.text))
        return self.index.add(_dedupe_doc(update), features).cluster

    def _reclassify(self, update: Update) -> int:
        return self.index.revise(_dedupe_doc(update)).cluster

    def _ingest(self, spec: SourceSpec, entries: list[Entry],
                features: Features | None = None) -> list[UpdateEvent]:
        self._restore_index()
        self._features = features or {}
        try:
            return self.store.ingest(spec.name, entries, self.clock(), classify=self._classify,
                                     reclassify=self._reclassify,
                                     title_identity=spec.kind is SourceKind.FEED)
        except Exception:
            # rolled back, but the index already took the batch's decisions: rebuild it
            # from the store before the next ingest
            self._forget_index()
            raise
        finally:
            self._features = {}

    def _forget_index(self) -> None:
        self.index = ClusterIndex(self.index.settings)
        self._index_ready = False

    async def _store_entries(self, spec: SourceSpec, entries: list[Entry],
                             features: Features) -> list[UpdateEvent]:
        """Ingest one poll's entries together with those of the polls that are waiting
        meanwhile: while the database thread stores one batch, the next one gathers, and
        each batch is one transaction (a savepoint per poll). A commit per poll, with its
        FTS flush and its GIL hand-offs, was ~17% of the ingest time of a cold cycle."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[UpdateEvent]] = loop.create_future()
        waiting = (spec, entries, features, future)
        with self._waiting_lock:
            self._waiting.append(waiting)
            first = len(self._waiting) == 1
        if first:
            loop.run_in_executor(self._db, self._ingest_waiting, loop)
        try:
            return await future
        except asyncio.CancelledError:
            # Not stored yet: it must not be, for nobody would report its events (`once`
            # interrupted), and the next poll would take them as known.
            with self._waiting_lock:
                self._waiting = [w for w in self._waiting if w is not waiting]
            raise

    def _ingest_waiting(self, loop: asyncio.AbstractEventLoop) -> None:
        """(database thread) Store every waiting poll's entries in one transaction."""
        with self._waiting_lock:
            batch, self._waiting = self._waiting, []
        if not batch:
            return
        results: list[list[UpdateEvent] | BaseException] = []
        try:
            self._restore_index()  # (reads the store: before the transaction, not inside it)
            with self.store.transaction():
                for spec, entries, features, _ in batch:
                    try:
                        results.append(self._ingest(spec, entries, features))
                    except Exception as exc:  # that poll's savepoint is undone, not the rest
                        results.append(exc)
        except BaseException as exc:  # the commit failed: nothing of the batch is stored
            self._forget_index()
            results = [exc] * len(batch)
        for (*_, future), result in zip(batch, results, strict=True):
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
                loop.call_soon_threadsafe(_settle, future, result)
        self._index_text()

    def _index_text(self, *, final: bool = False) -> None:
        """(database thread) Give the full-text index the updates it lacks, in bulk: when
        many wait, or when nothing else waits and the last time is a while ago (``final``:
        all of them now). A failure leaves them to the next call: nothing is lost."""
        with self._waiting_lock:
            busy = bool(self._waiting)
        now = time.monotonic()
        at_least = 1 if final or (not busy and now - self._indexed_at >= FTS_IDLE) \
            else FTS_BATCH
        try:
            if self.store.index_pending(at_least):
                self._indexed_at = now
        except StoreError as exc:
            log.warning("full-text index not brought up to date: %s", exc)

    # --- one poll ----------------------------------------------------------------------

    async def poll_source(self, spec: SourceSpec) -> PollResult:
        """Poll one source now. Never raises; the outcome is on the returned result."""
        if spec.name in self._running:
            return PollResult(spec.name, error=None, not_modified=True)
        self._running.add(spec.name)
        try:
            return await self._poll(spec)
        finally:
            self._running.discard(spec.name)

    async def _poll(self, spec: SourceSpec) -> PollResult:
        state = self._states.get(spec.name)
        if state is None:
            try:
                state = await self.db(self.store.state, spec.name)
            except StoreError as exc:
                return PollResult(spec.name, error=str(exc), db_error=str(exc))
        started = self.clock()
        db_error: str | None = None
        error: FetchError | Exception | None = None
        fetched = _Fetched()
        try:
            if spec.kind is SourceKind.TELEGRAM:
                fetched = await self._fetch_telegram(spec, state)
            else:
                fetched = await self._fetch_feed(spec, state)
        except (FetchError, FeedParseError, TelegramPageError, SourceUnavailable) as exc:
            error = exc
        except Exception as exc:  # a bug in a parser must not take the poller down
            log.exception("unexpected error polling %s", spec.name)
            error = exc

        events: list[UpdateEvent] = []
        if error is None and fetched.entries:
            entries = [e if e.lang else replace(e, lang=guess_lang(f"{e.title}\n{e.text}"))
                       for e in fetched.entries if self.filter.keep(e, spec.name)]
            try:
                events = await self._store_entries(spec, entries, fetched.features)
            except StoreError as exc:
                error = exc
                db_error = str(exc)
            except Exception as exc:  # a bug in clustering: this poll fails, not the engine
                log.exception("unexpected error storing %s", spec.name)
                error = exc
        now = self.clock()
        if error is None:
            v = fetched.validators
            state = replace(
                state, last_attempt=started, last_ok=now, last_error=None, failures=0,
                disabled_reason=None,
                etag=v.etag if not fetched.not_modified else state.etag,
                last_modified=v.last_modified if not fetched.not_modified
                else state.last_modified,
                body_hash=v.body_hash or state.body_hash,
                cursor=fetched.cursor or state.cursor,
                items=state.items + sum(1 for e in events if e.kind is not EventKind.EDITED),
                retry_until=None,
                # (a 304 is the same body: what it had to work around still holds)
                warning=state.warning if fetched.not_modified else fetched.warning,
            )
            if fetched.warning:
                log.warning("%s: %s", spec.name, fetched.warning)
        else:
            message = _error_message(error)
            log.warning("%s: %s", spec.name, message)
            permanent = isinstance(error, FetchError) and error.permanent
            state = replace(state, last_attempt=started, last_error=message,
                            failures=state.failures + 1,
                            disabled_reason=message if permanent else state.disabled_reason)
        retry_after = error.retry_after if isinstance(error, FetchError) else None
        if retry_after is not None:
            state = replace(state, retry_until=now + timedelta(
                seconds=min(retry_after, MAX_RETRY_AFTER)))
        delay = next_delay(spec.interval, state.failures, retry_after=retry_after,
                           max_backoff=self.topic.fetch.max_backoff)
        state = replace(state, next_due=now + timedelta(seconds=delay))
        try:
            await self._save_state(state)
        except StoreError as exc:
            log.error("%s: cannot save source state: %s", spec.name, exc)
            db_error = db_error or str(exc)
        self._publish(events)
        self._publish_state(state)
        return PollResult(spec.name, events=tuple(events),
                          error=state.last_error if error is not None else None,
                          not_modified=fetched.not_modified, warning=fetched.warning,
                          state=state, db_error=db_error)

    async def _save_state(self, state: SourceState) -> None:
        """Save ``state`` with those of the polls that end within a few milliseconds, in one
        transaction (group commit): a warm cycle of 1,000 unchanged feeds otherwise spent
        more on a commit per poll than on the polls. Returns once it is saved."""
        self._states[state.source] = state
        self._unsaved[state.source] = state
        if self._batch is None:
            self._batch = asyncio.create_task(self._save_batch())
            self._saves.add(self._batch)
            self._batch.add_done_callback(self._saves.discard)
        # shielded: a poll cancelled while it waits (stop) leaves the batch to finish
        await asyncio.shield(self._batch)

    async def _save_batch(self) -> None:
        await asyncio.sleep(SAVE_GATHER)
        states, self._unsaved, self._batch = list(self._unsaved.values()), {}, None
        await self.db(self.store.save_states, states)

    def _remember(self, states: dict[str, SourceState]) -> None:
        """Take the stored states of every enabled source, unless a poll has a newer one."""
        for spec in self.topic.enabled_sources:
            if spec.name not in self._states:
                self._states[spec.name] = states.get(spec.name) or SourceState(spec.name)

    async def _fetch_feed(self, spec: SourceSpec, state: SourceState) -> _Fetched:
        validators = Validators(state.etag, state.last_modified, state.body_hash)
        result = await self.fetcher.fetch(spec.url, validators)
        out = _Fetched(validators=Validators(result.etag, result.last_modified,
                                             result.body_hash))
        if result.not_modified or result.body is None:
            out.not_modified = True
            return out
        parsed, features = await self._parse_feed(result.body, url=result.url,
                                                  headers=result.headers)
        out.entries = list(parsed.entries)
        out.features = features
        out.warning = parsed.warning
        return out

    async def _parse_feed(self, body: bytes, **kwargs: Any) -> tuple[ParsedFeed, Features]:
        if not self._parse_processes:
            return await asyncio.to_thread(parse_feed, body, **kwargs), {}
        if self._parse_pool is None:
            self._parse_pool = ProcessPoolExecutor(
                self._parse_processes, mp_context=multiprocessing.get_context("spawn"))
        # The worker also extracts each item's clustering features: that pure work then runs
        # on the other core instead of holding this process's GIL (the database thread's
        # clustering was the longest part of a cold 1,000-feed cycle, bench/README.md).
        # Items older than the clustering index keeps are never compared: no features.
        horizon = self.clock().timestamp() - self.index.settings.retention
        call = functools.partial(_parse_with_features, body, horizon, **kwargs)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._parse_pool, call)
        except BrokenProcessPool:  # a worker died (killed, out of memory): start afresh
            pool, self._parse_pool = self._parse_pool, None
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            raise FeedParseError("the feed parser process died while reading this feed; "
                                 "it is retried on the next poll") from None

    async def _fetch_page(self, spec: SourceSpec, url: str) -> ChannelPage:
        result = await self.fetcher.fetch(url)
        path = urlsplit(result.url).path
        if not path.startswith("/s/"):
            raise SourceUnavailable(f"channel @{spec.channel} has no public web preview "
                                    f"(redirected to {result.url})")
        assert result.body is not None and spec.channel is not None
        return await asyncio.to_thread(parse_channel_page, result.body, spec.channel,
                                       permalink_base=TELEGRAM_PERMALINK_BASE)

    async def _fetch_telegram(self, spec: SourceSpec, state: SourceState) -> _Fetched:
        """The latest page, then older pages until the last seen post (no gaps)."""
        last_seen = int(state.cursor) if state.cursor and state.cursor.isdigit() else None
        page = await self._fetch_page(spec, spec.url)
        pages = [page]
        wanted = spec.backfill if last_seen is None else None
        collected = len(page.posts)
        while len(pages) < MAX_TELEGRAM_PAGES:
            oldest, before = page.oldest_id, page.before
            if oldest is None or before is None:
                break
            if last_seen is not None:
                if oldest <= last_seen + 1:
                    break
            elif wanted is None or collected >= wanted:
                break
            page = await self._fetch_page(spec, f"{spec.url}?before={before}")
            if page.oldest_id is not None and page.oldest_id >= oldest:
                break  # the server ignored ?before=; stop rather than loop
            pages.append(page)
            collected += len(page.posts)
        posts = {p.id: p for pg in pages for p in pg.posts}
        ordered = [posts[i] for i in sorted(posts)]
        if last_seen is None and wanted:
            ordered = ordered[-wanted:]
        newest = max(posts) if posts else last_seen
        return _Fetched(entries=[p.entry for p in ordered],
                        cursor=str(newest) if newest is not None else None)

    async def poll_all(self) -> list[PollResult]:
        """Poll every enabled source once, concurrently, except those whose server asked us
        (Retry-After) to wait longer: `once` run from cron must be as polite as `tail`."""
        await self.db(self.follow_renames)
        states = await self.db(self.store.states)
        self._remember(states)
        now = self.clock()
        waiting: list[PollResult] = []
        specs = []
        for spec in self.topic.enabled_sources:
            state = states.get(spec.name)
            if state is not None and state.retry_until is not None and state.retry_until > now:
                left = (state.retry_until - now).total_seconds()
                waiting.append(PollResult(spec.name, state=state, skipped=(
                    f"not polled: the server asked to wait (Retry-After) {left:.0f} s more")))
            else:
                specs.append(spec)
        polled = await asyncio.gather(*(self.poll_source(s) for s in specs))
        return [*polled, *waiting]

    # --- live mode ---------------------------------------------------------------------

    async def start(self) -> None:
        """Schedule every enabled source: one interval job each, first runs staggered."""
        try:
            await self.db(self.follow_renames)
        except StoreError as exc:  # (locked past the timeout: polling goes on regardless)
            log.warning("renamed sources not looked for: %s", exc)
        await self.db(self._restore_index)
        states = await self.db(self.store.states)
        self._remember(states)
        # updates a crash left outside the full-text index: indexed in the background (a
        # history filter asks the matcher about them meanwhile)
        self._db.submit(self._index_text, final=True)
        # imported here: ~60 ms that `once` never needs
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        self._scheduler = AsyncIOScheduler(timezone=UTC)
        now = self.clock()
        for position, spec in enumerate(self.topic.enabled_sources):
            state = states.get(spec.name)
            if state is not None and state.disabled_reason:
                log.info("%s stays disabled: %s", spec.name, state.disabled_reason)
                continue
            first = now + timedelta(seconds=min(position * 0.05, 2.0))
            if state is not None and state.next_due is not None and state.next_due > first:
                first = min(state.next_due, now + timedelta(seconds=spec.interval))
            self._scheduler.add_job(
                self._scheduled_poll, IntervalTrigger(seconds=spec.interval,
                                                      jitter=spec.interval * JITTER),
                args=[spec.name], id=spec.name, name=spec.name, max_instances=1,
                coalesce=True, misfire_grace_time=None, next_run_time=first,
            )
        self._scheduler.start(paused=self.paused)

    async def _scheduled_poll(self, name: str) -> None:
        spec = self.topic.source(name)
        if spec is None:
            return
        task = asyncio.current_task()
        if task is not None:
            self._poll_tasks.add(task)
        try:
            result = await self.poll_source(spec)
        except asyncio.CancelledError:
            return  # stop(): a poll cut short is simply redone after the next start
        finally:
            if task is not None:
                self._poll_tasks.discard(task)
        if self._scheduler is None or result.state is None:
            return
        job = self._scheduler.get_job(name)
        if job is None:
            return
        if result.state.disabled_reason:
            job.remove()
        elif result.state.failures:
            job.modify(next_run_time=result.state.next_due)

    def pause(self) -> None:
        self.paused = True
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.pause()

    def resume(self) -> None:
        self.paused = False
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.resume()

    def refresh(self, name: str | None = None) -> None:
        """Poll now (all sources, or one), keeping each source's schedule afterwards."""
        if self._scheduler is None:
            return
        now = datetime.now(UTC)
        for job in self._scheduler.get_jobs():
            if name is None or job.id == name:
                job.modify(next_run_time=now)

    def scheduled_jobs(self) -> int:
        return len(self._scheduler.get_jobs()) if self._scheduler is not None else 0

    async def stop(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._scheduler = None
        # Polls in flight end here, before the fetcher and the database thread go away
        # (else each one dies later with a traceback in the log).
        pending = [t for t in self._poll_tasks if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if self._saves:  # states of polls that ended: saved before the database thread goes
            await asyncio.gather(*self._saves, return_exceptions=True)
        if self._own_fetcher:
            await self.fetcher.aclose()
        if self._parse_pool is not None:
            self._parse_pool.shutdown(wait=False, cancel_futures=True)
            self._parse_pool = None
        await self.db(functools.partial(self._index_text, final=True))
        self._db.shutdown(wait=True)

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def source_identities(topic: Topic) -> dict[str, str]:
    """Each source's name → what it reads (feed URL, or "tg:" + channel), for renames."""
    return {s.name: f"tg:{s.channel.lower()}" if s.channel else s.url for s in topic.sources}


def _parse_with_features(body: bytes, horizon: float, **kwargs: Any
                         ) -> tuple[ParsedFeed, Features]:
    """parse_feed plus the clustering features of each entry published after ``horizon``
    or undated (runs in a parse worker process)."""
    parsed = parse_feed(body, **kwargs)
    return parsed, {(e.title, e.text): extract(e.title, e.text) for e in parsed.entries
                    if e.published is None or e.published.timestamp() >= horizon}


def _dedupe_doc(update: Update) -> DedupeDoc:
    return DedupeDoc(id=update.id, source=update.source, published=update.published.timestamp(),
                     title=update.title, text=update.text, url=update.url,
                     forwarded_url=update.forwarded_url)


def _error_message(error: BaseException) -> str:
    if isinstance(error, FetchError | FeedParseError | TelegramPageError | SourceUnavailable
                  | StoreError):
        return str(error)
    return f"internal error while reading this source: {type(error).__name__}: {error}"

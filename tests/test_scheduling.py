"""Polling policy with a fake clock and random source; the live scheduler on loopback;
source states kept in memory and saved by group commit."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import Site
from pytest_httpserver import HTTPServer

from feedwatch import engine as engine_module
from feedwatch.config import parse_topic
from feedwatch.engine import JITTER, Engine, next_delay
from feedwatch.model import Update
from feedwatch.store import Store, StoreError


def test_interval_with_bounded_jitter() -> None:
    assert next_delay(60, 0, rng=lambda: 0.5) == 60
    assert next_delay(60, 0, rng=lambda: 0.0) == 60 * (1 - JITTER)
    assert next_delay(60, 0, rng=lambda: 1.0) == 60 * (1 + JITTER)


def test_exponential_backoff_is_capped() -> None:
    delays = [next_delay(60, n, max_backoff=3600, rng=lambda: 0.5) for n in range(8)]
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    # a cap below the interval never makes a failing source poll faster than a healthy one
    assert next_delay(600, 3, max_backoff=60, rng=lambda: 0.5) == 600


def test_retry_after_is_honoured_and_capped() -> None:
    assert next_delay(60, 1, retry_after=900, rng=lambda: 0.5) == 900
    assert next_delay(60, 1, retry_after=5, rng=lambda: 0.5) == 120  # backoff still applies
    assert next_delay(60, 1, retry_after=10**9, rng=lambda: 0.5) == 6 * 3600


async def test_live_scheduler_polls_each_source_on_its_interval(httpserver: HTTPServer,
                                                                tmp_path: Path) -> None:
    rss = ('<rss version="2.0"><channel><title>t</title><item><title>x</title><guid>1</guid>'
           "</item></channel></rss>")
    httpserver.expect_request("/fast.xml").respond_with_data(rss)
    httpserver.expect_request("/slow.xml").respond_with_data(rss)
    topic = parse_topic(f"""
[[source]]
url = "{httpserver.url_for('/fast.xml')}"
interval = "0.2s"
[[source]]
url = "{httpserver.url_for('/slow.xml')}"
interval = "5s"
""")
    async with Engine(topic, Store(tmp_path / "fw.db")) as engine:
        await engine.start()
        assert engine.scheduled_jobs() == 2
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            fast = sum(1 for r, _ in httpserver.log if r.path == "/fast.xml")
            if fast >= 5:
                break
            await asyncio.sleep(0.05)
        slow = sum(1 for r, _ in httpserver.log if r.path == "/slow.xml")
        assert fast >= 5
        assert slow == 1  # polled at start, not again within 5 s
        engine.pause()
        await asyncio.sleep(0.1)
        paused_at = len(httpserver.log)
        await asyncio.sleep(0.6)
        assert len(httpserver.log) == paused_at  # paused: no polls
        engine.resume()
        engine.refresh()
        deadline = time.monotonic() + 3
        while len(httpserver.log) < paused_at + 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert len(httpserver.log) >= paused_at + 2  # refresh polled both at once
        assert engine.scheduled_jobs() == 2  # no job growth


async def test_states_of_polls_ending_together_share_one_commit_and_outlive_stop(
        site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Group commit of source states: a warm cycle committed once per poll cost more than
    the polls. Here the gathering window is wide, so every state of a cycle shares one
    commit; each is on disk when the engine stops, and the next cycle is conditional."""
    monkeypatch.setattr(engine_module, "SAVE_GATHER", 0.5)
    rss = ('<rss version="2.0"><channel><title>t</title><item><title>{}</title><guid>1</guid>'
           "</item></channel></rss>")
    urls = [site.put(f"/{i}.xml", rss.format(f"item {i}")) for i in range(24)]
    topic = parse_topic("".join(f'[[source]]\nurl = "{u}"\n' for u in urls))
    store = Store(tmp_path / "fw.db")
    commits: list[int] = []
    save_states = store.save_states
    monkeypatch.setattr(store, "save_states",
                        lambda states: (commits.append(len(states)), save_states(states))[1])
    reads: list[str] = []
    state = store.state
    monkeypatch.setattr(store, "state", lambda name: (reads.append(name), state(name))[1])
    async with Engine(topic, store) as engine:
        first = await engine.poll_all()
        assert all(r.error is None for r in first)
        second = await engine.poll_all()
        assert all(r.not_modified for r in second)
    assert commits == [24, 24]
    assert reads == []  # states came from one bulk read per cycle, then from memory
    store.close()
    again = Store(tmp_path / "fw.db")
    saved = again.states()
    again.close()
    assert len(saved) == 24
    assert all(s.etag and s.last_ok and s.failures == 0 and s.items == 1
               for s in saved.values())
    assert [status for _, _, status in site.log].count(304) == 24


async def test_a_state_save_that_fails_is_reported_by_every_poll_in_its_commit(
        site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "SAVE_GATHER", 0.5)
    urls = [site.put(f"/{i}.xml", '<rss version="2.0"><channel><title>t</title></channel>'
                                  "</rss>") for i in range(3)]
    topic = parse_topic("".join(f'[[source]]\nurl = "{u}"\n' for u in urls))
    store = Store(tmp_path / "fw.db")

    def full(states: object) -> None:
        raise StoreError("disk full: cannot write to database fw.db")

    monkeypatch.setattr(store, "save_states", full)
    async with Engine(topic, store) as engine:
        results = await engine.poll_all()
    store.close()
    assert [r.db_error for r in results] == ["disk full: cannot write to database fw.db"] * 3


async def test_polls_waiting_for_the_database_share_a_transaction_and_fail_alone(
        site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries of polls that wait while the database thread is busy are stored in one
    transaction, a savepoint each: one poll whose storing fails (here a fault injected into
    clustering) is undone alone and says so; the others are stored and clustered."""
    rss = ('<rss version="2.0"><channel><title>t</title><item><title>{0}</title>'
           "<guid>{0}</guid></item></channel></rss>")
    names = [f"wire{i}" for i in range(6)]
    topic = parse_topic("".join(
        f'[[source]]\nname = "{n}"\nurl = "{site.put(f"/{n}.xml", rss.format(n + " report"))}"\n'
        for n in names))
    store = Store(tmp_path / "fw.db")
    transactions: list[int] = []
    transaction = store.transaction
    monkeypatch.setattr(store, "transaction",
                        lambda: (transactions.append(1), transaction())[1])
    classify = Engine._classify

    def faulty(self: Engine, update: Update) -> int:
        if update.source == "wire3":
            raise RuntimeError("injected fault")
        return classify(self, update)

    monkeypatch.setattr(Engine, "_classify", faulty)
    gate = threading.Event()
    async with Engine(topic, store) as engine:
        engine._remember(store.states())  # as poll_all does, before the thread is held
        engine._db.submit(gate.wait)  # the database thread is busy: the polls queue up
        polls = asyncio.gather(*(engine.poll_source(spec) for spec in topic.sources))
        deadline = time.monotonic() + 10
        while len(engine._waiting) < len(names) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        gate.set()
        results = {r.source: r for r in await polls}
    assert transactions == [1]
    assert "injected fault" in (results["wire3"].error or "")
    assert all(results[n].error is None and len(results[n].events) == 1
               for n in names if n != "wire3")
    stored = {u.source for u in store.since(datetime(2000, 1, 1, tzinfo=UTC))}
    assert stored == set(names) - {"wire3"}
    store.close()


async def test_a_poll_cancelled_while_it_waits_for_the_database_stores_nothing(
        site: Site, tmp_path: Path) -> None:
    """Ctrl-C on `once`: polls waiting for the database thread are not stored later, unseen
    (their events would never be printed, and the next run would take them as known)."""
    rss = ('<rss version="2.0"><channel><title>t</title><item><title>{0}</title>'
           "<guid>{0}</guid></item></channel></rss>")
    topic = parse_topic("".join(
        f'[[source]]\nname = "w{i}"\nurl = "{site.put(f"/{i}.xml", rss.format(i))}"\n'
        for i in range(4)))
    store = Store(tmp_path / "fw.db")
    gate = threading.Event()
    async with Engine(topic, store) as engine:
        engine._remember(store.states())
        engine._db.submit(gate.wait)
        polls = asyncio.gather(*(engine.poll_source(spec) for spec in topic.sources))
        deadline = time.monotonic() + 10
        while len(engine._waiting) < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert len(engine._waiting) == 4
        polls.cancel()
        with pytest.raises(asyncio.CancelledError):
            await polls
        gate.set()
        await engine.db(lambda: None)  # whatever was queued has run
    assert store.since(datetime(2000, 1, 1, tzinfo=UTC)) == []
    again = Store(tmp_path / "fw.db")
    async with Engine(topic, again) as engine:
        results = await engine.poll_all()
    assert sorted(len(r.events) for r in results) == [1, 1, 1, 1]
    store.close()
    again.close()

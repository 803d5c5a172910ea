"""Polling policy with a fake clock and random source; the live scheduler on loopback."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from pytest_httpserver import HTTPServer

from feedwatch.config import parse_topic
from feedwatch.engine import JITTER, Engine, next_delay
from feedwatch.store import Store


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

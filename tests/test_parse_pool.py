"""Topics with many feeds parse them in worker processes; the result is the same as in threads,
and a worker that dies costs one poll of one feed, not the engine."""

from __future__ import annotations

import math
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from conftest import Site

from feedwatch import engine as engine_module
from feedwatch.config import load_topic
from feedwatch.engine import PARSE_PROCESSES_FROM, Engine
from feedwatch.sources.feed import FeedParseError
from feedwatch.store import Store

FEEDS = PARSE_PROCESSES_FROM + 2


def _rss(i: int) -> str:
    items = "".join(
        f"<item><title>Feed {i} item {j}: talks in Istanbul</title><guid>f{i}-{j}</guid>"
        f"<link>https://wire{i}.example/news/{j}</link><description>&lt;p&gt;Item {j} of "
        f"feed {i} &amp;amp; more&lt;/p&gt;</description></item>" for j in range(3))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>W{i}</title>{items}' \
           "</channel></rss>"


@pytest.fixture
def topic(tmp_path: Path, site: Site) -> Any:
    blocks = []
    for i in range(FEEDS):
        site.put(f"/f{i}.xml", _rss(i))
        blocks.append(f'[[source]]\nname = "wire {i}"\nurl = "{site.url(f"/f{i}.xml")}"\n')
    path = tmp_path / "topic.toml"
    path.write_text('[topic]\nname = "pool"\n[fetch]\nper_host = 8\n\n' + "\n".join(blocks))
    return load_topic(path)


async def test_many_feeds_parse_in_processes_same_as_threads(topic: Any, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: feeds parse in threads")
    results: dict[str, list[tuple[str, str, str]]] = {}
    for mode in ("processes", "threads"):
        if mode == "threads":
            monkeypatch.setattr(engine_module, "PARSE_PROCESSES_FROM", 10**9)
        with Store(tmp_path / f"{mode}.db") as store:
            async with Engine(topic, store) as engine:
                assert bool(engine._parse_processes) == (mode == "processes")
                polls = await engine.poll_all()
                used_pool = engine._parse_pool is not None
            assert used_pool == (mode == "processes")
            assert all(p.ok for p in polls), [p.error for p in polls if not p.ok]
            results[mode] = sorted((u.source, u.title, u.text) for u in store.all_updates())
    assert len(results["processes"]) == FEEDS * 3
    assert results["processes"] == results["threads"]
    assert ("wire 0", "Feed 0 item 0: talks in Istanbul", "Item 0 of feed 0 & more") in \
        results["processes"]


async def test_a_dead_worker_fails_one_poll_and_the_next_poll_works(
        topic: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: feeds parse in threads")
    with Store(tmp_path / "dead.db") as store:
        async with Engine(topic, store) as engine:
            spec = topic.sources[0]
            assert (await engine.poll_source(spec)).ok  # starts the pool
            pool = engine._parse_pool
            assert pool is not None
            for pid in list(pool._processes):  # kill the workers, as the OOM killer would
                os.kill(pid, signal.SIGKILL)
            with pytest.raises(FeedParseError, match="parser process died"):
                await engine._parse_feed(b"<rss version='2.0'><channel></channel></rss>")
            result = await engine.poll_source(topic.sources[1])
            assert result.ok, result.error
            assert engine._parse_pool is not None and engine._parse_pool is not pool


async def test_few_feeds_parse_in_threads(tmp_path: Path, site: Site) -> None:
    site.put("/one.xml", _rss(1))
    cfg = tmp_path / "one.toml"
    cfg.write_text(f'[topic]\nname = "t"\n[[source]]\nname = "w"\nurl = "{site.url("/one.xml")}"\n')
    with Store(tmp_path / "x.db") as store:
        async with Engine(load_topic(cfg), store) as engine:
            assert engine._parse_processes == 0
            assert (await engine.poll_all())[0].ok
            assert engine._parse_pool is None


def test_features_extracted_in_a_worker_are_those_extracted_here() -> None:
    """Workers hand the database thread each entry's clustering features; a clustering
    decision must not depend on where they were computed (a spawned process has its own
    hash seed, so set-valued features must compare equal, not merely look alike)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from feedwatch.dedupe import extract
    from feedwatch.engine import _parse_with_features

    bodies = [_rss(i).encode() for i in range(3)]
    bodies.append((Path(__file__).parent / "data" / "feeds" / "rss20.xml").read_bytes())
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_parse_with_features, bodies, [-math.inf] * len(bodies)))
        dated = [e.published for parsed, _ in results for e in parsed.entries if e.published]
        middle = sorted(dated)[len(dated) // 2].timestamp()
        recent = list(pool.map(_parse_with_features, bodies, [middle] * len(bodies)))
    assert sum(len(parsed.entries) for parsed, _ in results) >= 10
    for parsed, features in results:
        assert len(features) == len({(e.title, e.text) for e in parsed.entries})
        for e in parsed.entries:
            assert features[(e.title, e.text)] == extract(e.title, e.text)
    # items older than the clustering index keeps get none: it never compares them
    for parsed, features in recent:
        for e in parsed.entries:
            wanted = e.published is None or e.published.timestamp() >= middle
            assert ((e.title, e.text) in features) == wanted

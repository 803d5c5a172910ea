"""Dashboard responsiveness at 100k stored updates: first paint, keypress → repaint, memory.

Builds (or reuses) a database of N updates across 12 sources, about a fifth of them joining
an earlier story's cluster, then runs the real app headless and prints:

* start-up to first paint (stream rows on screen) and to the whole history in memory;
* keypress → repaint latency while scrolling (j, pagedown, G/g), median / p95 / max;
* re-filter time of the whole history for a typed query;
* resident memory once everything is loaded.

    python bench/bench_ui.py [--updates 100000] [--db FILE] [--keep]

Targets (issues 5, 6): first paint ≤ 1 s, keypress → repaint ≤ 50 ms, RSS ≤ 250 MB, re-filter
of the whole history ≤ 200 ms (from the moment the typed query settles).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual import events
from textual.strip import Strip

from feedwatch.config import Topic, parse_topic
from feedwatch.model import Entry, Update
from feedwatch.store import Store
from feedwatch.ui.app import FeedwatchApp
from feedwatch.ui.filterbar import DEBOUNCE
from feedwatch.ui.stream import StreamView

SOURCES = [f"Source {name}" for name in (
    "Reuters", "AP", "AFP", "BBC", "DW", "Kyiv Ledger", "Bosphorus Wire", "Meduza",
    "@frontline_flash", "@srochno_mir", "Global Monitor", "Continental Desk")]
WORDS = (
    "talks", "delegation", "ceasefire", "istanbul", "kyiv", "moscow", "minister", "memorandum",
    "exchange", "prisoners", "bodies", "drones", "strike", "energy", "grid", "summit", "envoy",
    "sanctions", "border", "reporters", "palace", "delay", "statement", "official",
    "agreement", "breakthrough", "humanitarian", "corridor", "port", "grain", "shipping",
    "airport", "evacuation", "shelling", "frontline", "artillery", "negotiators",
)
TARGETS = {"first_paint": 1.0, "key": 0.050, "rss": 250.0, "refilter": 0.200}
QUERY = "ceasefire -drones"  # broad: most stored texts mention one of the two words


def rss_mb() -> float:
    """Current resident set size in MB (Linux), else peak RSS."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def topic() -> Topic:
    lines = ["[topic]", 'name = "Benchmark topic"', 'alert = "breakthrough"']
    for n, name in enumerate(SOURCES):
        lines += ["[[source]]", f'name = "{name}"', f'url = "http://127.0.0.1:9/{n}.xml"']
    return parse_topic("\n".join(lines))


def build(path: Path, count: int) -> None:
    """N updates spread over 30 days; ~20% join a recent story from another source."""
    rng = random.Random(6)
    start = datetime(2025, 6, 1, tzinfo=UTC) - timedelta(days=30)
    step = 30 * 86400 / count
    recent: list[int] = []
    with Store(path) as store:
        done = 0
        while done < count:
            batch = min(5000, count - done)
            by_source: dict[str, list[Entry]] = {}
            for i in range(done, done + batch):
                words = rng.sample(WORDS, 9)
                title = " ".join(words[:7]).capitalize() + f" ({i})"
                text = (" ".join(rng.choices(WORDS, k=40)) + ". ") * 2
                entry = Entry(key=f"k{i}", title=title, text=text,
                              url=f"https://news.example/{i}",
                              published=start + timedelta(seconds=i * step))
                by_source.setdefault(SOURCES[i % len(SOURCES)], []).append(entry)
            for source, entries in by_source.items():
                now = entries[-1].published + timedelta(minutes=1)  # type: ignore[operator]

                def classify(update: Update) -> int:
                    if recent and rng.random() < 0.2:
                        return rng.choice(recent)
                    recent.append(update.id)
                    del recent[:-50]
                    return update.id

                store.ingest(source, entries, now, classify=classify)
            store.index_pending()  # as the engine does, in bulk
            done += batch
            print(f"\r  building: {done:,}/{count:,}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


async def key_to_paint(app: FeedwatchApp, key: str, renders: list[float]) -> float | None:
    """Deliver one key the way the driver does and time it until the stream's repaint is
    done. (Pilot.press waits for the whole process to go idle, which is not what a user
    feels while background work runs.)"""
    renders.clear()
    pressed = time.perf_counter()
    app.post_message(events.Key(key, key if len(key) == 1 else None))
    while not renders:
        if time.perf_counter() - pressed > 3.0:
            return None
        await asyncio.sleep(0.0002)
    count = -1
    while count != len(renders):  # the frame is done when no more lines come
        count = len(renders)
        await asyncio.sleep(0.001)
    return renders[-1] - pressed


async def measure(path: Path) -> dict[str, float]:
    gc.collect()
    base_rss = rss_mb()
    store = Store(path)
    stored = store.count()
    first_paint: list[float] = []
    renders: list[float] = []
    original = StreamView.render_line

    def timed_render(self: StreamView, y: int) -> Strip:
        strip = original(self, y)
        now = time.perf_counter()
        if self.id == "stream" and self.row_count:
            if not first_paint:
                first_paint.append(now)
            renders.append(now)
        return strip

    StreamView.render_line = timed_render  # type: ignore[method-assign]
    results: dict[str, float] = {"stored": stored}
    try:
        t0 = time.perf_counter()
        app = FeedwatchApp(topic(), store, live=False)
        async with app.run_test(size=(160, 50)) as pilot:
            while not first_paint:
                await asyncio.sleep(0.001)
            results["first_paint"] = first_paint[0] - t0
            loading: list[float] = []
            while not app._history_complete:  # keys while the rest of the history loads
                latency = await key_to_paint(app, "j", renders)
                if latency is not None:
                    loading.append(latency)
            results["loading_max"] = max(loading, default=0.0)
            results["loading_median"] = statistics.median(loading) if loading else 0.0
            results["history"] = time.perf_counter() - t0
            results["rows"] = app.stream.row_count
            await pilot.pause(0.2)
            gc.collect()
            results["rss"] = rss_mb()
            results["rss_app"] = results["rss"] - base_rss

            latencies: list[float] = []
            by_key: dict[str, list[float]] = {}
            keys = ["j"] * 120 + ["pagedown"] * 60 + ["k"] * 60 + ["pageup"] * 30 + \
                ["G", "g"] * 10
            for key in keys:
                latency = await key_to_paint(app, key, renders)
                if latency is not None:
                    latencies.append(latency)
                    by_key.setdefault(key, []).append(latency)
                await asyncio.sleep(0.005)
            for key, values in by_key.items():
                results[f"key {key}"] = statistics.median(values)
            latencies.sort()
            results["key_median"] = statistics.median(latencies)
            results["key_p95"] = latencies[int(len(latencies) * 0.95) - 1]
            results["key_max"] = latencies[-1]

            status = app.query_one("#filter").query_one(".query-status")
            await pilot.press("slash")
            passes: list[float] = []
            refilter = app._refilter

            def timed_refilter() -> None:  # the pass starts once the typing has settled
                passes.append(time.perf_counter())
                refilter()

            app._refilter = timed_refilter  # type: ignore[method-assign]
            started = time.perf_counter()
            app.query_one("#filter").input.value = QUERY
            await asyncio.sleep(0.01)
            while "match" not in str(status.render()):
                await asyncio.sleep(0.001)
                if time.perf_counter() - started > 60:
                    break
            done = time.perf_counter()
            results["refilter"] = done - started
            results["refilter_pass"] = done - passes[-1] if passes else float("nan")
            results["filtered_rows"] = app.stream.row_count
            results["rss_peak"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            await app.action_quit()
    finally:
        StreamView.render_line = original  # type: ignore[method-assign]
        store.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--db", type=Path, help="reuse (or create) this database")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="feedwatch-bench-") as tmp:
        path = args.db or Path(tmp) / "bench.db"
        if not path.exists():
            started = time.perf_counter()
            build(path, args.updates)
            print(f"  built {args.updates:,} updates in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr)
        r = asyncio.run(measure(path))

    def verdict(value: float, target: float) -> str:
        mark = "ok " if value <= target else "SLOW"
        return f"{mark} (target ≤ {target:g}, ×{value / target:.2f})"

    print(f"stored updates           {int(r['stored']):>10,}   stories shown {int(r['rows']):,}")
    print(f"start-up → first paint   {r['first_paint'] * 1000:>8.0f} ms  "
          f"{verdict(r['first_paint'], TARGETS['first_paint'])}")
    print(f"start-up → full history  {r['history'] * 1000:>8.0f} ms")
    print(f"  while history loads:   {r['loading_median'] * 1000:.1f} ms median, "
          f"max {r['loading_max'] * 1000:.1f} ms")
    print(f"keypress → repaint       {r['key_median'] * 1000:>8.1f} ms median, "
          f"p95 {r['key_p95'] * 1000:.1f} ms, max {r['key_max'] * 1000:.1f} ms  "
          f"{verdict(r['key_p95'], TARGETS['key'])}")
    print("  median by key:         " + ", ".join(
        f"{k[4:]} {v * 1000:.1f} ms" for k, v in r.items() if k.startswith("key ")))
    print(f"re-filter whole history  {r['refilter_pass'] * 1000:>8.0f} ms  "
          f"{verdict(r['refilter_pass'], TARGETS['refilter'])}  ({QUERY!r} → "
          f"{int(r['filtered_rows']):,} stories; typed → shown {r['refilter'] * 1000:.0f} ms,"
          f" with the filter bar's {DEBOUNCE * 1000:.0f} ms debounce)")
    print(f"memory (RSS)             {r['rss']:>8.0f} MB  (app share {r['rss_app']:.0f} MB, "
          f"peak {r['rss_peak']:.0f} MB)  {verdict(r['rss'], TARGETS['rss'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

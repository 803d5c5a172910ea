"""Accelerated soak: the live engine polling healthy and hostile loopback sources for minutes.

Hours of a real watch compressed into a few minutes: sources poll every 0.05-0.2 s (backoff
capped at 1 s so failing sources keep being retried), through the real scheduler, fetcher,
parsers, store and dedupe index. Sources: feeds that change on every request (parse + ingest
each time, a bounded set of items so the data does not grow), one feed that keeps growing,
a feed answering 304, and hostile ones (404, 410, 429 with Retry-After, 500, refused
connection, DNS failure, a server that never answers, one dripping bytes, a gzip bomb, an HTML
page, malformed XML). Every ``--every`` seconds it prints the process's resident memory
(VmRSS), open file descriptors (/proc/self/fd), threads, the scheduler's job count, polls done
and updates stored; at the end a verdict: memory and descriptors must stay flat after warm-up.

    python bench/soak.py [--seconds 180] [--every 10] [--sources 1]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hostile_server import (
    Conn,
    HostileServer,
    Request,
    drip,
    free_port,
    gzip_bomb,
    hang,
    respond,
)

from feedwatch.config import parse_topic
from feedwatch.engine import Engine
from feedwatch.model import SourceState
from feedwatch.store import Store

WORDS = ("talks", "delegation", "ceasefire", "prisoners", "memorandum", "Istanbul", "Kyiv",
         "Ankara", "exchange", "drones", "minister", "statement", "border", "agreement",
         "переговоры", "делегация", "обмен", "Стамбул")


def status(key: str) -> int:
    text = Path("/proc/self/status").read_text()
    m = re.search(rf"^{key}:\s+(\d+)", text, re.M)
    return int(m.group(1)) if m else 0


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Churn:
    """A feed whose body changes on every request while its 40 items rotate among 200 keys:
    the full fetch → parse → ingest path each poll, with edits, but bounded data."""

    def __init__(self, name: str) -> None:
        self.name, self.n = name, 0
        self.lock = threading.Lock()

    def __call__(self, conn: Conn, request: Request) -> None:
        with self.lock:
            self.n += 1
            n = self.n
        items = []
        for i in range(40):
            k = (n + i) % 200
            words = " ".join(WORDS[(k * 7 + j) % len(WORDS)] for j in range(6))
            edit = f" (update {n // 50})" if k % 10 == 0 else ""
            items.append(f"<item><title>{self.name} {k}: {words}{edit}</title><guid>{k}</guid>"
                         f"<description>{words} {k} {words}</description></item>")
        body = (f'<rss version="2.0"><channel><title>{self.name}</title>'
                f"<lastBuildDate>{n}</lastBuildDate>{''.join(items)}</channel></rss>")
        respond(body)(conn, request)


class Growing:
    """A feed that gains an item per second (the window shows the newest 50)."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, conn: Conn, request: Request) -> None:
        n = int(time.monotonic() - self.started)
        items = "".join(
            f"<item><title>Growing {k}: {' '.join(WORDS[(k * 3 + j) % 18] for j in range(5))}"
            f"</title><guid>g{k}</guid></item>" for k in range(n, max(-1, n - 50), -1))
        respond(f'<rss version="2.0"><channel><title>g</title>{items}</channel></rss>')(
            conn, request)


def not_modified(conn: Conn, request: Request) -> None:
    if request.headers.get("if-none-match") == '"v1"':
        conn.head(304, {"ETag": '"v1"'})
        return
    respond('<rss version="2.0"><channel><title>s</title><item><title>Static</title>'
            "<guid>s</guid></item></channel></rss>", headers={"ETag": '"v1"'})(conn, request)


def build(srv: HostileServer, copies: int) -> str:
    sources: dict[str, str] = {}
    for c in range(copies):
        for i in range(4):
            sources[f"churn{c}-{i}"] = srv.route(f"/churn{c}-{i}", Churn(f"churn{c}-{i}"))
        hostile = {
            "404": srv.url(f"/missing{c}"),
            "410": srv.route(f"/gone{c}", respond("", status=410)),
            "429": srv.route(f"/busy{c}", respond("", status=429,
                                                  headers={"Retry-After": "1"})),
            "500": srv.route(f"/err{c}", respond("boom", status=500)),
            "refused": f"http://127.0.0.1:{free_port()}/x",
            "dns": f"http://nonexistent{c}.invalid/x",
            "hang": srv.route(f"/hang{c}", hang),
            "drip": srv.route(f"/drip{c}", drip(b"<rss>" * 100, 0.2)),
            "bomb": srv.route(f"/bomb{c}", gzip_bomb(256 << 20, layers=2)),
            "html": srv.route(f"/html{c}", respond("<html><body>x</body></html>",
                                                   content_type="text/html")),
            "malformed": srv.route(f"/bad{c}", respond(b"<rss><<<\x00")),
            "304": srv.route(f"/static{c}", not_modified),
        }
        for name, url in hostile.items():
            sources[f"{name}-{c}"] = url
    sources["growing"] = srv.route("/growing", Growing())
    blocks = "".join(
        f'\n[[source]]\nname = "{n}"\nurl = "{u}"\ninterval = "{0.05 if "churn" in n else 0.2}s"\n'
        for n, u in sources.items())
    return ('[topic]\nname = "soak"\n\n[fetch]\ntimeout = "1s"\nconnect_timeout = "0.5s"\n'
            'max_size = "1MB"\nmax_backoff = "1s"\n' + blocks)


def serve(copies: int, pipe: multiprocessing.connection.Connection) -> None:
    """The loopback servers, in their own process so /proc/self counts only the watcher."""
    with HostileServer() as srv:
        pipe.send(build(srv, copies))
        pipe.recv()  # until the parent says stop


async def soak(seconds: float, every: float, copies: int) -> int:
    polls: Counter[str] = Counter()
    errors: Counter[str] = Counter()

    def on_state(state: SourceState) -> None:
        polls[state.source] += 1
        if state.last_error:
            errors[state.source] += 1

    rows = []
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(target=serve, args=(copies, child),
                                                         daemon=True)
    server.start()
    toml = parent.recv()
    with tempfile.TemporaryDirectory() as tmp:
        topic = parse_topic(toml)
        store = Store(Path(tmp) / "soak.db")
        async with Engine(topic, store) as engine:
            engine.subscribe_states(on_state)
            await engine.start()
            started = time.monotonic()
            print(f"{len(topic.sources)} sources, {engine.scheduled_jobs()} jobs; "
                  f"running {seconds:g} s\n")
            print(f"{'t (s)':>6} {'RSS MB':>7} {'peak MB':>8} {'fds':>4} {'threads':>7} "
                  f"{'jobs':>4} {'polls':>7} {'polls/s':>7} {'errors':>7} {'stored':>7}")
            last_polls, last_t = 0, 0.0
            while True:
                elapsed = time.monotonic() - started
                total = sum(polls.values())
                stored = await engine.db(store.count)
                row = (elapsed, status("VmRSS") / 1024, status("VmHWM") / 1024, fds(),
                       threading.active_count(), engine.scheduled_jobs(), total,
                       (total - last_polls) / max(elapsed - last_t, 1e-9),
                       sum(errors.values()), stored)
                rows.append(row)
                print(f"{row[0]:6.0f} {row[1]:7.1f} {row[2]:8.1f} {row[3]:4d} {row[4]:7d} "
                      f"{row[5]:4d} {row[6]:7d} {row[7]:7.0f} {row[8]:7d} {row[9]:7d}",
                      flush=True)
                last_polls, last_t = total, elapsed
                if elapsed >= seconds:
                    break
                await asyncio.sleep(min(every, seconds - elapsed + 0.01))
            integrity = await engine.db(store.integrity_check)
        store.close()
    parent.send("stop")
    server.join(timeout=10)

    warm = next((r for r in rows if r[0] >= seconds * 0.25), rows[0])
    end = rows[-1]
    rss_growth, fd_growth = end[1] - warm[1], end[3] - warm[3]
    print(f"\npolls: {end[6]} in {end[0]:.0f} s ({end[6] / end[0]:.0f}/s), "
          f"of which failed: {end[8]}; updates stored: {end[9]}; integrity: {integrity}")
    print(f"RSS: start {rows[0][1]:.1f} MB, after warm-up {warm[1]:.1f} MB, end {end[1]:.1f} MB "
          f"(growth after warm-up {rss_growth:+.1f} MB); peak {end[2]:.1f} MB")
    print(f"fds: start {rows[0][3]}, after warm-up {warm[3]}, end {end[3]} ({fd_growth:+d}); "
          f"jobs: start {rows[0][5]}, end {end[5]} (the 410 sources drop out)")
    flat = rss_growth < 15 and fd_growth <= 4 and integrity == "ok"
    print("verdict:", "flat" if flat else "NOT FLAT")
    return 0 if flat else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--every", type=float, default=10)
    parser.add_argument("--sources", type=int, default=1,
                        help="copies of the source set (16 sources each)")
    args = parser.parse_args()
    # The engine logs every failure (thousands here) and APScheduler every skipped run.
    logging.basicConfig(level=logging.CRITICAL)
    return asyncio.run(soak(args.seconds, args.every, args.sources))


if __name__ == "__main__":
    sys.exit(main())

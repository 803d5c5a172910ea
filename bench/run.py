"""The benchmark runner: feedwatch, newsboat and sfeed on the same loopback feeds, one table.

For each scenario (N feeds, server latency) a fresh ``bench.server`` process serves N
generated feeds (``bench.feedgen``); each tool then runs a **cold** cycle (empty database)
and two more cycles with nothing changed, **2nd** and **warm** (the steady state: every
answer should be 304), each as a subprocess, measured the same way for all: wall time
around the process, CPU time and peak RSS from ``os.wait4`` (the process and every
descendant it waited for; peak RSS is that of the largest single process), the server's
200/304 counts and its own CPU time, and the items the tool stored afterwards (read from its
database / files).

Then in-process figures: parse rate (feedparser, items/s) and ingest rate into the store
(``Store.ingest`` alone and with the engine's clustering, updates/s); and, when present, the
figures of the other bench scripts (dedupe cost per update, query re-filter and dashboard
start-up at 100k stored updates).

    python -m bench                 # quick (~6 min): N = 1000, latency 50 ms, 2 of the extras
    python -m bench --full          # N = 100 and 1000 × latency 0 and 50 ms, 3 repeats, extras
    python -m bench --tune          # sweep each tool's concurrency on the 1000-feed / 50 ms case
    python -m bench --help
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PY = sys.executable
FEEDWATCH = str(Path(sys.executable).parent / "feedwatch")

# Concurrency each tool is given (requests / threads / jobs at once). Chosen with --tune on
# the 1000-feed, 50 ms case: each tool at the value where its cold and warm cycles together
# took least (see bench/README.md). All feeds are on one host, so feedwatch's per_host is
# set to the same value: the peers have no per-host limit.
CONCURRENCY = {"feedwatch": 128, "newsboat": 16, "sfeed": 128}
TOOLS = ("feedwatch", "newsboat", "sfeed")
# cold: empty database. 2nd: the next cycle, nothing changed. warm: the one after that, the
# steady state (newsboat stores a feed's ETag / Last-Modified only from its second download
# on, so its 2nd cycle still downloads everything; the others answer 304 from the 2nd).
CYCLES = ("cold", "2nd", "warm")
TIMEOUT = 900.0
GNU_TIME = Path("/usr/bin/time")


# --- the loopback server ---------------------------------------------------------------------


class Server:
    def __init__(self, n: int, latency: float) -> None:
        self.n, self.latency = n, latency
        self.proc = subprocess.Popen(
            [PY, "-m", "bench.server", "--n", str(n), "--latency", str(latency)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"bench server did not start: {line!r}")
        self.port = int(line.split()[1])
        from .feedgen import generate
        self.feeds = generate(n)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url(path), timeout=10) as resp:
            return resp.read()

    def reset(self) -> None:
        self._get("/__reset")

    def stats(self) -> dict[str, Any]:
        return json.loads(self._get("/__stats"))

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- one measured process ---------------------------------------------------------------------


@dataclass
class Measure:
    wall: float
    cpu: float
    maxrss_mb: float
    rc: int
    stderr: str = ""


def measured(cmd: list[str], *, env: dict[str, str], cwd: Path,
             timeout: float = TIMEOUT) -> Measure:
    """Run ``cmd``; wall time, CPU (user+sys, descendants included), peak RSS.

    A forked child's peak RSS starts at its parent's (this Python process, ~65 MB) even
    after exec, so peak RSS is read through GNU time (a small C parent) when it is there."""
    err_path = cwd / f"stderr-{time.monotonic_ns()}.txt"
    rss_path = cwd / f"rss-{time.monotonic_ns()}.txt"
    if GNU_TIME.exists():
        cmd = [str(GNU_TIME), "-f", "%M", "-o", str(rss_path), *cmd]
    with open(err_path, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        killer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
        killer.start()
        try:
            _, status, ru = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    tail = err_path.read_text("utf-8", "replace")[-2000:]
    maxrss = ru.ru_maxrss / 1024
    try:
        maxrss = int(rss_path.read_text().split()[-1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return Measure(wall, ru.ru_utime + ru.ru_stime, maxrss, proc.returncode, tail)


def isolated_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FEEDWATCH_", "XDG_")) and k.lower() not in (
               "http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".local/share"), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_STATE_HOME=str(home / ".local/state"), LC_ALL="C.UTF-8", TMPDIR=str(home))
    return env


# --- the tools ---------------------------------------------------------------------------------


class Tool:
    name = ""

    def __init__(self, work: Path, server: Server, concurrency: int) -> None:
        self.work, self.server, self.concurrency = work, server, concurrency
        work.mkdir(parents=True, exist_ok=True)
        self.env = isolated_env(work / "home")
        self.setup()

    def setup(self) -> None: ...
    def command(self) -> list[str]: raise NotImplementedError
    def stored(self) -> int: raise NotImplementedError

    def run(self) -> Measure:
        return measured(self.command(), env=self.env, cwd=self.work)


class Feedwatch(Tool):
    name = "feedwatch"

    def setup(self) -> None:
        self.cfg = self.work / "topic.toml"
        lines = ['[topic]', 'name = "bench"', "",
                 "[fetch]", f"concurrency = {self.concurrency}",
                 f"per_host = {self.concurrency}  # every bench feed is on 127.0.0.1", ""]
        for i, feed in enumerate(self.server.feeds):
            lines += ["[[source]]", f'name = "feed {i:05d}"',
                      f'url = "{self.server.url(feed.path)}"', ""]
        self.cfg.write_text("\n".join(lines), encoding="utf-8")
        self.db = self.work / "feedwatch.db"

    def command(self) -> list[str]:
        return [FEEDWATCH, "once", "-c", str(self.cfg), "--db", str(self.db),
                "--log-file", str(self.work / "feedwatch.log")]

    def stored(self) -> int:
        with sqlite3.connect(self.db) as db:
            return db.execute("SELECT COUNT(*) FROM updates").fetchone()[0]


class Newsboat(Tool):
    name = "newsboat"

    def setup(self) -> None:
        (self.work / "urls").write_text(
            "".join(self.server.url(f.path) + "\n" for f in self.server.feeds))
        # reload-threads: feeds fetched and parsed at once. Everything else default
        # (conditional GET with ETag / Last-Modified is on by default).
        (self.work / "config").write_text(
            f"reload-threads {self.concurrency}\nshow-read-feeds yes\n"
            "download-timeout 60\n")
        self.db = self.work / "cache.db"

    def command(self) -> list[str]:
        return ["newsboat", "-x", "reload", "-u", str(self.work / "urls"), "-c", str(self.db),
                "-C", str(self.work / "config")]

    def stored(self) -> int:
        with sqlite3.connect(self.db) as db:
            return db.execute("SELECT COUNT(*) FROM rss_item").fetchone()[0]


SFEED_FETCH = r"""
# The ETag / If-Modified-Since fetch() from sfeed's README ("Caching, incremental data
# updates and bandwidth-saving"), so that an unchanged feed costs a 304 as for the others.
fetch() {
	etag="$sfeedetags/$(basename "$3")"
	curl \
		-L --max-redirs 0 -H "User-Agent:" -f -s -m 15 \
		--compressed \
		--etag-save "${etag}" --etag-compare "${etag}" \
		-z "${etag}" \
		"$2" 2>/dev/null
}
"""


class Sfeed(Tool):
    name = "sfeed"

    def setup(self) -> None:
        self.feeds_dir = self.work / "feeds"
        etags = self.work / "etags"
        etags.mkdir(exist_ok=True)
        lines = [f'sfeedpath="{self.feeds_dir}"', f'sfeedetags="{etags}"',
                 f"maxjobs={self.concurrency}", SFEED_FETCH, "feeds() {"]
        lines += [f'\tfeed "feed{i:05d}" "{self.server.url(f.path)}"'
                  for i, f in enumerate(self.server.feeds)]
        lines.append("}")
        self.rc = self.work / "sfeedrc"
        self.rc.write_text("\n".join(lines) + "\n")

    def command(self) -> list[str]:
        return ["sfeed_update", str(self.rc)]

    def stored(self) -> int:
        total = 0
        for path in self.feeds_dir.glob("*"):
            with open(path, "rb") as fh:
                total += sum(1 for _ in fh)
        return total


TOOL_CLASSES = {"feedwatch": Feedwatch, "newsboat": Newsboat, "sfeed": Sfeed}


def ensure_peers(wanted: list[str], notes: list[str]) -> list[str]:
    """Install newsboat / sfeed from the distribution when missing; drop those we cannot."""
    need = {"newsboat": "newsboat", "sfeed": "sfeed_update"}
    missing = [t for t in wanted if t in need and shutil.which(need[t]) is None]
    if not GNU_TIME.exists():
        missing.append("time")  # GNU time: peak RSS without the fork's inherited floor
    if missing:
        print(f"installing {', '.join(missing)} with apt-get …", file=sys.stderr)
        cmd = ["apt-get", "install", "-y", "-q", *missing]
        if os.geteuid() != 0 and shutil.which("sudo"):
            cmd = ["sudo", "-n", *cmd]
        try:
            subprocess.run(cmd, check=False, capture_output=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired):
            pass
    if not GNU_TIME.exists():
        notes.append("GNU time missing: peak RSS includes ~65 MB inherited from the runner")
    out = []
    for tool in wanted:
        if tool in need and shutil.which(need[tool]) is None:
            notes.append(f"{tool} skipped: not installed and `apt-get install {tool}` failed")
            continue
        if tool == "sfeed" and shutil.which("curl") is None:
            notes.append("sfeed skipped: curl is not installed")
            continue
        out.append(tool)
    return out


# --- feed cycles -------------------------------------------------------------------------------


@dataclass
class Row:
    n: int
    latency: float
    tool: str
    cycle: str
    walls: list[float] = field(default_factory=list)
    cpu: float = 0.0
    rss: float = 0.0
    ok200: int = 0
    n304: int = 0
    other: int = 0
    stored: int = 0
    server_cpu: float = 0.0
    rc: int = 0
    concurrency: int = 0

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)


def run_cycle(tool: Tool, server: Server, row: Row) -> None:
    server.reset()
    m = tool.run()
    st = server.stats()
    row.walls.append(m.wall)
    row.cpu, row.rss, row.rc = m.cpu, m.maxrss_mb, m.rc
    status = st["status"]
    row.ok200, row.n304 = status.get("200", 0), status.get("304", 0)
    row.other = sum(v for k, v in status.items() if k not in ("200", "304"))
    row.server_cpu = st["cpu"]
    try:
        row.stored = tool.stored()
    except (sqlite3.Error, OSError):
        row.stored = -1
    if m.rc != 0:
        print(f"  ! {tool.name} exited {m.rc}: {m.stderr.strip()[-300:]}", file=sys.stderr)


def run_scenario(n: int, latency: float, tools: list[str], conc: dict[str, int],
                 repeat: int, scratch: Path) -> list[Row]:
    rows: list[Row] = []
    with Server(n, latency) as server:
        for tool_name in tools:
            cycles = [Row(n, latency, tool_name, cycle, concurrency=conc[tool_name])
                      for cycle in CYCLES]
            for r in range(repeat):
                work = scratch / f"{tool_name}-{n}-{int(latency * 1000)}-{r}"
                tool = TOOL_CLASSES[tool_name](work, server, conc[tool_name])
                for row in cycles:
                    run_cycle(tool, server, row)
                shutil.rmtree(work, ignore_errors=True)
            cold, warm = cycles[0], cycles[-1]
            print(f"  N={n:<5} {latency * 1000:3.0f} ms  {tool_name:<9} cold {cold.wall:6.2f} s"
                  f"  2nd {cycles[1].wall:6.2f} s  warm {warm.wall:6.2f} s  ({cold.ok200}×200, "
                  f"{warm.n304}×304, {cold.stored} items)", file=sys.stderr, flush=True)
            rows += cycles
    return rows


# --- in-process figures ------------------------------------------------------------------------


def ingest_figures(n: int = 1000) -> dict[str, Any]:
    """Parse rate (items/s through parse_feed, one process) and ingest rates (updates/s
    through Store.ingest, one transaction per feed as a poll does): the store alone, and with
    the engine's clustering as ``feedwatch once`` runs it; then the same items again."""
    from datetime import datetime as dt

    from feedwatch.engine import FTS_BATCH
    from feedwatch.sources.feed import parse_feed
    from feedwatch.store import Store

    from .feedgen import generate

    feeds = generate(n)
    started = time.perf_counter()
    parsed = [parse_feed(f.body, url=f"http://127.0.0.1{f.path}",
                         headers={"content-type": f.content_type}).entries for f in feeds]
    parse_s = time.perf_counter() - started
    items = sum(len(p) for p in parsed)
    out: dict[str, Any] = {"feeds": n, "items": items, "parse_s": parse_s,
                           "parse_rate": items / parse_s}
    for label in ("store", "clustered"):
        classify, how = _classifier() if label == "clustered" else (None, "")
        if label == "clustered":
            out["classify"] = how
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(Path(tmp) / "ingest.db")
            now = dt.now(UTC)
            started = time.perf_counter()
            stored = 0
            for i, entries in enumerate(parsed):
                stored += len(store.ingest(f"feed {i:05d}", entries, now, classify=classify))
                store.index_pending(FTS_BATCH)  # the full-text index, in bulk as the engine
            store.index_pending()  # fills it (every update indexed before the clock stops)
            out[f"{label}_rate"] = stored / (time.perf_counter() - started)
            started = time.perf_counter()
            for i, entries in enumerate(parsed):  # the same again: every item already stored
                store.ingest(f"feed {i:05d}", entries, now, classify=classify)
            out[f"{label}_again_rate"] = items / (time.perf_counter() - started)
            store.close()
    out["ingest_rate"] = out["store_rate"]
    return out


def _classifier() -> tuple[Any, str]:
    try:
        from feedwatch.dedupe import ClusterIndex, DedupeSettings
        from feedwatch.engine import _dedupe_doc
    except ImportError:
        return None, "no clustering (engine helpers not found)"
    index = ClusterIndex(DedupeSettings())
    return (lambda update: index.add(_dedupe_doc(update)).cluster), "with clustering"


EXTRAS = [
    # (label, script, args, quick?, parser)
    ("dedupe cost per update at 100k stored", "bench_dedupe.py", [], True),
    ("query re-filter of 100k stored: the index's exact answer (mean, max) · the matcher on "
     "every update (mean of 8 queries, cold / warm)", "bench_query.py", ["--fts"], True),
    ("dashboard at 100k stored: first paint / full history · re-filter of the whole history",
     "bench_ui.py", [], True),
    ("CPU per conditional GET (1,000 feeds, 304s), httpx over httpcore's pool → over "
     "feedwatch's (transport.py), by connections", "bench_fetch.py", [], True),
]


def run_extras(quick: bool, figures: dict[str, float]) -> list[tuple[str, str]]:
    """Run the other bench scripts; their headline numbers also go into ``figures``."""
    import re

    out = []
    for label, script, args, in_quick in EXTRAS:
        path = BENCH / script
        if not path.exists():
            out.append((label, f"({script} not present)"))
            continue
        if quick and not in_quick:
            out.append((label, f"(not run in quick mode: `python bench/{script}` or --full)"))
            continue
        print(f"  running bench/{script} …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            proc = subprocess.run([PY, str(path), *args], cwd=ROOT, capture_output=True,
                                  text=True, timeout=TIMEOUT)
            text = proc.stdout
        except subprocess.TimeoutExpired:
            out.append((label, f"(timed out after {TIMEOUT:.0f} s)"))
            continue
        took = time.perf_counter() - started
        value = None
        if script == "bench_dedupe.py":
            m = re.search(r"mean ([\d.]+) ms/update.*?p99 ([\d.]+) ms", text)
            if m:
                value = f"{m.group(1)} ms mean, {m.group(2)} ms p99"
                figures["dedupe_ms"] = float(m.group(1))
        elif script == "bench_query.py":
            m = re.search(r"^mean\s+([\d.]+)\s+([\d.]+)", text, re.M)
            e = re.search(r"^exact path: ([\d.]+) ms/100k mean, ([\d.]+) max", text, re.M)
            if m and e:
                value = (f"{e.group(1)} ms, {e.group(2)} ms · {m.group(1)} ms cold / "
                         f"{m.group(2)} ms warm")
                figures["refilter_exact_max"] = float(e.group(2))
        elif script == "bench_ui.py":
            a = re.search(r"first paint\s+(\d+) ms", text)
            b = re.search(r"full history\s+(\d+) ms", text)
            c = re.search(r"re-filter whole history\s+(\d+) ms", text)
            if a and b and c:
                value = f"{a.group(1)} ms / {b.group(1)} ms · {c.group(1)} ms"
                figures["refilter_dashboard"] = float(c.group(1))
        elif script == "bench_fetch.py":
            cells = re.findall(r"^\| (\d+) \| ([\d.]+) \| ([\d.]+) \| ×([\d.]+) \|$", text,
                               re.M)
            if cells:
                value = "; ".join(f"{c}: {a} → {b} ms (×{r})" for c, a, b, r in cells)
        if value is None:
            value = f"(could not read its output; exit {proc.returncode}: " \
                    f"{(proc.stderr or text).strip()[-200:]})"
        out.append((label, f"{value}  [{took:.0f} s]"))
    return out


# --- report ------------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    head = ("| N | latency | tool | conc. | cycle | wall s | CPU s | peak RSS MB | 200 | 304 "
            "| items stored | server CPU s |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        bad = f" (exit {r.rc})" if r.rc else ""
        other = f" +{r.other} other" if r.other else ""
        lines.append(
            f"| {r.n:,} | {r.latency * 1000:.0f} ms | {r.tool}{bad} | {r.concurrency} | "
            f"{r.cycle} | {r.wall:.2f} | {r.cpu:.2f} | {r.rss:.0f} | {r.ok200}{other} | "
            f"{r.n304} | {r.stored:,} | {r.server_cpu:.2f} |")
    return "\n".join(lines)


def ratios(rows: list[Row]) -> list[str]:
    def get(n: int, lat: float, tool: str, cycle: str) -> Row | None:
        return next((r for r in rows if (r.n, r.latency, r.tool, r.cycle)
                     == (n, lat, tool, cycle)), None)

    out = []
    for n, lat in sorted({(r.n, r.latency) for r in rows}):
        fw_c, fw_w = get(n, lat, "feedwatch", "cold"), get(n, lat, "feedwatch", "warm")
        if fw_c is None:
            continue
        parts = []
        for peer in ("newsboat", "sfeed"):
            for cycle, mine in (("cold", fw_c), ("warm", fw_w)):
                other = get(n, lat, peer, cycle)
                if other is not None and mine is not None and other.wall > 0:
                    parts.append(f"{cycle} ×{mine.wall / other.wall:.2f} of {peer}")
        if fw_w is not None:
            parts.append(f"warm/cold ×{fw_w.wall / fw_c.wall:.2f}")
        parts.append(f"end-to-end {fw_c.stored / fw_c.wall:,.0f} items/s cold")
        out.append(f"- N={n:,}, {lat * 1000:.0f} ms: feedwatch " + ", ".join(parts))
    return out


def targets(rows: list[Row], ingest: dict[str, float] | None,
            figures: dict[str, float]) -> list[str]:
    out = []
    big = [r for r in rows if r.n == 1000 and r.tool == "feedwatch" and r.cycle == "cold"]
    for fw in big:
        nb = next((r for r in rows if (r.n, r.latency, r.tool, r.cycle)
                   == (1000, fw.latency, "newsboat", "cold")), None)
        if nb is not None:
            x = fw.wall / nb.wall
            out.append(f"- 1,000-feed cold ≤ 0.5× newsboat ({fw.latency * 1000:.0f} ms): "
                       f"×{x:.2f} → {'MET' if x <= 0.5 else 'MISSED'}")
    for fw in (r for r in rows if r.tool == "feedwatch" and r.cycle == "cold"):
        warm = next((r for r in rows if (r.n, r.latency, r.tool, r.cycle)
                     == (fw.n, fw.latency, "feedwatch", "warm")), None)
        if warm is not None:
            x = warm.wall / fw.wall
            out.append(f"- warm ≤ 0.1× own cold (N={fw.n:,}, {fw.latency * 1000:.0f} ms): "
                       f"×{x:.2f} → {'MET' if x <= 0.1 else 'MISSED'}")
    if ingest:
        for key, label in (("store_rate", "store alone"), ("clustered_rate", "with clustering")):
            rate = ingest[key]
            out.append(f"- ingest ≥ 1,000 updates/s ({label}): {rate:,.0f}/s → "
                       f"{'MET' if rate >= 1000 else 'MISSED'}")
    for key, label, limit, unit in (
            ("dedupe_ms", "dedupe per update at 100k", 0.2, "ms"),
            ("refilter_exact_max", "re-filter of 100k, the index's exact answer (slowest "
             "query)", 200, "ms"),
            ("refilter_dashboard", "re-filter of 100k in the dashboard", 200, "ms")):
        if key in figures:
            value = figures[key]
            out.append(f"- {label} ≤ {limit:g} {unit}: {value:g} {unit} → "
                       f"{'MET' if value <= limit else 'MISSED'}")
    return out


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for cmd in (["newsboat", "--version"], ["dpkg-query", "-W", "-f", "${Version}", "sfeed"],
                ["curl", "--version"]):
        try:
            text = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
            versions.append((cmd[0] if cmd[0] != "dpkg-query" else "sfeed") + " "
                            + (text.split()[1] if cmd[0] != "dpkg-query" else text))
        except (OSError, IndexError, subprocess.TimeoutExpired):
            pass
    import feedparser
    import httpx
    return (f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, Python "
            f"{platform.python_version()}, feedparser {feedparser.__version__}, httpx "
            f"{httpx.__version__}, SQLite {sqlite3.sqlite_version}; " + ", ".join(versions))


# --- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true",
                   help="N = 100 and 1000 × latency 0 and 50 ms, 3 repeats, every extra")
    p.add_argument("--n", type=lambda s: [int(x) for x in s.split(",")], default=None,
                   help="feed counts, comma-separated (quick default: 1000)")
    p.add_argument("--latency", type=lambda s: [float(x) / 1000 for x in s.split(",")],
                   default=None, help="server latency in ms, comma-separated (quick: 50)")
    p.add_argument("--repeat", type=int, default=None, help="runs per cell (median wall)")
    p.add_argument("--tools", type=lambda s: s.split(","), default=list(TOOLS))
    p.add_argument("--concurrency", type=int, default=None,
                   help="one concurrency for every tool (default: each tool's tuned value)")
    p.add_argument("--no-extras", action="store_true", help="skip the other bench scripts")
    p.add_argument("--tune", action="store_true",
                   help="sweep concurrency 8..128 per tool (1000 feeds, 50 ms, cold + warm)")
    return p.parse_args(argv)


def tune(tools: list[str], scratch: Path) -> None:
    """Each tool's cold cycle and the warm one after it (nothing changed), per concurrency:
    the tuned value is where the two together took least."""
    print("| tool | concurrency | cold wall s | warm wall s | cold CPU s | warm CPU s "
          "| peak RSS MB |\n|---|---|---|---|---|---|---|")
    with Server(1000, 0.05) as server:
        for tool_name in tools:
            for conc in (8, 16, 32, 64, 128):
                work = scratch / f"tune-{tool_name}-{conc}"
                tool = TOOL_CLASSES[tool_name](work, server, conc)
                cold = tool.run()
                tool.run()  # newsboat keeps validators from its second download on
                warm = tool.run()
                print(f"| {tool_name} | {conc} | {cold.wall:.2f} | {warm.wall:.2f} | "
                      f"{cold.cpu:.2f} | {warm.cpu:.2f} | {cold.maxrss_mb:.0f} |", flush=True)
                shutil.rmtree(work, ignore_errors=True)


def compile_feedwatch() -> None:
    """Byte-compile the package as a regular install does: with PYTHONDONTWRITEBYTECODE set
    (as on some CI machines) an editable install would compile every module at each start,
    ~0.2 s a cycle that no installed copy pays."""
    compileall.compile_dir(ROOT / "feedwatch", quiet=1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    notes: list[str] = []
    tools = ensure_peers(args.tools, notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if "feedwatch" in tools:
        compile_feedwatch()
    scratch = Path(tempfile.mkdtemp(prefix="feedwatch-bench-"))
    try:
        if args.tune:
            tune(tools, scratch)
            return 0
        ns = args.n or ([100, 1000] if args.full else [1000])
        lats = args.latency or ([0.0, 0.05] if args.full else [0.05])
        repeat = args.repeat or (3 if args.full else 1)
        conc = {t: args.concurrency or CONCURRENCY[t] for t in TOOLS}
        started = time.perf_counter()
        rows: list[Row] = []
        for n in ns:
            for lat in lats:
                rows += run_scenario(n, lat, tools, conc, repeat, scratch)
        print("  parse and ingest rates …", file=sys.stderr, flush=True)
        ingest = ingest_figures(1000) if "feedwatch" in tools else None
        figures: dict[str, float] = {}
        extras = [] if args.no_extras else run_extras(not args.full, figures)
        took = time.perf_counter() - started
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"\n## feedwatch bench — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")
    print(f"Machine: {machine()}.")
    print(f"Command: `python -m bench {' '.join(argv if argv is not None else sys.argv[1:])}`"
          f" ({took:.0f} s); wall = median of {repeat} run(s).\n")
    print(table(rows))
    print("\nRatios:")
    print("\n".join(ratios(rows)))
    if ingest:
        print(f"\nIn-process, {ingest['feeds']:,} generated feeds ({ingest['items']:,} items):")
        print(f"- parse (parse_feed / feedparser, one thread): {ingest['parse_rate']:,.0f} "
              f"items/s ({ingest['parse_s'] * 1000 / ingest['feeds']:.1f} ms per feed)")
        print(f"- ingest into the store (Store.ingest, one transaction per feed): "
              f"{ingest['store_rate']:,.0f} updates/s; the same items again (all known): "
              f"{ingest['store_again_rate']:,.0f} items/s")
        print(f"- the same {ingest['classify']} (Store.ingest + ClusterIndex, as a poll "
              f"does): {ingest['clustered_rate']:,.0f} updates/s; again: "
              f"{ingest['clustered_again_rate']:,.0f} items/s")
    if extras:
        print("\nOther bench scripts:")
        for label, value in extras:
            print(f"- {label}: {value}")
    print("\nTargets:")
    print("\n".join(targets(rows, ingest, figures)))
    for note in notes:
        print(f"\nNote: {note}")
    return 0

"""Crash safety: kill -9 of `feedwatch tail`, and databases/configs that cannot be used.

The kill test runs the installed `feedwatch tail` against feeds that keep growing, kills it
(SIGKILL) at seeded random moments 20 times and restarts it. After every kill the database
must pass `PRAGMA integrity_check` and still hold everything stored before; across all runs
every published item must be printed at least once, and an item may be printed twice only if
it was in flight at a kill (printed, but the delivery cursor not yet advanced past it).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import feedwatch_exe
from hostile_server import Conn, HostileServer, Request, respond

WORDS = ("talks", "delegation", "ceasefire", "prisoners", "memorandum", "Istanbul", "Kyiv",
         "Ankara", "exchange", "drones", "minister", "statement", "border", "agreement")


class GrowingFeeds:
    """RSS feeds on a loopback server that gain an item every 0.1-0.4 s each."""

    def __init__(self, srv: HostileServer, names: tuple[str, ...] = ("A", "B"),
                 window: int = 60, seed: int = 1) -> None:
        self.items: dict[str, list[tuple[str, str, str]]] = {n: [] for n in names}
        self.window = window
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        for name in names:
            srv.route(f"/{name}.xml", self._serve(name))
        self.urls = {n: srv.url(f"/{n}.xml") for n in names}
        self.thread = threading.Thread(target=self._grow, daemon=True)

    def start(self) -> None:
        for name in self.items:
            self.add(name)
        self.thread.start()

    def add(self, name: str) -> None:
        with self.lock:
            n = len(self.items[name])
            words = " ".join(self.rng.sample(WORDS, 4))
            title = f"{name} update {n:04d}: {words}"
            self.items[name].append((f"{name}-{n}", title,
                                     format_datetime(datetime.now(UTC), usegmt=True)))

    def _grow(self) -> None:
        while not self.stopped.wait(self.rng.uniform(0.1, 0.4)):
            self.add(self.rng.choice(list(self.items)))

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)

    def published(self) -> set[str]:
        with self.lock:
            return {title for items in self.items.values() for _, title, _ in items}

    def _serve(self, name: str) -> Callable[[Conn, Request], None]:
        def behave(conn: Conn, request: Request) -> None:
            with self.lock:
                latest = self.items[name][-self.window:][::-1]  # newest first
            body = "".join(f"<item><title>{t}</title><guid>{g}</guid><pubDate>{d}</pubDate>"
                           f"<description>{t}.</description></item>" for g, t, d in latest)
            respond(f'<rss version="2.0"><channel><title>{name}</title>{body}'
                    "</channel></rss>")(conn, request)

        return behave


def db_snapshot(db: Path) -> tuple[str, set[tuple[str, str]], int | None, int]:
    """(integrity_check, stored (source, title) pairs, tail cursor, highest id) of a
    database at rest."""
    con = sqlite3.connect(db)
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        stored = set(con.execute("SELECT source, title FROM updates").fetchall())
        row = con.execute("SELECT value FROM cursors WHERE name = 'tail'").fetchone()
        (top,) = con.execute("SELECT COALESCE(MAX(id), 0) FROM updates").fetchone()
    finally:
        con.close()
    return integrity, stored, row[0] if row else None, top


def complete_lines(path: Path) -> tuple[list[dict[str, Any]], int]:
    """JSON records of the complete lines in a run's output, and the number of torn lines."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    torn = 1 if lines and lines[-1] else 0
    return [json.loads(line) for line in lines[:-1] if line.strip()], torn


def test_kill_9_tail_at_random_moments_loses_nothing(tmp_path: Path,
                                                     isolated_env: dict[str, str]) -> None:
    kills = 20
    rng = random.Random(int(os.environ.get("FEEDWATCH_CRASH_SEED", "20250602")))
    db = tmp_path / "fw.db"
    with HostileServer() as srv:
        feeds = GrowingFeeds(srv)
        cfg = tmp_path / "crash.toml"
        cfg.write_text('[topic]\nname = "crash"\ninterval = "0.3s"\n\n[fetch]\ntimeout = "2s"\n'
                       + "".join(f'\n[[source]]\nname = "{n}"\nurl = "{u}"\n'
                                 for n, u in feeds.urls.items()), encoding="utf-8")
        command = [*feedwatch_exe(), "tail", "-c", str(cfg), "--db", str(db)]
        feeds.start()
        runs: list[tuple[list[dict[str, Any]], int | None]] = []
        stored_before: set[tuple[str, str]] = set()
        torn_total = 0
        unprinted_at_kill = 0  # stored, cursor not past them: the next run must print them
        errors = []
        started = time.monotonic()
        for k in range(kills):
            out, err = tmp_path / f"run{k}.out", tmp_path / f"run{k}.err"
            with out.open("wb") as fh, err.open("wb") as eh:
                proc = subprocess.Popen(command, stdout=fh, stderr=eh, env=isolated_env)
                time.sleep(rng.uniform(0.6, 2.4))
                proc.kill()  # SIGKILL: no handler, no flush, no cleanup
                proc.wait(timeout=10)
            lines, torn = complete_lines(out)
            torn_total += torn
            errors.append(err.read_text(encoding="utf-8", errors="replace"))
            if not db.exists():
                runs.append((lines, None))
                continue
            integrity, stored, cursor, top = db_snapshot(db)
            unprinted_at_kill += top - (cursor or 0)
            assert integrity == "ok", f"after kill {k}: {integrity}"
            assert stored >= stored_before, f"kill {k} lost {stored_before - stored}"
            stored_before = stored
            runs.append((lines, cursor))

        # One last, clean run with the feeds at rest: it must catch up with everything.
        feeds.stop()
        published = feeds.published()
        out, err = tmp_path / "final.out", tmp_path / "final.err"
        with out.open("wb") as fh, err.open("wb") as eh:
            proc = subprocess.Popen(command, stdout=fh, stderr=eh, env=isolated_env)
            final_start = time.monotonic()
            try:
                everything = Counter(r["title"] for lines, _ in runs for r in lines)
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    final, _ = complete_lines(out)
                    if published <= set(everything) | {r["title"] for r in final}:
                        break
                    time.sleep(0.2)
                # nothing more should come; and SIGTERM only once it is up and polling
                # (during its first second, interpreter start-up, the default action kills)
                time.sleep(max(0.5, final_start + 3.0 - time.monotonic()))
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=15) == 0
            finally:
                if proc.poll() is None:
                    proc.kill()
        final, _ = complete_lines(out)
        errors.append(err.read_text(encoding="utf-8", errors="replace"))
        elapsed = time.monotonic() - started

    integrity, stored, _, _ = db_snapshot(db)
    assert integrity == "ok"
    assert not [e for e in errors if "Traceback" in e]
    all_runs = [*runs, (final, None)]
    printed = Counter(r["title"] for lines, _ in all_runs for r in lines)
    # at-least-once: everything the sources published was printed, and everything stored
    assert published - set(printed) == set(), "published but never printed"
    assert {t for _, t in stored} - set(printed) == set(), "stored but never printed"
    # within one run nothing is printed twice
    for lines, _ in all_runs:
        per_run = Counter(r["title"] for r in lines)
        assert not [t for t, n in per_run.items() if n > 1]
    # across runs, only what was in flight at a kill: printed, cursor not past it
    in_flight = {r["title"] for lines, cursor in runs if cursor is not None
                 for r in lines if r["id"] > cursor}
    in_flight |= {r["title"] for lines, cursor in runs if cursor is None for r in lines}
    duplicates = {t for t, n in printed.items() if n > 1}
    assert duplicates <= in_flight, f"repeated without being in flight: {duplicates - in_flight}"
    print(f"\ncrash test: {kills} kills in {elapsed:.0f} s; {len(published)} items published, "
          f"{sum(printed.values())} lines printed, {len(duplicates)} printed twice "
          f"(in flight at a kill: {len(in_flight)}), {torn_total} torn lines; "
          f"{unprinted_at_kill} stored-but-unprinted at a kill, printed after the restart")


# --- databases that cannot be used ---------------------------------------------------------

FEED = ('<rss version="2.0"><channel><title>h</title>'
        "<item><title>Stored before the trouble</title><guid>1</guid></item></channel></rss>")


@pytest.fixture
def feed_cfg(tmp_path: Path) -> Iterator[tuple[Path, HostileServer]]:
    with HostileServer() as srv:
        srv.route("/feed.xml", respond(FEED))
        cfg = tmp_path / "topic.toml"
        cfg.write_text(f'[topic]\nname = "db"\ninterval = "0.3s"\n[fetch]\ntimeout = "2s"\n'
                       f'[[source]]\nname = "Wire"\nurl = "{srv.url("/feed.xml")}"\n',
                       encoding="utf-8")
        yield cfg, srv


def _more(srv: HostileServer, n: int) -> None:
    items = "".join(f"<item><title>Later item {i}</title><guid>l{i}</guid></item>"
                    for i in range(n))
    srv.route("/feed.xml", respond(FEED.replace("</channel>", items + "</channel>")))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_locked_database_waits_then_reports_exit_3(
        feed_cfg: tuple[Path, HostileServer], tmp_path: Path,
        run_cli: Callable[..., Any]) -> None:
    cfg, srv = feed_cfg
    db = tmp_path / "fw.db"
    assert run_cli("once", "-c", str(cfg), "--db", str(db)).returncode == 0
    _more(srv, 1)

    def hold(seconds: float, ready: threading.Event) -> None:
        con = sqlite3.connect(db, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        ready.set()
        time.sleep(seconds)
        con.execute("ROLLBACK")
        con.close()

    # a lock held briefly is waited out
    ready = threading.Event()
    holder = threading.Thread(target=hold, args=(1.0, ready))
    holder.start()
    ready.wait(5)
    brief = run_cli("once", "-c", str(cfg), "--db", str(db))
    holder.join()
    assert brief.returncode == 0, brief.stderr
    assert [json.loads(line)["title"] for line in brief.stdout.splitlines()] == ["Later item 0"]

    # a lock held past the busy timeout (5 s) is a clear error, exit 3, nothing damaged
    _more(srv, 2)
    ready = threading.Event()
    holder = threading.Thread(target=hold, args=(6.0, ready))
    holder.start()
    ready.wait(5)
    locked = run_cli("once", "-c", str(cfg), "--db", str(db))
    holder.join()
    assert locked.returncode == 3, locked.stderr
    assert f"database {db} is locked by another process (is another feedwatch running?)" \
        in locked.stderr
    assert "Traceback" not in locked.stderr and locked.stdout == ""
    integrity, stored, _, _ = db_snapshot(db)
    assert integrity == "ok" and len(stored) == 2
    again = run_cli("once", "-c", str(cfg), "--db", str(db))
    assert again.returncode == 0 and "Later item 1" in again.stdout


def _immutable(path: Path, on: bool) -> bool:
    if shutil.which("chattr") is None:
        return False
    result = subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True,
                            check=False)
    return result.returncode == 0


def test_read_only_database_is_a_clear_error_and_stays_intact(
        feed_cfg: tuple[Path, HostileServer], tmp_path: Path,
        run_cli: Callable[..., Any]) -> None:
    # Tests run as root, which ignores file modes; an immutable file (chattr +i) is read-only
    # even for root.
    cfg, srv = feed_cfg
    db = tmp_path / "fw.db"
    assert run_cli("once", "-c", str(cfg), "--db", str(db)).returncode == 0
    _more(srv, 1)
    if not _immutable(db, True):
        pytest.skip("cannot make a file immutable here (chattr)")
    try:
        before = _digest(db)
        once = run_cli("once", "-c", str(cfg), "--db", str(db))
        tail = run_cli("tail", "-c", str(cfg), "--db", str(db), timeout=30)
        sources = run_cli("sources", "-c", str(cfg), "--db", str(db))
        assert _digest(db) == before
    finally:
        _immutable(db, False)
    message = f"database {db} is read-only: check the file's permissions"
    assert once.returncode == 3 and message in once.stderr, once.stderr
    assert tail.returncode == 3 and message in tail.stderr, tail.stderr
    assert sources.returncode == 0 and "Wire" in sources.stdout  # reading still works
    for result in (once, tail, sources):
        assert "Traceback" not in result.stderr
    assert db_snapshot(db)[0] == "ok"


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def test_full_disk_is_a_clear_error_and_recovers(
        feed_cfg: tuple[Path, HostileServer], small_tmpfs: Path,
        run_cli: Callable[..., Any]) -> None:
    cfg, srv = feed_cfg
    db = small_tmpfs / "fw.db"
    assert run_cli("once", "-c", str(cfg), "--db", str(db)).returncode == 0
    _more(srv, 50)
    filler = small_tmpfs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass  # ENOSPC: the disk is full
    finally:
        os.close(fd)
    full = run_cli("once", "-c", str(cfg), "--db", str(db))
    assert full.returncode == 3, full.stderr
    assert f"disk full: cannot write to database {db}" in full.stderr, full.stderr
    assert "Traceback" not in full.stderr
    filler.unlink()
    integrity, stored, _, _ = db_snapshot(db)
    assert integrity == "ok" and ("Wire", "Stored before the trouble") in stored
    again = run_cli("once", "-c", str(cfg), "--db", str(db))
    assert again.returncode == 0 and again.stdout.count("Later item") == 50


async def test_disk_full_during_a_poll_is_reported_and_rolled_back(tmp_path: Path) -> None:
    """Injected: the database fails with SQLITE_FULL in the middle of an ingest."""
    from feedwatch.config import parse_topic
    from feedwatch.engine import Engine
    from feedwatch.store import Store

    class FullAfterFirstInsert:
        def __init__(self, con: sqlite3.Connection) -> None:
            self.con, self.inserts = con, 0

        def execute(self, sql: str, *args: Any) -> Any:
            if sql.lstrip().upper().startswith("INSERT INTO UPDATES"):
                self.inserts += 1
                if self.inserts > 1:
                    raise sqlite3.OperationalError("database or disk is full")
            return self.con.execute(sql, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.con, name)

    with HostileServer() as srv:
        srv.route("/feed.xml", respond(FEED))
        topic = parse_topic(f'[[source]]\nname = "Wire"\nurl = "{srv.url("/feed.xml")}"\n')
        store = Store(tmp_path / "fw.db")
        try:
            async with Engine(topic, store) as engine:
                (first,) = await engine.poll_all()
                assert first.ok and store.count() == 1
                _more(srv, 3)
                store._db = FullAfterFirstInsert(store._db)  # type: ignore[assignment]
                (second,) = await engine.poll_all()
            store._db = store._db.con  # type: ignore[attr-defined]
            message = f"disk full: cannot write to database {tmp_path / 'fw.db'}"
            assert second.error == message and second.db_error == message
            assert store.count() == 1  # the half-done poll was rolled back as a whole
            assert store.integrity_check() == "ok"
        finally:
            store.close()


@pytest.mark.parametrize("text, expected", [
    (sqlite3.OperationalError("database is locked"), "is locked by another process"),
    (sqlite3.OperationalError("attempt to write a readonly database"), "is read-only"),
    (sqlite3.OperationalError("database or disk is full"), "disk full: cannot write"),
    (sqlite3.DatabaseError("file is not a database"), "is damaged or not a feedwatch database"),
    (sqlite3.DatabaseError("database disk image is malformed"), "is damaged"),
    (sqlite3.OperationalError("unable to open database file"), "cannot open database"),
])
def test_database_errors_are_phrased_for_people(text: sqlite3.Error, expected: str) -> None:
    from feedwatch.store import _describe

    assert expected in _describe(text, "/x/fw.db")


@pytest.mark.parametrize("make, expected", [
    (lambda p: p.write_bytes(b"SQLite format 3\0" + bytes(range(256)) * 40),
     "is damaged or not a feedwatch database"),
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 5000),
     "is damaged or not a feedwatch database"),
    (lambda p: p.mkdir(), "cannot open database"),
], ids=["garbage-sqlite-header", "not-sqlite", "a-directory"])
def test_unusable_database_file_is_exit_3_and_left_alone(
        make: Callable[[Path], Any], expected: str, feed_cfg: tuple[Path, HostileServer],
        tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    cfg, _ = feed_cfg
    db = tmp_path / "fw.db"
    make(db)
    before = _digest(db) if db.is_file() else None
    for command in ("once", "tail", "sources"):
        result = run_cli(command, "-c", str(cfg), "--db", str(db), timeout=30)
        assert result.returncode == 3, (command, result.stderr)
        assert expected in result.stderr and "Traceback" not in result.stderr
    if before is not None:
        assert _digest(db) == before  # never "repaired" by overwriting


def test_truncated_database_is_reported_not_overwritten(
        feed_cfg: tuple[Path, HostileServer], tmp_path: Path,
        run_cli: Callable[..., Any]) -> None:
    cfg, srv = feed_cfg
    db = tmp_path / "fw.db"
    _more(srv, 300)
    assert run_cli("once", "-c", str(cfg), "--db", str(db)).returncode == 0
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    before = _digest(db)
    result = run_cli("once", "-c", str(cfg), "--db", str(db))
    assert result.returncode == 3, result.stderr
    assert "is damaged" in result.stderr and "Traceback" not in result.stderr
    assert _digest(db) == before


@pytest.mark.parametrize("content, expected", [
    (b"[topic\nname = 1\n", ":1: invalid TOML"),
    (b"\xff\xfe\x00garbage", "broken.toml: cannot read"),
    (b'[topic]\ninterval = "soon"\n[[source]]\nurl = "https://a.example/"\n',
     ":2: interval: bad duration 'soon'"),
    (b'[[source]]\nurl = "file:///etc/passwd"\n', ":2:"),
    (b"", "no sources"),
    (b"\x00" * 64, "invalid TOML"),
], ids=["bad-toml", "not-utf8", "bad-duration", "file-url", "empty", "nul-bytes"])
def test_corrupt_config_is_exit_2_and_touches_no_database(
        content: bytes, expected: str, tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    cfg = tmp_path / "broken.toml"
    cfg.write_bytes(content)
    db = tmp_path / "fw.db"
    for command in ("once", "tail", "check", "sources"):
        result = run_cli(command, "-c", str(cfg), "--db", str(db), timeout=30)
        assert result.returncode == 2, (command, result.stderr)
        assert expected in result.stderr, (command, result.stderr)
        assert str(cfg) in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) <= 3
    assert not db.exists()

"""The only place that runs SQL: updates, clusters, revisions, source state, delivery cursors.

SQLite in WAL mode, one connection guarded by a lock (the engine writes from one worker
thread; views read). Every write is one transaction, so a crash at any moment leaves either
the whole poll result or none of it. Schema changes are numbered migrations keyed on
``PRAGMA user_version``. The public methods are the interface a second backend (PostgreSQL)
would implement.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from .ftsplain import TABLES_VERSION, is_plain
from .model import Entry, EventKind, SourceState, Update, UpdateEvent
from .query import FtsExact
from .textutil import canonical_url, text_fingerprint

# Published times before this are treated as missing (epoch-zero and similar junk).
EARLIEST_SANE = datetime(1995, 1, 1, tzinfo=UTC).timestamp()
FUTURE_SKEW = 300.0  # seconds a source's clock may run ahead before we clamp
TITLE_IDENTITY_WINDOW = 3 * 86400.0


def _read_only_fs(folder: str) -> bool:
    """Whether ``folder`` is on a file system mounted read-only (root ignores permissions)."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


class StoreError(Exception):
    """A database problem, phrased for a person (locked, read-only, disk full, corrupt)."""


def _describe(exc: sqlite3.Error, path: str) -> str:
    text = str(exc)
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return f"database {path} is locked by another process (is another feedwatch running?)"
    if "readonly" in lowered or "read-only" in lowered:
        return f"database {path} is read-only: check the file's permissions"
    if "disk is full" in lowered or "full" in lowered:
        return f"disk full: cannot write to database {path}"
    if "disk i/o error" in lowered and _disk_full(path):
        return f"disk full: cannot write to database {path}"
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return f"database {path} is damaged or not a feedwatch database ({text})"
    if "unable to open" in lowered:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            return f"cannot open database {path}: the directory {folder} does not exist"
        if not os.access(folder, os.W_OK) or _read_only_fs(folder):
            return (f"cannot open database {path}: {folder} is read-only (feedwatch keeps a "
                    "write-ahead log beside the database; use --db FILE on a writable disk)")
        return f"cannot open database {path}: check that the directory exists and is writable"
    return f"database error in {path}: {text}"


def _disk_full(path: str) -> bool:
    """SQLite reports a full disk as a plain I/O error when it cannot grow the WAL or its
    shared-memory file; a look at the file system tells the two apart."""
    try:
        st = os.statvfs(Path(path).expanduser().resolve().parent)
    except (OSError, ValueError):
        return False
    return st.f_bavail * st.f_frsize < 64 * 1024


_MIGRATIONS: list[str] = [
    # 1: initial schema
    """
    CREATE TABLE updates (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        key TEXT NOT NULL,
        published REAL NOT NULL,
        published_raw REAL,
        first_seen REAL NOT NULL,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        url TEXT,
        canonical_url TEXT,
        title_fp TEXT,
        content_hash TEXT NOT NULL,
        revision INTEGER NOT NULL DEFAULT 1,
        cluster INTEGER NOT NULL,
        lang TEXT,
        author TEXT,
        views INTEGER,
        forwarded_from TEXT,
        forwarded_url TEXT,
        media TEXT NOT NULL DEFAULT '',
        dismissed INTEGER NOT NULL DEFAULT 0,
        UNIQUE (source, key)
    );
    CREATE INDEX updates_published ON updates (published DESC, id DESC);
    CREATE INDEX updates_cluster ON updates (cluster);
    CREATE INDEX updates_source_canon ON updates (source, canonical_url);
    CREATE INDEX updates_source_title ON updates (source, title_fp);
    CREATE TABLE clusters (
        id INTEGER PRIMARY KEY,
        size INTEGER NOT NULL DEFAULT 1,
        sources INTEGER NOT NULL DEFAULT 1,
        last_joined REAL
    );
    CREATE TABLE revisions (
        update_id INTEGER NOT NULL,
        revision INTEGER NOT NULL,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        url TEXT,
        replaced_at REAL NOT NULL,
        PRIMARY KEY (update_id, revision)
    );
    CREATE TABLE source_state (
        source TEXT PRIMARY KEY,
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        last_ok REAL,
        last_attempt REAL,
        last_error TEXT,
        failures INTEGER NOT NULL DEFAULT 0,
        next_due REAL,
        disabled_reason TEXT,
        cursor TEXT,
        muted INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE cursors (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    CREATE VIRTUAL TABLE updates_fts USING fts5 (
        title, text, content='updates', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER updates_ai AFTER INSERT ON updates BEGIN
        INSERT INTO updates_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
    END;
    CREATE TRIGGER updates_ad AFTER DELETE ON updates BEGIN
        INSERT INTO updates_fts (updates_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
    END;
    CREATE TRIGGER updates_au AFTER UPDATE OF title, text ON updates BEGIN
        INSERT INTO updates_fts (updates_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
        INSERT INTO updates_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
    END;
    """,
    # 2: when a server's Retry-After ends, so that `once` run from cron honours it too
    "ALTER TABLE source_state ADD COLUMN retry_until REAL;",
    # 3: whether FTS5 reads the title and text word for word as the matcher does (ftsplain):
    # a re-filter then takes the index's answer for the update instead of running the matcher
    # (texts are flagged on open, see Store._flag_plain)
    """
    ALTER TABLE updates ADD COLUMN plain INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX updates_not_plain ON updates (id) WHERE plain = 0;
    CREATE INDEX updates_members ON updates (id, cluster, source) WHERE id != cluster;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 4: the full-text index is filled in bulk (Store.index_pending), not row by row from a
    # trigger: FTS5 indexes a few thousand rows in one statement ~5x cheaper per row, and the
    # row-by-row form was ~2/3 of the cost of storing an update. Updates above the mark are
    # not in the index yet, so FTS5 must not be told to delete or replace them.
    """
    DROP TRIGGER updates_ai;
    DROP TRIGGER updates_ad;
    DROP TRIGGER updates_au;
    CREATE TABLE fts_upto (id INTEGER NOT NULL);
    INSERT INTO fts_upto (id) SELECT COALESCE(MAX(id), 0) FROM updates;
    CREATE TRIGGER updates_ad AFTER DELETE ON updates
    WHEN old.id <= (SELECT id FROM fts_upto) BEGIN
        INSERT INTO updates_fts (updates_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
    END;
    CREATE TRIGGER updates_au AFTER UPDATE OF title, text ON updates
    WHEN old.id <= (SELECT id FROM fts_upto) BEGIN
        INSERT INTO updates_fts (updates_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
        INSERT INTO updates_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
    END;
    """,
    # 5: which feed or channel each source name stood for, so that a source renamed in the
    # topic file (or an unnamed one whose default name changed) keeps its history
    "CREATE TABLE source_ids (source TEXT PRIMARY KEY, identity TEXT NOT NULL);",
    # 6: what the last read of a source worked around (SourceState.warning)
    "ALTER TABLE source_state ADD COLUMN warning TEXT;",
]
# Updates not in the full-text index yet (see migration 4): every FTS5 answer is completed
# with them, and the matcher judges them.
_UNINDEXED = "SELECT id FROM updates WHERE id > (SELECT id FROM fts_upto)"

_UPDATE_COLUMNS = (
    "u.id, u.source, u.key, u.published, u.first_seen, u.title, u.text, u.url, u.cluster, "
    "u.revision, u.lang, u.author, u.views, u.forwarded_from, u.forwarded_url, u.media, "
    "COALESCE(c.sources, 1)"
)
_FROM = "FROM updates u LEFT JOIN clusters c ON c.id = u.cluster"


def _ts(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt is not None else None


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=UTC) if ts is not None else None


def _row_to_update(row: Sequence[Any]) -> Update:
    return Update(
        id=row[0], source=row[1], key=row[2], published=_dt(row[3]),  # type: ignore[arg-type]
        first_seen=_dt(row[4]), title=row[5], text=row[6], url=row[7],  # type: ignore[arg-type]
        cluster=row[8], revision=row[9], lang=row[10], author=row[11], views=row[12],
        forwarded_from=row[13], forwarded_url=row[14],
        media=tuple(row[15].split(",")) if row[15] else (), sources_in_cluster=row[16],
    )


def effective_time(published: datetime | None, first_seen: datetime) -> datetime:
    """The time an update is ordered by: the source's date when sane, else first-seen."""
    if published is None:
        return first_seen
    ts = published.timestamp()
    if ts < EARLIEST_SANE or ts > first_seen.timestamp() + FUTURE_SKEW:
        return first_seen
    return published.astimezone(UTC)


def content_hash(entry: Entry, canon: str | None = None) -> str:
    # The canonical URL, so a link that only gains tracking parameters is not an edit.
    if canon is None:
        canon = canonical_url(entry.url)
    return text_fingerprint(entry.title, entry.text, canon or "", ",".join(entry.media))


def _title_fp(title: str) -> str | None:
    norm = " ".join(title.casefold().split())
    return text_fingerprint(norm) if len(norm) >= 20 else None


@dataclass(frozen=True, slots=True)
class Revision:
    revision: int
    title: str
    text: str
    url: str | None
    replaced_at: datetime


Classifier = Callable[[Update], int]
MemberText = tuple[int, str, str, str, str | None, str | None]


@dataclass(slots=True)
class _Batch:
    """One ingest call: the keys it carries and the stored rows already matched by link or
    title."""

    keys: set[str]
    claimed: set[int]
    # Looked up once per batch instead of once per entry (None: not looked up, query as
    # before): stored rows by key, and which canonical URLs / title fingerprints of the
    # batch occur among the source's stored rows at all.
    rows: dict[str, Any] | None = None
    canons: set[str] | None = None
    title_fps: set[str] | None = None
    touched: set[str] = field(default_factory=set)  # keys stored or edited by this batch


class Store:
    """SQLite-backed history of one topic."""

    def __init__(self, path: str | Path, *, timeout: float = 5.0) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._depth = 0  # transactions open: 1, or more when savepoints nest inside one
        self._aborted: str | None = None  # why the open transaction cannot commit
        try:
            if self.path != ":memory:":
                Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=timeout, check_same_thread=False,
                                       isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            self._db.create_function("feedwatch_is_plain", 2, is_plain, deterministic=True)
            self._migrate()
            self._flag_plain()
        except sqlite3.Error as exc:
            raise StoreError(_describe(exc, self.path)) from None
        except OSError as exc:
            raise StoreError(f"cannot open database {self.path}: {exc.strerror or exc}") from None

    # --- plumbing ----------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error:
                pass

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around several store calls (from one thread): each call inside
        is a savepoint, so one that fails is undone alone while the rest commit together,
        at the end, or not at all if that commit fails (StoreError)."""
        with self._tx():
            yield

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads that see one state of the database, though another process writes
        meanwhile (one read transaction: WAL keeps its snapshot). A history filter asks the
        index and then which updates it cannot answer for; indexing between the two
        questions would hide updates from both."""
        with self._lock:
            if self._depth:
                yield
                return
            try:
                self._db.execute("BEGIN")
            except sqlite3.Error as exc:
                raise StoreError(_describe(exc, self.path)) from None
            self._depth = 1  # (a write inside becomes a savepoint of this transaction)
            try:
                yield
            finally:
                self._depth = 0
                if self._db.in_transaction:
                    try:
                        self._db.execute("COMMIT")
                    except sqlite3.Error as exc:
                        raise StoreError(_describe(exc, self.path)) from None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._depth:
                with self._savepoint():
                    yield self._db
                return
            self._depth, self._aborted = 1, None
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
                if self._aborted:  # an error inside ended the transaction: nothing to commit
                    raise StoreError(self._aborted)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    try:
                        self._db.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise StoreError(_describe(exc, self.path)) from None
            finally:
                self._depth = 0

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        if not self._aborted and not self._db.in_transaction:
            # SQLite rolled the transaction back on an error outside any savepoint; a
            # SAVEPOINT now would open and commit a transaction of its own
            self._aborted = self._rolled_back
        if self._aborted:
            raise StoreError(self._aborted)
        name = f"fw{self._depth}"
        self._depth += 1
        try:
            self._db.execute(f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute(f"ROLLBACK TO {name}")
                    self._db.execute(f"RELEASE {name}")
                raise
            self._db.execute(f"RELEASE {name}")
        except sqlite3.Error as exc:
            message = _describe(exc, self.path)
            if not self._db.in_transaction:  # SQLite rolled the whole transaction back
                self._aborted = message
            raise StoreError(message) from None
        except BaseException:
            if not self._db.in_transaction:
                self._aborted = self._rolled_back
            raise
        finally:
            self._depth -= 1

    @property
    def _rolled_back(self) -> str:
        return f"database error in {self.path}: transaction rolled back"

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(_describe(exc, self.path)) from None

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(_MIGRATIONS):
            raise StoreError(f"database {self.path} was written by a newer feedwatch "
                             f"(schema {version}); upgrade feedwatch")
        for number in range(version, len(_MIGRATIONS)):
            self._db.execute("BEGIN IMMEDIATE")
            if self._db.execute("PRAGMA user_version").fetchone()[0] > number:
                self._db.execute("ROLLBACK")  # another process opening it migrated it first
                continue
            try:
                for statement in _split_sql(_MIGRATIONS[number]):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={number + 1}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _flag_plain(self) -> None:
        """Flag every stored text plain or not (see ``ftsplain``) when the flags were set by
        other tables than this feedwatch's (or never: a database from before schema 3)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'plain_tables'").fetchone()
        if row is not None and row[0] == TABLES_VERSION:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("UPDATE updates SET plain = feedwatch_is_plain(title, text)")
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES"
                             " ('plain_tables', ?)", (TABLES_VERSION,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def integrity_check(self) -> str:
        return self._query("PRAGMA integrity_check")[0][0]

    # --- ingest ------------------------------------------------------------------------

    def ingest(self, source: str, entries: Iterable[Entry], now: datetime, *,
               classify: Classifier | None = None, reclassify: Classifier | None = None,
               title_identity: bool = True) -> list[UpdateEvent]:
        """Store a poll's entries in one transaction; return what is new or edited.

        ``classify`` is called for each new update (inside the transaction) and returns the
        id of the cluster it belongs to; the store keeps cluster counts. ``reclassify`` is
        called for an edited update that is alone in its cluster: if it now belongs to
        another cluster it moves there (a JOINED event instead of EDITED).
        ``title_identity`` lets a feed's re-issued item (new GUID, same link or title) be
        recognised as the item it already has.
        """
        events: list[UpdateEvent] = []
        now_ts = now.timestamp()
        entries = list(entries)
        # A fallback (link/title) match may only claim a stored row whose own key is not in
        # this batch, and only once: else two items sharing a link or title "edit" each
        # other on every poll, for ever.
        batch = _Batch({e.key for e in entries}, set())
        # each entry's canonical URL and title fingerprint, worked out once for both passes
        derived = [(canonical_url(e.url), _title_fp(e.title)) for e in entries]
        with self._tx() as db:
            self._prefetch(db, source, entries, derived, now_ts, title_identity, batch)
            for entry, (canon, title_fp) in zip(entries, derived, strict=True):
                event = self._ingest_one(db, source, entry, canon, title_fp, now, now_ts,
                                         classify, title_identity, batch)
                if event is not None and event.kind is EventKind.EDITED and reclassify:
                    event = self._regroup(db, event, reclassify, now_ts)
                if event is not None:
                    events.append(event)
        return events

    def _prefetch(self, db: sqlite3.Connection, source: str, entries: list[Entry],
                  derived: list[tuple[str | None, str | None]], now_ts: float,
                  title_identity: bool, batch: _Batch) -> None:
        """One query per kind for the whole batch (a few per poll, not a few per entry).

        Only rows whose key is outside the batch can be fallback candidates, and the batch
        never changes such rows (it changes rows it matched by key, or claimed, and adds
        rows with its own keys), so the canonical URLs and title fingerprints seen here are
        all a later per-entry fallback query could still find."""
        keys = list(batch.keys)
        batch.rows = {}
        for part in _chunks(keys):
            marks = ",".join("?" * len(part))
            for row in db.execute(f"SELECT key, {_FIND_COLS} FROM updates WHERE source = ?"
                                  f" AND key IN ({marks})", (source, *part)):
                batch.rows[row[0]] = row[1:]
        if not title_identity:
            return
        unmatched = [d for e, d in zip(entries, derived, strict=True) if e.key not in batch.rows]
        canons = {c for c, _ in unmatched if c and _deep(c)}
        fps = {fp for _, fp in unmatched if fp}
        batch.canons, batch.title_fps = set(), set()
        for part in _chunks(list(canons)):
            marks = ",".join("?" * len(part))
            batch.canons.update(r[0] for r in db.execute(
                f"SELECT DISTINCT canonical_url FROM updates WHERE source = ?"
                f" AND canonical_url IN ({marks})", (source, *part)))
        for part in _chunks(list(fps)):
            marks = ",".join("?" * len(part))
            batch.title_fps.update(r[0] for r in db.execute(
                f"SELECT DISTINCT title_fp FROM updates WHERE source = ? AND title_fp IN"
                f" ({marks}) AND first_seen > ?",
                (source, *part, now_ts - TITLE_IDENTITY_WINDOW)))

    def _find_existing(self, db: sqlite3.Connection, source: str, entry: Entry,
                       canon: str | None, title_fp: str | None, now_ts: float,
                       title_identity: bool, batch: _Batch | None = None) -> Any:
        cols = _FIND_COLS
        if batch is not None and batch.rows is not None and entry.key not in batch.touched:
            row = batch.rows.get(entry.key)
        else:
            row = db.execute(f"SELECT {cols} FROM updates WHERE source = ? AND key = ?",
                             (source, entry.key)).fetchone()
        if row is not None or not title_identity:
            return row
        batch = batch or _Batch(set(), set())
        if batch.canons is not None and canon not in batch.canons:
            canon = None  # no stored row of this source has it: nothing to look up
        if batch.title_fps is not None and title_fp not in batch.title_fps:
            title_fp = None
        candidates: list[Any] = []
        if canon and _deep(canon):
            candidates += db.execute(
                f"SELECT {cols}, key FROM updates WHERE source = ? AND canonical_url = ?"
                " ORDER BY id DESC LIMIT 50", (source, canon)).fetchall()
        if title_fp:
            candidates += db.execute(
                f"SELECT {cols}, key FROM updates WHERE source = ? AND title_fp = ? "
                "AND first_seen > ? ORDER BY id DESC LIMIT 50",
                (source, title_fp, now_ts - TITLE_IDENTITY_WINDOW)).fetchall()
        for candidate in candidates:
            if candidate[-1] not in batch.keys and candidate[0] not in batch.claimed:
                batch.claimed.add(candidate[0])
                return candidate[:-1]
        return None

    def _ingest_one(self, db: sqlite3.Connection, source: str, entry: Entry,
                    canon: str | None, title_fp: str | None, now: datetime, now_ts: float,
                    classify: Classifier | None, title_identity: bool,
                    batch: _Batch | None = None) -> UpdateEvent | None:
        digest = content_hash(entry, canon)
        row = self._find_existing(db, source, entry, canon, title_fp, now_ts, title_identity,
                                  batch)
        if batch is not None:
            batch.touched.add(entry.key)  # a repeat of this key in the batch asks the table
        if row is not None:
            update_id, old_hash, revision, old_title, old_text, old_url, old_views = row
            if old_hash == digest:
                if entry.views is not None and entry.views != old_views:
                    db.execute("UPDATE updates SET views = ? WHERE id = ?",
                               (entry.views, update_id))
                return None
            db.execute(
                "INSERT OR REPLACE INTO revisions (update_id, revision, title, text, url,"
                " replaced_at) VALUES (?, ?, ?, ?, ?, ?)",
                (update_id, revision, old_title, old_text, old_url, now_ts))
            db.execute(
                "UPDATE updates SET title = ?, text = ?, url = ?, canonical_url = ?,"
                " title_fp = ?, content_hash = ?, revision = revision + 1, views = ?,"
                " media = ?, plain = ? WHERE id = ?",
                (entry.title, entry.text, entry.url, canon, title_fp, digest,
                 entry.views if entry.views is not None else old_views,
                 ",".join(entry.media), is_plain(entry.title, entry.text), update_id))
            return UpdateEvent(EventKind.EDITED, self._get(db, update_id))

        published = effective_time(entry.published, now)
        # Stored as its own cluster (cluster = id, the usual outcome) and moved below if it
        # joins another: one statement fewer per new update than a placeholder and an UPDATE.
        cur = db.execute(
            "INSERT INTO updates (id, source, key, published, published_raw, first_seen, title,"
            " text, url, canonical_url, title_fp, content_hash, cluster, lang, author, views,"
            " forwarded_from, forwarded_url, media, plain) VALUES"
            " ((SELECT COALESCE(MAX(id), 0) + 1 FROM updates), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?, (SELECT COALESCE(MAX(id), 0) + 1 FROM updates), ?, ?, ?, ?, ?, ?, ?)",
            (source, entry.key, published.timestamp(), _ts(entry.published), now_ts,
             entry.title, entry.text, entry.url, canon, title_fp, digest, entry.lang,
             entry.author, entry.views, entry.forwarded_from, entry.forwarded_url,
             ",".join(entry.media), is_plain(entry.title, entry.text)))
        update_id = cur.lastrowid
        assert update_id is not None
        update = Update(
            id=update_id, source=source, key=entry.key, published=published, first_seen=now,
            title=entry.title, text=entry.text, url=entry.url, cluster=update_id,
            lang=entry.lang, author=entry.author, views=entry.views,
            forwarded_from=entry.forwarded_from, forwarded_url=entry.forwarded_url,
            media=entry.media,
        )
        cluster = classify(update) if classify is not None else update_id
        exists = cluster != update_id and db.execute(
            "SELECT 1 FROM clusters WHERE id = ?", (cluster,)).fetchone()
        if not exists:
            cluster = update_id
        if cluster != update_id:
            db.execute("UPDATE updates SET cluster = ? WHERE id = ?", (cluster, update_id))
        if cluster == update_id:
            db.execute("INSERT INTO clusters (id, size, sources, last_joined) VALUES (?, 1, 1, ?)",
                       (update_id, now_ts))
            return UpdateEvent(EventKind.NEW, update)
        return self._joined(db, update, cluster, now_ts)

    def _joined(self, db: sqlite3.Connection, update: Update, cluster: int,
                now_ts: float) -> UpdateEvent:
        """Count ``update`` (already moved to ``cluster``) in that cluster's figures."""
        (sources,) = db.execute(
            "SELECT COUNT(DISTINCT source) FROM updates WHERE cluster = ?", (cluster,)).fetchone()
        db.execute("UPDATE clusters SET size = size + 1, sources = ?, last_joined = ? "
                   "WHERE id = ?", (sources, now_ts, cluster))
        return UpdateEvent(EventKind.JOINED,
                           replace(update, cluster=cluster, sources_in_cluster=sources))

    def _regroup(self, db: sqlite3.Connection, event: UpdateEvent, reclassify: Classifier,
                 now_ts: float) -> UpdateEvent:
        update = event.update
        if update.cluster != update.id:
            return event  # a member: its story stands
        row = db.execute("SELECT size FROM clusters WHERE id = ?", (update.id,)).fetchone()
        if row is None or row[0] != 1:
            return event  # a headline with members keeps its story
        cluster = reclassify(update)
        if cluster == update.id or not db.execute(
                "SELECT 1 FROM clusters WHERE id = ?", (cluster,)).fetchone():
            return event
        db.execute("UPDATE updates SET cluster = ? WHERE id = ?", (cluster, update.id))
        db.execute("DELETE FROM clusters WHERE id = ?", (update.id,))
        return self._joined(db, update, cluster, now_ts)

    # --- reads -------------------------------------------------------------------------

    def _get(self, db: sqlite3.Connection, update_id: int) -> Update:
        row = db.execute(f"SELECT {_UPDATE_COLUMNS} {_FROM} WHERE u.id = ?",
                         (update_id,)).fetchone()
        return _row_to_update(row)

    def get(self, update_id: int) -> Update | None:
        rows = self._query(f"SELECT {_UPDATE_COLUMNS} {_FROM} WHERE u.id = ?", (update_id,))
        return _row_to_update(rows[0]) if rows else None

    def count(self) -> int:
        return self._query("SELECT COUNT(*) FROM updates")[0][0]

    def max_id(self) -> int:
        return self._query("SELECT COALESCE(MAX(id), 0) FROM updates")[0][0]

    def updates_after(self, after_id: int, limit: int = 1000) -> list[Update]:
        """Updates stored after ``after_id``, in id (storage) order: for delivery cursors."""
        rows = self._query(f"SELECT {_UPDATE_COLUMNS} {_FROM} WHERE u.id > ? AND u.dismissed = 0"
                           " ORDER BY u.id LIMIT ?", (after_id, limit))
        return [_row_to_update(r) for r in rows]

    def headlines(self, limit: int | None = None, *, ids: Iterable[int] | None = None
                  ) -> list[Update]:
        """One update per cluster (its headline), newest first: what the stream shows."""
        sql = (f"SELECT {_UPDATE_COLUMNS} {_FROM} WHERE u.cluster = u.id AND u.dismissed = 0"
               " ORDER BY u.published DESC, u.id DESC")
        params: list[Any] = []
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_row_to_update(r) for r in self._query(sql, params)]

    def latest(self, limit: int = 100) -> list[Update]:
        rows = self._query(f"SELECT {_UPDATE_COLUMNS} {_FROM} WHERE u.dismissed = 0"
                           " ORDER BY u.published DESC, u.id DESC LIMIT ?", (limit,))
        return [_row_to_update(r) for r in rows]

    def all_updates(self) -> list[Update]:
        rows = self._query(f"SELECT {_UPDATE_COLUMNS} {_FROM} WHERE u.dismissed = 0"
                           " ORDER BY u.published DESC, u.id DESC")
        return [_row_to_update(r) for r in rows]

    def cluster_members(self, cluster: int) -> list[Update]:
        rows = self._query(f"SELECT {_UPDATE_COLUMNS} {_FROM} WHERE u.cluster = ?"
                           " ORDER BY u.published, u.id", (cluster,))
        return [_row_to_update(r) for r in rows]

    def since(self, after: datetime) -> list[Update]:
        """Updates published after ``after`` in time order (to rebuild the dedupe index)."""
        rows = self._query(f"SELECT {_UPDATE_COLUMNS} {_FROM} WHERE u.published >= ?"
                           " ORDER BY u.published, u.id", (after.timestamp(),))
        return [_row_to_update(r) for r in rows]

    def revisions(self, update_id: int) -> list[Revision]:
        rows = self._query("SELECT revision, title, text, url, replaced_at FROM revisions"
                           " WHERE update_id = ? ORDER BY revision", (update_id,))
        return [Revision(r[0], r[1], r[2], r[3], _dt(r[4])) for r in rows]  # type: ignore[arg-type]

    def _ids(self, sql: str, params: Sequence[Any] = ()) -> set[int]:
        """Ids a one-column query selects, as one concatenated row: SQLite builds it without
        the GIL, where row-by-row fetching would wait for the GIL at every row while the UI
        thread holds it."""
        (joined,) = self._query(f"SELECT group_concat(id) FROM ({sql})", params)[0]
        return set(map(int, joined.split(","))) if joined else set()

    def fts_ids(self, expression: str) -> set[int]:
        """Ids whose title/text match an FTS5 expression (a pre-selection for the matcher)."""
        return self._ids("SELECT rowid AS id FROM updates_fts WHERE updates_fts MATCH ?",
                         (expression,))

    def fts_exact(self, exact: FtsExact) -> set[int]:
        """Ids a query with this exact FTS5 form matches, as the index reads the texts: the
        matcher's answer for every update outside :meth:`not_plain` (see ``ftsplain``)."""
        ids = self._ids("SELECT id FROM updates") if exact.include is None else \
            self.fts_ids(exact.include)
        if exact.exclude is not None:
            ids -= self.fts_ids(exact.exclude)
        return ids

    def not_plain(self) -> set[int]:
        """Ids of updates FTS5 may read otherwise than the matcher, or has not indexed yet:
        they need the matcher."""
        return self._ids(f"SELECT id FROM updates WHERE plain = 0 UNION ALL {_UNINDEXED}")

    def unindexed(self) -> int:
        """How many stored updates the full-text index does not hold yet."""
        ((count,),) = self._query(f"SELECT COUNT(*) FROM ({_UNINDEXED})")
        return count

    def index_pending(self, at_least: int = 1) -> int:
        """Add the updates stored since the last call to the full-text index, in one
        statement, when there are ``at_least`` of them; return how many were added."""
        with self._tx() as db:
            ((upto, top),) = db.execute(
                "SELECT (SELECT id FROM fts_upto), (SELECT COALESCE(MAX(id), 0) FROM updates)")
            if top - upto < max(at_least, 1):
                return 0
            # (ids only grow: an update is never deleted, and a new one gets MAX(id) + 1)
            db.execute("INSERT INTO updates_fts (rowid, title, text)"
                       " SELECT id, title, text FROM updates WHERE id > ? ORDER BY id", (upto,))
            db.execute("UPDATE fts_upto SET id = ?", (top,))
        return top - upto

    def member_refs(self) -> list[tuple[int, int, str]]:
        """(id, cluster, source) of every report that is not its story's headline (a story
        shows when any of its reports does); numbers and names only, from a small covering
        index, in one JSON row for the reason :meth:`_ids` gives (JSON, as a source's name
        may hold any character)."""
        ((refs,),) = self._query(
            "SELECT json_group_array(json_array(id, cluster, source))"
            " FROM updates INDEXED BY updates_members WHERE id != cluster")
        return [(uid, cluster, source) for uid, cluster, source in json.loads(refs)]

    def members(self, ids: Iterable[int]) -> list[MemberText]:
        """(cluster, title, text, source, url, lang) of these updates."""
        found: list[MemberText] = []
        for part in _chunks(list(ids)):
            marks = ",".join("?" * len(part))
            found += self._query("SELECT cluster, title, text, source, url, lang FROM updates"
                                 f" WHERE id IN ({marks})", tuple(part))
        return found

    def search(self, expression: str | None, limit: int = 1000) -> list[Update]:
        """Candidates for a query, newest first: the ``limit`` newest updates FTS5 matches,
        every update not in the index yet (few: see index_pending), and every text that is
        not plain (FTS5 may split or fold its words otherwise: few, see ftsplain); the
        caller's matcher decides."""
        if expression is None:
            return self.latest(limit)
        with self.snapshot():
            rows = self._query(
                f"SELECT {_UPDATE_COLUMNS} {_FROM} WHERE u.id IN (SELECT rowid FROM updates_fts"
                " WHERE updates_fts MATCH ?) AND u.dismissed = 0"
                " ORDER BY u.published DESC, u.id DESC LIMIT ?", (expression, limit))
            rows += self._query(
                f"SELECT {_UPDATE_COLUMNS} {_FROM} WHERE u.id IN (SELECT id FROM updates WHERE"
                f" plain = 0 UNION {_UNINDEXED}) AND u.dismissed = 0")
        found = list({u.id: u for u in map(_row_to_update, rows)}.values())
        found.sort(key=lambda u: (u.published, u.id), reverse=True)
        return found

    def dismiss(self, update_id: int) -> None:
        """Hide an update for good; the row stays so a re-publish is recognised, not re-shown."""
        with self._tx() as db:
            db.execute("UPDATE updates SET dismissed = 1 WHERE id = ?", (update_id,))

    # --- source state ------------------------------------------------------------------

    _STATE_COLS = ("source, etag, last_modified, body_hash, last_ok, last_attempt, last_error,"
                   " failures, next_due, disabled_reason, cursor, retry_until, warning")

    def _state_from_row(self, row: Sequence[Any], items: int) -> SourceState:
        return SourceState(
            source=row[0], etag=row[1], last_modified=row[2], body_hash=row[3],
            last_ok=_dt(row[4]), last_attempt=_dt(row[5]), last_error=row[6], failures=row[7],
            next_due=_dt(row[8]), disabled_reason=row[9], cursor=row[10], items=items,
            retry_until=_dt(row[11]), warning=row[12],
        )

    def state(self, source: str) -> SourceState:
        rows = self._query(f"SELECT {self._STATE_COLS} FROM source_state WHERE source = ?",
                           (source,))
        items = self._query("SELECT COUNT(*) FROM updates WHERE source = ?", (source,))[0][0]
        return self._state_from_row(rows[0], items) if rows else SourceState(source, items=items)

    def states(self) -> dict[str, SourceState]:
        """Every source the database knows: those with a saved state, and those with stored
        updates but no state (a state save lost to a crash)."""
        counts = dict(self._query("SELECT source, COUNT(*) FROM updates GROUP BY source"))
        rows = self._query(f"SELECT {self._STATE_COLS} FROM source_state")
        out = {name: SourceState(name, items=count) for name, count in counts.items()}
        out.update((r[0], self._state_from_row(r, counts.get(r[0], 0))) for r in rows)
        return out

    def save_state(self, state: SourceState) -> None:
        self.save_states([state])

    def save_states(self, states: Sequence[SourceState]) -> None:
        """Save several sources' states in one transaction (``muted`` is kept as it is)."""
        with self._tx() as db:
            db.executemany(
                f"INSERT OR REPLACE INTO source_state ({self._STATE_COLS}, muted) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " COALESCE((SELECT muted FROM source_state WHERE source = ?), 0))",
                [(state.source, state.etag, state.last_modified, state.body_hash,
                  _ts(state.last_ok), _ts(state.last_attempt), state.last_error, state.failures,
                  _ts(state.next_due), state.disabled_reason, state.cursor,
                  _ts(state.retry_until), state.warning, state.source) for state in states])

    def follow_renames(self, sources: dict[str, str]) -> list[tuple[str, str]]:
        """Give each configured source (name → identity: its feed URL or channel) the
        history stored under another name for the same identity, as when the source was
        renamed in the topic file; then remember the names. Returns the (old, new) names
        moved. Two feeds' histories are never mixed: history that holds a name a moving
        feed needs, and that belongs to no configured source (a feed removed from the
        file), is set aside under "<name> (earlier)" first."""
        with self._tx() as db:
            def holds(name: str) -> bool:
                return bool(db.execute(
                    "SELECT EXISTS (SELECT 1 FROM source_state WHERE source = ?1)"
                    " OR EXISTS (SELECT 1 FROM updates WHERE source = ?1)", (name,)).fetchone()[0])

            known = dict(db.execute("SELECT source, identity FROM source_ids"))
            by_identity = {identity: name for name, identity in sources.items()}
            moves = {old: by_identity[identity] for old, identity in known.items()
                     if by_identity.get(identity, old) != old}
            targets = Counter(moves.values())
            moves = {old: new for old, new in moves.items() if targets[new] == 1}
            # A target holding history is free when that history moves away too, or belongs
            # to no configured source (it is set aside); else the move waits (left as is).
            blocked = {new for new in moves.values()
                       if holds(new) and known.get(new) in by_identity}
            while blocked_moves := [old for old, new in moves.items()
                                    if new in blocked and new not in moves]:
                for old in blocked_moves:
                    del moves[old]
                blocked |= {old for old in blocked_moves if holds(old)}
            parked = self._move_sources(db, moves, holds, used=set(sources) | set(known)) \
                if moves else {}
            # Remember what changed (a run with nothing renamed writes nothing), and forget
            # names that are gone and hold nothing.
            gone = [name for name in known
                    if name not in sources and (name in moves or not holds(name))]
            db.executemany("DELETE FROM source_ids WHERE source = ?", [(n,) for n in gone])
            db.executemany("INSERT OR REPLACE INTO source_ids (source, identity) VALUES (?, ?)",
                           [*((name, identity) for name, identity in sources.items()
                              if known.get(name) != identity),
                            *((aside, known[name]) for name, aside in parked.items()
                              if name in known)])
        return sorted(moves.items())

    @staticmethod
    def _move_sources(db: sqlite3.Connection, moves: dict[str, str],
                      holds: Callable[[str], bool], used: set[str]) -> dict[str, str]:
        """Rename sources (old → new) in updates and states; history holding a target name
        that is not moving away itself is set aside first. Returns {name: set-aside name}."""
        used |= {r[0] for r in db.execute(
            "SELECT source FROM source_state UNION SELECT DISTINCT source FROM updates")}

        def fresh(base: str) -> str:
            name, n = base, 1
            while name in used:
                n += 1
                name = f"{base} {n}"
            used.add(name)
            return name

        def rename(src: str, dst: str) -> None:
            db.execute("UPDATE updates SET source = ? WHERE source = ?", (dst, src))
            db.execute("UPDATE source_state SET source = ? WHERE source = ?", (dst, src))

        parked = {new: fresh(f"{new} (earlier)") for new in moves.values()
                  if new not in moves and holds(new)}
        for name, aside in parked.items():
            rename(name, aside)
        # in two steps, through names nothing else has, so that names may swap
        via = {old: fresh(f"\x00{old}") for old in moves}
        for old in moves:
            rename(old, via[old])
        for old, new in moves.items():
            rename(via[old], new)
        return parked

    def set_muted(self, source: str, muted: bool) -> None:
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO source_state (source) VALUES (?)", (source,))
            db.execute("UPDATE source_state SET muted = ? WHERE source = ?", (int(muted), source))

    def muted_sources(self) -> set[str]:
        return {r[0] for r in self._query("SELECT source FROM source_state WHERE muted = 1")}

    # --- delivery cursors --------------------------------------------------------------

    def cursor(self, name: str) -> int | None:
        rows = self._query("SELECT value FROM cursors WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def set_cursor(self, name: str, value: int) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO cursors (name, value) VALUES (?, ?)",
                       (name, value))


_FIND_COLS = "id, content_hash, revision, title, text, url, views"


def _deep(canon: str) -> bool:
    """A link specific enough to identify an item (not a site's front page)."""
    return canon.rstrip("/").count("/") > 2


T = TypeVar("T")


def _chunks(values: list[T], size: int = 500) -> Iterator[list[T]]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (triggers contain ';' inside BEGIN … END)."""
    statements, buf = [], []
    for line in script.splitlines():
        if not line.strip():
            continue
        buf.append(line)
        text = "\n".join(buf)
        if line.rstrip().endswith(";") and sqlite3.complete_statement(text):
            statements.append(text)
            buf = []
    if buf and "".join(buf).strip():
        statements.append("\n".join(buf))
    return statements


def window_start(now: datetime, window: float) -> datetime:
    return now - timedelta(seconds=window)

"""store.py against a real SQLite file."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedwatch.model import Entry, EventKind, SourceState
from feedwatch.query import parse
from feedwatch.store import _MIGRATIONS, Store, StoreError, _split_sql, effective_time

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


def entry(key: str, title: str = "Talks end", text: str = "They lasted 1 h 15 min",
          **kw: object) -> Entry:
    return Entry(key=key, title=title, text=text, **kw)  # type: ignore[arg-type]


def test_restart_keeps_everything_and_shows_nothing_twice(tmp_path: Path) -> None:
    db = tmp_path / "fw.db"
    with Store(db) as store:
        events = store.ingest("wire", [entry("a"), entry("b", "Talks begin")], NOW)
        assert [e.kind for e in events] == [EventKind.NEW, EventKind.NEW]
        store.save_state(SourceState("wire", etag='"x"', last_ok=NOW, cursor="42"))
    with Store(db) as store:
        assert store.ingest("wire", [entry("a"), entry("b", "Talks begin")], NOW) == []
        assert store.count() == 2
        state = store.state("wire")
        assert (state.etag, state.cursor, state.last_ok, state.items) == ('"x"', "42", NOW, 2)
        assert store.integrity_check() == "ok"
    mode = sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_edit_updates_in_place_with_revision_history(tmp_path: Path) -> None:
    with Store(tmp_path / "fw.db") as store:
        (new,) = store.ingest("tg", [entry("p1", text="5,000 for 5,000", views=10)], NOW)
        assert store.ingest("tg", [entry("p1", text="5,000 for 5,000", views=99)], NOW) == []
        assert store.get(new.update.id).views == 99  # views are not an edit
        (edit,) = store.ingest("tg", [entry("p1", text="6,000 for 6,000")], NOW)
        assert edit.kind is EventKind.EDITED
        assert edit.update.id == new.update.id and edit.update.revision == 2
        assert store.count() == 1
        (old,) = store.revisions(new.update.id)
        assert (old.revision, old.text) == (1, "5,000 for 5,000")
        assert store.index_pending() == 1
        assert store.fts_ids('"6"') == {new.update.id}
        store.ingest("tg", [entry("p1", text="7,000 for 7,000")], NOW)
        assert store.fts_ids('"7"') == {new.update.id}  # the FTS index follows the edit
        assert store.fts_ids('"6"') == set()


def test_reissued_guid_with_same_link_or_title_is_the_same_item(tmp_path: Path) -> None:
    with Store(tmp_path / "fw.db") as store:
        store.ingest("wire", [entry("guid:1", "Russia and Ukraine agree body swap",
                                    url="https://w.example/a/1?utm_source=x")], NOW)
        assert store.ingest("wire", [entry("guid:2", "Russia and Ukraine agree body swap",
                                           url="https://w.example/a/1")], NOW) == []
        moved = store.ingest("wire", [entry("guid:3", "Russia and Ukraine agree body swap",
                                            url="https://w.example/a/other")], NOW)
        assert [e.kind for e in moved] == [EventKind.EDITED]  # same story, link moved
        assert store.count() == 1
        # another source's item with the same title is a different item (dedupe clusters it)
        assert len(store.ingest("other", [entry("guid:1", "Russia and Ukraine agree body swap")],
                                NOW)) == 1


def test_effective_time_clamps_future_and_junk_dates() -> None:
    assert effective_time(None, NOW) == NOW
    assert effective_time(NOW - timedelta(hours=1), NOW) == NOW - timedelta(hours=1)
    assert effective_time(NOW + timedelta(days=2), NOW) == NOW
    assert effective_time(datetime(1970, 1, 1, tzinfo=UTC), NOW) == NOW


def test_late_arrival_is_ordered_by_published_time(tmp_path: Path) -> None:
    with Store(tmp_path / "fw.db") as store:
        store.ingest("a", [entry("1", "first", published=NOW - timedelta(minutes=10))], NOW)
        store.ingest("a", [entry("2", "second", published=NOW - timedelta(minutes=5))], NOW)
        store.ingest("b", [entry("3", "late but older", published=NOW - timedelta(minutes=30))],
                     NOW + timedelta(minutes=1))
        assert [u.title for u in store.headlines()] == ["second", "first", "late but older"]


def test_cluster_counts_distinct_sources(tmp_path: Path) -> None:
    with Store(tmp_path / "fw.db") as store:
        (head,) = store.ingest("a", [entry("1")], NOW)
        cid = head.update.id
        (j1,) = store.ingest("b", [entry("1")], NOW, classify=lambda u: cid)
        (j2,) = store.ingest("b", [entry("2", "Talks ended")], NOW, classify=lambda u: cid)
        assert (j1.kind, j1.update.cluster, j1.update.sources_in_cluster) == (
            EventKind.JOINED, cid, 2)
        assert j2.update.sources_in_cluster == 2
        assert [u.id for u in store.headlines()] == [cid]
        assert len(store.cluster_members(cid)) == 3
        # a classifier naming an unknown cluster cannot corrupt anything
        (odd,) = store.ingest("c", [entry("9", "x")], NOW, classify=lambda u: 12345)
        assert odd.kind is EventKind.NEW and odd.update.cluster == odd.update.id


def test_failed_transaction_loses_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "fw.db") as store:
        store.ingest("a", [entry("1")], NOW)

        def boom(update: object) -> int:
            raise RuntimeError("classifier bug")

        with pytest.raises(RuntimeError):
            store.ingest("a", [entry("2", "x"), entry("3", "y")], NOW, classify=boom)
        assert store.count() == 1
        assert store.integrity_check() == "ok"


def test_readonly_and_garbage_databases_give_clear_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="damaged or not a feedwatch database"):
        Store(junk)
    ro_dir = tmp_path / "ro"
    ro_dir.mkdir()
    Store(ro_dir / "fw.db").close()
    (ro_dir / "fw.db").chmod(0o444)
    ro_dir.chmod(0o555)
    try:
        if sqlite3.connect(ro_dir / "fw.db").execute("PRAGMA user_version").fetchone() is None:
            pytest.skip("cannot observe read-only mode here")
        import os

        if os.geteuid() == 0:
            pytest.skip("root ignores file permissions")
        with pytest.raises(StoreError, match="read-only|cannot open"):
            Store(ro_dir / "fw.db").ingest("a", [entry("1")], NOW)
    finally:
        ro_dir.chmod(0o755)


def test_cursor_roundtrip(tmp_path: Path) -> None:
    with Store(tmp_path / "fw.db") as store:
        assert store.cursor("tail") is None
        store.set_cursor("tail", 7)
        assert store.cursor("tail") == 7


def test_plain_flag_follows_texts_and_is_backfilled_for_older_databases(tmp_path: Path) -> None:
    """Schema 3 marks the texts FTS5 may read otherwise than the matcher; a database written
    before it gets the flag computed on open, and the exact FTS5 answers exclude nothing."""
    db = tmp_path / "fw.db"
    with Store(db) as store:
        (plain,) = store.ingest("wire", [entry("a", "Talks resume", "in Geneva")], NOW)
        (glued,) = store.ingest("wire", [entry("b", "Talks🤝resume", "")], NOW)
        (member,) = store.ingest("desk", [entry("c", "Talks resume again", "")], NOW,
                                 classify=lambda _: plain.update.id)
        ids = (plain.update.id, glued.update.id, member.update.id)
        assert store.not_plain() == set(ids)  # not in the full-text index yet
        assert store.index_pending() == 3
        assert store.not_plain() == {glued.update.id}
        assert store.member_refs() == [(member.update.id, plain.update.id, "desk")]
        odd = 'desk, "night"\x1f'  # a source's name may hold any character
        (other,) = store.ingest(odd, [entry("d", "Talks resume once more", "")], NOW,
                                classify=lambda _: plain.update.id)
        assert store.member_refs()[-1] == (other.update.id, plain.update.id, odd)
        store._db.execute("DELETE FROM updates WHERE id = ?", (other.update.id,))
    raw = sqlite3.connect(db)  # back to schema 2, as an older feedwatch left it
    raw.executescript("DROP INDEX updates_not_plain; DROP INDEX updates_members;"
                      " DROP TABLE meta; ALTER TABLE updates DROP COLUMN plain;"
                      " DROP TABLE fts_upto; DROP TRIGGER updates_ad; DROP TRIGGER updates_au;"
                      " DROP TABLE source_ids; ALTER TABLE source_state DROP COLUMN warning;"
                      " PRAGMA user_version = 2;")
    for statement in _split_sql(_MIGRATIONS[0]):  # its triggers kept the index row by row
        if statement.lstrip().startswith("CREATE TRIGGER"):
            raw.execute(statement)
    raw.close()
    with Store(db) as store:
        assert store.not_plain() == {glued.update.id}
        exact = parse("resume -geneva").fts_exact()
        assert exact is not None
        # FTS5 sees "talks🤝resume" as one word: that is why the glued text is not plain
        assert store.fts_exact(exact) == {ids[2]}
        assert store.member_refs() == [(member.update.id, plain.update.id, "desk")]
        # an edit that unglues the words makes the text plain
        store.ingest("wire", [entry("b", "Talks resume 🔴", "")], NOW)
        assert store.not_plain() == set()
        assert store.fts_exact(exact) == {ids[1], ids[2]}
    # flags set by other tables (an older feedwatch, another Python) are set again on open
    raw = sqlite3.connect(db)
    raw.executescript("UPDATE updates SET plain = 0; UPDATE meta SET value = 'other';")
    raw.close()
    with Store(db) as store:
        assert store.not_plain() == set()


def test_calls_inside_a_transaction_are_savepoints_that_fail_alone(tmp_path: Path) -> None:
    store = Store(tmp_path / "fw.db")
    now = datetime(2025, 6, 2, 12, tzinfo=UTC)
    with store.transaction():
        store.ingest("a", [entry("1")], now)
        with pytest.raises(ZeroDivisionError):
            store.ingest("b", [entry("2")], now, classify=lambda update: 1 // 0)
        store.ingest("c", [entry("3")], now)
    assert sorted(u.source for u in store.since(now - timedelta(days=1))) == ["a", "c"]
    store.close()


def test_a_transaction_sqlite_rolled_back_commits_nothing_more(tmp_path: Path) -> None:
    """SQLite answers some errors (I/O, out of memory) by rolling the whole transaction
    back, also on a read outside any savepoint. A later call must not then open and commit
    a transaction of its own, reported as failed while its rows are stored."""
    store = Store(tmp_path / "fw.db")
    now = datetime(2025, 6, 2, 12, tzinfo=UTC)
    with pytest.raises(StoreError, match="rolled back"), store.transaction():
        store.ingest("a", [entry("1")], now)
        store._db.execute("ROLLBACK")  # what SQLite itself does on such an error
        with pytest.raises(StoreError, match="rolled back"):
            store.ingest("b", [entry("2")], now)
    assert store.since(now - timedelta(days=1)) == []
    store.ingest("c", [entry("3")], now)  # and the store goes on working
    assert [u.source for u in store.since(now - timedelta(days=1))] == ["c"]
    store.close()


def test_full_text_index_takes_updates_in_bulk_and_answers_complete_meanwhile(
        tmp_path: Path) -> None:
    """New updates reach the FTS5 index in bulk (index_pending); until then every answer
    built on the index still covers them: search returns them, not_plain hands them to the
    matcher. Edits before and after indexing keep the index equal to the texts."""
    db = tmp_path / "fw.db"
    with Store(db) as store:
        (a,) = store.ingest("wire", [entry("a", "Quake hits Izmir", "magnitude 6")], NOW)
        (b,) = store.ingest("wire", [entry("b", "Aftershock in Izmir", "")], NOW)
        assert store.unindexed() == 2 and store.fts_ids("izmir") == set()
        assert {u.id for u in store.search("izmir")} == {a.update.id, b.update.id}
        assert store.not_plain() == {a.update.id, b.update.id}
        store.ingest("wire", [entry("b", "Aftershock near Bodrum", "")], NOW)  # unindexed edit
        assert store.index_pending(at_least=3) == 0  # fewer than asked for: wait
        assert store.index_pending() == 2 and store.unindexed() == 0
        assert store.fts_ids("izmir") == {a.update.id}
        assert store.fts_ids("bodrum") == {b.update.id}
        store.ingest("wire", [entry("a", "Quake hits Smyrna", "magnitude 6")], NOW)  # indexed
        assert store.fts_ids("izmir") == set() and store.fts_ids("smyrna") == {a.update.id}
        (c,) = store.ingest("desk", [entry("c", "Izmir count rises", "")], NOW)
        assert {u.id for u in store.search("izmir")} == {c.update.id}
        # the limit counts indexed matches only: unindexed updates come on top
        assert {u.id for u in store.search("smyrna", limit=1)} == {a.update.id, c.update.id}
        assert store.not_plain() == {c.update.id}
    with Store(db) as store:  # what was not indexed before a restart is indexed after it
        assert store.unindexed() == 1 and store.index_pending() == 1
        assert store.fts_ids("izmir") == {c.update.id}
        raw = store._db.execute("INSERT INTO updates_fts (updates_fts, rank)"
                                " VALUES ('integrity-check', 1)")
        assert raw is not None  # (FTS5 raises if its index and the table disagree)


def test_a_renamed_source_keeps_its_history_and_names_may_swap(tmp_path: Path) -> None:
    """follow_renames moves a source's updates and state to its new name (matched by its
    feed URL or channel), also when names swap or a default name passes to another feed,
    and never onto a name that holds another feed's history."""
    store = Store(tmp_path / "fw.db")
    assert store.follow_renames({"host": "https://h/1", "host/2": "https://h/2"}) == []
    store.ingest("host", [entry("a", "One")], NOW)
    store.ingest("host/2", [entry("b", "Two")], NOW)
    store.save_state(SourceState("host", etag='"e1"'))
    store.set_muted("host/2", True)

    def owner(title: str) -> str:
        return next(u.source for u in store.all_updates() if u.title == title)

    # a third feed of the host is listed first: it takes the default name "host"
    moved = store.follow_renames({"host": "https://h/3", "host/1": "https://h/1",
                                  "host/2": "https://h/2"})
    assert moved == [("host", "host/1")]
    assert owner("One") == "host/1" and store.state("host/1").etag == '"e1"'
    assert store.state("host").items == 0 and store.state("host").etag is None
    # names swap
    moved = store.follow_renames({"host/1": "https://h/2", "host/2": "https://h/1"})
    assert moved == [("host/1", "host/2"), ("host/2", "host/1")]
    assert owner("One") == "host/2" and owner("Two") == "host/1"
    assert store.muted_sources() == {"host/1"} and store.state("host/2").etag == '"e1"'
    # a name holding history of no configured feed (here from before names were remembered)
    # is set aside, never mixed with the history that moves in
    store.ingest("Wire", [entry("c", "Three")], NOW)
    store._db.execute("DELETE FROM source_ids WHERE source = 'Wire'")
    assert store.follow_renames({"Wire": "https://h/2", "other": "https://h/1"}) == [
        ("host/1", "Wire"), ("host/2", "other")]
    assert owner("Three") == "Wire (earlier)" and owner("Two") == "Wire"
    assert owner("One") == "other"
    # the feed that took the default name is removed: the name passes back with its history
    store.follow_renames({"h": "https://h/1", "h/2": "https://h/2"})  # (names as before)
    store.ingest("h", [entry("d", "Four")], NOW)
    assert store.follow_renames({"h": "https://h/5", "h/1": "https://h/1",
                                 "h/2": "https://h/2"}) == [("h", "h/1")]
    assert store.follow_renames({"h": "https://h/1", "h/2": "https://h/2"}) == [("h/1", "h")]
    assert owner("Four") == "h" and owner("One") == "h"
    # a source is removed and another takes its name: the removed one's history is set aside
    assert store.follow_renames({"h": "https://h/2"}) == [("h/2", "h")]
    assert owner("Two") == "h" and owner("One") == "h (earlier)"
    assert store.follow_renames({"again": "https://h/1", "h": "https://h/2"}) == [
        ("h (earlier)", "again")]  # and follows the feed if it comes back
    assert store.integrity_check() == "ok"
    store.close()


def test_a_snapshot_keeps_index_answers_consistent_while_another_process_indexes(
        tmp_path: Path) -> None:
    """A history filter asks the index, then which updates the index cannot answer for.
    Another process (cron's `once`) indexing in between would hide an unindexed update from
    both answers; inside a snapshot both come from one state of the database."""
    db = tmp_path / "fw.db"
    with Store(db) as dash, Store(db) as cron:
        (event,) = dash.ingest("wire", [entry("a", "Quake hits Izmir", "")], NOW)
        exact = parse("izmir").fts_exact()
        assert exact is not None
        with dash.snapshot():
            found = dash.fts_exact(exact)
            assert cron.index_pending() == 1  # (a write: WAL lets it past the reader)
            unsure = dash.not_plain()
        assert event.update.id in found | unsure
        assert dash.fts_exact(exact) == {event.update.id} and dash.not_plain() == set()


def test_unopenable_database_says_why(tmp_path: Path) -> None:
    from feedwatch.store import _describe

    cannot = sqlite3.OperationalError("unable to open database file")
    missing = tmp_path / "gone" / "x.db"
    assert f"the directory {missing.parent} does not exist" in _describe(cannot, str(missing))


def test_search_hands_texts_that_are_not_plain_to_the_matcher(tmp_path: Path) -> None:
    """FTS5 keeps Turkish ı where the matcher reads i: "ciragan" finds "Çırağan" anyway."""
    with Store(tmp_path / "fw.db") as store:
        (palace,) = store.ingest("wire", [entry("a", "Talks begin at the Çırağan Palace", "")],
                                 NOW)
        store.ingest("wire", [entry("b", "Markets calm", "")], NOW)
        store.index_pending()
        query = parse("ciragan")
        expression = query.fts_expression()
        assert expression is not None and store.fts_ids(expression) == set()
        found = [u for u in store.search(expression) if query.matches(u)]
        assert [u.id for u in found] == [palace.update.id]

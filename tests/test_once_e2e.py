"""End to end: the installed `feedwatch once` against feeds on a loopback server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import DATA, Site

from feedwatch.store import Store

RSS_HEAD = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>'


def rss(*items: tuple[str, str, str]) -> str:
    body = "".join(
        f"<item><title>{t}</title><guid>{g}</guid><pubDate>{d}</pubDate>"
        f"<link>https://wire.example/{g}</link><description>{t} (details)</description></item>"
        for g, t, d in items)
    return RSS_HEAD + body + "</channel></rss>"


def config(tmp_path: Path, site: Site, extra: str = "") -> Path:
    path = tmp_path / "topic.toml"
    path.write_text(f"""
[topic]
name = "e2e"
{extra}

[[source]]
name = "Wire"
url = "{site.url('/wire.xml')}"

[[source]]
name = "Ledger"
url = "{site.url('/ledger.atom')}"

[[source]]
name = "Quay"
url = "{site.url('/quay.json')}"
""", encoding="utf-8")
    return path


def lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_once_prints_new_updates_in_time_order_then_nothing_then_only_the_new_one(
        tmp_path: Path, site: Site, run_cli: Callable[..., Any]) -> None:
    site.put("/wire.xml", rss(("w1", "Talks delayed", "Mon, 02 Jun 2025 10:02:00 +0000"),
                              ("w2", "Talks begin", "Mon, 02 Jun 2025 11:19:00 +0000")))
    site.put("/ledger.atom", (DATA / "feeds" / "atom_relative.xml").read_bytes(),
             "application/atom+xml")
    site.put("/quay.json", (DATA / "feeds" / "jsonfeed.json").read_bytes(),
             "application/feed+json")
    cfg = config(tmp_path, site)
    db = tmp_path / "fw.db"

    first = run_cli("once", "-c", str(cfg), "--db", str(db))
    assert first.returncode == 0, first.stderr
    records = lines(first.stdout)
    assert len(records) == 6
    for record in records:
        assert {"id", "cluster", "source", "published", "title", "text", "url",
                "sources_in_cluster"} <= record.keys()
        assert record["published"][-6:] in ("+00:00",)  # ISO 8601 with offset
    times = [r["published"] for r in records]
    assert times == sorted(times)
    assert {r["source"] for r in records} == {"Wire", "Ledger", "Quay"}
    delayed = next(r for r in records if r["title"] == "Talks delayed")
    assert delayed["url"] == "https://wire.example/w1"
    with Store(db) as store:  # `once` leaves every update in the full-text index
        assert store.unindexed() == 0 and delayed["id"] in store.fts_ids("delayed")

    second = run_cli("once", "-c", str(cfg), "--db", str(db))
    assert second.returncode == 0, second.stderr
    assert second.stdout == ""
    # the unchanged feeds were answered with 304 Not Modified the second time
    assert site.statuses("/wire.xml") == [200, 304]
    assert site.log[-3][1] is not None  # If-None-Match was sent

    site.put("/wire.xml", rss(("w1", "Talks delayed", "Mon, 02 Jun 2025 10:02:00 +0000"),
                              ("w2", "Talks begin", "Mon, 02 Jun 2025 11:19:00 +0000"),
                              ("w3", "Talks end after 1 h 15 min",
                               "Mon, 02 Jun 2025 12:35:00 +0000")))
    third = run_cli("once", "-c", str(cfg), "--db", str(db), "--format", "jsonl")
    assert third.returncode == 0, third.stderr
    (new,) = lines(third.stdout)
    assert new["title"] == "Talks end after 1 h 15 min" and new["source"] == "Wire"

    text = run_cli("sources", "-c", str(cfg), "--db", str(db))
    assert text.returncode == 0
    assert "Wire" in text.stdout and "ok" in text.stdout
    with Store(db) as store:
        assert store.unindexed() == 0 and store.count() == 7
        assert store.fts_ids('"1 h 15 min"') == {new["id"]}


def test_once_edit_is_not_new(tmp_path: Path, site: Site, run_cli: Callable[..., Any]) -> None:
    site.put("/wire.xml", rss(("w1", "Bodies exchange 5,000 for 5,000",
                               "Mon, 02 Jun 2025 13:02:00 +0000")))
    site.put("/ledger.atom", (DATA / "feeds" / "atom_relative.xml").read_bytes())
    site.put("/quay.json", (DATA / "feeds" / "jsonfeed.json").read_bytes())
    cfg, db = config(tmp_path, site), tmp_path / "fw.db"
    assert run_cli("once", "-c", str(cfg), "--db", str(db)).returncode == 0
    site.put("/wire.xml", rss(("w1", "Bodies exchange 6,000 for 6,000",
                               "Mon, 02 Jun 2025 13:02:00 +0000")))
    again = run_cli("once", "-c", str(cfg), "--db", str(db))
    (record,) = lines(again.stdout)
    assert record["kind"] == "edited" and record["edited"] is True
    assert record["title"] == "Bodies exchange 6,000 for 6,000"
    assert record["revision"] == 2


def test_renaming_a_source_in_the_topic_file_keeps_its_history(
        tmp_path: Path, site: Site, run_cli: Callable[..., Any]) -> None:
    """A source renamed (or an unnamed one whose default name changes) is the same feed:
    nothing it said is shown again, and its validators are still sent."""
    site.put("/wire.xml", rss(("w1", "Talks delayed", "Mon, 02 Jun 2025 10:02:00 +0000")))
    site.put("/ledger.atom", (DATA / "feeds" / "atom_relative.xml").read_bytes())
    site.put("/quay.json", (DATA / "feeds" / "jsonfeed.json").read_bytes())
    cfg, db = config(tmp_path, site), tmp_path / "fw.db"
    never = run_cli("sources", "-c", str(cfg), "--db", str(db))
    assert never.returncode == 0 and "never" in never.stdout
    assert not db.exists()  # nothing polled yet: no database made just to list sources
    assert run_cli("once", "-c", str(cfg), "--db", str(db)).returncode == 0
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace('name = "Wire"', 'name = "Wire World"')
                   .replace('name = "Ledger"\n', ""), encoding="utf-8")  # unnamed: the host
    listing = run_cli("sources", "-c", str(cfg), "--db", str(db), "--format", "jsonl")
    assert {r["name"]: r["items"] for r in lines(listing.stdout)}["Wire World"] == 1
    site.put("/wire.xml", rss(("w1", "Talks delayed", "Mon, 02 Jun 2025 10:02:00 +0000"),
                              ("w2", "Talks begin", "Mon, 02 Jun 2025 11:19:00 +0000")))
    again = run_cli("once", "-c", str(cfg), "--db", str(db))
    assert again.returncode == 0, again.stderr
    assert [(r["source"], r["title"]) for r in lines(again.stdout)] == [
        ("Wire World", "Talks begin")]
    assert site.statuses("/ledger.atom") == [200, 304]
    with Store(db) as store:
        assert set(store.states()) == {"Wire World", "localhost", "Quay"}


def test_a_story_is_printed_before_the_reports_that_join_it(
        tmp_path: Path, site: Site, run_cli: Callable[..., Any]) -> None:
    """The same story from three sources: whichever was stored first is the story's line, and
    it comes first although another source dated its report earlier; --collapse prints one
    line for it, counting every source. `search` calls the others joined too."""
    story = "Prisoner exchange agreed: 1,000 for 1,000, the talks in Istanbul ended"
    site.put("/wire.xml", rss(("w1", story, "Mon, 02 Jun 2025 12:52:00 +0000")))
    site.put("/ledger.atom", rss(("l1", story, "Mon, 02 Jun 2025 12:50:00 +0000")))
    site.put("/quay.json", rss(("q1", story, "Mon, 02 Jun 2025 12:51:00 +0000")))
    cfg = config(tmp_path, site)
    first = run_cli("once", "-c", str(cfg), "--db", str(tmp_path / "a.db"))
    records = lines(first.stdout)
    assert [r["kind"] for r in records] == ["new", "joined", "joined"], records
    assert {r["cluster"] for r in records} == {records[0]["id"]}
    assert [r["published"] for r in records[1:]] == sorted(r["published"] for r in records[1:])
    again = run_cli("once", "-c", str(cfg), "--db", str(tmp_path / "b.db"), "--collapse")
    (line,) = lines(again.stdout)
    assert line["kind"] == "new" and line["sources_in_cluster"] == 3
    found = lines(run_cli("search", "-c", str(cfg), "--db", str(tmp_path / "a.db"),
                          "prisoner").stdout)
    assert sorted(r["kind"] for r in found) == ["joined", "joined", "new"]


def test_what_a_read_worked_around_stays_on_the_source_until_fixed(
        tmp_path: Path, site: Site, run_cli: Callable[..., Any]) -> None:
    """A feed read leniently (not well-formed XML) is ok, with a warning on the source for
    `sources` and the dashboard, kept across 304s, gone once the feed is fixed."""
    site.put("/wire.xml", rss(("w1", "Talks <br> more talks", "Mon, 02 Jun 2025 10:02:00 +0000")))
    site.put("/ledger.atom", (DATA / "feeds" / "atom_relative.xml").read_bytes())
    site.put("/quay.json", (DATA / "feeds" / "jsonfeed.json").read_bytes())
    cfg, db = config(tmp_path, site), tmp_path / "fw.db"

    def wire() -> dict[str, Any]:
        listing = run_cli("sources", "-c", str(cfg), "--db", str(db), "--format", "jsonl")
        return next(r for r in lines(listing.stdout) if r["name"] == "Wire")

    first = run_cli("once", "-c", str(cfg), "--db", str(db))
    assert "Wire: warning: " in first.stderr
    row = wire()
    assert row["status"] == "ok" and row["last_error"] is None
    assert "not well-formed" in row["warning"]
    run_cli("once", "-c", str(cfg), "--db", str(db))
    assert site.statuses("/wire.xml") == [200, 304] and wire()["warning"] == row["warning"]
    text = run_cli("sources", "-c", str(cfg), "--db", str(db)).stdout
    assert "└ warning: " in text
    site.put("/wire.xml", rss(("w1", "Talks and more talks", "Mon, 02 Jun 2025 10:02:00 +0000")))
    run_cli("once", "-c", str(cfg), "--db", str(db))
    assert wire()["warning"] is None


def test_one_broken_source_does_not_stop_the_others(tmp_path: Path, site: Site,
                                                    run_cli: Callable[..., Any]) -> None:
    site.put("/wire.xml", rss(("w1", "Talks delayed", "Mon, 02 Jun 2025 10:02:00 +0000")))
    site.put("/ledger.atom", "<html><body>Oops, a web page</body></html>", "text/html")
    # /quay.json is not served: 404
    cfg = config(tmp_path, site)
    result = run_cli("once", "-c", str(cfg), "--db", str(tmp_path / "fw.db"))
    assert result.returncode == 0
    assert [r["title"] for r in lines(result.stdout)] == ["Talks delayed"]
    assert "Ledger: the URL returned an HTML page, not a feed" in result.stderr
    assert "Quay: HTTP 404" in result.stderr
    assert "Traceback" not in result.stderr


def test_once_exits_1_when_every_source_fails(tmp_path: Path, site: Site,
                                              run_cli: Callable[..., Any]) -> None:
    cfg = config(tmp_path, site)
    result = run_cli("once", "-c", str(cfg), "--db", str(tmp_path / "fw.db"))
    assert result.returncode == 1
    assert "every source failed" in result.stderr


def test_check_reports_file_line_and_exit_2(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[topic]\nname = "x"\n\n[[source]]\nurl = "https://a.example/"\n'
                   'intervall = "5s"\n', encoding="utf-8")
    result = run_cli("check", "-c", str(bad))
    assert result.returncode == 2
    assert f"{bad}:6: unknown key 'intervall'" in result.stderr
    good = tmp_path / "good.toml"
    good.write_text('[[source]]\nurl = "https://a.example/"\n', encoding="utf-8")
    ok = run_cli("check", "-c", str(good))
    assert ok.returncode == 0 and "1 source (1 feed, 0 Telegram channels)" in ok.stdout

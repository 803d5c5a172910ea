"""`filter`, `search` and `cluster` through the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, Site, feedwatch_exe

UPDATES = [
    {"id": 1, "source": "Wire", "published": "2025-06-02T12:35:00+00:00",
     "title": "Talks end after 1 hour 15 minutes", "text": "The talks in Istanbul ended.",
     "url": "https://wire.example/1"},
    {"id": 2, "source": "Flash", "published": "2025-06-02T12:36:00+00:00", "title": "",
     "text": "❗️ Переговоры в Стамбуле завершились", "url": "https://t.me/flash/2"},
    {"id": 3, "source": "Ledger", "published": "2025-06-02T13:04:00+00:00",
     "title": "Bodies to be exchanged 6,000 for 6,000", "text": "Umerov said so.",
     "url": "https://ledger.example/3"},
    {"id": 4, "source": "Wire", "published": "2025-06-02T13:09:00+00:00",
     "title": "Award ceremony postponed", "text": "Not about the war.",
     "url": "https://wire.example/4"},
]


def jsonl(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def out(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_filter_reads_stdin_and_adds_highlights(run_cli: Callable[..., Any]) -> None:
    result = run_cli("filter", "стамбул* OR 6000", input=jsonl(UPDATES))
    assert result.returncode == 0, result.stderr
    matched = out(result.stdout)
    assert [r["id"] for r in matched] == [2, 3]
    flash, ledger = matched
    field, start, end = flash["highlights"][0]
    assert flash[field][start:end].startswith("Стамбул")
    assert ["title", 23, 28] in ledger["highlights"]  # "6,000" in the title
    # word boundaries: "war" does not match "Award"
    war = out(run_cli("filter", "war", input=jsonl(UPDATES)).stdout)
    assert [r["id"] for r in war] == [4]
    assert war[0]["highlights"] == [["text", 14, 17]]


def test_filter_from_file_skips_bad_lines_with_a_message(tmp_path: Path,
                                                         run_cli: Callable[..., Any]) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(jsonl(UPDATES[:1]) + "not json\n" + jsonl(UPDATES[1:2]), encoding="utf-8")
    result = run_cli("filter", "talks OR переговоры", "--input", str(src))
    assert [r["id"] for r in out(result.stdout)] == [1, 2]
    assert f"{src}:2: not a JSON line" in result.stderr


def test_invalid_query_gives_column_and_caret(run_cli: Callable[..., Any]) -> None:
    result = run_cli("filter", 'talks "unclosed', input="")
    assert result.returncode == 2
    assert "invalid query" in result.stderr and "^" in result.stderr
    assert "Traceback" not in result.stderr


def test_cluster_round_trip(run_cli: Callable[..., Any]) -> None:
    records = [json.loads(line) for line in
               (DATA / "dedupe_dev.jsonl").read_text(encoding="utf-8").splitlines()[:40]]
    result = run_cli("cluster", input=jsonl(records))
    assert result.returncode == 0, result.stderr
    pairs = out(result.stdout)
    assert [p["id"] for p in pairs] == [r["id"] for r in records]  # input order kept
    ids = {r["id"] for r in records}
    assert all(p["cluster"] in ids for p in pairs)
    assert len({p["cluster"] for p in pairs}) < len(pairs)  # some copies were folded


def test_search_history(tmp_path: Path, site: Site, run_cli: Callable[..., Any]) -> None:
    site.put("/r.xml", (DATA / "feeds" / "rss20.xml").read_bytes())
    site.put("/c.xml", (DATA / "feeds" / "rss_cp1251.xml").read_bytes())
    cfg = tmp_path / "t.toml"
    cfg.write_text(f'[[source]]\nurl = "{site.url("/r.xml")}"\n'
                   f'[[source]]\nurl = "{site.url("/c.xml")}"\n', encoding="utf-8")
    db = str(tmp_path / "db")
    assert run_cli("once", "-c", str(cfg), "--db", db).returncode == 0
    found = out(run_cli("search", "-c", str(cfg), "--db", db, "6000").stdout)
    titles = sorted(r["title"] for r in found)  # both at 13:05 UTC
    assert titles == ["Umerov: sides agree to exchange bodies, 6,000 for 6,000",
                      "Умеров: обмен телами 6000 на 6000"]
    assert all(r["highlights"] for r in found)
    none = run_cli("search", "-c", str(cfg), "--db", db, "earthquake")
    assert none.returncode == 1 and none.stdout == ""
    assert "nothing stored matches 'earthquake'" in none.stderr


@pytest.mark.parametrize("lines", [1, 3000])  # flushed at exit, or while writing
def test_a_reader_that_goes_away_stops_output_quietly(
        tmp_path: Path, isolated_env: dict[str, str], lines: int) -> None:
    """`feedwatch filter … | head -1`: no BrokenPipeError traceback, a clean exit."""
    record = {"id": 1, "title": "Talks resume in Istanbul", "text": "x" * 200}
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before a byte is written
    with open(writer, "w", encoding="utf-8") as stdout:
        done = subprocess.run([*feedwatch_exe(), "filter", "talks"], stdout=stdout,
                              input=jsonl([record] * lines), stderr=subprocess.PIPE,
                              text=True, env=isolated_env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr


def test_opml_export_then_import_round_trip(tmp_path: Path,
                                            run_cli: Callable[..., Any]) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text('[topic]\nname = "A & B"\n[[source]]\nname = "Wire <1>"\n'
                   'url = "https://wire.example/rss?a=1&b=2"\n[[source]]\ntelegram = "@flash"\n',
                   encoding="utf-8")
    exported = run_cli("opml", "export", "-c", str(cfg))
    assert exported.returncode == 0, exported.stderr
    opml = tmp_path / "out.opml"
    opml.write_text(exported.stdout, encoding="utf-8")
    imported = run_cli("opml", "import", str(opml))
    assert imported.returncode == 0, imported.stderr
    back = tmp_path / "back.toml"
    back.write_text(imported.stdout, encoding="utf-8")
    checked = run_cli("check", "-c", str(back))
    assert checked.returncode == 0, checked.stderr
    assert 'url = "https://wire.example/rss?a=1&b=2"' in imported.stdout
    assert 'telegram = "flash"' in imported.stdout and 'name = "Wire <1>"' in imported.stdout
    evil = tmp_path / "evil.opml"
    evil.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                    '<opml><body><outline xmlUrl="&e;"/></body></opml>', encoding="utf-8")
    refused = run_cli("opml", "import", str(evil))
    assert refused.returncode == 2 and "DOCTYPE" in refused.stderr

"""The fault suite through the installed console script: what a person sees on the screen.

A topic mixing healthy and hostile sources: `once` prints the healthy items (inert), one line
per failing source on stderr and no traceback; `sources` shows each source's error (the
dashboard's sources panel reads the same SourceState); the log has them too; `tail` keeps
running through all of it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import feedwatch_exe
from hostile_server import (
    HostileServer,
    drip,
    free_port,
    gzip_bomb,
    redirect,
    respond,
)

HEALTHY = ('<rss version="2.0"><channel><title>h</title>'
           "<item><title>Healthy one</title><guid>h1</guid></item>"
           "<item><title>Healthy two</title><guid>h2</guid></item></channel></rss>")
ANSI = ('<rss version="2.0"><channel><title>a</title><item><title>\x1b[31mred\x1b[0m '
        "[bold red]alarm[/] [@click=app.quit]quit[/] \x1b]8;;http://evil.example\x07x"
        "\x1b]8;;\x07</title><guid>1</guid><link>javascript:alert(1)</link>"
        "<description>\x1b[2J\x9b6n body</description></item></channel></rss>")

EXPECTED = {  # source → the line `sources` and stderr show for it
    "Html": "the URL returned an HTML page, not a feed",
    "Missing": "HTTP 404 not found",
    "Gone": "HTTP 410 gone: the server says this source was removed for good",
    "Refused": "connection refused by 127.0.0.1",
    "Nowhere": "DNS lookup failed for nonexistent.invalid",
    "Drip": "timed out: no complete response within 2 s",
    "Bomb": "response too large: over 1 MB (after decompression), download aborted",
    "Loop": "redirect loop: ",
}


@pytest.fixture
def hostile_topic(tmp_path: Path) -> Iterator[Path]:
    with HostileServer() as srv:
        urls = {
            "Healthy": srv.route("/healthy.xml", respond(HEALTHY)),
            "Ansi": srv.route("/ansi.xml", respond(ANSI)),
            "Html": srv.route("/html", respond("<html><body>hi</body></html>",
                                               content_type="text/html")),
            "Missing": srv.url("/missing"),
            "Gone": srv.route("/gone", respond("", status=410)),
            "Refused": f"http://127.0.0.1:{free_port()}/feed",
            "Nowhere": "http://nonexistent.invalid/feed",
            "Drip": srv.route("/drip", drip(HEALTHY.encode(), 1.0)),
            "Bomb": srv.route("/bomb", gzip_bomb(64 << 20)),
            "Loop": srv.route("/loop", redirect("/loop")),
        }
        sources = "".join(f'\n[[source]]\nname = "{n}"\nurl = "{u}"\n' for n, u in urls.items())
        cfg = tmp_path / "hostile.toml"
        cfg.write_text('[topic]\nname = "hostile"\ninterval = "0.3s"\n\n[fetch]\n'
                       'timeout = "2s"\nconnect_timeout = "1s"\nmax_size = "1MB"\n' + sources,
                       encoding="utf-8")
        yield cfg


def test_once_and_sources_show_one_clear_line_per_broken_source(
        hostile_topic: Path, tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    db = tmp_path / "fw.db"
    started = time.monotonic()
    once = run_cli("once", "-c", str(hostile_topic), "--db", str(db), "--format", "text")
    assert time.monotonic() - started < 15
    assert once.returncode == 0, once.stderr
    assert "Traceback" not in once.stderr and "\x1b" not in once.stdout + once.stderr
    printed = once.stdout.splitlines()
    assert sum("Healthy one" in line or "Healthy two" in line for line in printed) == 2
    (ansi,) = [line for line in printed if "[Ansi]" in line]
    assert ansi.endswith("red [bold red]alarm[/] [@click=app.quit]quit[/] x")  # no link
    errors = [line for line in once.stderr.splitlines() if line.startswith("feedwatch: ")]
    for name, message in EXPECTED.items():
        mine = [line for line in errors if line.startswith(f"feedwatch: {name}: ")]
        assert len(mine) == 1 and message in mine[0], (name, errors)

    listing = run_cli("sources", "-c", str(hostile_topic), "--db", str(db))
    assert listing.returncode == 0 and "Traceback" not in listing.stderr
    blocks = _blocks(listing.stdout)
    for name, message in EXPECTED.items():
        status, detail = blocks[name]
        assert status == ("disabled" if name == "Gone" else "failing"), (name, status)
        assert detail.startswith(message), (name, detail)
    assert blocks["Healthy"] == ("ok", "")
    assert blocks["Ansi"][0] == "ok"  # read leniently: ok, with what was worked around
    assert blocks["Ansi"][1].startswith("warning: feed is not well-formed, parsed leniently")

    rows = {r["name"]: r for r in map(json.loads, run_cli(
        "sources", "-c", str(hostile_topic), "--db", str(db), "--format", "jsonl"
    ).stdout.splitlines())}
    assert rows["Healthy"]["items"] == 2 and rows["Healthy"]["last_error"] is None
    log = Path(tmp_path / "feedwatch.log").read_text(encoding="utf-8")
    for name, message in EXPECTED.items():
        assert f"{name}: {message}" in log
    assert "Traceback" not in log


def _blocks(text: str) -> dict[str, tuple[str, str]]:
    """`sources` text output → {name: (status, error line or "")}."""
    out: dict[str, tuple[str, str]] = {}
    name = ""
    for line in text.splitlines()[1:]:
        if line.lstrip().startswith("└ "):
            out[name] = (out[name][0], line.split("└ ", 1)[1])
        else:
            name, status = line.split()[:2]
            out[name] = (status, "")
    return out


def test_tail_keeps_running_through_hostile_sources(
        hostile_topic: Path, tmp_path: Path, isolated_env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [*feedwatch_exe(), "tail", "-c", str(hostile_topic), "--db", str(tmp_path / "fw.db")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=isolated_env)
    try:
        time.sleep(5)  # several poll rounds of every source (interval 0.3 s, backoff aside)
        assert proc.poll() is None, "tail died"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "Traceback" not in err and "\x1b" not in out + err
    titles = [json.loads(line)["title"] for line in out.splitlines()]
    assert titles.count("Healthy one") == 1 and titles.count("Healthy two") == 1
    for name, message in EXPECTED.items():
        mine = [line for line in err.splitlines() if line.startswith(f"feedwatch: {name}: ")]
        assert mine and all(message in line for line in mine), (name, err)
        assert len(mine) <= 2, (name, mine)  # printed when it changes, not on every poll
    log = Path(tmp_path / "feedwatch.log").read_text(encoding="utf-8")
    assert "Traceback" not in log  # polls cut short by the stop end quietly


def test_once_honours_retry_after_across_runs(tmp_path: Path,
                                              run_cli: Callable[..., Any]) -> None:
    """A 429 with Retry-After: the next `once` (e.g. from cron a minute later) does not ask
    that server again before the time it named; the other sources are polled as usual."""
    with HostileServer() as srv:
        busy = srv.route("/busy", respond("slow down", status=429,
                                          headers={"Retry-After": "600"}))
        fine = srv.route("/fine.xml", respond(HEALTHY))
        cfg = tmp_path / "t.toml"
        cfg.write_text(f'[topic]\nname = "t"\n[[source]]\nname = "Busy"\nurl = "{busy}"\n'
                       f'[[source]]\nname = "Fine"\nurl = "{fine}"\n', encoding="utf-8")
        db = str(tmp_path / "fw.db")
        first = run_cli("once", "-c", str(cfg), "--db", db)
        assert first.returncode == 0 and "Busy: HTTP 429" in first.stderr, first.stderr
        second = run_cli("once", "-c", str(cfg), "--db", db)
        assert second.returncode == 0, second.stderr
        assert srv.hits("/busy") == 1 and srv.hits("/fine.xml") == 2
        assert "Busy: not polled: the server asked to wait (Retry-After)" in second.stderr
        assert "Traceback" not in first.stderr + second.stderr

"""Telegram channels end to end: engine + fetch + parser against preview pages on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from feedwatch.config import parse_topic
from feedwatch.demo.telegram_page import DemoPost, render_channel_page, render_no_preview_page
from feedwatch.engine import Engine
from feedwatch.model import EventKind
from feedwatch.store import Store

T0 = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)
PAGE = 20


class Channel:
    """A channel whose preview pages are rendered from a mutable list of posts."""

    def __init__(self, server: HTTPServer, name: str = "flash") -> None:
        self.name = name
        self.posts: list[DemoPost] = []
        self.requests: list[str] = []
        self.mode = "ok"
        server.expect_request(f"/s/{name}").respond_with_handler(self._page)
        server.expect_request(f"/{name}").respond_with_handler(
            lambda r: Response(render_no_preview_page(name), content_type="text/html"))

    def add(self, n: int, text: str = "Post {id}: talks update ❗️ переговоры") -> None:
        start = self.posts[-1].id + 1 if self.posts else 100
        for i in range(start, start + n):
            self.posts.append(DemoPost(id=i, text=text.format(id=i),
                                       published=T0 + timedelta(minutes=i - 100), views=1200))

    def _page(self, request: Request) -> Response:
        self.requests.append(request.full_path)
        if self.mode == "redirect":
            return Response(status=302, headers={"Location": f"/{self.name}"})
        if self.mode == "429":
            return Response("slow down", status=429, headers={"Retry-After": "120"})
        if self.mode == "layout":
            return Response("<html><body><div class='tgme_new_widget'>hi</div></body></html>",
                            content_type="text/html")
        if self.mode == "blocked":
            return Response("<html><head><title>Blocked</title></head><body>Access denied"
                            "</body></html>", content_type="text/html")
        before = request.args.get("before", type=int)
        posts = [p for p in self.posts if before is None or p.id < before]
        page = posts[-PAGE:]
        older = page[0].id if len(posts) > len(page) else None
        html = render_channel_page(self.name, "Flash", page, before=older)
        return Response(html, content_type="text/html; charset=utf-8")


def topic(server: HTTPServer, extra: str = "") -> Any:
    return parse_topic(f"""
[telegram]
base_url = "{server.url_for('/').rstrip('/')}"
[[source]]
telegram = "flash"
{extra}
""")


async def poll(engine: Engine) -> Any:
    (result,) = await engine.poll_all()
    return result


async def test_gap_between_polls_is_closed_in_order(httpserver: HTTPServer,
                                                    tmp_path: Path) -> None:
    channel = Channel(httpserver)
    channel.add(25)
    store = Store(tmp_path / "fw.db")
    async with Engine(topic(httpserver), store) as engine:
        first = await poll(engine)
        assert first.ok, first.error
        assert len(first.events) == PAGE  # first poll: the latest page only
        channel.add(30)  # more than one page appeared since
        second = await poll(engine)
        assert second.ok, second.error
        new_ids = [int(e.update.key.split("/")[1]) for e in second.events]
        assert new_ids == list(range(125, 155))  # all 30, oldest first
        assert any("before=" in r for r in channel.requests)
        third = await poll(engine)
        assert third.events == ()
    urls = [u.url for u in store.all_updates()]
    assert "https://t.me/flash/154" in urls
    store.close()


async def test_backfill_reads_older_pages_on_first_poll(httpserver: HTTPServer,
                                                        tmp_path: Path) -> None:
    channel = Channel(httpserver)
    channel.add(50)
    async with Engine(topic(httpserver, "backfill = 45"), Store(tmp_path / "fw.db")) as engine:
        result = await poll(engine)
    assert len(result.events) == 45
    assert result.events[0].update.key == "flash/105"


async def test_edited_post_is_an_edit_not_a_new_update(httpserver: HTTPServer,
                                                       tmp_path: Path) -> None:
    channel = Channel(httpserver)
    channel.add(3, "Umerov: bodies exchange 5,000 for 5,000")
    async with Engine(topic(httpserver), Store(tmp_path / "fw.db")) as engine:
        await poll(engine)
        old = channel.posts[1]
        channel.posts[1] = DemoPost(id=old.id, text="Umerov: bodies exchange 6,000 for 6,000",
                                    published=old.published, views=5000, edited=True)
        result = await poll(engine)
    (event,) = result.events
    assert event.kind is EventKind.EDITED
    assert event.update.text == "Umerov: bodies exchange 6,000 for 6,000"
    assert event.update.revision == 2


@pytest.mark.parametrize(("mode", "message"), [
    ("redirect", "no public web preview"),
    ("layout", "layout may have changed"),
    ("blocked", 'returned a page that is not from Telegram ("Blocked")'),
    ("429", "HTTP 429"),
])
async def test_errors_are_clear_and_per_source(httpserver: HTTPServer, tmp_path: Path,
                                               mode: str, message: str) -> None:
    channel = Channel(httpserver)
    channel.add(2)
    channel.mode = mode
    async with Engine(topic(httpserver), Store(tmp_path / "fw.db")) as engine:
        result = await poll(engine)
    assert not result.ok
    assert message in result.error
    assert result.state.failures == 1
    if mode == "429":  # Retry-After: 120 is honoured (minus jitter)
        wait = (result.state.next_due - result.state.last_attempt).total_seconds()
        assert wait >= 120 * 0.85


async def test_unknown_channel_404(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/s/nosuchchannel").respond_with_data("nope", status=404)
    t = parse_topic(f"""
[telegram]
base_url = "{httpserver.url_for('/').rstrip('/')}"
[[source]]
telegram = "nosuchchannel"
""")
    async with Engine(t, Store(tmp_path / "fw.db")) as engine:
        result = await poll(engine)
    assert "HTTP 404" in result.error


def test_once_cli_prints_channel_posts_then_nothing(httpserver: HTTPServer, tmp_path: Path,
                                                    run_cli: Callable[..., Any]) -> None:
    channel = Channel(httpserver)
    channel.add(4)
    cfg = tmp_path / "t.toml"
    cfg.write_text('[[source]]\ntelegram = "@flash"\n', encoding="utf-8")
    env = {"FEEDWATCH_TELEGRAM_BASE_URL": httpserver.url_for("/").rstrip("/")}
    first = run_cli("once", "-c", str(cfg), "--db", str(tmp_path / "db"), env=env)
    assert first.returncode == 0, first.stderr
    records = [json.loads(line) for line in first.stdout.splitlines()]
    assert [r["url"] for r in records] == [f"https://t.me/flash/{i}" for i in range(100, 104)]
    assert [r["published"] for r in records] == sorted(r["published"] for r in records)
    assert records[0]["text"].startswith("Post 100: talks update ❗️")
    second = run_cli("once", "-c", str(cfg), "--db", str(tmp_path / "db"), env=env)
    assert second.returncode == 0 and second.stdout == ""


async def test_varied_real_markup_end_to_end(httpserver: HTTPServer, tmp_path: Path) -> None:
    """A page with every kind of post (media-only, link-only, forwards, a pin) stores cleanly."""
    page = (Path(__file__).parent / "data" / "telegram" / "variety_page.html").read_bytes()
    httpserver.expect_request("/s/levant_flash").respond_with_data(
        page, content_type="text/html; charset=utf-8"
    )
    t = parse_topic(f"""
[telegram]
base_url = "{httpserver.url_for('/').rstrip('/')}"
[[source]]
telegram = "levant_flash"
""")
    store = Store(tmp_path / "fw.db")
    async with Engine(t, store) as engine:
        result = await poll(engine)
    assert result.ok, result.error
    keys = {e.update.key for e in result.events}
    assert len(keys) == 17 and "levant_flash/519" not in keys  # the pin is not a post
    by_key = {u.key: u for u in store.all_updates()}
    assert by_key["levant_flash/503"].media == ("link",)
    assert by_key["levant_flash/509"].text == "[unsupported]"
    assert by_key["levant_flash/515"].forwarded_url is None
    assert all(u.url == f"https://t.me/{u.key}" for u in by_key.values())
    store.close()

"""A loopback HTTP server replaying the demo story on an accelerated clock.

Feeds are served as RSS 2.0, Atom and RDF at ``/feeds/<slug>.xml`` and the Telegram-style
channels as t.me/s preview pages at ``/s/<channel>`` (with ``?before=``), each showing only
what has been "published" by the replay clock. ETag / If-None-Match and Last-Modified are
honoured so the demo exercises conditional GET like a real server.
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

from .story import FEEDS, STORY_START, Feed, Item, items_for, story_end
from .telegram_page import DemoPost, render_channel_page

PAGE_SIZE = 20
FIRST_POST_ID = 48210


class ReplayClock:
    """Story time advancing ``speed`` times faster than real time from ``start``."""

    def __init__(self, speed: float = 30.0, start: datetime | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.speed = speed
        self.start = start or STORY_START + timedelta(minutes=20)
        self._monotonic = monotonic
        self._t0 = monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(self._monotonic() - self._t0) * self.speed)

    @property
    def finished(self) -> bool:
        return self.now() >= story_end()


def _rfc822(dt: datetime) -> str:
    return email.utils.format_datetime(dt)


def _link(feed: Feed, index: int, item: Item) -> str:
    slug = "-".join(item.title.lower().split()[:6]) or "update"
    slug = "".join(ch for ch in slug if ch.isalnum() or ch == "-")
    return f"{feed.site}/2025/06/02/{index:03d}-{slug}"


def _visible(feed: Feed, now: datetime) -> list[tuple[int, Item]]:
    return [(i, item) for i, item in enumerate(items_for(feed.slug)) if item.published <= now]


def _text(item: Item, now: datetime) -> str:
    if item.edited_text and item.edited is not None and item.edited <= now:
        return item.edited_text
    return item.text


def render_rss(feed: Feed, now: datetime) -> str:
    items = _visible(feed, now)[-PAGE_SIZE:]
    out = ['<?xml version="1.0" encoding="utf-8"?>', '<rss version="2.0">', "<channel>",
           f"<title>{escape(feed.title)}</title>", f"<link>{escape(feed.site)}/</link>",
           f"<description>{escape(feed.title)}</description>",
           f"<language>{feed.lang}</language>"]
    for index, item in reversed(items):
        out += ["<item>", f"<title>{escape(item.title)}</title>",
                f"<link>{escape(_link(feed, index, item))}?utm_source=rss</link>",
                f'<guid isPermaLink="false">{feed.slug}-{index}</guid>',
                f"<pubDate>{_rfc822(item.published)}</pubDate>",
                f"<description>{escape('<p>' + escape(_text(item, now)) + '</p>')}</description>",
                "</item>"]
    out += ["</channel>", "</rss>"]
    return "\n".join(out)


def render_atom(feed: Feed, now: datetime) -> str:
    items = _visible(feed, now)[-PAGE_SIZE:]
    updated = max((i.published for _, i in items), default=STORY_START).isoformat()
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{feed.lang}">',
           f"<title>{escape(feed.title)}</title>", f"<id>{escape(feed.site)}/</id>",
           f'<link href={quoteattr(feed.site + "/")}/>', f"<updated>{updated}</updated>"]
    for index, item in reversed(items):
        out += ["<entry>", f"<title>{escape(item.title)}</title>",
                f"<id>tag:{urlsplit(feed.site).hostname},2025:{feed.slug}:{index}</id>",
                f"<link rel=\"alternate\" href={quoteattr(_link(feed, index, item))}/>",
                f"<published>{item.published.isoformat()}</published>",
                f"<updated>{item.published.isoformat()}</updated>",
                f'<summary type="html">{escape("<p>" + escape(_text(item, now)) + "</p>")}'
                "</summary>",
                f"<author><name>{escape(feed.title.split(' ')[0])} staff</name></author>",
                "</entry>"]
    out.append("</feed>")
    return "\n".join(out)


def render_rdf(feed: Feed, now: datetime) -> str:
    items = list(reversed(_visible(feed, now)[-PAGE_SIZE:]))
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
           'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">',
           f'<channel rdf:about={quoteattr(feed.site + "/")}>',
           f"<title>{escape(feed.title)}</title>", f"<link>{escape(feed.site)}/</link>",
           f"<description>{escape(feed.title)}</description>", "<items><rdf:Seq>"]
    out += [f"<rdf:li rdf:resource={quoteattr(_link(feed, i, it))}/>" for i, it in items]
    out += ["</rdf:Seq></items>", "</channel>"]
    for index, item in items:
        link = _link(feed, index, item)
        out += [f"<item rdf:about={quoteattr(link)}>", f"<title>{escape(item.title)}</title>",
                f"<link>{escape(link)}</link>",
                f"<description>{escape(_text(item, now))}</description>",
                f"<dc:date>{item.published.isoformat()}</dc:date>", "</item>"]
    out.append("</rdf:RDF>")
    return "\n".join(out)


def channel_posts(feed: Feed, now: datetime) -> list[DemoPost]:
    posts = []
    for index, item in _visible(feed, now):
        age = (now - item.published).total_seconds() / 60
        edited = item.edited is not None and item.edited <= now
        posts.append(DemoPost(
            id=FIRST_POST_ID + index * 2 + (1 if item.media else 0),
            text=_text(item, now), published=item.published, views=int(900 + age * 157),
            edited=edited, media=item.media, forwarded_from=item.forwarded_from,
        ))
    return posts


def render_channel(feed: Feed, now: datetime, before: int | None, base_url: str) -> str:
    posts = channel_posts(feed, now)
    if before is not None:
        posts = [p for p in posts if p.id < before]
    page = posts[-PAGE_SIZE:]
    older = page[0].id if len(posts) > len(page) else None
    return render_channel_page(feed.slug, feed.title, page, before=older, base_url=base_url,
                               description="Replay of a live channel for the feedwatch demo.")


_RENDERERS = {"rss": render_rss, "atom": render_atom, "rdf": render_rdf}
_CONTENT_TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml",
                  "rdf": "application/rdf+xml"}


class DemoServer:
    """The replay server on 127.0.0.1, running in a background thread."""

    def __init__(self, speed: float = 30.0, port: int = 0, *,
                 clock: ReplayClock | None = None) -> None:
        self.clock = clock or ReplayClock(speed)
        self.requests: list[tuple[str, int]] = []
        handler = _make_handler(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="demo-server",
                                        daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def feed_url(self, feed: Feed) -> str:
        return f"{self.base_url}/feeds/{feed.slug}.xml"

    def start(self) -> DemoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def topic_toml(self, *, interval: str = "5s", db_hint: str = "") -> str:
        """A topic file for this server: every demo feed and channel."""
        lines = ['[topic]', 'name = "Istanbul talks"',
                 'query = ""', f'interval = "{interval}"',
                 'alert = "bodies OR тела* OR breakthrough*"', "",
                 "[telegram]", f'base_url = "{self.base_url}"', ""]
        for feed in FEEDS:
            lines.append("[[source]]")
            lines.append(f'name = "{feed.title.split(" —")[0].split(":")[0].strip()}"')
            if feed.format == "telegram":
                lines.append(f'telegram = "{feed.slug}"')
            else:
                lines.append(f'url = "{self.feed_url(feed)}"')
            lines.append("")
        return "\n".join(lines)


def _make_handler(server: DemoServer) -> type[BaseHTTPRequestHandler]:
    feeds = {f.slug: f for f in FEEDS}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "feedwatch-demo/1"

        def log_message(self, format: str, *args: object) -> None:
            pass  # the dashboard owns the terminal

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            now = server.clock.now()
            body: str | None = None
            ctype = "text/html; charset=utf-8"
            if parts.path.startswith("/feeds/") and parts.path.endswith(".xml"):
                feed = feeds.get(parts.path[len("/feeds/"):-len(".xml")])
                if feed is not None and feed.format in _RENDERERS:
                    body = _RENDERERS[feed.format](feed, now)
                    ctype = _CONTENT_TYPES[feed.format] + "; charset=utf-8"
            elif parts.path.startswith("/s/"):
                feed = feeds.get(parts.path[3:].strip("/"))
                if feed is not None and feed.format == "telegram":
                    before = parse_qs(parts.query).get("before", [None])[0]
                    body = render_channel(feed, now, int(before) if before and before.isdigit()
                                          else None, server.base_url)
            if body is None:
                self._send(404, b"not found\n", "text/plain")
                return
            data = body.encode("utf-8")
            etag = '"' + hashlib.sha1(data).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                server.requests.append((self.path, 304))
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            server.requests.append((self.path, 200))
            self._send(200, data, ctype, {"ETag": etag})

        def _send(self, status: int, data: bytes, ctype: str,
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the feedwatch demo replay on loopback.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--speed", type=float, default=30.0)
    parser.add_argument("--print-config", action="store_true",
                        help="print a topic file for this server and keep serving")
    args = parser.parse_args(argv)
    server = DemoServer(args.speed, args.port).start()
    print(f"demo replay on {server.base_url} (speed ×{args.speed:g}); Ctrl-C to stop", flush=True)
    if args.print_config:
        print(server.topic_toml(), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()

"""RSS 0.9x/1.0/2.0, Atom and RDF through feedparser, and JSON Feed 1.0/1.1: bytes → entries.

Pure: no network, no clock. feedparser is fed the bytes and the response headers (for the
charset and the base URL of relative links), never a URL, so it can never fetch anything.
"""

from __future__ import annotations

import calendar
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from ..model import Entry
from ..textutil import canonical_url, clean_text, html_to_text, text_fingerprint

MAX_TEXT = 20_000  # characters kept of an item's text; full articles are not our job

# feedparser sanitizes HTML and resolves relative URIs; it must never fetch anything itself.
feedparser.RESOLVE_RELATIVE_URIS = True
feedparser.SANITIZE_HTML = True


class FeedParseError(Exception):
    """The body is not a feed we can read; ``str()`` says what it is instead."""


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str | None
    entries: tuple[Entry, ...]
    format: str  # e.g. "rss20", "atom10", "json11"
    warning: str | None = None  # feedparser recovered from a problem (e.g. malformed XML)


def parse_feed(body: bytes, *, url: str = "", headers: dict[str, str] | None = None
               ) -> ParsedFeed:
    """Parse any supported feed format; raises FeedParseError with a clear reason."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    ctype = headers.get("content-type", "").lower()
    if head.startswith((b"{", b"[")) or "json" in ctype:
        return parse_json_feed(body, url=url)
    if not body.strip():
        raise FeedParseError("empty response: the server sent no content")
    headers.setdefault("content-location", url)
    # A BytesIO, not bytes: feedparser treats a bytes argument that happens to be a path as
    # a file name to open, and a hostile server must never make us read local files.
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=True,
                              resolve_relative_uris=True)
    version = parsed.get("version") or ""
    if not parsed.entries and not version:
        raise FeedParseError(_not_a_feed_reason(body, parsed))
    feed_lang = parsed.feed.get("language")
    entries = tuple(_entry(e, url, feed_lang) for e in parsed.entries)
    warning = None
    if parsed.get("bozo") and parsed.get("bozo_exception") is not None:
        exc = parsed["bozo_exception"]
        if not isinstance(exc, feedparser.CharacterEncodingOverride):
            warning = f"feed is not well-formed, parsed leniently: {exc}"
    title = clean_text(parsed.feed.get("title")) or None
    return ParsedFeed(title=title, entries=entries, format=version or "unknown", warning=warning)


_FEED_LINK = re.compile(
    rb"<link[^>]+type=[\"']application/(?:rss|atom|feed)\+(?:xml|json)[\"'][^>]*>", re.I)
_HREF = re.compile(rb"href=[\"']([^\"']+)[\"']", re.I)


def _not_a_feed_reason(body: bytes, parsed: Any) -> str:
    head = body[:2048].lower()
    if b"<html" in head or b"<!doctype html" in head:
        reason = "the URL returned an HTML page, not a feed"
        link = _FEED_LINK.search(body[:200_000])
        if link:
            href = _HREF.search(link.group(0))
            if href:
                reason += f" (the page links to a feed: {href.group(1).decode('utf-8', 'replace')})"
        return reason
    exc = parsed.get("bozo_exception")
    if exc is not None:
        return f"not a readable feed: {exc}"
    return "not a feed: no RSS, Atom or RDF items found"


def _struct_to_dt(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, TypeError, OSError):
        return None


def _entry(e: Any, base_url: str, feed_lang: str | None) -> Entry:
    title = html_to_text(e.get("title"))
    summary = e.get("summary") or ""
    contents = e.get("content") or []
    content = max((c.get("value") or "" for c in contents), key=len, default="")
    # Many feeds put a teaser in <description> and the article in <content:encoded>;
    # the teaser reads better in a live stream unless it is empty.
    text = html_to_text(summary) or html_to_text(content)
    text = text[:MAX_TEXT]
    link = e.get("link") or ""
    if link and base_url:
        link = urljoin(base_url, link)
    published = _struct_to_dt(e.get("published_parsed")) or _struct_to_dt(e.get("updated_parsed"))
    guid = (e.get("id") or "").strip()
    if guid:
        key = f"guid:{guid}"
    elif link:
        key = f"url:{canonical_url(link)}"
    else:
        key = f"hash:{text_fingerprint(title, text)}"
    return Entry(
        key=key, title=title, text=text, url=link or None, published=published,
        author=clean_text(e.get("author")) or None,
        lang=e.get("language") or feed_lang or None,
    )


# --- JSON Feed ---------------------------------------------------------------------------


def _parse_iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_json_feed(body: bytes, *, url: str = "") -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1)."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedParseError(f"not a feed: invalid JSON ({exc})") from None
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith(
            "https://jsonfeed.org/version/"):
        detail = ""
        if isinstance(doc, dict):
            err = doc.get("error") or doc.get("message")
            if isinstance(err, str | dict):
                detail = f": {json.dumps(err, ensure_ascii=False)[:200]}"
        raise FeedParseError(f"the URL returned a JSON document, not a JSON Feed{detail}")
    items = doc.get("items")
    if not isinstance(items, list):
        raise FeedParseError("JSON Feed without an 'items' list")
    version = "json11" if doc["version"].endswith("1.1") else "json10"
    feed_lang = doc.get("language") if isinstance(doc.get("language"), str) else None
    entries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        title = clean_text(str(item.get("title") or ""))
        text = clean_text(str(item.get("content_text") or "")) or html_to_text(
            str(item.get("content_html") or "")) or clean_text(str(item.get("summary") or ""))
        text = text[:MAX_TEXT]
        link = item.get("url") or item.get("external_url") or ""
        link = urljoin(url, link) if isinstance(link, str) and link else None
        guid = item.get("id")
        if guid not in (None, ""):
            key = f"guid:{guid}"
        elif link:
            key = f"url:{canonical_url(link)}"
        else:
            key = f"hash:{text_fingerprint(title, text)}"
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        author = next((a.get("name") for a in authors if isinstance(a, dict) and a.get("name")),
                      None)
        entries.append(Entry(
            key=key, title=title, text=text, url=link,
            published=_parse_iso(item.get("date_published")) or _parse_iso(
                item.get("date_modified")),
            author=clean_text(author) or None,
            lang=item.get("language") if isinstance(item.get("language"), str) else feed_lang,
        ))
    title = clean_text(str(doc.get("title") or "")) or None
    return ParsedFeed(title=title, entries=tuple(entries), format=version)

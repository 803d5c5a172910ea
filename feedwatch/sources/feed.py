"""RSS 0.9x/1.0/2.0, Atom and RDF through feedparser, and JSON Feed 1.0/1.1: bytes → entries.

Pure: no network, no clock. feedparser is fed the bytes and the response headers (for the
charset and the base URL of relative links), never a URL, so it can never fetch anything.
"""

from __future__ import annotations

import calendar
import codecs
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html.entities import name2codepoint
from typing import Any

import feedparser
import feedparser.api
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.sanitizer import _sanitize_html
from feedparser.urls import resolve_relative_uris

from ..model import Entry
from ..textutil import (
    absolute_link,
    canonical_url,
    clean_text,
    html_to_text,
    text_fingerprint,
    truncate,
)
from . import dates, fastfeed

looks_like_html = _FeedParserMixin.looks_like_html
# Both readers parse dates with feedparser's handlers; ours answers first for the forms it
# reads wrong (see dates.py).
feedparser.registerDateHandler(dates.parse_date)

MAX_TEXT = 20_000  # characters kept of an item's text; full articles are not our job
MAX_TITLE = 1_000
MAX_AUTHOR = 200
MAX_GUID = 500  # longer GUIDs are hashed: a key is an identity, not a payload
# Items read from one feed document. feedparser needs ~0.2-0.5 ms per item, so a 10 MB feed
# of tiny items would hold a CPU for most of a minute on every change; a live watcher wants
# the newest items, which feeds list first.
MAX_ITEMS = 1000

# feedparser sanitizes HTML and resolves relative URIs; it must never fetch anything itself.
feedparser.RESOLVE_RELATIVE_URIS = True
feedparser.SANITIZE_HTML = True
# parse_feed itself asks for neither (they are about half of feedparser's time on a typical
# feed) and applies them afterwards, field by field, only to HTML that holds more than plain
# formatting tags (see _reference_html): for <p>, <a>, <img>… they change attributes, never
# the text html_to_text keeps. True here makes feedparser do it all, as before;
# tests/test_feed_fastpath.py checks that both give identical entries.
REFERENCE_SETTINGS = False
# feedparser asks xml.sax for "drv_libxml2" first on every parse: a failed import each time.
feedparser.api.PREFERRED_XML_PARSERS = []


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
    if not head.strip(b"\xef\xbb\xbf\x00\xfe\xff \t\r\n") and not body[512:].strip():
        raise FeedParseError("empty response: the server sent no content")
    if head.startswith((b"{", b"[")) or ("json" in ctype and not head.startswith(b"<")):
        return parse_json_feed(body, url=url)
    body, headers = _defuse(body, headers)
    body, headers, charset_warning = _fix_charset(body, headers)
    body = _escape_bare_amps(body)
    body, cut_warning = _cap_items(body)
    cut_warning = cut_warning or charset_warning
    if url:
        # The fetched URL is the base of relative links and GUIDs for both readers: a
        # server's own Content-Location (often relative, or another mirror) would make an
        # item's key depend on which reader took the document.
        headers["content-location"] = url
    # feedparser cleans C1 controls before it sanitizes HTML, parse_feed after: documents
    # holding any (rare) get feedparser's own sanitizing so both orders never differ.
    sanitized = REFERENCE_SETTINGS or _C1_UTF8.search(body) is not None
    simple = None if sanitized else fastfeed.read(body, url=url, headers=headers)
    if simple is not None:
        version, feed, raw_entries = simple
        encoding, warning = "utf-8", cut_warning
    else:
        # A BytesIO, not bytes: feedparser treats a bytes argument that happens to be a path
        # as a file name to open, and a hostile server must never make us read local files.
        parsed = feedparser.parse(io.BytesIO(body), response_headers=headers,
                                  sanitize_html=sanitized, resolve_relative_uris=sanitized)
        version = parsed.get("version") or ""
        if not parsed.entries and not version:
            raise FeedParseError(_not_a_feed_reason(body, parsed))
        feed, raw_entries = parsed.feed, parsed.entries
        encoding = parsed.get("encoding") or "utf-8"
        warning = cut_warning
        if parsed.get("bozo") and parsed.get("bozo_exception") is not None and not cut_warning:
            exc = parsed["bozo_exception"]
            if not isinstance(exc, feedparser.CharacterEncodingOverride
                              | feedparser.NonXMLContentType):
                warning = f"feed is not well-formed, parsed leniently: {exc}"
    feed_lang = feed.get("language")
    entries = _unique(_entry(e, url, feed_lang, encoding, sanitized) for e in raw_entries)
    title = clean_text(_feed_title(feed, encoding, sanitized)) or None
    return ParsedFeed(title=title, entries=entries, format=version or "unknown", warning=warning)


def _feed_title(feed: Any, encoding: str, sanitized: bool) -> str:
    """The feed's title as feedparser's reference settings give it (it is not reduced by
    html_to_text, so any HTML in it gets feedparser's own treatment, tags or not)."""
    title = feed.get("title") or ""
    detail = feed.get("title_detail") or {}
    kind = _HTML_KINDS.get(str(detail.get("type", "")).lower())
    if sanitized or not title or kind is None:
        return title
    return _sanitize(title, detail, kind, encoding)


_HTML_KINDS = {"text/html": "text/html", "html": "text/html",
               "application/xhtml+xml": "application/xhtml+xml",
               "xhtml": "application/xhtml+xml"}
# Tags whose sanitizing only touches attributes; HTML made of these, text and well-formed
# character references reads the same to html_to_text with or without feedparser's pass.
_PLAIN_TAG = re.compile(
    r"</?(?:a|abbr|b|blockquote|br|caption|cite|code|dd|div|dl|dt|em|figcaption|figure|h[1-6]"
    r"|hr|i|img|li|mark|ol|p|pre|q|s|small|span|strong|sub|sup|table|tbody|td|tfoot|th"
    r"|thead|time|tr|u|ul)(?:\s[^<>]*)?/?>", re.I)
_REFERENCE = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z][A-Za-z0-9]{0,31}));")


def _kept_reference(m: re.Match[str]) -> str:
    """"" for a reference feedparser's sanitizer keeps as it is; "&" (not plain) for one it
    rewrites: unknown entity names and the cp1252 range of character references."""
    if m.group(3) is not None:
        return "" if m.group(3) in name2codepoint or m.group(3) == "apos" else "&"
    code = int(m.group(1), 10) if m.group(1) is not None else int(m.group(2), 16)
    return "&" if code in _cp1252 else ""


def _reference_html(value: str, detail: Any, encoding: str, sanitized: bool) -> str:
    """An HTML field as feedparser's sanitizer and URI resolver would have left it (they are
    switched off in parse_feed): a no-op for plain formatting HTML, the real thing otherwise."""
    if sanitized or not value or ("<" not in value and "&" not in value):
        return value
    kind = _HTML_KINDS.get(str((detail or {}).get("type", "text/html")).lower())
    if kind is None:
        return value
    rest = _PLAIN_TAG.sub("", value)
    if "<" not in rest and "&" not in _REFERENCE.sub(_kept_reference, rest):
        return value
    return _sanitize(value, detail or {}, kind, encoding)


def _sanitize(value: str, detail: Any, kind: str, encoding: str) -> str:
    value = resolve_relative_uris(value, detail.get("base") or "", encoding, kind)
    return _sanitize_html(value, encoding, kind)


def _unique(entries: Any) -> tuple[Entry, ...]:
    """Drop empty items and repeated keys (a feed listing one GUID twice keeps the first):
    two different items under one key would otherwise be an "edit" on every poll."""
    seen: set[str] = set()
    out = []
    for entry in entries:
        if not (entry.title or entry.text or entry.url) or entry.key in seen:
            continue
        seen.add(entry.key)
        out.append(entry)
    return tuple(out)


def _guid_key(guid: str) -> str:
    guid = clean_text(guid)
    if len(guid) > MAX_GUID:
        return f"guidhash:{text_fingerprint(guid)}"
    return f"guid:{guid}"


_ITEM_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]")
_ITEM_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>")


def _cap_items(body: bytes) -> tuple[bytes, str | None]:
    """Keep the first MAX_ITEMS items of a huge feed, cut before parsing (with the
    document's closing tags kept, so the rest still parses strictly)."""
    starts = _ITEM_START.finditer(body)
    cut = None
    for count, m in enumerate(starts, start=1):
        if count > MAX_ITEMS:
            cut = m.start()
            break
    if cut is None:
        return body, None
    total = MAX_ITEMS + 1 + sum(1 for _ in starts)
    tail_at = len(body)
    for end in _ITEM_END.finditer(body, cut):
        tail_at = end.end()
    tail = body[tail_at:]
    return (body[:cut] + tail,
            f"the feed lists {total} items; only the first {MAX_ITEMS} were read")


# "&" that starts no character or entity reference ("Q&A", "?a=1&b=2"): not XML, so a
# feed holding one is read by feedparser's lenient parser, which writes "Q&A;". CDATA may
# hold bare "&" and is left as it is.
_BARE_AMP = re.compile(rb"&(?!#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z_][\w.-]*;)")


def _escape_bare_amps(body: bytes) -> bytes:
    """``body`` with bare "&" escaped outside CDATA sections (an unclosed one runs to the
    end), in one pass."""
    if _BARE_AMP.search(body) is None:
        return body
    out: list[bytes] = []
    at = 0
    while at < len(body):
        start = body.find(b"<![CDATA[", at)
        if start < 0:
            out.append(_BARE_AMP.sub(b"&amp;", body[at:]))
            break
        end = body.find(b"]]>", start + 9)
        end = len(body) if end < 0 else end + 3
        out += [_BARE_AMP.sub(b"&amp;", body[at:start]), body[start:end]]
        at = end
    return b"".join(out)


_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]|&#(?:1[2-5][0-9]|x[89][0-9a-fA-F]);")


# --- XML defusing --------------------------------------------------------------------------

_UTF16_32 = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00",
             b"<\x00?\x00", b"\x00<\x00?", b"<\x00\x00\x00", b"\x00\x00\x00<")
_XML_DECL_ENCODING = re.compile(rb"^(<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2", re.I)


def _defuse(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """Remove a DOCTYPE's internal subset (entity declarations) before any XML parser sees it.

    Feeds never need their own entities; "billion laughs" and external entities (XXE) live
    there. feedparser strips only declarations that start a line and expat's amplification
    limit still lets a 10 MB body expand a hundredfold, so the subset goes entirely. Bodies in
    UTF-16/32 are re-encoded to UTF-8 first so the byte-level scan sees them.
    """
    if body.startswith(_UTF16_32):
        text = _decode_wide(body)
        if text is not None:
            body = _XML_DECL_ENCODING.sub(rb"\1\2utf-8\2", text.encode("utf-8"), count=1)
            headers = {**headers, "content-type": _with_utf8(headers.get("content-type", ""))}
    m = _DOCTYPE_SUBSET.match(body, _MISC.match(body, 3 if body.startswith(_BOM) else 0).end())
    if m is not None:
        close = _subset_end(body, m.end())
        if close is None:
            raise FeedParseError("not a readable feed: unterminated DOCTYPE declaration")
        body = body[:m.start()] + m.group(1) + b">" + body[close:]
    return body, headers


_BOM = b"\xef\xbb\xbf"
# What may precede a DOCTYPE (XML 1.0 §2.8): the declaration, PIs, comments, white space.
_MISC = re.compile(rb"(?:\s|<\?.*?\?>|<!--.*?-->)*", re.S)
_DOCTYPE_SUBSET = re.compile(rb"(<!DOCTYPE\s[^\[>]*?)\s*\[", re.I)
# quoted strings may hold "]>"; possessive quantifiers: linear time, no backtracking
_SUBSET_REST = re.compile(rb"(?:\"[^\"]*+\"|'[^']*+'|[^\"'\]]++)*+\]\s*>")


def _decode_wide(body: bytes) -> str | None:
    for bom, codec in ((b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"),
                       (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le")):
        if body.startswith(bom):
            return body[len(bom):].decode(codec, "replace")
    for head, codec in ((b"<\x00\x00\x00", "utf-32-le"), (b"\x00\x00\x00<", "utf-32-be"),
                        (b"<\x00", "utf-16-le"), (b"\x00<", "utf-16-be")):
        if body.startswith(head):
            return body.decode(codec, "replace")
    return None


_DECLARED = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']", re.I)
_WORD = re.compile(r"[^\W\d_]+")
_HTTP_CHARSET = re.compile(r"charset\s*=\s*[\"']?([^\"';\s]+)", re.I)
_UTF8_NAMES = {"utf-8", "utf8"}


def _fix_charset(body: bytes, headers: dict[str, str]
                 ) -> tuple[bytes, dict[str, str], str | None]:
    """Correct the two charset mistakes common in the wild, which feedparser would turn into
    mojibake without a word: a UTF-8 feed served with a wrong single-byte ``charset=`` header,
    and a windows-1251 (Cyrillic) feed declared, or defaulting to, UTF-8."""
    if body.isascii():
        return body, headers, None
    m = _DECLARED.match(body[:512])
    declared = m.group(1).decode("ascii", "replace").lower() if m else "utf-8"
    h = _HTTP_CHARSET.search(headers.get("content-type", ""))
    http = h.group(1).lower() if h else None
    try:
        body.decode("utf-8")
        valid_utf8 = True
    except UnicodeDecodeError:
        valid_utf8 = False
    if not valid_utf8:
        text = body.decode("utf-8", "replace")
        bad = text.count("\ufffd") - body.count(b"\xef\xbf\xbd")
        good = sum(1 for c in text if ord(c) > 127 and c != "\ufffd")
        if bad > 0 and good >= max(8, 20 * bad) and http in (None, *_UTF8_NAMES) \
                and declared in _UTF8_NAMES:
            # UTF-8 with a few broken sequences (a title cut mid-character): keep it UTF-8
            return text.encode("utf-8"), headers, (
                f"{bad} invalid UTF-8 byte sequence(s) replaced")
    if valid_utf8:
        # Valid multi-byte UTF-8 is almost never meant as another charset (Cyrillic in
        # windows-1251 or KOI8-R never is, Chinese in GBK hardly): a stale label, after a
        # site moved on. A prolog is only trusted to be wrong for single-byte charsets.
        prolog_wrong = declared not in _UTF8_NAMES and _single_byte(declared)
        http_wrong = bool(http) and http not in _UTF8_NAMES and (
            declared in _UTF8_NAMES or prolog_wrong)
        if prolog_wrong or http_wrong:
            fixed = _XML_DECL_ENCODING.sub(rb"\1\2utf-8\2", body, count=1) if m else body
            ctype = _with_utf8(headers.get("content-type", ""))
            warning = None  # (a UTF-8 header over a stale prolog was already read right)
            if http_wrong:
                warning = f"the server says charset={http} but the feed is UTF-8; read as UTF-8"
            elif not http:
                warning = f"the feed says charset={declared} but the feed is UTF-8; read as UTF-8"
            return fixed, {**headers, "content-type": ctype}, warning
        return body, headers, None
    if declared not in _UTF8_NAMES or (http and http not in _UTF8_NAMES):
        return body, headers, None
    text = body.decode("cp1251", "replace")
    # Cyrillic text read as cp1251 gives words made only of Cyrillic letters; Latin-1 text
    # (whose accented letters are Cyrillic in cp1251 too) gives them inside Latin words.
    pure = mixed = 0
    for word in _WORD.findall(text):
        if len(word) < 2:
            continue  # a lone accented letter (Italian "è") is "и" in cp1251
        cyr = sum(1 for c in word if "\u0400" <= c <= "\u04ff")
        if cyr == len(word):
            pure += 1
        elif cyr:
            mixed += 1
    if pure < 3 or pure < 4 * mixed:
        return body, headers, None
    fixed = text.encode("utf-8")
    if m:
        fixed = _XML_DECL_ENCODING.sub(rb"\1\2utf-8\2", fixed, count=1)
    return fixed, {**headers, "content-type": _with_utf8(headers.get("content-type", ""))}, (
        "the feed says it is UTF-8 but is windows-1251 (Cyrillic); read as windows-1251")


def _single_byte(charset: str) -> bool:
    """Whether ``charset`` names a one-byte-per-character encoding (windows-125x, ISO 8859,
    KOI8, Mac, DOS code pages, ASCII), which UTF-8 text is often mislabelled as."""
    try:
        name = codecs.lookup(charset).name
    except LookupError:
        return False
    return name.startswith(("cp125", "iso8859", "koi8", "mac-", "cp4", "cp8", "ascii"))


def _with_utf8(ctype: str) -> str:
    base = ctype.split(";")[0].strip() or "application/xml"
    return f"{base}; charset=utf-8"


def _subset_end(body: bytes, i: int) -> int | None:
    """Index just after the ``]>`` closing an internal subset that starts at ``i``."""
    m = _SUBSET_REST.match(body, i)
    return m.end() if m else None


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


def _entry(e: Any, base_url: str, feed_lang: str | None, encoding: str = "utf-8",
           sanitized: bool = False) -> Entry:
    title_detail = e.get("title_detail")
    title = truncate(_field_text(_reference_html(e.get("title") or "", title_detail, encoding,
                                                 sanitized), title_detail), MAX_TITLE)
    contents = e.get("content") or []
    # A summary without details is feedparser's copy of the first content: its type holds
    summary_detail = e.get("summary_detail") or (contents[0] if contents else None)
    summary = _reference_html(e.get("summary") or "", summary_detail, encoding, sanitized)
    content, content_detail = max(
        ((_reference_html(c.get("value") or "", c, encoding, sanitized), c) for c in contents),
        key=lambda pair: len(pair[0]), default=("", None))
    # Many feeds put a teaser in <description> and the article in <content:encoded>;
    # the teaser reads better in a live stream unless it is empty.
    text = _field_text(summary, summary_detail) or _field_text(content, content_detail)
    text = text[:MAX_TEXT]
    link = _link(e.get("link"), base_url)
    published = _struct_to_dt(e.get("published_parsed")) or _struct_to_dt(e.get("updated_parsed"))
    guid = str(e.get("id") or "").strip()
    if guid:
        key = _guid_key(guid)
    elif link:
        key = f"url:{canonical_url(link)}"
    else:
        key = f"hash:{text_fingerprint(title, text)}"
    return Entry(
        key=key, title=title, text=text, url=link, published=published,
        author=truncate(clean_text(e.get("author")), MAX_AUTHOR) or None,
        lang=_lang(e.get("language") or feed_lang),
    )


_PLAIN = {"type": "text/plain"}


def _field_text(value: str, detail: Any) -> str:
    """A field's plain text: HTML reduced to text, but a field the feed marks as plain text
    (Atom's default) keeps its "<" unless it looks like HTML after all (feedparser's own
    guess for RSS), since sloppy feeds put escaped HTML in plain fields."""
    if not value:
        return ""
    kind = str((detail or {}).get("type") or "text/html").lower()
    if kind == "text/plain" and ("<" in value or "&" in value) and not looks_like_html(value):
        return clean_text(value)
    return html_to_text(value)


def _link(value: Any, base_url: str) -> str | None:
    """An item's link made absolute; only http(s) links are kept (javascript:, file:, data:
    and links carrying control characters are dropped: nothing may ever open them)."""
    if not isinstance(value, str) or not value.strip():
        return None
    link = value.strip()
    if " " in link:  # a CMS that did not encode a path: the link works encoded
        link = link.replace(" ", "%20")
    return absolute_link(base_url, link)


def _lang(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = clean_text(value)
    return value[:35] or None


# --- JSON Feed ---------------------------------------------------------------------------


def _parse_iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_json_feed(body: bytes, *, url: str = "") -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1)."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedParseError(f"not a feed: invalid JSON ({exc})") from None
    except RecursionError:
        raise FeedParseError("not a feed: JSON nested too deeply") from None
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
    feed_lang = _lang(doc.get("language"))
    entries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        # Plain text by the spec, but WordPress's JSON feeds write titles as HTML does
        # ("It&#8217;s"): read as Atom's plain fields are, HTML if it looks like HTML.
        title = truncate(_field_text(str(item.get("title") or ""), _PLAIN), MAX_TITLE)
        text = _field_text(str(item.get("content_text") or ""), _PLAIN) or html_to_text(
            str(item.get("content_html") or "")) or _field_text(
            str(item.get("summary") or ""), _PLAIN)
        text = text[:MAX_TEXT]
        link = _link(item.get("url"), url) or _link(item.get("external_url"), url)
        guid = item.get("id")
        if guid not in (None, "") and str(guid).strip():
            key = _guid_key(str(guid))
        elif link:
            key = f"url:{canonical_url(link)}"
        else:
            key = f"hash:{text_fingerprint(title, text)}"
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        if not isinstance(authors, list):
            authors = []
        author = next((a.get("name") for a in authors if isinstance(a, dict) and a.get("name")),
                      None)
        entries.append(Entry(
            key=key, title=title, text=text, url=link,
            published=_parse_iso(item.get("date_published")) or _parse_iso(
                item.get("date_modified")),
            author=truncate(clean_text(str(author)), MAX_AUTHOR) if author else None,
            lang=_lang(item.get("language")) or feed_lang,
        ))
    title = _field_text(str(doc.get("title") or ""), _PLAIN) or None
    return ParsedFeed(title=title, entries=_unique(entries), format=version)

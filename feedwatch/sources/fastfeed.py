"""A fast reader for the common shape of feeds, giving exactly what feedparser gives.

feedparser costs ~1 ms per item (pure-Python SAX handlers); with hundreds of feeds it is most
of a poll cycle's CPU. Most real feeds are plain: well-formed UTF-8 RSS 2.0 or Atom 1.0 whose
items use a handful of elements. For those, this module reads the document with the C
ElementTree parser and reproduces feedparser's field rules (first non-empty title, description
over content, guid as link, relative URIs, its text clean-ups) for the fields feedwatch keeps.

Anything outside that subset (another encoding, a DOCTYPE, xml:base or xml:lang, an element
this module does not know inside an item, markup inside a text element, ...) returns None and
goes to feedparser, which stays the reference: tests/test_feed_fastpath.py parses the fixture
corpus, the bench feeds and generated variants both ways and requires identical entries.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri

from ..textutil import joins_to_itself

log = logging.getLogger(__name__)

ATOM = "http://www.w3.org/2005/atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
DC = "http://purl.org/dc/elements/1.1/"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
MEDIA = "http://search.yahoo.com/mrss/"
WFW = "http://wellformedweb.org/commentapi/"
SLASH = "http://purl.org/rss/1.0/modules/slash/"

# Item elements whose handling is reproduced here; any other element in an item → feedparser.
# (feedparser maps many namespaced elements onto title/summary/link: media:title,
# itunes:summary, atom:link ... so unknown ones are never assumed harmless.)
_RSS_ITEM = {
    ("", "title"), ("", "link"), ("", "description"), ("", "guid"), ("", "pubdate"),
    ("", "author"), ("", "category"), ("", "comments"), ("", "enclosure"),
    (DC, "creator"), (DC, "date"), (DC, "subject"), (CONTENT, "encoded"),
    (MEDIA, "content"), (MEDIA, "thumbnail"), (WFW, "commentrss"), (SLASH, "comments"),
}
_ATOM_ENTRY = {"title", "link", "id", "published", "updated", "summary", "content",
               "author", "category"}
_ATOM_AUTHOR = {"name", "email", "uri"}
_HTML_TYPES = {"text/html", "application/xhtml+xml"}
_TEXT_TYPES = {"text/plain", "text/html"}

_XML_DECL = re.compile(rb"^\s*<\?xml\s[^>]*?\?>", re.I)
_DECL_ENCODING = re.compile(rb"encoding\s*=\s*[\"']([^\"']*)[\"']", re.I)
_C1 = re.compile("[\x80-\x9f]")
_LINK_ENTITY = re.compile("&([A-Za-z0-9_]+);")
_XML_CTYPES = {"", "application/rss+xml", "application/atom+xml", "application/xml",
               "application/rdf+xml"}

looks_like_html = _FeedParserMixin.looks_like_html
map_content_type = _FeedParserMixin.map_content_type


class _NotSimple(Exception):
    """The document needs feedparser's full treatment."""


RawFeed = tuple[str, dict[str, Any], list[dict[str, Any]]]  # version, feed, entries


def read(body: bytes, *, url: str, headers: dict[str, str]) -> RawFeed | None:
    """(version, feed fields, entry fields) as feedparser would give them, or None when the
    document is not of the simple kind this reader handles exactly."""
    if not _plain_utf8(body, headers):
        return None
    try:
        root = ET.fromstring(body)
        base = make_safe_absolute_uri(url, url) or url if url else ""
        ns, tag = _split(root.tag)
        # feedparser takes xml:lang as the feed's language from the root element only;
        # on inner elements it changes none of the fields kept here.
        lang = root.get(XML_LANG)
        if (ns, tag) == ("", "rss") and root.get("version", "").startswith("2."):
            version, feed, entries = _rss(root, base)
        elif (ns, tag) == (ATOM, "feed"):
            version, feed, entries = _atom(root, base)
        else:
            return None
        if lang and "language" not in feed:  # a <language> element overrides it
            feed["language"] = lang.replace("_", "-")
        return version, feed, entries
    except (ET.ParseError, _NotSimple, ValueError):
        pass
    except Exception:  # a gap in this reader must never cost a feed: feedparser reads it
        log.debug("fast feed reader declined a document", exc_info=True)
    return None


def _plain_utf8(body: bytes, headers: dict[str, str]) -> bool:
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    head = body[:4096]
    low = head.lower()
    if b"<!doctype" in low or b"xml:base" in body:
        return False
    if headers.get("content-language"):
        return False  # feedparser takes it as the feed's language
    ctype, _, params = headers.get("content-type", "").partition(";")
    ctype = ctype.strip().lower()
    charset = ""
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'").lower()
    if charset not in ("", "utf-8", "utf8"):
        return False
    if ctype not in _XML_CTYPES and not (ctype == "text/xml" and charset):
        return False  # text/xml without a charset is us-ascii by RFC 3023: feedparser's call
    decl = _XML_DECL.match(head)
    if decl is not None:
        enc = _DECL_ENCODING.search(decl.group(0))
        if enc is not None and enc.group(1).lower() not in (b"utf-8", b"utf8"):
            return False
    elif not head.lstrip().startswith(b"<"):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns.lower(), local.lower()
    return "", tag.lower()


def _attr(el: ET.Element, name: str, default: str = "") -> str:
    """An attribute by case-insensitive name, as feedparser's strict parser normalises them."""
    for key, value in el.attrib.items():
        if key.lower() == name:
            return value.lower() if name in ("rel", "type") else value
    return default


def _raw(el: ET.Element) -> str:
    """An element's stripped text, before feedparser's clean-ups (markup inside → feedparser)."""
    if len(el):
        raise _NotSimple
    return (el.text or "").strip()


def _text(el: ET.Element) -> str:
    """An element's text as feedparser's ``pop`` leaves it."""
    return _finish(_raw(el))


def _join(base: str, uri: str) -> str:
    """feedparser's join of an item's link or id to the document's URL."""
    return uri if joins_to_itself(base, uri) else _urljoin(base, uri)


def _finish(output: str) -> str:
    # feedparser: undo UTF-8 read as ISO-8859-1, then map C1 controls to cp1252 characters
    if output.isascii():
        return output
    try:
        output = output.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return output.translate(_cp1252) if _C1.search(output) else output


def _content_type(el: ET.Element, default: str) -> str:
    if _attr(el, "mode") or _attr(el, "src"):
        raise _NotSimple  # base64 / out-of-line content
    kind = map_content_type(_attr(el, "type", default))
    if kind not in _TEXT_TYPES:
        raise _NotSimple  # xhtml (inline markup), base64-encoded media types
    return kind


def _detail(kind: str, base: str, value: str) -> dict[str, Any]:
    return {"type": kind, "language": None, "base": base, "value": value}


def _title(el: ET.Element, guess: bool) -> tuple[str, str]:
    """(value, content type): RSS titles that look like HTML are HTML (feedparser's guess,
    made before its clean-ups)."""
    kind = _content_type(el, "text/plain")
    raw = _raw(el)
    if guess and kind == "text/plain" and looks_like_html(raw):
        kind = "text/html"
    return _finish(raw), kind


def _channel_title(parent: ET.Element, base: str, guess: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for child in parent:
        if _split(child.tag) == ("" if guess else ATOM, "title"):
            value, kind = _title(child, guess)
            if value:
                out["title"], out["title_detail"] = value, _detail(kind, base, value)
                break
            out["title"], out["title_detail"] = value, _detail(kind, base, value)
    return out


def _rss(root: ET.Element, base: str) -> RawFeed:
    channels = [c for c in root if _split(c.tag) == ("", "channel")]
    if len(channels) != 1:
        raise _NotSimple
    channel = channels[0]
    if any(_split(c.tag) == (DC, "title") for c in channel):
        raise _NotSimple  # feedparser may take it as the feed's title
    feed = _channel_title(channel, base, guess=True)
    for child in channel:
        if _split(child.tag) in (("", "language"), (DC, "language")):
            feed["language"] = _text(child)
    items = [_rss_item(c, base) for c in channel if _split(c.tag) == ("", "item")]
    if any(_split(c.tag) == ("", "item") for c in root):
        raise _NotSimple  # RSS 0.9x-style items outside the channel
    return "rss20", feed, items


def _rss_item(item: ET.Element, base: str) -> dict[str, Any]:
    e: dict[str, Any] = {}
    title_done = has_content = False
    for child in item:
        key = _split(child.tag)
        if key not in _RSS_ITEM:
            raise _NotSimple
        if key == ("", "title"):
            value, kind = _title(child, guess=True)
            if title_done:
                continue
            e["title"], e["title_detail"] = value, _detail(kind, base, value)
            title_done = bool(value)
        elif key == ("", "link"):
            if any(_attr(child, a) for a in ("href", "url", "uri")):
                raise _NotSimple  # feedparser takes the attribute, Atom-style
            value = _raw(child)
            value = _finish(_join(base, value) if value else value)
            value = _LINK_ENTITY.sub(r"&\g<1>", value.replace("&amp;", "&"))
            e["link"] = value
        elif key == ("", "guid"):
            value = _raw(child)
            is_link = _attr(child, "ispermalink", "true") == "true"
            if is_link and value:
                value = _join(base, value)
            value = _finish(value)
            e["id"] = value
            if is_link:
                e.setdefault("link", value)
        elif key == ("", "description"):
            if "summary" in e and not has_content:
                raise _NotSimple  # a second description becomes content: rare, feedparser's
            kind = _content_type(child, "text/html")
            value = _text(child)
            e["summary"], e["summary_detail"] = value, _detail(kind, base, value)
        elif key == (CONTENT, "encoded"):
            has_content = True
            kind = _content_type(child, "text/html")
            value = _text(child)
            e.setdefault("content", []).append(_detail(kind, base, value))
            e.setdefault("summary", value)
        elif key == ("", "pubdate"):
            e["published_parsed"] = _parse_date(_text(child))
        elif key == (DC, "date"):
            e["updated_parsed"] = _parse_date(_text(child))
        elif key in (("", "author"), (DC, "creator")):
            e["author"] = _text(child)
        elif key in ((MEDIA, "content"), (MEDIA, "thumbnail"), ("", "enclosure")):
            if len(child):
                raise _NotSimple
        else:  # category, comments, dc:subject, wfw, slash: kept under other names
            _text(child)
    return e


def _atom(root: ET.Element, base: str) -> RawFeed:
    feed = _channel_title(root, base, guess=False)
    entries = [_atom_entry(c, base) for c in root if _split(c.tag) == (ATOM, "entry")]
    return "atom10", feed, entries


def _atom_entry(entry: ET.Element, base: str) -> dict[str, Any]:
    e: dict[str, Any] = {}
    title_done = has_content = False
    for child in entry:
        ns, name = _split(child.tag)
        if ns != ATOM or name not in _ATOM_ENTRY:
            raise _NotSimple
        if name == "title":
            value, kind = _title(child, guess=False)
            if title_done:
                continue
            e["title"], e["title_detail"] = value, _detail(kind, base, value)
            title_done = bool(value)
        elif name == "link":
            if len(child) or (child.text or "").strip():
                raise _NotSimple
            href = _attr(child, "href")
            if not href or _attr(child, "url") or _attr(child, "uri"):
                raise _NotSimple  # feedparser's own order of url / uri / href applies
            rel = _attr(child, "rel", "alternate")
            kind = _attr(child, "type", "application/atom+xml" if rel == "self"
                         else "text/html")
            if rel == "alternate" and map_content_type(kind) in _HTML_TYPES:
                e["link"] = _join(base, href)
        elif name == "id":
            value = _raw(child)
            value = _finish(_join(base, value) if value else value)
            e["id"] = value
            e.setdefault("link", value)
        elif name == "summary":
            if "summary" in e and not has_content:
                raise _NotSimple
            kind = _content_type(child, "text/plain")
            value = _text(child)
            e["summary"], e["summary_detail"] = value, _detail(kind, base, value)
        elif name == "content":
            has_content = True
            kind = _content_type(child, "text/plain")
            value = _text(child)
            e.setdefault("content", []).append(_detail(kind, base, value))
            e.setdefault("summary", value)
        elif name == "published":
            e["published_parsed"] = _parse_date(_text(child))
        elif name == "updated":
            e["updated_parsed"] = _parse_date(_text(child))
        elif name == "author":
            if "author" in e:
                raise _NotSimple  # feedparser merges several authors in its own way
            e["author"] = _atom_author(child)
        elif name == "category" and len(child):
            raise _NotSimple
    return e


def _atom_author(el: ET.Element) -> str:
    if (el.text or "").strip():
        raise _NotSimple
    name = email = None
    for child in el:
        ns, local = _split(child.tag)
        if ns != ATOM or local not in _ATOM_AUTHOR or (child.tail or "").strip():
            raise _NotSimple
        if local == "name":  # pushed without "expecting text": no clean-ups
            name = _raw(child)
        elif local == "email":
            email = _raw(child)
        else:
            _raw(child)
    if name and email:
        return f"{name} ({email})"
    return name or email or ""

"""Untrusted text made inert; URLs made canonical."""

from __future__ import annotations

from urllib.parse import urljoin

import pytest
from feedparser.urls import _urljoin
from hypothesis import given, settings
from hypothesis import strategies as st

from feedwatch.textutil import (
    absolute_link,
    canonical_url,
    clean_text,
    guess_lang,
    html_to_text,
    is_safe_link,
    joins_to_itself,
    safe_link,
    truncate,
)


@pytest.mark.parametrize(("raw", "clean"), [
    ("\x1b[31mred\x1b[0m alert", "red alert"),
    ("\x1b]8;;https://evil.example\x07click\x1b]8;;\x07 here", "click here"),
    ("\x1b]0;new window title\x1b\\text", "text"),
    ("bell\x07 and nul\x00 and \x9b31m c1", "bell and nul and c1"),
    ("bidi \u202eevil\u202c text", "bidi evil text"),
    ("keep\ttabs\nand lines", "keep tabs\nand lines"),
    ("[bold red]markup[/] stays literal", "[bold red]markup[/] stays literal"),
    ("  many   spaces\u00a0here \n\n\n\n next", "many spaces here\n\nnext"),
    ("one\u2003em, thin\u2009\u202fnarrow,\u3000wide", "one em, thin narrow, wide"),
    ("a \u00a0 b\t\tc \n d\u205f", "a b c\nd"),
    ("para\n\nnext\n \n \nlast", "para\n\nnext\n\nlast"),
])
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_html_to_text_keeps_structure_drops_scripts() -> None:
    html = ("<p>First &amp; <b>bold</b></p><script>alert(1)</script><ul><li>one</li>"
            "<li>two</li></ul>line<br/>break")
    assert html_to_text(html) == "First & bold\n\none\n\ntwo\n\nline\nbreak"


@pytest.mark.parametrize(("url", "canonical"), [
    ("HTTPS://WWW.Example.COM:443/a/b/?utm_source=x&id=3&fbclid=y#frag",
     "https://example.com/a/b?id=3"),
    ("http://example.com", "https://example.com/"),
    ("https://example.com:8443/x/", "https://example.com:8443/x"),
    ("https://example.com/x?b=2&a=1", "https://example.com/x?a=1&b=2"),
    ("javascript:alert(1)", "javascript:alert(1)"),
])
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(("url", "safe"), [
    ("https://t.me/chan/1", True), ("http://example.com/", True),
    ("javascript:alert(1)", False), ("file:///etc/passwd", False), ("https://", False),
    ("data:text/html,x", False), (" JAVASCRIPT:alert(1)", False), (None, False),
])
def test_only_http_links_are_openable(url: str | None, safe: bool) -> None:
    assert is_safe_link(url) is safe


def test_guess_lang() -> None:
    assert guess_lang("Переговоры в Стамбуле завершились, рукопожатий не было") == "ru"
    assert guess_lang("Переговори в Стамбулі завершилися, їхня тривалість") == "uk"
    assert guess_lang("Talks in Istanbul ended") is None
    assert guess_lang("Умеров") is None  # too little to tell


def test_truncate_on_word_boundary() -> None:
    assert truncate("The talks in Istanbul have ended after", 20) == "The talks in…"
    assert truncate("short", 20) == "short"


# URL-ish text made of the characters that change what urljoin and urlsplit do.
_URL_BITS = st.lists(st.sampled_from([
    "http://", "https://", "HTTP://", "tag:", "urn:uuid:", "mailto:", "ftp://", "data:",
    "javascript:", "//", "///", "/", "a", "Z", "9", "-", "example.com", "x.org", ":80",
    ":99999", ":", "?", "#", "&", ";", "=", "%20", ".", "..", "@", "[", "]", "\\", "~", "'",
    '"', "<", "|", "`", "é", "\u202e", " ", "\t", "\n", "\x00", "\x7f",
]), max_size=10).map("".join)
_BASES = st.sampled_from(["http://127.0.0.1:8000/feeds/a.rss", "https://example.com/x/",
                          "https://example.com", "", "http://[bad", "file:///tmp/x"])


@settings(max_examples=3000, deadline=None)
@given(st.sampled_from(["", "http://", "https://", "tag:", "urn:"]), _URL_BITS, _BASES)
def test_urls_that_join_to_themselves_do(scheme: str, rest: str, base: str) -> None:
    """The parse path's shortcut agrees with urljoin (stdlib and feedparser's) and with
    joining then keeping only safe links, on every URL and base."""
    url = scheme + rest
    if joins_to_itself(base, url):
        assert _urljoin(base, url) == url
        assert urljoin(base, url) == url
    link = url.strip()
    try:
        joined: str | None = urljoin(base, link) if base else link
    except ValueError:
        joined = None
    assert absolute_link(base, link) == (safe_link(joined) if joined is not None else None)


def test_plain_links_and_ids_take_the_shortcut() -> None:
    base = "https://news.example/feed.xml"
    for url in ["https://news.example/2026/11/29/talks?id=7&utm=x#top", "http://a.b:8080",
                "tag:news.example,2026:item-1", "urn:uuid:4f6d1c2e-0000-4000-8000-000000000001"]:
        assert joins_to_itself(base, url)
    for url in ["/relative", "https://a.b/x;params", "https://a.b/x?", "HTTP://a.b/",
                "https://a.b/ space", "https://user@a.b/", "https:///a.b"]:
        assert not joins_to_itself(base, url)

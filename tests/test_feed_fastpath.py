"""parse_feed's fast paths give exactly what feedparser's reference settings give.

Two fast paths: simple well-formed UTF-8 RSS 2.0 / Atom 1.0 is read by fastfeed (the C
ElementTree parser plus feedparser's field rules); everything else goes through feedparser
without its HTML sanitizer and URI resolver (the two cost about half of its time: every HTML
field is reduced to plain text by ``html_to_text`` anyway and links inside HTML are not kept).
Here every fixture feed, the benchmark's generated feeds, hostile HTML fragments and
generated feeds of every shape fastfeed accepts are parsed both ways: identical entries.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedwatch.sources import fastfeed
from feedwatch.sources import feed as feed_module
from feedwatch.sources.feed import FeedParseError, ParsedFeed, parse_feed

DATA = Path(__file__).parent / "data" / "feeds"

NASTY_HTML = [
    "<p>Talks <b>began</b> &amp; ended</p><p>Second</p>",
    '<script>alert("x")</script>Visible <style>p{color:red}</style>text',
    "<iframe src='https://evil.example/'>fallback inside iframe</iframe> after",
    "<noscript>no script</noscript><template><p>tpl</p></template>kept",
    "<object data='x.swf'><param name='a' value='b'>object text</object>tail",
    "<applet code='x'>applet text</applet>rest",
    "<!-- a comment --> text <![CDATA[ cdata bit ]]> more",
    "<svg><title>svg title</title><script>bad()</script><text>svg text</text></svg>done",
    "<math><mi>x</mi><mo>=</mo><mn>1</mn></math> maths",
    '<a href="/relative/link">relative</a> and <img src="pic.jpg" alt="alt text"> image',
    '<a href="javascript:alert(1)" onclick="x()">js link</a> <form><input value="v">form</form>',
    "Unclosed <b>bold <i>italic <p>para",
    "<div><p>nested</p><ul><li>one</li><li>two</li></ul></div><br/>after<br>break",
    "<table><tr><td>a</td><td>b</td></tr></table><hr/>rule",
    "&lt;b&gt;escaped twice&lt;/b&gt; &amp;amp; &#x41;&#66; &nbsp;nbsp &hellip; &mdash;",
    "Plain text with < and > and & signs, 1 < 2",
    "\x1b[31mred\x1b[0m \u202eevil\u202c text\x07",
    "Кириллица <i>курсив</i> — «кавычки» 🇺🇦 ❗️",
    "<p style='x' class=\"y\" id=z>attrs</p><span data-x='1'>span</span>",
    '<blockquote cite="x"><p>quote</p></blockquote><pre>  pre\n  formatted</pre>',
    "<base href='https://other.example/'><a href='x'>based</a>",
    "<meta http-equiv='refresh' content='0;url=x'><link rel=stylesheet href=x>meta",
    "<h1>Head</h1><h2>Sub</h2><section><article>body</article></section>",
    "<p>a</p>\n\n\n<p>b</p>   \t  <p>c</p>",
    "<<<>>>&&&;;;",
    "",
]


def _rss(title: str, html: str, cdata: bool) -> bytes:
    desc = f"<![CDATA[{html}]]>" if cdata and "]]>" not in html else escape(html)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t'
            f"</title><link>https://x.example/</link><item><title>{escape(title)}</title>"
            f"<link>/posts/1</link><guid>g1</guid><description>{desc}</description></item>"
            f"<item><title>{title}</title><description>{escape(html)}</description>"
            "<content:encoded xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">"
            f"{escape(html)}</content:encoded></item></channel></rss>").encode()


def _atom(title: str, html: str, kind: str) -> bytes:
    if kind == "xhtml":
        body = f'<div xmlns="http://www.w3.org/1999/xhtml">{html}</div>'
    else:
        body = escape(html)
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"'
            f' xml:base="https://x.example/base/"><title type="html">{escape(title)}</title>'
            f'<id>urn:f</id><entry><id>urn:1</id><title type="html">{escape(title)}</title>'
            f'<link href="rel/1"/><summary type="{kind}">{body}</summary>'
            f'<content type="{kind}">{body}</content></entry></feed>').encode()


def _corpus() -> list[tuple[str, bytes, str]]:
    out = [(p.name, p.read_bytes(), "") for p in sorted(DATA.iterdir())]
    for i, html in enumerate(NASTY_HTML):
        title = html[:60] or "untitled"
        out.append((f"rss-cdata-{i}", _rss(title, html, True), "application/rss+xml"))
        out.append((f"rss-escaped-{i}", _rss(title, html, False), "application/rss+xml"))
        out.append((f"atom-html-{i}", _atom(title, html, "html"), "application/atom+xml"))
        out.append((f"atom-text-{i}", _atom(title, html, "text"), "application/atom+xml"))
        if "\x1b" not in html and "<<<" not in html:
            out.append((f"atom-xhtml-{i}", _atom(title, html, "xhtml"), "application/atom+xml"))
    try:
        from bench.feedgen import generate
    except ImportError:  # the bench directory is not shipped everywhere
        return out
    out += [(f.path, f.body, f.content_type) for f in generate(60, seed=3)]
    return out


def _parse(body: bytes, ctype: str) -> ParsedFeed | str:
    try:
        return parse_feed(body, url="https://x.example/feed", headers={"content-type": ctype})
    except FeedParseError as exc:
        return f"error: {exc}"


@pytest.mark.parametrize(("name", "body", "ctype"), _corpus(), ids=lambda v: str(v)[:40])
def test_fast_settings_give_the_reference_output(name: str, body: bytes, ctype: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _parse(body, ctype)
    monkeypatch.setattr(feed_module, "REFERENCE_SETTINGS", True)
    reference = _parse(body, ctype)
    assert fast == reference


def _taken(body: bytes, ctype: str) -> bool:
    body, headers = feed_module._defuse(body, {"content-type": ctype})
    return fastfeed.read(body, url="https://x.example/feed", headers=headers) is not None


def test_fastfeed_reads_the_common_shapes_and_declines_the_rest() -> None:
    """Guards the comparisons above against passing vacuously (everything declined)."""
    assert _taken((DATA / "rss20.xml").read_bytes(), "application/rss+xml")
    from bench.feedgen import generate
    feeds = generate(20, seed=5)
    assert all(_taken(f.body, f.content_type) for f in feeds)
    for name in ("rss_cp1251.xml", "rdf.xml", "rss091.xml", "atom_relative.xml"):
        assert not _taken((DATA / name).read_bytes(), ""), name  # encoding, RDF, 0.91, base
    assert not _taken(b"<html><body>x</body></html>", "text/html")
    plain = (DATA / "rss20.xml").read_bytes()
    assert not _taken(plain, "text/xml")  # us-ascii by RFC 3023: feedparser decides
    assert not _taken(plain.replace(b"<item>", b"<item><itunes:summary xmlns:itunes="
                                                b"'http://www.itunes.com/dtds/podcast-1.0.dtd'"
                                                b">s</itunes:summary>", 1), "")


# --- generated feeds of the shapes fastfeed accepts -----------------------------------------

_CHARS = st.sampled_from([*"ab Zé ЖѢ&<>\"';/:?=#.-_\t\n",
    "&amp;", "&lt;b&gt;", "&#60;", "&#x41;", "&nbsp;", "Ã©", "Â", "\x85", "\x93", "\x9d",
    "<p>", "</p>", "<b>x</b>", "<script>s</script>", "http://a.example/x?a=1&amp;b=2",
    "  ", "❗️", "\u202e", "1,000", "</a>", "&copy;", "&bogus;",
])
_TEXT = st.lists(_CHARS, max_size=12).map("".join)
_DATES = st.sampled_from(["Mon, 02 Jun 2025 10:15:00 +0300", "2025-06-02T10:15:00Z",
                          "2025-06-02", "yesterday", "", "Thu, 01 Jan 1970 00:00:00 GMT",
                          "Wed, 02 Jun 2100 10:00:00 GMT", " 02 Jun 2025 10:15 EST "])
_LINKS = st.sampled_from(["https://a.example/n/1", "/relative/2", "rel3", "", "javascript:x()",
                          "https://a.example/q?x=1&amp;y=2", "  https://a.example/sp  ",
                          "mailto:a@b.example", "//other.example/p"])


def _esc(text: str, cdata: bool) -> str:
    if cdata and "]]>" not in text:
        return f"<![CDATA[{text}]]>"
    return escape(text)


@st.composite
def _rss_item(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 7))):
        kind = draw(st.sampled_from(["title", "link", "guid", "description", "encoded",
                                     "pubDate", "dcdate", "author", "creator", "category",
                                     "enclosure", "comments"]))
        text = draw(_TEXT)
        cdata = draw(st.booleans())
        if kind == "title":
            parts.append(f"<title>{_esc(text, cdata)}</title>")
        elif kind == "link":
            parts.append(f"<link>{escape(draw(_LINKS))}</link>")
        elif kind == "guid":
            attr = draw(st.sampled_from(["", ' isPermaLink="false"', ' isPermaLink="true"',
                                         ' isPermaLink="True"']))
            value = draw(st.one_of(_LINKS, _TEXT))
            parts.append(f"<guid{attr}>{escape(value)}</guid>")
        elif kind == "description":
            parts.append(f"<description>{_esc(text, cdata)}</description>")
        elif kind == "encoded":
            parts.append(f"<content:encoded>{_esc(text, cdata)}</content:encoded>")
        elif kind == "pubDate":
            parts.append(f"<pubDate>{draw(_DATES)}</pubDate>")
        elif kind == "dcdate":
            parts.append(f"<dc:date>{draw(_DATES)}</dc:date>")
        elif kind == "author":
            parts.append(f"<author>{escape(text)} (x@y.example)</author>")
        elif kind == "creator":
            parts.append(f"<dc:creator>{_esc(text, cdata)}</dc:creator>")
        elif kind == "category":
            parts.append(f"<category>{escape(text)}</category>")
        elif kind == "enclosure":
            parts.append('<enclosure url="https://a.example/a.mp3" type="audio/mpeg"/>')
        else:
            parts.append(f"<comments>{escape(draw(_LINKS))}</comments>")
    return "<item>" + "\n".join(parts) + "</item>"


@st.composite
def _atom_entry(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 7))):
        kind = draw(st.sampled_from(["title", "link", "id", "summary", "content",
                                     "published", "updated", "author", "category"]))
        text = draw(_TEXT)
        ctype = draw(st.sampled_from(["", ' type="text"', ' type="html"', ' type="text/html"',
                                      ' type="TEXT"']))
        if kind in ("title", "summary", "content"):
            parts.append(f"<{kind}{ctype}>{_esc(text, draw(st.booleans()))}</{kind}>")
        elif kind == "link":
            rel = draw(st.sampled_from(["", ' rel="alternate"', ' rel="self"',
                                        ' rel="enclosure"', ' rel="Alternate"']))
            ltype = draw(st.sampled_from(["", ' type="text/html"',
                                          ' type="application/atom+xml"']))
            parts.append(f'<link{rel}{ltype} href="{escape(draw(_LINKS), {chr(34): "&quot;"})}"/>')
        elif kind == "id":
            parts.append(f"<id>{escape(draw(st.one_of(_LINKS, _TEXT)))}</id>")
        elif kind in ("published", "updated"):
            parts.append(f"<{kind}>{draw(_DATES)}</{kind}>")
        elif kind == "author":
            name = f"<name>{escape(text)}</name>" if draw(st.booleans()) else ""
            email = "<email>a@b.example</email>" if draw(st.booleans()) else ""
            parts.append(f"<author>{name}{email}<uri>https://a.example/</uri></author>")
        else:
            parts.append(f'<category term="{escape(text, {chr(34): "&quot;"})}"/>')
    return "<entry>" + "\n".join(parts) + "</entry>"


@st.composite
def _feed(draw: st.DrawFn) -> bytes:
    title = escape(draw(_TEXT))
    if draw(st.booleans()):
        items = "".join(draw(st.lists(_rss_item(), min_size=1, max_size=4)))
        lang = draw(st.sampled_from(["", "<language>ru</language>",
                                     "<language> en-GB </language>"]))
        doc = ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
               'xmlns:dc="http://purl.org/dc/elements/1.1/" '
               'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
               f"<title>{title}</title>{lang}<link>https://a.example/</link>{items}"
               "</channel></rss>")
    else:
        entries = "".join(draw(st.lists(_atom_entry(), min_size=1, max_size=4)))
        doc = ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
               f"<title>{title}</title><id>urn:feed</id>{entries}</feed>")
    return doc.encode("utf-8")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_feed())
def test_fastfeed_equals_feedparser_on_generated_feeds(body: bytes) -> None:
    ctype = "application/xml"
    fast = _parse(body, ctype)
    feed_module.REFERENCE_SETTINGS = True
    try:
        reference = _parse(body, ctype)
    finally:
        feed_module.REFERENCE_SETTINGS = False
    assert fast == reference

"""parse_feed's fast settings give exactly what feedparser's reference settings give.

parse_feed asks feedparser not to sanitize embedded HTML nor resolve relative URIs inside it
(the two cost about half of feedparser's time): every HTML field is reduced to plain text by
``html_to_text`` anyway (script/style dropped, tags gone) and links inside HTML are not kept.
Here every fixture feed, the benchmark's generated feeds and a set of hostile HTML fragments
are parsed both ways and must give identical entries.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import pytest

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

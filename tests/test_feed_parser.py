"""sources/feed.py on real-looking bytes of every supported format."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedwatch.sources.feed import FeedParseError, parse_feed
from feedwatch.textutil import MAX_TAGS, html_to_text

DATA = Path(__file__).parent / "data" / "feeds"


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_rss20_fields_html_reduced_and_keys() -> None:
    feed = parse_feed(read("rss20.xml"), url="https://harbour-times.example/world/rss",
                      headers={"content-type": "application/rss+xml"})
    assert feed.format == "rss20"
    assert feed.title == "Harbour Times — World"
    first, second, third = feed.entries
    assert first.key == "guid:ht-20250602-0042"
    assert first.title == "Umerov: sides agree to exchange bodies, 6,000 for 6,000"
    # the teaser wins over content:encoded; tags gone, paragraphs kept as lines
    assert first.text == ("Ukraine's defence minister said the two sides agreed to exchange "
                          "the bodies of the dead.\n\nMore to follow.")
    assert "<" not in first.text
    assert first.published == datetime(2025, 6, 2, 13, 5, tzinfo=UTC)
    assert first.lang == "en-gb"
    assert first.author == "Staff reporter"
    assert second.key == "guid:https://harbour-times.example/world/2025/06/02/talks-end"
    assert "&" in second.text and "&amp;" not in second.text
    # no guid → canonical link is the identity (tracking params would be dropped)
    assert third.key == "url:https://harbour-times.example/world/2025/06/02/turkey-mfa"
    assert third.title == "Turkey: talks ended “not negatively”"


def test_atom_relative_links_and_missing_dates() -> None:
    feed = parse_feed(read("atom_relative.xml"), url="https://ledger.example/live/feed.atom")
    assert feed.format.startswith("atom")
    one, two = feed.entries
    assert one.url == "https://ledger.example/live/posts/1"
    assert two.url == "https://ledger.example/live/posts/2"
    assert one.title == "Talks delayed by more than 1 h 20 min"
    assert one.published == datetime(2025, 6, 2, 10, 0, tzinfo=UTC)
    assert two.published is None  # no date at all: the store falls back to first-seen
    assert two.text == "Talks expected to start shortly."


def test_rdf() -> None:
    feed = parse_feed(read("rdf.xml"), url="https://monitor.example/rss")
    (entry,) = feed.entries
    assert feed.format == "rss10"
    assert entry.url == "https://monitor.example/a/axios-memo"
    assert entry.published == datetime(2025, 6, 2, 11, 41, tzinfo=UTC)


def test_rss091_latin1_entities() -> None:
    feed = parse_feed(read("rss091.xml"), url="http://oldschool.example/rss")
    (entry,) = feed.entries
    assert feed.format == "rss091u" or feed.format.startswith("rss09")
    assert entry.title == "Pourparlers d'Istanbul : fin après 1 h 15"
    assert entry.text == "Les négociations sont terminées."
    assert entry.key == "url:https://oldschool.example/news/1234.html"


def test_non_utf8_feed_declared_in_xml() -> None:
    feed = parse_feed(read("rss_cp1251.xml"), url="https://chernomor.example/rss")
    titles = [e.title for e in feed.entries]
    assert titles == ["Переговоры в Стамбуле завершились", "Умеров: обмен телами 6000 на 6000"]
    assert feed.entries[0].lang == "ru"


def test_charset_from_http_header_when_xml_is_silent() -> None:
    body = ('<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
            '<item><title>Зеленский</title><guid>1</guid></item></channel></rss>').encode("koi8-r")
    feed = parse_feed(body, url="https://x.example/",
                      headers={"Content-Type": "application/xml; charset=koi8-r"})
    assert feed.entries[0].title == "Зеленский"


def test_json_feed() -> None:
    feed = parse_feed(read("jsonfeed.json"), url="https://quay.example/feed.json")
    assert feed.format == "json11"
    one, two = feed.entries
    assert one.key == "guid:quay-77"
    assert one.url == "https://quay.example/2025/06/02/ft-minor-steps"
    assert one.text == ("No major breakthroughs, a senior Ukrainian official told the "
                        "Financial Times.")
    assert one.author == "Quay desk"
    assert one.published == datetime(2025, 6, 2, 13, 26, tzinfo=UTC)
    assert two.title == "" and two.text == "No handshakes in Istanbul."


def test_html_page_is_a_clear_error_naming_the_real_feed() -> None:
    with pytest.raises(FeedParseError, match="HTML page, not a feed.*world/rss"):
        parse_feed(read("not_a_feed.html"), url="https://harbour-times.example/")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty response"),
        (b'{"error": "rate limited"}', "JSON document, not a JSON Feed"),
        (b'<rss version="2.0"><channel><title>x</title><item><title>Talks &amp; more</title>'
         b"<guid>1</guid></item><br></channel></rss>", None),
        (b"\x00\x01\x02 binary junk", "not"),
    ],
)
def test_bad_bodies_raise_feed_parse_error_or_parse_leniently(body: bytes,
                                                              message: str | None) -> None:
    if message is None:
        feed = parse_feed(body, url="https://x.example/")  # lenient: the title survives
        assert [e.title for e in feed.entries] == ["Talks & more"]
        assert feed.warning and "not well-formed" in feed.warning
    else:
        with pytest.raises(FeedParseError, match=message):
            parse_feed(body, url="https://x.example/")


def test_body_that_is_a_local_path_is_not_opened() -> None:
    with pytest.raises(FeedParseError):
        parse_feed(b"/etc/passwd", url="https://x.example/")


def test_missing_guid_and_link_falls_back_to_text_hash() -> None:
    body = (b'<rss version="2.0"><channel><title>t</title><item><title>Flash</title>'
            b"<description>Talks began</description></item></channel></rss>")
    (entry,) = parse_feed(body).entries
    assert entry.key.startswith("hash:") and len(entry.key) == 45
    assert parse_feed(body).entries[0].key == entry.key  # stable


_CYR = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Т</title>'
        "<item><title>Переговоры в Стамбуле завершились</title><guid>1</guid>"
        "<description>Делегации обменялись списками пленных</description></item>"
        "</channel></rss>")


def test_utf8_feed_with_a_wrong_single_byte_charset_header_reads_as_utf8() -> None:
    parsed = parse_feed(_CYR.encode(), url="http://x.example/",
                        headers={"content-type": "application/rss+xml; charset=windows-1251"})
    assert parsed.entries[0].title == "Переговоры в Стамбуле завершились"
    assert parsed.warning is not None and "charset=windows-1251" in parsed.warning


@pytest.mark.parametrize("declared", [True, False])
def test_cp1251_feed_mislabelled_utf8_reads_as_cp1251(declared: bool) -> None:
    body = _CYR.encode("cp1251")
    if not declared:
        body = body.replace(b' encoding="utf-8"', b"")
    parsed = parse_feed(body, url="http://x.example/",
                        headers={"content-type": "application/rss+xml"})
    assert parsed.entries[0].title == "Переговоры в Стамбуле завершились"
    assert parsed.entries[0].text == "Делегации обменялись списками пленных"
    assert parsed.warning is not None and "windows-1251" in parsed.warning


def test_latin1_mislabelled_utf8_is_not_taken_for_cyrillic() -> None:
    body = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T'
            "</title><item><title>Café à Zürich, élan</title><guid>1</guid></item>"
            "</channel></rss>").encode("latin-1")
    parsed = parse_feed(body, url="http://x.example/", headers={})
    assert parsed.entries[0].title == "Café à Zürich, élan"


def test_short_italian_cp1252_feed_is_not_taken_for_cyrillic() -> None:
    body = ('<rss version="2.0"><channel><title>t</title>'
            "<item><title>Roma, è morto il sindaco</title><guid>1</guid></item>"
            "<item><title>Milano: è allarme smog</title><guid>2</guid></item>"
            "</channel></rss>").encode("cp1252")
    parsed = parse_feed(body, url="http://x.example/", headers={})
    assert [e.title for e in parsed.entries] == ["Roma, è morto il sindaco",
                                                  "Milano: è allarme smog"]


def test_utf8_with_one_cut_character_stays_utf8() -> None:
    cut = "Курс рубля упал".encode()[:-1]
    body = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t'
            b"</title><item><title>" + cut + b"</title><guid>1</guid></item><item><title>"
            + "Переговоры в Стамбуле".encode() + b"</title><guid>2</guid></item>"
            b"</channel></rss>")
    parsed = parse_feed(body, url="http://x.example/", headers={})
    assert parsed.entries[0].title.startswith("Курс рубля уп")
    assert parsed.entries[1].title == "Переговоры в Стамбуле"
    assert parsed.warning is not None and "invalid UTF-8" in parsed.warning


@pytest.mark.parametrize("location", ["https://mirror.example/x/feed", "feed.rss", None])
def test_item_keys_do_not_depend_on_a_servers_content_location(location: str | None) -> None:
    """Relative links and GUIDs resolve against the fetched URL whichever reader takes the
    document (else a feed switching readers would re-issue every item)."""
    plain = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t'
             "</title><item><title>a</title><link>/p/1</link><guid>/p/1</guid></item>"
             "</channel></rss>")
    unusual = plain.replace("<title>a</title>", "<title>a</title><source url='x'>s</source>")
    headers = {"content-type": "application/rss+xml"}
    if location:
        headers["content-location"] = location
    keys = {parse_feed(body.encode(), url="https://example.com/feed.xml",
                       headers=headers).entries[0].key for body in (plain, unusual)}
    assert keys == {"guid:https://example.com/p/1"}


# --- what real feeds get wrong (a review's findings, each once silently mangled) ----------

def _rss(item: str, declared: str = "utf-8") -> bytes:
    return (f'<?xml version="1.0" encoding="{declared}"?><rss version="2.0"><channel>'
            f"<title>Новости</title><item>{item}</item></channel></rss>").encode()


@pytest.mark.parametrize(("declared", "header"), [
    ("windows-1251", "application/rss+xml"),
    ("KOI8-R", "application/rss+xml"),
    ("utf-8", "text/xml; charset=koi8-r"),
    ("us-ascii", "application/rss+xml"),
])
def test_utf8_under_a_stale_single_byte_label_reads_as_utf8(declared: str, header: str) -> None:
    """A site moved to UTF-8 but its template still says windows-1251: valid multi-byte UTF-8
    is never Cyrillic in a single-byte charset."""
    parsed = parse_feed(_rss("<title>Землетрясение в Перу</title><guid>1</guid>", declared),
                        url="http://x.example/", headers={"content-type": header})
    assert (parsed.title, parsed.entries[0].title) == ("Новости", "Землетрясение в Перу")
    assert parsed.warning is not None and "but the feed is UTF-8" in parsed.warning


def test_bare_ampersands_are_text_not_entities() -> None:
    parsed = parse_feed(_rss(
        "<title>Q&A: AT&T, M&S and B&Q</title><link>https://x.example/a?b=1&c=2</link>"
        "<description><![CDATA[<p>R&D &amp; more</p>]]></description>"),
        url="http://x.example/", headers={"content-type": "application/rss+xml"})
    (entry,) = parsed.entries
    assert (entry.title, entry.url, entry.text) == (
        "Q&A: AT&T, M&S and B&Q", "https://x.example/a?b=1&c=2", "R&D & more")
    assert parsed.warning is None  # escaped, the document is well-formed


def test_atom_plain_text_keeps_its_angle_brackets() -> None:
    body = (b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            b"<title>F</title><id>urn:f</id><updated>2026-11-29T14:00:00Z</updated><entry>"
            b"<title>Why &lt;div&gt; soup breaks readers</title><id>urn:1</id>"
            b"<updated>2026-11-29T14:00:00Z</updated><summary>if a&lt;b then b&gt;a</summary>"
            b"</entry><entry><title>Escaped HTML in a plain field</title><id>urn:2</id>"
            b"<updated>2026-11-29T14:00:00Z</updated><summary>&lt;p&gt;It &lt;b&gt;shook"
            b"&lt;/b&gt; &amp;amp; fell&lt;/p&gt;</summary></entry></feed>")
    plain, sloppy = parse_feed(body, url="http://x.example/",
                               headers={"content-type": "application/atom+xml"}).entries
    assert (plain.title, plain.text) == ("Why <div> soup breaks readers", "if a<b then b>a")
    assert sloppy.text == "It shook & fell"  # it looks like HTML: read as HTML


@pytest.mark.parametrize(("raw", "utc"), [
    ("Sat, 29 Nov 2026 14:05:00 MSK", "2026-11-29 11:05"),
    ("Sat, 29 Nov 2026 14:05:00 CET", "2026-11-29 13:05"),
    ("Sat, 29 Nov 2026 14:05:00 GMT+3", "2026-11-29 11:05"),
    ("Sat, 29 Nov 2026 14:05:00 UTC-5", "2026-11-29 19:05"),
    ("29 ноября 2026 14:05:00 +0300", "2026-11-29 11:05"),
    ("Сб, 29 ноя 2026 14:05 МСК", "2026-11-29 11:05"),
    ("29 листопада 2026, 14:05 +02:00", "2026-11-29 12:05"),
    # what feedparser already read right is still read the same
    ("Sat, 29 Nov 2026 14:05:00 +0300", "2026-11-29 11:05"),
    ("Sat, 29 Nov 2026 14:05:00 EST", "2026-11-29 19:05"),
    ("2026-11-29T14:05:00+03:00", "2026-11-29 11:05"),
])
def test_dates_in_zones_and_languages_feedparser_misreads(raw: str, utc: str) -> None:
    parsed = parse_feed(_rss(f"<title>t</title><guid>1</guid><pubDate>{raw}</pubDate>"),
                        url="http://x.example/", headers={"content-type": "application/rss+xml"})
    published = parsed.entries[0].published
    assert published is not None
    assert published.astimezone(UTC).strftime("%Y-%m-%d %H:%M") == utc


def test_json_feed_titles_written_with_html_references() -> None:
    body = (b'{"version": "https://jsonfeed.org/version/1.1", "title": "Blog &#8211; News",'
            b' "items": [{"id": "1", "url": "https://x.example/1",'
            b' "title": "It&#8217;s a &lt;b&gt;quake&lt;/b&gt; &amp; more"}]}')
    parsed = parse_feed(body, url="http://x.example/", headers={})
    assert (parsed.title, parsed.entries[0].title) == ("Blog – News",
                                                       "It’s a <b>quake</b> & more")


def test_hostile_nesting_is_read_only_so_deep() -> None:
    """The HTML parser's cost grows with the square of the nesting (80,000 unclosed <div>s
    took 15 s): a fragment is read up to MAX_TAGS tags."""
    text = html_to_text("<div>x" * 20_000)
    assert text.split() == ["x"] * MAX_TAGS


def test_json_feed_plain_fields_holding_html() -> None:
    body = (b'{"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": ['
            b'{"id": "1", "title": "Tsunami <em>warning</em> lifted",'
            b' "content_text": "No threat &gt; 1m"},'
            b'{"id": "2", "title": "Is 5 < 7?", "content_text": "a <b> c"}]}')
    first, second = parse_feed(body, url="http://x.example/", headers={}).entries
    assert (first.title, first.text) == ("Tsunami warning lifted", "No threat > 1m")
    assert (second.title, second.text) == ("Is 5 < 7?", "a <b> c")


@pytest.mark.parametrize(("link", "url"), [
    ("https://x.example/news/quake in peru", "https://x.example/news/quake%20in%20peru"),
    ("/news/www.example", "http://x.example/news/www.example"),
])
def test_links_as_sloppy_feeds_write_them(link: str, url: str) -> None:
    parsed = parse_feed(_rss(f"<title>t</title><link>{link}</link>"), url="http://x.example/f",
                        headers={"content-type": "application/rss+xml"})
    assert parsed.entries[0].url == url


def test_short_undeclared_cp1251_feed_reads_as_cyrillic() -> None:
    body = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Новости</title><item>'
            "<title>Взрыв в центре Киева</title><guid>1</guid></item></channel></rss>"
            ).encode("cp1251")
    parsed = parse_feed(body, url="http://x.example/", headers={})
    assert (parsed.title, parsed.entries[0].title) == ("Новости", "Взрыв в центре Киева")


@pytest.mark.parametrize(("header", "declared", "warned"), [
    ("application/rss+xml; charset=gb2312", "utf-8", "the server says charset=gb2312"),
    ("application/rss+xml; charset=gbk", "utf-8", "the server says charset=gbk"),
    ("application/rss+xml; charset=utf-8", "windows-1251", None),  # the header was right
])
def test_utf8_labels_right_and_wrong(header: str, declared: str, warned: str | None) -> None:
    body = _rss("<title>北京发布新闻 Землетрясение</title><guid>1</guid>", declared)
    parsed = parse_feed(body, url="http://x.example/", headers={"content-type": header})
    assert parsed.entries[0].title == "北京发布新闻 Землетрясение"
    if warned is None:
        assert parsed.warning is None
    else:
        assert parsed.warning is not None and warned in parsed.warning


def test_bare_ampersands_around_cdata_open_or_closed() -> None:
    from feedwatch.sources.feed import _escape_bare_amps

    assert _escape_bare_amps(b"a & b<![CDATA[c & d]]>e & f") == (
        b"a &amp; b<![CDATA[c & d]]>e &amp; f")
    assert _escape_bare_amps(b"a & b<![CDATA[c & d") == b"a &amp; b<![CDATA[c & d"
    assert _escape_bare_amps(b"&amp; &#38; &#x26; &nbsp; &a.b-c;") == (
        b"&amp; &#38; &#x26; &nbsp; &a.b-c;")


def test_date_handler_leaves_what_it_cannot_read_to_feedparser() -> None:
    from feedwatch.sources.dates import parse_date

    assert parse_date("1 Jan 2024 10:00" + " " * 400 + "x") is None
    assert parse_date("Mon, 01 Jan 2024 10:00:00 GMT+99") is None
    assert parse_date("29 ноября 2026 14:05 +0975") is None

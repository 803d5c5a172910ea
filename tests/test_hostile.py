"""Fault suite (issue 9): sources that misbehave on purpose.

Every case polls one healthy feed next to one hostile source and checks that (a) the healthy
source's items are stored, (b) the hostile source ends with one clear sentence in its
``last_error`` (or, for content that is odd but readable, is stored correctly and inertly),
(c) nothing raised, nothing logged a traceback, the poll stayed within its time budget and
memory stayed flat. Targeted tests follow for the cases that need more than that table.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hostile_server import (
    HostileServer,
    close_at_once,
    drip,
    endless,
    free_port,
    garbage_status,
    gzip_bomb,
    hang,
    headers_then_hang,
    http_date,
    redirect,
    respond,
)

from feedwatch.config import parse_topic
from feedwatch.engine import Engine
from feedwatch.model import SourceState, Update
from feedwatch.store import Store
from feedwatch.textutil import is_safe_link

TIMEOUT = 2.0  # [fetch] timeout: the whole budget of one request
FETCH = f'[fetch]\ntimeout = "{TIMEOUT:g}s"\nconnect_timeout = "1s"\nmax_size = "1MB"\n'
SECRET = "XXE-SECRET-7f3a9c"


def rss(*titles: str, extra: str = "", head: str = '<?xml version="1.0" encoding="utf-8"?>'
        ) -> str:
    items = "".join(f"<item><title>{t}</title><guid>g{i}-{t[:8]}</guid>"
                    f"<link>https://wire.example/{i}</link>{extra}</item>"
                    for i, t in enumerate(titles))
    return f'{head}<rss version="2.0"><channel><title>w</title>{items}</channel></rss>'


HEALTHY = rss("Healthy one", "Healthy two")


def hwm_kb() -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", text).group(1))  # type: ignore[union-attr]


def reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# --- the table -----------------------------------------------------------------------------

Check = Callable[[list[Update], SourceState], None]


@dataclass(frozen=True)
class Case:
    id: str
    setup: Callable[[HostileServer], str]  # installs routes, returns the hostile URL
    error: str | None  # regex for last_error; None: the source must succeed
    check: Check | None = None
    budget: float = TIMEOUT + 2.5  # seconds the whole poll may take


def serve(body: bytes | str, **kw: object) -> Callable[[HostileServer], str]:
    return lambda srv: srv.route("/bad", respond(body, **kw))  # type: ignore[arg-type]


def chain(*hops: tuple[str, int]) -> Callable[[HostileServer], str]:
    """/bad → hop paths → … (each hop is (path, status)); the last path serves a feed."""

    def setup(srv: HostileServer) -> str:
        paths = ["/bad", *[p for p, _ in hops]]
        for (src, (dst, status)) in zip(paths, hops, strict=False):
            srv.route(src, redirect(dst, status))
        srv.route(paths[-1], respond(rss("Reached after redirects")))
        return srv.url("/bad")

    return setup


def titles(expected: set[str]) -> Check:
    def check(updates: list[Update], state: SourceState) -> None:
        assert {u.title for u in updates} == expected

    return check


def all_inert(updates: list[Update], state: SourceState) -> None:
    for u in updates:
        for value in (u.title, u.text, u.author or "", u.url or ""):
            assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", value), value
        assert u.url is None or is_safe_link(u.url)


def markup_literal(updates: list[Update], state: SourceState) -> None:
    all_inert(updates, state)
    (u,) = updates
    assert u.title == "red [bold red]alarm[/] [@click=app.quit]quit[/] link"
    assert u.url is None  # javascript: dropped


def no_secret(updates: list[Update], state: SourceState) -> None:
    for u in updates:
        assert SECRET not in f"{u.title} {u.text} {u.url} {u.author}"
        assert "lollollol" not in u.title + u.text


def dates(updates: list[Update], state: SourceState) -> None:
    by = {u.title: u for u in updates}
    assert by["sane"].published.year == 2025
    for name in ("future", "missing", "epoch", "ancient"):
        u = by[name]
        assert u.published == u.first_seen, name  # clamped to first-seen


def one_per_guid(updates: list[Update], state: SourceState) -> None:
    assert len(updates) == 1 and updates[0].title == "first copy"


def capped_at_1000(updates: list[Update], state: SourceState) -> None:
    assert len(updates) == 1000
    assert {"Item 0", "Item 999"} <= {u.title for u in updates}


def cyrillic(updates: list[Update], state: SourceState) -> None:
    assert [u.title for u in updates] == ["Переговоры в Стамбуле"]


def safe_links(updates: list[Update], state: SourceState) -> None:
    by = {u.title: u.url for u in updates}
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/news/1", by.pop("relative") or "")
    assert by == {"js": None, "file": None, "data": None, "vbscript": None,
                  "ok": "https://ok.example/a"}


LAUGHS = ('<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 2 else "") + ";") * 10}">'
                    for i in range(2, 10))
          + ']><rss version="2.0"><channel><title>x</title><item><title>laughs &lol9;</title>'
          "<guid>1</guid></item></channel></rss>")
FUTURE_ETC = (
    '<rss version="2.0"><channel><title>d</title>'
    "<item><title>sane</title><guid>1</guid><pubDate>Mon, 02 Jun 2025 10:00:00 +0000</pubDate>"
    "</item><item><title>future</title><guid>2</guid>"
    "<pubDate>Sat, 01 Jan 2099 00:00:00 +0000</pubDate></item>"
    "<item><title>missing</title><guid>3</guid></item>"
    "<item><title>epoch</title><guid>4</guid><pubDate>Thu, 01 Jan 1970 00:00:00 +0000</pubDate>"
    "</item><item><title>ancient</title><guid>5</guid>"
    "<pubDate>Mon, 01 Jan 1900 00:00:00 +0000</pubDate></item></channel></rss>")
ANSI = ('<rss version="2.0"><channel><title>\x1b]0;pwned\x07</title><item><title>'
        "\x1b[31mred\x1b[0m [bold red]alarm[/] [@click=app.quit]quit[/] "
        "\x1b]8;;http://evil.example\x07link\x1b]8;;\x07</title><guid>1</guid>"
        "<description>\x1b[2J\x1b[H\x9b6n body \x1bP+q\x1b\\ &#27;[1m&#155;bold</description>"
        "<author>\x1b[5mauthor\x07</author><link>javascript:alert(1)</link></item>"
        "</channel></rss>")
LINKS = ('<rss version="2.0"><channel><title>l</title>'
         + "".join(f"<item><title>{t}</title><guid>{t}</guid><link>{link}</link></item>"
                   for t, link in (("js", "javascript:alert(document.cookie)"),
                                   ("file", "file:///etc/passwd"),
                                   ("data", "data:text/html,&lt;script&gt;x&lt;/script&gt;"),
                                   ("vbscript", "vbscript:msgbox"),
                                   ("relative", "/news/1"), ("ok", "https://ok.example/a")))
         + "</channel></rss>")


def _secret_file(tmp: Path) -> Path:
    path = tmp / "secret.txt"
    path.write_text(SECRET, encoding="utf-8")
    return path


def xxe(kind: str) -> Callable[[HostileServer], str]:
    def setup(srv: HostileServer) -> str:
        secret = _secret_file(Path(srv.tmp))  # type: ignore[attr-defined]
        uri = secret.as_uri()
        doctype = {
            "general": f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{uri}">]>',
            "parameter": f'<!DOCTYPE rss [<!ENTITY % p SYSTEM "{uri}"> %p;]>',
            "external-dtd": f'<!DOCTYPE rss SYSTEM "{uri}">',
            "newlines": f'<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{uri}">\n]>',
        }[kind]
        body = ('<?xml version="1.0"?>' + doctype + '<rss version="2.0"><channel><title>x'
                "</title><item><title>leak &xxe;</title><description>&xxe;</description>"
                "<guid>1</guid></item></channel></rss>")
        return srv.route("/bad", respond(body))

    return setup


CASES = [
    # --- not a feed
    Case("malformed-xml", serve(b"<<<>>> \x00\x01 not xml ]]>"), r"^not a readable feed: "),
    Case("malformed-xml-recoverable",
         serve('<rss version="2.0"><channel><title>x</title><item><title>Kept</title>'
               "<guid>1</guid></item><item><tit"), None, titles({"Kept"})),
    Case("xml-not-a-feed", serve('<?xml version="1.0"?><error><code>500</code></error>'),
         r"^not a feed: no RSS, Atom or RDF items found$"),
    Case("html-page",
         serve('<!doctype html><html><head><link rel="alternate" type="application/rss+xml" '
               'href="/real.xml"></head><body>Welcome</body></html>', content_type="text/html"),
         r"^the URL returned an HTML page, not a feed \(the page links to a feed: /real.xml\)$"),
    Case("empty-body", serve(b""), r"^empty response: the server sent no content$"),
    Case("empty-body-json", serve(b"  \n", content_type="application/json"),
         r"^empty response: the server sent no content$"),
    Case("json-error-200",
         serve('{"error": "rate limit exceeded", "code": 429}', content_type="application/json"),
         r'^the URL returned a JSON document, not a JSON Feed: "rate limit exceeded"$'),
    Case("json-deeply-nested", serve("[" * 200_000 + "]" * 200_000,
                                     content_type="application/json"),
         r"^not a feed: (JSON nested too deeply|invalid JSON)"),
    # --- redirects
    Case("redirect-chain-ok", chain(("/r1", 301), ("/r2", 302), ("/r3", 307), ("/feed", 308)),
         None, titles({"Reached after redirects"})),
    Case("redirect-loop", lambda s: (s.route("/bad", redirect("/loop2")),
                                     s.route("/loop2", redirect("/bad")))[0],
         r"^redirect loop: http://127\.0\.0\.1:\d+/bad redirects back to itself after 2 step"),
    Case("redirect-too-long", chain(*[(f"/h{i}", 302) for i in range(8)]),
         r"^too many redirects \(more than 5\)"),
    Case("redirect-to-file", lambda s: s.route("/bad", redirect("file:///etc/passwd")),
         r"^redirected to a non-http address, not followed: 'file:///etc/passwd'$"),
    Case("redirect-to-javascript", lambda s: s.route("/bad", redirect("javascript:alert(1)")),
         r"^redirected to a non-http address, not followed: 'javascript:alert\(1\)'$"),
    Case("redirect-without-location", serve(b"", status=302),
         r"^HTTP 302 redirect without a usable Location header$"),
    # --- statuses
    Case("404", serve("nope", status=404, content_type="text/plain"), r"^HTTP 404 not found$"),
    Case("410", serve("bye", status=410, content_type="text/plain"),
         r"^HTTP 410 gone: the server says this source was removed for good$"),
    Case("429", serve("slow down", status=429),
         r"^HTTP 429 too many requests: the server is rate-limiting us$"),
    Case("429-retry-after-seconds", serve("", status=429, headers={"Retry-After": "120"}),
         r"^HTTP 429 too many requests: the server is rate-limiting us \(Retry-After 120 s\)$"),
    Case("503", serve("down", status=503), r"^HTTP 503 service unavailable$"),
    Case("503-retry-after-date",
         lambda s: s.route("/bad", respond("", status=503,
                                           headers={"Retry-After": http_date(600)})),
         r"^HTTP 503 service unavailable \(Retry-After (59\d|600) s\)$"),
    Case("500", serve("boom", status=500), r"^HTTP 500 server error$"),
    # --- network
    Case("connect-refused", lambda s: f"http://127.0.0.1:{free_port()}/feed.xml",
         r"^connection refused by 127\.0\.0\.1$"),
    Case("dns-failure", lambda s: "http://nonexistent.invalid/feed.xml",
         r"^(DNS lookup failed for nonexistent\.invalid|connection timed out after 1 s)$"),
    Case("closes-at-once", lambda s: s.route("/bad", close_at_once),
         r"^protocol error: Server disconnected without sending a response\.$"),
    Case("garbage-status-line", lambda s: s.route("/bad", garbage_status), r"^protocol error: "),
    Case("never-answers", lambda s: s.route("/bad", hang),
         r"^timed out: no complete response within 2 s$"),
    Case("read-timeout", lambda s: s.route("/bad", headers_then_hang),
         r"^timed out: no complete response within 2 s$"),
    Case("drips-a-byte-a-second", lambda s: s.route("/bad", drip(HEALTHY.encode(), 1.0)),
         r"^timed out: no complete response within 2 s$"),
    # --- size
    Case("50MB-declared", lambda s: s.route("/bad", endless(50 << 20, declare_length=True)),
         r"^response too large: 50 MB declared, limit is 1 MB$"),
    Case("50MB-chunked", lambda s: s.route("/bad", endless(50 << 20, declare_length=False)),
         r"^response too large: over 1 MB, download aborted$"),
    Case("gzip-bomb", lambda s: s.route("/bad", gzip_bomb(64 << 20)),
         r"^response too large: over 1 MB \(after decompression\), download aborted$"),
    Case("gzip-bomb-double", lambda s: s.route("/bad", gzip_bomb(1 << 30, layers=2)),
         r"^response too large: over 1 MB \(after decompression\), download aborted$"),
    Case("gzip-corrupt", serve(b"\x1f\x8b\x08\x00garbage-not-deflate" * 3,
                               headers={"Content-Encoding": "gzip"}),
         r"^the response body could not be decompressed \(corrupt gzip/deflate\)$"),
    Case("gzip-ok", serve(gzip.compress(rss("Compressed fine").encode()),
                          headers={"Content-Encoding": "gzip"}),
         None, titles({"Compressed fine"})),
    Case("brotli-unasked", serve(b"\x0b\x02\x80abc", headers={"Content-Encoding": "br"}),
         r"^the server used a compression we did not ask for and cannot read \(br\)$"),
    # --- encodings
    Case("charset-missing-xml-decl",
         serve(rss("Переговоры в Стамбуле",
                   head='<?xml version="1.0" encoding="windows-1251"?>').encode("cp1251"),
               content_type="application/rss+xml"), None, cyrillic),
    Case("charset-wrong-header-xml-decl-right",
         serve(rss("Переговоры в Стамбуле",
                   head='<?xml version="1.0" encoding="windows-1251"?>').encode("cp1251"),
               content_type="application/rss+xml; charset=utf-8"), None, cyrillic),
    Case("charset-bogus", serve(rss("Переговоры в Стамбуле").encode(),
                                content_type="application/rss+xml; charset=x-klingon"),
         None, cyrillic),
    Case("charset-wrong-no-decl",  # cp1251 bytes claimed as UTF-8: mojibake, but stored
         serve(rss("Переговоры", head="").encode("cp1251"),
               content_type="application/rss+xml; charset=utf-8"), None, all_inert),
    Case("bom-utf8", serve(b"\xef\xbb\xbf" + rss("Переговоры в Стамбуле").encode()),
         None, cyrillic),
    Case("bom-utf16", serve(rss("Переговоры в Стамбуле",
                                head='<?xml version="1.0" encoding="utf-16"?>').encode("utf-16"),
                            content_type="application/rss+xml"), None, cyrillic),
    Case("bom-json-feed",
         serve(b"\xef\xbb\xbf" + b'{"version": "https://jsonfeed.org/version/1.1", "title": "j",'
               b' "items": [{"id": "1", "title": "Json with BOM", "content_text": "x"}]}',
               content_type="application/feed+json"), None, titles({"Json with BOM"})),
    # --- content
    Case("dates-future-missing-1970", serve(FUTURE_ETC), None, dates),
    Case("duplicate-guids", serve('<rss version="2.0"><channel><title>d</title>'
                                  + "".join(f"<item><title>{t}</title><guid>same</guid></item>"
                                            for t in ("first copy", "second copy", "third"))
                                  + "</channel></rss>"), None, one_per_guid),
    Case("10000-items", serve('<rss version="2.0"><channel><title>big</title>'
                              + "".join(f"<item><title>Item {i}</title><guid>i{i}</guid></item>"
                                        for i in range(10_000))
                              + "</channel></rss>"), None, capped_at_1000, budget=8.0),
    Case("ansi-osc-and-markup", serve(ANSI), None, markup_literal),
    Case("unsafe-links", serve(LINKS), None, safe_links),
    Case("billion-laughs", serve(LAUGHS), None, no_secret),
    Case("xxe-general-entity", xxe("general"), None, no_secret),
    Case("xxe-parameter-entity", xxe("parameter"), None, no_secret),
    Case("xxe-external-dtd", xxe("external-dtd"), None, no_secret),
    Case("xxe-multiline", xxe("newlines"), None, no_secret),
]


def topic_toml(healthy: str, bad: str, extra: str = "") -> str:
    return (f'[topic]\nname = "hostile"\n{extra}\n{FETCH}\n'
            f'[[source]]\nname = "Healthy"\nurl = "{healthy}"\n\n'
            f'[[source]]\nname = "Hostile"\nurl = "{bad}"\n')


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_hostile_source_fails_alone(case: Case, tmp_path: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with HostileServer() as srv:
        srv.tmp = str(tmp_path)  # type: ignore[attr-defined]
        healthy = srv.route("/healthy.xml", respond(HEALTHY))
        bad = case.setup(srv)
        topic = parse_topic(topic_toml(healthy, bad))
        store = Store(tmp_path / "fw.db")
        measured = reset_hwm()
        before = hwm_kb()
        try:
            async with Engine(topic, store) as engine:
                started = time.monotonic()
                results = {r.source: r for r in await engine.poll_all()}
                elapsed = time.monotonic() - started
            states = store.states()
            updates = store.all_updates()
            assert store.integrity_check() == "ok"
        finally:
            store.close()
        grown_mb = (hwm_kb() - before) / 1024

    # (a) the healthy source was polled and stored
    assert results["Healthy"].ok, results["Healthy"].error
    assert {u.title for u in updates if u.source == "Healthy"} == {"Healthy one", "Healthy two"}
    assert states["Healthy"].last_error is None
    # (b) the hostile source: one clear sentence, or stored correctly
    state = states["Hostile"]
    mine = [u for u in updates if u.source == "Hostile"]
    if case.error is None:
        assert results["Hostile"].ok, results["Hostile"].error
        assert state.last_error is None and state.failures == 0
    else:
        message = state.last_error
        assert message is not None and results["Hostile"].error == message
        assert re.search(case.error, message), message
        assert "\n" not in message and len(message) < 300
        assert not message.startswith("internal error"), message
        assert state.failures == 1 and not mine
    if case.check is not None:
        case.check(mine, state)
    # (c) nothing raised or logged a traceback; bounded in time and memory
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert elapsed < case.budget, f"poll took {elapsed:.1f} s"
    if measured:
        assert grown_mb < 80, f"peak memory grew by {grown_mb:.0f} MB"


# --- targeted tests ------------------------------------------------------------------------


async def fetch_error(url: str, **settings: object) -> tuple[str, float]:
    from feedwatch.config import FetchSettings
    from feedwatch.fetch import Fetcher, FetchError

    started = time.monotonic()
    async with Fetcher(FetchSettings(**settings)) as fetcher:  # type: ignore[arg-type]
        try:
            await fetcher.fetch(url)
        except FetchError as exc:
            return str(exc), time.monotonic() - started
    raise AssertionError("the fetch succeeded")


@pytest.mark.parametrize("layers", [1, 2])
async def test_gzip_bomb_of_1gb_keeps_memory_flat(layers: int) -> None:
    # httpx's own decoding inflates each network chunk whole: for the two-layer bomb that is
    # ~2 GB of peak memory. Ours decodes in 64 KB steps under the cap.
    if not reset_hwm():
        pytest.skip("cannot reset the peak-RSS counter here")
    with HostileServer() as srv:
        url = srv.route("/bomb", gzip_bomb(1 << 30, layers=layers))
        reset_hwm()
        before = hwm_kb()
        message, _ = await fetch_error(url, max_bytes=10 << 20)
        grown = (hwm_kb() - before) / 1024
    assert message == "response too large: over 10 MB (after decompression), download aborted"
    assert grown < 40, f"peak memory grew by {grown:.0f} MB"


@pytest.mark.parametrize("declare", [True, False], ids=["declared", "chunked"])
async def test_size_cap_aborts_a_50mb_body_early(declare: bool) -> None:
    with HostileServer() as srv:
        url = srv.route("/big", endless(50 << 20, declare_length=declare))
        message, elapsed = await fetch_error(url, max_bytes=1 << 20, timeout=10.0)
        time.sleep(0.2)  # let the server thread notice the hang-up
        sent = srv.sent.get("/big", 0)
    assert message.startswith("response too large")
    assert sent < 12 << 20, f"the server got {sent >> 20} MB out before we hung up"
    assert elapsed < 3


async def test_hanging_dns_lookup_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket
    import threading

    release = threading.Event()
    real = socket.getaddrinfo

    def slow(host: object, *args: object, **kw: object) -> object:
        if host in ("slow-dns.test", b"slow-dns.test"):
            release.wait(20)
            raise socket.gaierror(-3, "Temporary failure in name resolution")
        return real(host, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    try:
        message, elapsed = await fetch_error("http://slow-dns.test/feed", timeout=2.0,
                                             connect_timeout=1.0)
    finally:
        release.set()
    assert re.fullmatch(r"(connection timed out after 1 s|timed out: no complete response "
                        r"within 2 s)", message), message
    assert elapsed < 3


async def test_410_disables_the_source_and_the_live_scheduler_drops_its_job(
        tmp_path: Path) -> None:
    with HostileServer() as srv:
        healthy = srv.route("/healthy.xml", respond(HEALTHY))
        gone = srv.route("/gone", respond("gone", status=410, content_type="text/plain"))
        topic = parse_topic(topic_toml(healthy, gone, 'interval = "0.2s"'))
        store = Store(tmp_path / "fw.db")
        try:
            async with Engine(topic, store) as engine:
                await engine.start()
                assert engine.scheduled_jobs() == 2
                deadline = time.monotonic() + 5
                while engine.scheduled_jobs() != 1 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                assert engine.scheduled_jobs() == 1
                hits = srv.hits("/gone")
                await asyncio.sleep(1.0)
                assert srv.hits("/gone") == hits == 1  # never polled again
                assert srv.hits("/healthy.xml") >= 3  # the other source goes on
            state = store.state("Hostile")
            assert state.health.value == "disabled"
            assert state.disabled_reason == state.last_error == (
                "HTTP 410 gone: the server says this source was removed for good")
            async with Engine(topic, store) as engine:  # a restart keeps it off
                await engine.start()
                assert engine.scheduled_jobs() == 1
        finally:
            store.close()


@pytest.mark.parametrize("header, expected", [
    ("120", 120.0),
    ("date+90", 90.0),
    ("999999999", 6 * 3600.0),  # capped
    ("date-60", None),  # a date in the past: the normal backoff applies
])
async def test_retry_after_decides_the_next_poll(header: str, expected: float | None,
                                                 tmp_path: Path) -> None:
    value = header
    if header.startswith("date"):
        value = http_date(float(header[4:]))
    with HostileServer() as srv:
        healthy = srv.route("/healthy.xml", respond(HEALTHY))
        busy = srv.route("/busy", respond("", status=429, headers={"Retry-After": value}))
        topic = parse_topic(topic_toml(healthy, busy, 'interval = "1s"'))
        store = Store(tmp_path / "fw.db")
        try:
            async with Engine(topic, store) as engine:
                before = engine.clock()
                await engine.poll_all()
            state = store.state("Hostile")
        finally:
            store.close()
    assert state.next_due is not None
    delay = (state.next_due - before).total_seconds()
    if expected is None:
        assert delay < 5  # interval 1 s, doubled once, ±10 %
    else:
        assert expected * 0.85 <= delay <= expected * 1.15, delay


async def test_live_scheduler_waits_out_retry_after(tmp_path: Path) -> None:
    with HostileServer() as srv:
        healthy = srv.route("/healthy.xml", respond(HEALTHY))
        busy = srv.route("/busy", respond("", status=503, headers={"Retry-After": "30"}))
        topic = parse_topic(topic_toml(healthy, busy, 'interval = "0.2s"'))
        store = Store(tmp_path / "fw.db")
        try:
            async with Engine(topic, store) as engine:
                await engine.start()
                await asyncio.sleep(1.5)
                assert srv.hits("/busy") == 1
                assert srv.hits("/healthy.xml") >= 4
                assert engine.scheduled_jobs() == 2
        finally:
            store.close()


def test_parse_retry_after() -> None:
    from feedwatch.fetch import MAX_RETRY_AFTER, parse_retry_after

    now = 1_750_000_000.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after(" 30 ") == 30
    assert parse_retry_after("86400000") == MAX_RETRY_AFTER
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 0.0  # past
    assert parse_retry_after(
        __import__("email.utils").utils.formatdate(now + 300, usegmt=True), now=now) == 300
    for junk in ("soon", "-5", "1.5", "Wed, 99 Foo 99999 99:99:99 GMT", "Mon, 01 Jan 0000"):
        assert parse_retry_after(junk, now=now) is None


def test_parse_retry_after_never_raises_on_junk() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from feedwatch.fetch import MAX_RETRY_AFTER, parse_retry_after

    @settings(max_examples=300, deadline=None)
    @given(st.text(max_size=60))
    def check(value: str) -> None:
        result = parse_retry_after(value)
        assert result is None or 0 <= result <= MAX_RETRY_AFTER

    check()


async def test_items_sharing_a_guid_or_link_do_not_edit_each_other_on_every_poll(
        tmp_path: Path) -> None:
    def feed(n: int) -> str:
        fresh = "".join(f"<item><title>Fresh item {i}</title><guid>f{i}</guid></item>"
                        for i in range(n))
        return ('<rss version="2.0"><channel><title>x</title>' + fresh
                + "<item><title>Live: talks day one</title><guid>same</guid>"
                  "<link>https://w.example/live/talks</link><description>one</description></item>"
                  "<item><title>Live: talks day two</title><guid>same</guid>"
                  "<link>https://w.example/live/talks</link><description>two</description></item>"
                  "<item><title>Live: talks day three</title><guid>other</guid>"
                  "<link>https://w.example/live/talks</link><description>three</description>"
                  "</item><item><title>Breaking: a headline used twice</title><guid>t1</guid>"
                  "<description>first</description></item>"
                  "<item><title>Breaking: a headline used twice</title><guid>t2</guid>"
                  "<description>second</description></item></channel></rss>")

    with HostileServer() as srv:
        healthy = srv.route("/healthy.xml", respond(HEALTHY))
        srv.route("/dupes", respond(feed(0)))
        topic = parse_topic(topic_toml(healthy, srv.url("/dupes")))
        store = Store(tmp_path / "fw.db")
        try:
            async with Engine(topic, store) as engine:
                kinds = []
                for n in range(4):  # the body changes each time, so it is re-read
                    srv.route("/dupes", respond(feed(n)))
                    results = {r.source: r for r in await engine.poll_all()}
                    kinds.append([e.kind.value for e in results["Hostile"].events])
            stored = [u for u in store.all_updates() if u.source == "Hostile"]
        finally:
            store.close()
    assert len(kinds[0]) == 4 and "edited" not in kinds[0]
    assert [len(k) for k in kinds[1:]] == [1, 1, 1]  # only the fresh item each time …
    assert not [k for k in kinds if "edited" in k]  # … and never an "edit" ping-pong
    assert all(u.revision == 1 for u in stored)


# --- parsers and text never let anything hostile through -----------------------------------


def test_feed_parser_only_ever_raises_feed_parse_error() -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from feedwatch.sources.feed import FeedParseError, parse_feed

    pieces = st.sampled_from([
        b'<?xml version="1.0"?>', b'<rss version="2.0">', b"<channel>", b"<item>", b"</item>",
        b"<title>", b"</title>", b"<guid>", b"<link>javascript:x</link>", b"<![CDATA[",
        b"]]>", b"<!DOCTYPE rss [", b'<!ENTITY a "&a;&a;">', b"]>", b"&a;", b"&#27;[31m",
        b"\x1b]8;;x\x07", b"\xef\xbb\xbf", b"\xff\xfe", b"\x00", b"{", b'"items": [',
        b'"version": "https://jsonfeed.org/version/1.1"', b"<feed>", b"<entry>", b"<pubDate>",
        b"Mon, 99 Jan 99999", b"</pubDate>", b"[bold]", b"<html>", b"<",
    ])

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(pieces | st.binary(max_size=12), max_size=40),
           st.sampled_from(["", "application/json", "text/html; charset=utf-16",
                            "application/rss+xml; charset=x-klingon"]))
    def check(parts: list[bytes], ctype: str) -> None:
        try:
            parsed = parse_feed(b"".join(parts), url="http://127.0.0.1/f",
                                headers={"content-type": ctype})
        except FeedParseError as exc:
            assert str(exc) and "\n" not in str(exc)[:300]
            return
        for e in parsed.entries:
            assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", e.title + e.text)
            assert e.url is None or is_safe_link(e.url)

    check()


def test_clean_text_leaves_nothing_a_terminal_would_act_on() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from feedwatch.textutil import clean_text, html_to_text

    nasty = st.sampled_from(["\x1b[31m", "\x1b]0;title\x07", "\x1b]8;;http://e\x1b\\", "\x9b2J",
                             "\x1bP+q\x1b\\", "\x07", "\x1b", "\u202e", "\r", "\x00", "\x9d"])
    text = st.lists(nasty | st.text(max_size=8), max_size=30).map("".join)

    @settings(max_examples=300, deadline=None)
    @given(text)
    def check(value: str) -> None:
        for out in (clean_text(value), html_to_text(value)):
            assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", out)

    check()


@pytest.mark.parametrize("url, safe", [
    ("https://example.org/a", True), ("http://example.org", True),
    ("javascript:alert(1)", False), ("JavaScript:alert(1)", False), (" javascript:x", False),
    ("file:///etc/passwd", False), ("data:text/html,x", False), ("vbscript:x", False),
    ("https:///nohost", False), ("//example.org/a", False), ("", False), (None, False),
    ("https://exa\x1b[31mmple.org/", False), ("https://example.org/\x07", False),
    ("https://example.org/a b", False), ("http://[::1", False), ("ftp://example.org/", False),
])
def test_only_plain_http_links_are_openable(url: str | None, safe: bool) -> None:
    assert is_safe_link(url) is safe

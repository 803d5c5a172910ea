"""fetch's connection pool (feedwatch/transport.py) against real sockets on loopback: reuse,
a connection the server closed while idle (never reused), one closed as our request crossed
its FIN (retried once on a fresh one), and answers that leave a connection unfit to reuse."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from feedwatch.config import FetchSettings
from feedwatch.fetch import Fetcher, FetchTimeout, NetworkError, Validators
from feedwatch.transport import Transport

BODY = b'<rss version="2.0"><channel><title>t</title></channel></rss>'


class Scripted:
    """A raw HTTP/1.1 server on loopback: ``answer(n, head)`` gives the bytes for the n-th
    request (over all connections), or None to close that connection without a word; an
    answer saying "Connection: close" closes it after."""

    def __init__(self, answer: Callable[[int, bytes], bytes | None],
                 tls: ssl.SSLContext | None = None, idle_close: float | None = None) -> None:
        self.answer = answer
        self.tls = tls
        self.idle_close = idle_close  # seconds a connection may wait idle before it is dropped
        self.connections = 0
        self.requests = 0
        self.nth_on_connection = 0  # of the request being answered, on its connection
        self.listener = socket.create_server(("127.0.0.1", 0))
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            if self.tls:
                conn = self.tls.wrap_socket(conn, server_side=True)
        on_connection = 0
        with conn, contextlib.suppress(OSError):
            conn.settimeout(self.idle_close)  # a TimeoutError ends the connection
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                self.requests += 1
                on_connection += 1
                self.nth_on_connection = on_connection
                reply = self.answer(self.requests, head)
                if reply is None:
                    return
                conn.sendall(reply)
                if b"\r\nConnection: close\r\n" in reply:
                    return

    def close(self) -> None:
        self.listener.close()


def ok(body: bytes = BODY, *extra: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\n" + b"".join(h + b"\r\n" for h in extra)
            + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


@pytest.fixture
def scripted() -> Iterator[Callable[[Callable[[int, bytes], bytes | None]], Scripted]]:
    servers: list[Scripted] = []

    def start(answer: Callable[[int, bytes], bytes | None], **kwargs: Any) -> Scripted:
        servers.append(Scripted(answer, **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


async def test_server_closed_idle_connection_is_not_reused(
        scripted: Callable[..., Scripted]) -> None:
    server = scripted(lambda n, head: ok(), idle_close=0.1)
    fetcher = Fetcher()
    try:
        first = await fetcher.fetch(server.url + "/feed.xml")
        time.sleep(0.4)  # the server has closed the pooled connection by now
        second = await fetcher.fetch(server.url + "/feed.xml")
        assert first.body == BODY and second.body == BODY
        assert (server.requests, server.connections) == (2, 2)
    finally:
        await fetcher.aclose()


async def test_not_modified_and_redirect_responses_leave_the_connection_reusable(
        scripted: Callable[..., Scripted]) -> None:
    """A 304 has no body, but a pool drops a connection whose response was not read to its
    end: every conditional poll of a server would open a new connection (a TLS handshake
    each, for real servers). Redirect bodies are read for the same reason."""
    def answer(n: int, head: bytes) -> bytes:
        if b"if-none-match" in head.lower():
            return b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n'
        if head.startswith(b"GET /old "):
            return (b"HTTP/1.1 301 Moved\r\nLocation: /feed.xml\r\n"
                    b"Content-Length: 9\r\n\r\nmoved on.")
        return ok(BODY, b'ETag: "v1"')

    server = scripted(answer)
    fetcher = Fetcher()
    try:
        first = await fetcher.fetch(server.url + "/old")
        assert first.body == BODY and first.etag == '"v1"'
        for _ in range(5):
            again = await fetcher.fetch(server.url + "/feed.xml", Validators(etag='"v1"'))
            assert again.not_modified
        assert server.connections == 1
    finally:
        await fetcher.aclose()


async def test_a_request_crossing_the_servers_close_is_retried_on_a_fresh_connection(
        scripted: Callable[..., Scripted]) -> None:
    """The server keeps the connection after the first answer, then drops it on the second
    request without a word (its keep-alive timer fired as we sent). That connection looked
    open when it was taken, so the GET is sent again on a new one: no failed poll."""
    server = scripted(lambda n, head: None if n == 2 else ok())
    fetcher = Fetcher()
    try:
        first = await fetcher.fetch(server.url + "/feed.xml")
        second = await fetcher.fetch(server.url + "/feed.xml")
        assert first.body == second.body == BODY
        assert (server.requests, server.connections) == (3, 2)
    finally:
        await fetcher.aclose()


async def test_a_fresh_connection_closed_without_an_answer_is_an_error_not_a_retry(
        scripted: Callable[..., Scripted]) -> None:
    server = scripted(lambda n, head: None)
    fetcher = Fetcher()
    try:
        with pytest.raises(NetworkError, match="Server disconnected without sending"):
            await fetcher.fetch(server.url + "/feed.xml")
        assert server.requests == 1
    finally:
        await fetcher.aclose()


@pytest.mark.parametrize("reply", [
    ok(BODY, b"Connection: close"),
    b"HTTP/1.0 200 OK\r\nContent-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY,
], ids=["connection-close", "http-1.0"])
async def test_an_answer_that_ends_the_connection_is_not_pooled(
        scripted: Callable[..., Scripted], reply: bytes) -> None:
    server = scripted(lambda n, head: reply)
    fetcher = Fetcher()
    try:
        for _ in range(3):
            assert (await fetcher.fetch(server.url + "/feed.xml")).body == BODY
        assert server.connections == 3
    finally:
        await fetcher.aclose()


async def test_chunked_and_informational_answers_and_a_body_that_ends_with_the_connection(
        scripted: Callable[..., Scripted]) -> None:
    chunked = (b"HTTP/1.1 103 Early Hints\r\nLink: </x.css>\r\n\r\n"
               b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (BODY[:10], BODY[10:]))
               + b"0\r\n\r\n")
    until_close = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + BODY
    server = scripted(lambda n, head: chunked if n == 1 else until_close if n == 2 else None)
    fetcher = Fetcher()
    try:
        assert (await fetcher.fetch(server.url + "/a")).body == BODY
        assert (await fetcher.fetch(server.url + "/b")).body == BODY
    finally:
        await fetcher.aclose()
    assert server.requests == 2 and server.connections == 1


async def test_a_body_left_unread_closes_its_connection_and_the_next_request_is_fine(
        scripted: Callable[..., Scripted]) -> None:
    big = b"x" * 300_000
    server = scripted(lambda n, head: ok(big))
    pool = Transport()
    async with httpx.AsyncClient(transport=pool) as client:
        async with client.stream("GET", server.url + "/big") as response:
            async for _ in response.aiter_raw():
                break  # walk away with most of the body unread
        response = await client.get(server.url + "/big")
        assert response.content == big
    assert server.connections == 2


async def test_idle_connections_are_capped_and_expire(
        scripted: Callable[..., Scripted]) -> None:
    server = scripted(lambda n, head: ok())
    pool = Transport(max_idle=2, keepalive_expiry=0.2)
    async with httpx.AsyncClient(transport=pool) as client:
        await asyncio.gather(*(client.get(server.url + f"/{i}") for i in range(5)))
        assert server.connections == 5 and pool._idle_count == 2
        await client.get(server.url + "/again")
        assert server.connections == 5  # reused an idle one
        await asyncio.sleep(0.3)
        await client.get(server.url + "/later")
        assert server.connections == 6  # the idle ones had expired


async def test_a_silent_server_times_out_reading_and_garbage_is_a_protocol_error(
        scripted: Callable[..., Scripted]) -> None:
    silent = scripted(lambda n, head: b"")  # reads the request, never answers
    garbage = scripted(lambda n, head: b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
    fetcher = Fetcher(FetchSettings(timeout=0.5))
    try:
        with pytest.raises(FetchTimeout):
            await fetcher.fetch(silent.url + "/feed.xml")
        with pytest.raises(NetworkError, match="protocol error"):
            await fetcher.fetch(garbage.url + "/feed.xml")
    finally:
        await fetcher.aclose()


async def test_a_refused_connection_and_an_unknown_scheme() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    fetcher = Fetcher()
    try:
        with pytest.raises(NetworkError, match="connection refused by 127.0.0.1"):
            await fetcher.fetch(f"http://127.0.0.1:{port}/feed.xml")
    finally:
        await fetcher.aclose()
    async with httpx.AsyncClient(transport=Transport()) as client:
        with pytest.raises(httpx.UnsupportedProtocol):
            await client.get("ftp://127.0.0.1/feed.xml")


async def test_https_with_a_trusted_certificate_and_a_clear_error_for_an_untrusted_one(
        tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    server = Scripted(lambda n, head: ok(), tls=server_side)
    trusting = ssl.create_default_context(cafile=str(cert))
    fetcher = Fetcher(transport=Transport(ssl_context=trusting))
    stranger = Fetcher()  # the system's and certifi's roots: this certificate is in neither
    try:
        for _ in range(2):
            assert (await fetcher.fetch(server.url + "/feed.xml")).body == BODY
        assert server.connections == 1
        with pytest.raises(NetworkError, match="^TLS error with 127.0.0.1: .*certificate"):
            await stranger.fetch(server.url + "/feed.xml")
    finally:
        await fetcher.aclose()
        await stranger.aclose()
        server.close()


async def test_a_cookie_set_on_a_redirect_is_sent_on_to_the_feed(
        scripted: Callable[..., Scripted]) -> None:
    """Consent walls: the first answer sets a cookie and redirects; the feed needs it."""
    def answer(n: int, head: bytes) -> bytes:
        if head.startswith(b"GET /wall "):
            return (b"HTTP/1.1 302 Found\r\nSet-Cookie: consent=yes; Path=/\r\n"
                    b"Location: /feed.xml\r\nContent-Length: 0\r\n\r\n")
        if b"\r\ncookie: consent=yes" in head.lower():
            return ok()
        return b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"

    server = scripted(answer)
    fetcher = Fetcher()
    try:
        assert (await fetcher.fetch(server.url + "/wall")).body == BODY
    finally:
        await fetcher.aclose()


async def test_bytes_past_the_end_of_an_answer_never_answer_the_next_request(
        scripted: Callable[..., Scripted]) -> None:
    """A 304 sent with a body (or a second, unasked-for response) leaves bytes behind; were
    the connection pooled, they would be read as the answer to another feed's request."""
    def answer(n: int, head: bytes) -> bytes:
        if n == 1:
            return b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n<rss>stale</rss>'
        if n == 2:
            return (b"HTTP/1.1 204 No Content\r\n\r\n"
                    + ok(b"<rss>forged</rss>"))  # an answer to a request not yet sent
        return ok()

    server = scripted(answer)
    fetcher = Fetcher()
    try:
        assert (await fetcher.fetch(server.url + "/a", Validators(etag='"v1"'))).not_modified
        assert not (await fetcher.fetch(server.url + "/b")).body  # 204: empty
        assert (await fetcher.fetch(server.url + "/c")).body == BODY
        assert server.connections == 3
    finally:
        await fetcher.aclose()


async def test_a_stale_connection_is_retried_once_on_a_fresh_one_not_on_every_idle_one(
        scripted: Callable[..., Scripted]) -> None:
    server = scripted(lambda n, head: ok() if server.nth_on_connection == 1 else None)
    pool = Transport(max_idle=8)
    async with httpx.AsyncClient(transport=pool) as client:
        await asyncio.gather(*(client.get(server.url + f"/{i}") for i in range(8)))
        assert pool._idle_count == 8 and server.requests == 8
        response = await client.get(server.url + "/again")
        assert response.content == BODY
        assert server.requests == 10  # one on a stale connection, one on a fresh one


async def test_a_protocol_switch_is_an_error_not_a_spinning_loop(
        scripted: Callable[..., Scripted]) -> None:
    """After a 101 that was asked for, h11 hands the socket over and pauses: a reader that
    kept asking it for events would spin without ever yielding to the loop."""
    server = scripted(lambda n, head: b"HTTP/1.1 101 Switching Protocols\r\n"
                                      b"Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    async with httpx.AsyncClient(transport=Transport()) as client:
        with pytest.raises(httpx.RemoteProtocolError, match="switched protocols"):
            await asyncio.wait_for(client.get(server.url + "/ws", headers={
                "Upgrade": "websocket", "Connection": "Upgrade"}), 5)
    fetcher = Fetcher(FetchSettings(timeout=3))  # unasked for: h11 itself refuses it
    try:
        with pytest.raises(NetworkError, match="^protocol error: "):
            await fetcher.fetch(server.url + "/feed.xml")
    finally:
        await fetcher.aclose()

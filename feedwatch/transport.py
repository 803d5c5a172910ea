"""fetch's HTTP/1.1 connection pool: an httpx transport on asyncio streams and h11.

httpx stays the client (requests, responses, headers, timeouts, errors); this replaces only
the layer under it, httpcore's pool. Profiled on a poll cycle of 1,000 feeds, that pool cost
~2 ms of CPU per request: before each request it scans every pooled connection, several
times, and every step takes anyio locks and cancel scopes. Here idle connections wait in a
list per origin, so taking one is O(1), and a connection the server closed while idle is
known without a syscall: the event loop already watches its socket and has seen the EOF.

Only what fetch needs: HTTP/1.1 (h11, the parser httpcore uses too), keep-alive, TLS,
connect/read/write timeouts, no proxies, no HTTP/2.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import typing
from collections import deque
from collections.abc import AsyncIterator

import h11
import httpx

READ_SIZE: typing.Final = 64 * 1024
MAX_HEAD: typing.Final = 100 * 1024  # largest response head (status line + headers) taken
KEEPALIVE_EXPIRY: typing.Final = 5.0  # seconds an idle connection is kept (httpx's default)

Origin = tuple[str, str, int]  # scheme, host, port


class _Connection:
    """One socket and its h11 state machine."""

    __slots__ = ("h11", "idle_since", "origin", "reader", "writer")

    def __init__(self, origin: Origin, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        self.idle_since = 0.0

    def usable(self, now: float, expiry: float) -> bool:
        """Still fit to carry a request: not idle too long, not closed by the server while
        it waited (the loop has fed the EOF to the reader), nothing unasked-for buffered."""
        return (now - self.idle_since < expiry and not self.reader.at_eof()
                and not self.reader._buffer
                and not self.writer.transport.is_closing())

    def close(self) -> None:
        self.writer.close()

    async def read(self, timeout: float | None) -> bytes:
        try:
            if timeout is None:
                return await self.reader.read(READ_SIZE)
            async with asyncio.timeout(timeout):
                return await self.reader.read(READ_SIZE)
        except TimeoutError:
            raise httpx.ReadTimeout("timed out reading the response") from None
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from exc

    async def next_event(self, timeout: float | None) -> typing.Any:
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                return event
            data = await self.read(timeout)
            if not data and self.h11.their_state is h11.SEND_RESPONSE \
                    and not self.h11.trailing_data[0]:
                raise _Disconnected("Server disconnected without sending a response.")
            self.h11.receive_data(data)


class _Disconnected(httpx.RemoteProtocolError):
    """The server closed the connection before one byte of an answer."""


class _Stale(Exception):
    """A reused connection was closed by the server before it answered: try a fresh one."""


class _Body(httpx.AsyncByteStream):
    """A response body, read from the connection as the caller iterates; at its end the
    connection goes back to the pool, if it is reusable."""

    def __init__(self, pool: Transport, conn: _Connection, timeout: float | None) -> None:
        self._pool = pool
        self._conn: _Connection | None = conn
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        try:
            while True:
                event = await conn.next_event(self._timeout)
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    break
                else:
                    raise httpx.RemoteProtocolError(f"unexpected HTTP event {event!r}")
        except BaseException:
            self._conn = None
            conn.close()
            raise
        self._conn = None
        self._pool._release(conn)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:  # left unread: the rest of the body would block the next request
            conn.close()


class Transport(httpx.AsyncBaseTransport):
    """A keep-alive pool of HTTP/1.1 connections for :class:`httpx.AsyncClient`.

    ``max_idle`` caps the connections kept open between requests, over all origins.
    Concurrency itself is limited by the caller (fetch's global and per-host semaphores).
    """

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, max_idle: int = 16,
                 keepalive_expiry: float = KEEPALIVE_EXPIRY) -> None:
        self._ssl_context = ssl_context
        self._max_idle = max_idle
        self._expiry = keepalive_expiry
        self._idle: dict[Origin, deque[_Connection]] = {}
        self._idle_count = 0
        self._swept = 0.0
        self._closed = False

    def _ssl(self) -> ssl.SSLContext:
        if self._ssl_context is None:  # built on first https request: ~20 ms
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        if not url.host:
            raise httpx.UnsupportedProtocol(f"no host in {url}")
        # raw_host: the IDNA 2008 form httpx puts in the Host header (Python's codec would
        # look up some names, "faß.de", under another domain)
        origin = (scheme, url.raw_host.decode("ascii"),
                  url.port or (443 if scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        body = b"".join([part async for part in request.stream])  # type: ignore[union-attr]
        fresh_only = False
        while True:
            conn = None if fresh_only else self._take(origin)
            reused = conn is not None
            if conn is None:
                conn = await self._connect(origin, timeouts.get("connect"))
            try:
                return await self._exchange(conn, request, body, timeouts, reused)
            except _Stale:
                conn.close()  # and go round, once, for a fresh connection
                fresh_only = True
            except BaseException:
                conn.close()
                raise

    async def _exchange(self, conn: _Connection, request: httpx.Request, body: bytes,
                        timeouts: dict[str, float | None], reused: bool) -> httpx.Response:
        headers = list(request.headers.raw)
        if body and not any(k.lower() in (b"content-length", b"transfer-encoding")
                            for k, _ in headers):
            headers.append((b"Content-Length", str(len(body)).encode()))
        try:
            data = conn.h11.send(h11.Request(method=request.method, target=request.url.raw_path,
                                             headers=headers))
            if body:
                data += conn.h11.send(h11.Data(data=body))
            data += conn.h11.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        try:
            conn.writer.write(data)
            write_timeout = timeouts.get("write")
            async with asyncio.timeout(write_timeout):
                await conn.writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout("timed out sending the request") from None
        except OSError as exc:
            if reused:
                raise _Stale from exc
            raise httpx.WriteError(str(exc) or type(exc).__name__) from exc
        read_timeout = timeouts.get("read")
        informational = False
        while True:
            try:
                event = await conn.next_event(read_timeout)
            except (_Disconnected, httpx.ReadError):
                if reused and conn.h11.their_state is h11.SEND_RESPONSE \
                        and not conn.h11.trailing_data[0] and not informational:
                    raise _Stale from None  # closed while idle, our request crossing its FIN
                raise
            if isinstance(event, h11.Response):
                break
            if not isinstance(event, h11.InformationalResponse) or event.status_code == 101:
                # h11 hands the connection over after a protocol switch: not a feed's answer
                raise httpx.RemoteProtocolError("the server switched protocols (HTTP 101)")
            informational = True  # 100 Continue, 103 Early Hints: the answer follows
        return httpx.Response(
            event.status_code, headers=event.headers.raw_items(),
            stream=_Body(self, conn, read_timeout),
            extensions={"http_version": b"HTTP/" + event.http_version,
                        "reason_phrase": event.reason},
        )

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        tls = self._ssl() if scheme == "https" else None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=tls, server_hostname=host if tls else None,
                    limit=READ_SIZE, happy_eyeballs_delay=0.25)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}") from None
        except (OSError, ssl.SSLError, UnicodeError) as exc:  # refused, DNS, unreachable, cert
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return _Connection(origin, reader, writer)

    def _take(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn = idle.pop()  # the most recently used: likeliest still open at the server
            self._idle_count -= 1
            if conn.usable(now, self._expiry):
                return conn
            conn.close()
        return None

    def _release(self, conn: _Connection) -> None:
        h = conn.h11
        if (h.our_state is not h11.DONE or h.their_state is not h11.DONE  # "Connection: close"
                or h.trailing_data[0]  # bytes past the end of the answer: never an answer
                or self._closed):
            conn.close()
            return
        h.start_next_cycle()
        now = time.monotonic()
        conn.idle_since = now
        if now - self._swept > 1.0:
            self._sweep(now)
        if self._idle_count >= self._max_idle:
            conn.close()
            return
        self._idle.setdefault(conn.origin, deque()).append(conn)
        self._idle_count += 1

    def _sweep(self, now: float) -> None:
        """Close idle connections that expired or that the server closed (else their
        sockets linger half-closed until the next request to that origin)."""
        self._swept = now
        for origin, idle in list(self._idle.items()):
            kept: deque[_Connection] = deque()
            for conn in idle:
                if conn.usable(now, self._expiry):
                    kept.append(conn)
                else:
                    conn.close()
                    self._idle_count -= 1
            if kept:
                self._idle[origin] = kept
            else:
                del self._idle[origin]

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
        self._idle_count = 0

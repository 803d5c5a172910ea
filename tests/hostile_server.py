"""A loopback HTTP/1.1 server that misbehaves on purpose, written on raw sockets.

pytest-httpserver (werkzeug) answers politely; the fault suite needs servers that drip bytes,
accept and never answer, send gzip bombs, loop redirects or lie about lengths. Each path maps
to a *behaviour*: a function that gets the connected socket and the parsed request and does
whatever it likes with them. One thread accepts, one thread per connection; every connection
is ``Connection: close``. The server counts the body bytes each path managed to send, so a
test can check that a size cap stopped a download early.
"""

from __future__ import annotations

import gzip
import select
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from functools import cache

REASONS = {
    200: "OK", 301: "Moved Permanently", 302: "Found", 303: "See Other",
    307: "Temporary Redirect", 308: "Permanent Redirect", 404: "Not Found", 410: "Gone",
    429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
}  # fmt: skip


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Conn:
    sock: socket.socket
    server: HostileServer
    path: str
    sent: int = 0  # body bytes written

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def head(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Whatever')}"]
        hdrs = {"Connection": "close", **(headers or {})}
        lines += [f"{k}: {v}" for k, v in hdrs.items()]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def body(self, data: bytes) -> None:
        self.send(data)
        self.sent += len(data)
        self.server.sent[self.path] = self.server.sent.get(self.path, 0) + len(data)

    def wait(self, seconds: float) -> bool:
        """Sleep unless the server is closing; True if the server is closing."""
        return self.server.closing.wait(seconds)

    def linger(self, seconds: float = 60) -> None:
        """Say nothing until the client hangs up (or ``seconds`` pass, or the server closes)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.server.closing.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.2)
            if ready:
                try:
                    if not self.sock.recv(4096, socket.MSG_PEEK):
                        return  # EOF: the client gave up
                except OSError:
                    return
                self.sock.recv(4096)


Behaviour = Callable[[Conn, Request], None]


@dataclass
class HostileServer:
    routes: dict[str, Behaviour] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.closing = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept, name="hostile-accept",
                                          daemon=True)
        self._acceptor.start()

    # --- public --------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, behaviour: Behaviour) -> str:
        self.routes[path] = behaviour
        return self.url(path)

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def close(self) -> None:
        self.closing.set()
        self._acceptor.join(timeout=2)
        self._listener.close()
        for t in list(self._threads):
            t.join(timeout=2)

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing ------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(5)
        try:
            request = _read_request(sock)
            if request is None:
                return
            with self._lock:
                self.requests.append(request)
            behaviour = self.routes.get(request.path.split("?")[0], not_found)
            behaviour(Conn(sock, self, request.path.split("?")[0]), request)
        except OSError:
            pass  # the client gave up (size cap, timeout): that is the point
        finally:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def _read_request(sock: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 65536:
            return None
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    first, *rest = head.split("\r\n")
    method, path, _ = first.split(" ", 2)
    headers = {}
    for line in rest:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return Request(method, path, headers)


# --- behaviours ----------------------------------------------------------------------------


def not_found(conn: Conn, request: Request) -> None:
    respond(b"not found", status=404, content_type="text/plain")(conn, request)


def respond(body: bytes | str, *, status: int = 200, content_type: str | None =
            "application/rss+xml; charset=utf-8", headers: dict[str, str] | None = None,
            length: bool = True) -> Behaviour:
    """An ordinary response (possibly with a hostile status, headers or body)."""
    data = body.encode("utf-8") if isinstance(body, str) else body

    def behave(conn: Conn, request: Request) -> None:
        hdrs = dict(headers or {})
        if content_type:
            hdrs.setdefault("Content-Type", content_type)
        if length:
            hdrs.setdefault("Content-Length", str(len(data)))
        conn.head(status, hdrs)
        conn.body(data)

    return behave


def redirect(location: str, status: int = 302) -> Behaviour:
    return respond(b"", status=status, content_type=None, headers={"Location": location})


def hang(conn: Conn, request: Request) -> None:
    """Accept, read the request, never answer."""
    conn.linger()


def headers_then_hang(conn: Conn, request: Request) -> None:
    """Status line and headers promising a body, then silence (a read timeout)."""
    conn.head(200, {"Content-Type": "application/rss+xml", "Content-Length": "5000"})
    conn.body(b"<rss")
    conn.linger()


def drip(body: bytes, every: float = 1.0) -> Behaviour:
    """One byte per ``every`` seconds: each read succeeds, the whole never arrives."""

    def behave(conn: Conn, request: Request) -> None:
        conn.head(200, {"Content-Type": "application/rss+xml",
                        "Content-Length": str(len(body))})
        for i in range(len(body)):
            conn.body(body[i:i + 1])
            if conn.wait(every):
                return

    return behave


def endless(total: int, *, declare_length: bool, chunk: int = 64 * 1024,
            content_type: str = "application/rss+xml") -> Behaviour:
    """A ``total``-byte body (e.g. 50 MB) streamed as fast as the client reads it."""
    piece = (b"<!-- " + b"x" * (chunk - 9) + b" -->")[:chunk]

    def behave(conn: Conn, request: Request) -> None:
        headers = {"Content-Type": content_type}
        if declare_length:
            headers["Content-Length"] = str(total)
        else:
            headers["Transfer-Encoding"] = "chunked"
        conn.head(200, headers)
        sent = 0
        while sent < total and not conn.server.closing.is_set():
            n = min(chunk, total - sent)
            data = piece[:n]
            if declare_length:
                conn.body(data)
            else:
                conn.send(f"{n:x}\r\n".encode())
                conn.body(data)
                conn.send(b"\r\n")
            sent += n
        if not declare_length:
            conn.send(b"0\r\n\r\n")

    return behave


@cache
def bomb_payload(decoded: int, layers: int = 1) -> bytes:
    """gzip of ``decoded`` zero bytes (a multiple of 1 MB), gzipped ``layers`` times.

    Built without compressing gigabytes: after a full flush a deflate stream restarts, so
    one compressed megabyte of zeros can be repeated; only the CRC needs every byte.
    """
    if layers > 1:
        return gzip.compress(bomb_payload(decoded, layers - 1), 9)
    mb = b"\0" * (1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    comp.compress(mb)
    comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(mb) + comp.flush(zlib.Z_FULL_FLUSH)
    count = decoded >> 20
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(mb, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    final = b"\x03\x00"  # an empty final block
    trailer = crc.to_bytes(4, "little") + (decoded & 0xFFFFFFFF).to_bytes(4, "little")
    return header + block * count + final + trailer


def gzip_bomb(decoded: int = 1 << 30, layers: int = 1) -> Behaviour:
    """Content-Encoding gzip whose decoded stream is ``decoded`` bytes (1 GB by default)."""

    def behave(conn: Conn, request: Request) -> None:
        payload = bomb_payload(decoded, layers)
        conn.head(200, {"Content-Type": "application/rss+xml",
                        "Content-Encoding": ", ".join(["gzip"] * layers),
                        "Content-Length": str(len(payload))})
        for i in range(0, len(payload), 16384):
            conn.body(payload[i:i + 16384])

    return behave


def close_at_once(conn: Conn, request: Request) -> None:
    """Read the request and hang up without a word."""


def garbage_status(conn: Conn, request: Request) -> None:
    conn.send(b"SPDY/9 banana\r\n\r\n")


def http_date(offset: float) -> str:
    return formatdate(time.time() + offset, usegmt=True)


def free_port() -> int:
    """A port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

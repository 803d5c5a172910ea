"""The network backend's cheap readability check: a keep-alive connection the server closed
while idle is noticed and replaced, never reused (a reused dead connection fails the poll)."""

from __future__ import annotations

import socket
import threading
import time

from feedwatch.fetch import Fetcher, Validators
from feedwatch.netbackend import Backend, _readable

BODY = b'<rss version="2.0"><channel><title>t</title></channel></rss>'


def _serve_then_close(listener: socket.socket, served: list[int]) -> None:
    """Answer one request per connection with keep-alive, then close it shortly after."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            served.append(1)  # before answering: the client may count as soon as it reads
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                         b"Connection: keep-alive\r\nContent-Length: "
                         + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
            time.sleep(0.1)  # idle keep-alive connection, then the server drops it


async def test_server_closed_idle_connection_is_not_reused() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    served: list[int] = []
    thread = threading.Thread(target=_serve_then_close, args=(listener, served), daemon=True)
    thread.start()
    fetcher = Fetcher()
    try:
        url = f"http://127.0.0.1:{port}/feed.xml"
        first = await fetcher.fetch(url)
        time.sleep(0.4)  # the server has closed the pooled connection by now
        second = await fetcher.fetch(url)
        assert first.body == BODY and second.body == BODY
        assert len(served) == 2
    finally:
        await fetcher.aclose()
        listener.close()


async def test_readable_reports_a_closed_peer_and_a_quiet_one() -> None:
    a, b = socket.socketpair()
    try:
        assert not _readable(a)  # nothing to read: still open
        b.close()
        assert _readable(a)  # EOF pending: the peer closed
    finally:
        a.close()
    assert _readable(None)
    assert isinstance(Backend(), Backend)


def _serve_keepalive(listener: socket.socket, connections: list[int]) -> None:
    """A keep-alive server: 304 to a conditional GET, a redirect for /old, else 200."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        connections.append(1)
        threading.Thread(target=_answer_all, args=(conn,), daemon=True).start()


def _answer_all(conn: socket.socket) -> None:
    with conn:
        data = b""
        while True:
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            head, _, data = data.partition(b"\r\n\r\n")
            if b"if-none-match" in head.lower():
                conn.sendall(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n')
            elif head.startswith(b"GET /old "):
                conn.sendall(b"HTTP/1.1 301 Moved\r\nLocation: /feed.xml\r\n"
                             b"Content-Length: 9\r\n\r\nmoved on.")
            else:
                conn.sendall(b'HTTP/1.1 200 OK\r\nETag: "v1"\r\nContent-Length: '
                             + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


async def test_not_modified_and_redirect_responses_leave_the_connection_reusable() -> None:
    """A 304 has no body, but httpcore drops a connection whose response was not read to its
    end: every conditional poll of a server would open a new connection (a TLS handshake
    each, for real servers). Redirect bodies are read for the same reason."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    connections: list[int] = []
    threading.Thread(target=_serve_keepalive, args=(listener, connections),
                     daemon=True).start()
    fetcher = Fetcher()
    try:
        first = await fetcher.fetch(f"http://127.0.0.1:{port}/old")
        assert first.body == BODY and first.etag == '"v1"'
        for _ in range(5):
            again = await fetcher.fetch(f"http://127.0.0.1:{port}/feed.xml",
                                        Validators(etag='"v1"'))
            assert again.not_modified
        assert len(connections) == 1
    finally:
        await fetcher.aclose()
        listener.close()

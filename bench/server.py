"""Loopback feed server for the benchmarks: ETag / Last-Modified, gzip, optional latency.

One asyncio process with a bare ``asyncio.Protocol`` (no per-request task, no framework):
HTTP/1.1 keep-alive, bodies generated once at start-up (``bench.feedgen``) and gzipped once,
conditional GET answered with 304, and an optional delay before each answer (``--latency``,
to mimic a real server's round trip; a timer, so thousands of requests can wait at once).
It counts what it answers; ``GET /__stats`` returns the counts and its own CPU time as JSON
(not counted), ``GET /__reset`` zeroes them.

    python -m bench.server --n 1000 [--latency 0.05] [--port 0]   # prints "READY <port>"
    python -m bench.server --selftest                             # capacity on this machine
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import json
import os
import resource
import socket
import sys
import time
from collections import Counter
from email.utils import format_datetime, parsedate_to_datetime

from .feedgen import Feed, generate


class Resource:
    __slots__ = ("body", "ctype", "etag", "gz", "last_modified", "lm_ts")

    def __init__(self, feed: Feed) -> None:
        self.body = feed.body
        self.gz = gzip.compress(feed.body, 6, mtime=0)
        self.ctype = feed.content_type
        self.etag = '"' + hashlib.sha1(feed.body).hexdigest()[:20] + '"'
        self.last_modified = format_datetime(feed.last_modified, usegmt=True)
        self.lm_ts = int(feed.last_modified.timestamp())


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.status: Counter[int] = Counter()
        self.bytes = 0
        self.connections = 0
        self.open = 0
        self.max_open = 0
        self.cpu0 = time.process_time()
        self.t0 = time.monotonic()

    def as_dict(self) -> dict[str, object]:
        return {"status": {str(k): v for k, v in self.status.items()},
                "bytes": self.bytes, "connections": self.connections,
                "max_open": self.max_open, "cpu": time.process_time() - self.cpu0,
                "elapsed": time.monotonic() - self.t0,
                "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


class HTTP(asyncio.Protocol):
    def __init__(self, server: FeedServer) -> None:
        self.server = server
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.pending = 0  # responses scheduled but not yet written (latency)
        self.close_after = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        st = self.server.stats
        st.connections += 1
        st.open += 1
        st.max_open = max(st.max_open, st.open)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.stats.open -= 1
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > 65536 and self.transport:
                    self.transport.close()
                return
            head, self.buf = self.buf[:end], self.buf[end + 4:]
            self.handle(head)

    def handle(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            self.respond(400, [], b"", 0.0)
            return
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if not keep:
            self.close_after = True
        srv = self.server
        path = target.split("?", 1)[0]
        if path == "/__stats":
            self.write(200, [("Content-Type", "application/json")],
                       json.dumps(srv.stats.as_dict()).encode(), count=False)
            return
        if path == "/__reset":
            srv.stats.reset()
            self.write(200, [], b"ok", count=False)
            return
        res = srv.resources.get(path)
        if res is None or method not in ("GET", "HEAD"):
            self.respond(404 if res is None else 405, [], b"not found\n", srv.latency)
            return
        common = [("ETag", res.etag), ("Last-Modified", res.last_modified),
                  ("Vary", "Accept-Encoding"), ("Cache-Control", "max-age=0")]
        if _not_modified(res, headers):
            self.respond(304, common, b"", srv.latency)
            return
        body = res.body
        extra = [("Content-Type", res.ctype)]
        if "gzip" in headers.get("accept-encoding", ""):
            body = res.gz
            extra.append(("Content-Encoding", "gzip"))
        self.respond(200, common + extra, b"" if method == "HEAD" else body, srv.latency,
                     length=len(body))

    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes,
                delay: float, length: int | None = None) -> None:
        if delay > 0:
            self.pending += 1
            asyncio.get_running_loop().call_later(delay, self._later, status, headers, body,
                                                  length)
        else:
            self.write(status, headers, body, length=length)

    def _later(self, status: int, headers: list[tuple[str, str]], body: bytes,
               length: int | None) -> None:
        self.pending -= 1
        self.write(status, headers, body, length=length)

    def write(self, status: int, headers: list[tuple[str, str]], body: bytes,
              count: bool = True, length: int | None = None) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        reason = _REASONS.get(status, "OK")
        out = [f"HTTP/1.1 {status} {reason}", "Server: feedwatch-bench",
               f"Content-Length: {len(body) if length is None else length}"]
        out += [f"{k}: {v}" for k, v in headers]
        closing = self.close_after and self.pending == 0
        if closing:
            out.append("Connection: close")
        data = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body
        self.transport.write(data)
        if count:
            self.server.stats.status[status] += 1
            self.server.stats.bytes += len(data)
        if closing:
            self.transport.close()


_REASONS = {200: "OK", 304: "Not Modified", 400: "Bad Request", 404: "Not Found",
            405: "Method Not Allowed"}


def _not_modified(res: Resource, headers: dict[str, str]) -> bool:
    inm = headers.get("if-none-match")
    if inm is not None:  # RFC 9110 §13.1.2: If-None-Match wins over If-Modified-Since
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return res.etag in tags or "*" in tags
    ims = headers.get("if-modified-since")
    if ims:
        try:
            return int(parsedate_to_datetime(ims).timestamp()) >= res.lm_ts
        except (TypeError, ValueError, IndexError):
            return False
    return False


class FeedServer:
    def __init__(self, n: int, seed: int = 1, latency: float = 0.0) -> None:
        self.feeds = generate(n, seed)
        self.resources = {f.path: Resource(f) for f in self.feeds}
        self.latency = latency
        self.stats = Stats()

    async def serve(self, host: str, port: int, ready: object = None) -> None:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        server = await loop.create_server(lambda: HTTP(self), sock=sock, backlog=4096)
        port = server.sockets[0].getsockname()[1]
        self.stats.reset()
        print(f"READY {port}", flush=True)
        async with server:
            await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="number of feeds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--selftest", action="store_true",
                        help="measure this server's capacity with a load generator")
    args = parser.parse_args()
    if args.selftest:
        print(selftest())
        return
    srv = FeedServer(args.n, args.seed, args.latency)
    try:
        asyncio.run(srv.serve(args.host, args.port))
    except KeyboardInterrupt:
        pass


# --- capacity measurement -------------------------------------------------------------------


async def _load(port: int, paths: list[str], conns: int, seconds: float,
                conditional: dict[str, str] | None) -> tuple[int, float]:
    """Keep-alive GETs over ``conns`` connections for ``seconds``: (responses, elapsed)."""
    done = 0
    stop = time.monotonic() + seconds

    async def worker(k: int) -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = k
        while time.monotonic() < stop:
            path = paths[i % len(paths)]
            i += conns
            extra = f"If-None-Match: {conditional[path]}\r\n" if conditional else ""
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n{extra}"
                         "\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length:
                await reader.readexactly(length)
            done += 1
        writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker(k) for k in range(conns)))
    return done, time.monotonic() - started


def selftest(n: int = 200, conns: int = 200, seconds: float = 3.0,
             latency: float = 0.05) -> str:
    """Requests/s this server answers on this machine (the load generator shares the CPU,
    so these are lower bounds), and whether it holds ``conns`` connections with latency."""
    import multiprocessing

    lines = []
    ctx = multiprocessing.get_context("spawn")
    for lat in (0.0, latency):
        q: multiprocessing.Queue[int] = ctx.Queue()
        proc = ctx.Process(target=_serve_child, args=(n, lat, q), daemon=True)
        proc.start()
        port = q.get(timeout=60)
        srv = FeedServer(n)  # same bodies, for the ETags
        etags = {p: r.etag for p, r in srv.resources.items()}
        for label, cond in (("200 gzip", None), ("304", etags)):
            count, elapsed = asyncio.run(_load(port, list(etags), conns, seconds, cond))
            lines.append(f"latency {lat * 1000:.0f} ms, {conns} connections, {label}: "
                         f"{count / elapsed:,.0f} req/s")
        proc.terminate()
        proc.join()
    return "\n".join(lines)


def _serve_child(n: int, latency: float, q: object) -> None:
    srv = FeedServer(n, latency=latency)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    q.put(port)  # type: ignore[attr-defined]
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    asyncio.run(srv.serve("127.0.0.1", port))


if __name__ == "__main__":
    main()

"""httpcore's asyncio network backend, with a cheap "is this idle connection readable?" check.

Before every request it assigns, httpcore's pool asks each pooled connection whether the
server closed it. Through anyio that question builds the socket's whole attribute table,
``getpeername()`` syscall included, so with a few dozen pooled connections a poll cycle of
1,000 feeds spent about a third of its event-loop time there (bench/README.md). This
wrapper keeps the raw socket from connect time and answers with one ``poll()``, and not
again for a few milliseconds while the connection stays idle.
"""

from __future__ import annotations

import math
import select
import socket
import ssl
import time
import typing

import httpcore
import httpx


def _readable(sock: socket.socket | None) -> bool:
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True  # gone: the next read returns b"", as for a closed connection
    if not hasattr(select, "poll"):  # pragma: no cover - Windows
        return bool(select.select([fd], [], [], 0)[0])
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


# An idle connection found quiet is taken to stay quiet this long. The pool asks about every
# idle connection several times per request it assigns; a server's close landing in these few
# milliseconds is no likelier than one landing between the check and the request anyway.
QUIET_FOR: typing.Final = 0.005


class _Stream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._sock: socket.socket | None = inner.get_extra_info("socket")
        self._quiet_since = -math.inf  # when the idle connection was last found quiet

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._quiet_since = -math.inf  # in use: the next idle check polls afresh
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._quiet_since = -math.inf
        await self._inner.write(buffer, timeout)

    def _is_readable(self) -> bool:
        now = time.monotonic()
        if now - self._quiet_since < QUIET_FOR:
            return False
        readable = _readable(self._sock)
        if not readable:
            self._quiet_since = now
        return readable

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            return self._is_readable()
        return self._inner.get_extra_info(info)


class Backend(httpcore.AsyncNetworkBackend):
    """httpcore.AnyIOBackend whose streams answer ``is_readable`` cheaply."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: typing.Iterable[typing.Any] | None = None
                          ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_tcp(host, port, timeout, local_address,
                                                     socket_options))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: typing.Iterable[typing.Any] | None = None
                                  ) -> httpcore.AsyncNetworkStream:  # pragma: no cover
        return _Stream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def transport(**kwargs: typing.Any) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connection pool uses :class:`Backend`. httpx has no public
    way to pass a network backend; if its internals ever change, this falls back to the
    stock backend (slower, same behaviour)."""
    out = httpx.AsyncHTTPTransport(**kwargs)
    pool = getattr(out, "_pool", None)
    if isinstance(pool, httpcore.AsyncConnectionPool) and hasattr(pool, "_network_backend"):
        pool._network_backend = Backend()
    return out

"""The only place that touches the network.

One shared :class:`httpx.AsyncClient` with conditional GET, a streamed size cap on the decoded
body, a total-time limit (so a server dripping a byte a second cannot hold a poll forever),
global and per-host concurrency limits, and failures turned into :class:`FetchError` with a
sentence a person can act on.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import socket
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from . import __version__
from . import transport as pool
from .config import FetchSettings
from .model import FetchResult

USER_AGENT = f"feedwatch/{__version__} (+https://github.com/feedwatch/feedwatch)"
MAX_REDIRECTS = 5
MAX_RETRY_AFTER = 6 * 3600.0
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
DECODE_PIECE = 64 * 1024  # most bytes one decompression step may produce


@dataclass(frozen=True, slots=True)
class Validators:
    """What the previous successful fetch left behind for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


class FetchError(Exception):
    """A failed fetch. ``str()`` is one human sentence; the attributes drive the backoff."""

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after  # seconds the server asked us to wait
        self.permanent = permanent  # e.g. 410 Gone: stop polling


class HTTPStatusError(FetchError):
    pass


class TooLargeError(FetchError):
    pass


class NetworkError(FetchError):
    pass


class FetchTimeout(FetchError):
    pass


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds from now (delta-seconds or HTTP-date), capped; None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not "¹" or "٣": str.isdigit is Unicode-wide
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return min(max(0.0, when.timestamp() - now), MAX_RETRY_AFTER)


def _size(n: int) -> str:
    value, unit = (n / 1024 / 1024, "MB") if n >= 1024 * 1024 else (n / 1024, "KB")
    return f"{value:.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"


async def _drain(response: httpx.Response, limit: int = 64 * 1024) -> None:
    """Read a response we do not use to its end, so that its connection is reused: the pool
    closes a connection whose response was left unread (for a 304 too, whose end-of-message
    it has not yet seen). A large body is not worth it: then the connection goes."""
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read > limit:
            return


class _Cookies(httpx.Cookies):
    def extract_cookies(self, response: httpx.Response) -> None:
        # httpx wraps every response in urllib's cookie machinery, Set-Cookie or not:
        # ~6% of a warm poll's CPU, for a header most feeds never send.
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


class _Client(httpx.AsyncClient):
    """Redirects are followed by Fetcher itself; httpx would still build the next request for
    every redirect and raise on a Location it cannot represent (``javascript:…``), before we
    could say where it pointed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._jar = _Cookies()

    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        return self._jar

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._jar = _Cookies(cookies)

    def _build_redirect_request(self, request: httpx.Request,
                                response: httpx.Response) -> httpx.Request:
        return request


class Fetcher:
    """Fetches URLs politely; one instance per process, shared by every source."""

    def __init__(self, settings: FetchSettings | None = None, *,
                 transport: httpx.AsyncBaseTransport | None = None,
                 host_limits: dict[str, int] | None = None) -> None:
        self.settings = settings or FetchSettings()
        s = self.settings
        if transport is None:
            transport = pool.Transport(max_idle=s.concurrency)
        self._client = _Client(
            follow_redirects=False,  # followed by hand: loops, schemes, one time budget
            timeout=httpx.Timeout(s.timeout, connect=s.connect_timeout),
            headers={
                "User-Agent": s.user_agent or USER_AGENT,
                "Accept": "application/atom+xml, application/rss+xml, application/rdf+xml, "
                "application/feed+json, application/xml;q=0.9, text/xml;q=0.9, "
                "application/json;q=0.8, text/html;q=0.7, */*;q=0.5",
                "Accept-Encoding": "gzip, deflate",
            },
            transport=transport,
            trust_env=False,
        )
        self._global = asyncio.Semaphore(s.concurrency)
        self._host_limits = dict(host_limits or {})
        self._hosts: dict[str, asyncio.Semaphore] = {}

    def limit_host(self, host: str, limit: int) -> None:
        """Cap concurrent requests to one host (e.g. 1 for t.me)."""
        self._host_limits[host.lower()] = limit

    def _host_semaphore(self, url: str) -> asyncio.Semaphore:
        host = (urlsplit(url).hostname or "").lower()
        semaphore = self._hosts.get(host)
        if semaphore is None:
            limit = self._host_limits.get(host, self.settings.per_host)
            semaphore = self._hosts[host] = asyncio.Semaphore(limit)
        return semaphore

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def fetch(self, url: str, validators: Validators | None = None) -> FetchResult:
        """GET ``url``; 304 or an unchanged body gives ``not_modified=True`` and no body.

        Raises FetchError (never anything else) on any failure.
        """
        validators = validators or Validators()
        headers: dict[str, str] = {}
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        started = time.monotonic()
        try:
            # The host slot first: waiting for a busy host must not hold a global slot.
            async with self._host_semaphore(url), self._global:
                async with asyncio.timeout(self.settings.timeout):
                    result = await self._get(url, headers, validators)
        except FetchError:
            raise
        except TimeoutError:
            raise FetchTimeout(
                f"timed out: no complete response within {self.settings.timeout:g} s"
            ) from None
        except httpx.UnsupportedProtocol as exc:
            raise NetworkError(f"unsupported address: {exc}") from None
        except httpx.InvalidURL as exc:
            raise NetworkError(f"invalid address (perhaps in a redirect): {exc}") from None
        except httpx.ConnectTimeout:
            raise FetchTimeout(
                f"connection timed out after {self.settings.connect_timeout:g} s") from None
        except httpx.TimeoutException:
            raise FetchTimeout(f"server stopped responding (read timeout "
                               f"{self.settings.timeout:g} s)") from None
        except httpx.ConnectError as exc:
            raise NetworkError(_describe_connect_error(exc, url)) from None
        except (httpx.DecodingError, zlib.error):
            raise NetworkError("the response body could not be decompressed (corrupt gzip/deflate)"
                               ) from None
        except (httpx.RemoteProtocolError, httpx.LocalProtocolError) as exc:
            raise NetworkError(f"protocol error: {exc or 'server closed the connection'}"
                               ) from None
        except httpx.HTTPError as exc:
            raise NetworkError(f"{type(exc).__name__}: {exc}") from None
        except (OSError, ValueError) as exc:
            raise NetworkError(f"request failed: {exc}") from None
        return FetchResult(**{**result, "elapsed": time.monotonic() - started})

    async def _get(self, url: str, headers: dict[str, str],
                   validators: Validators) -> dict[str, object]:
        seen = [url]
        while True:
            async with self._client.stream("GET", url, headers=headers) as response:
                status = response.status_code
                location = response.headers.get("location")
                if status in REDIRECT_STATUSES and location:
                    url = _next_hop(url, location, seen)
                    await _drain(response)
                    continue
                return await self._read(response, validators)

    async def _read(self, response: httpx.Response, validators: Validators) -> dict[str, object]:
        final_url = str(response.url)
        status = response.status_code
        if status == 304:
            await _drain(response)  # (no body: this lets the connection go back to the pool)
            return {"url": final_url, "status": 304, "not_modified": True,
                    "etag": validators.etag, "last_modified": validators.last_modified,
                    "body_hash": validators.body_hash}
        if status >= 400:
            raise _status_error(response)
        if status >= 300:
            raise NetworkError(f"HTTP {status} redirect without a usable Location header")
        limit = self.settings.max_bytes
        stages = _decoders(response.headers.get("content-encoding", ""))
        declared = response.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise TooLargeError(f"response too large: {_size(int(declared))} declared, "
                                f"limit is {_size(limit)}")
        # Decoded here, not by httpx: httpx inflates each network chunk in one go, so a
        # 16 KB chunk of a gzip bomb becomes 16 MB in memory before any cap can look at it.
        # Each step here produces at most DECODE_PIECE bytes and the cap is checked after
        # every step, so memory stays within the cap whatever the compression ratio.
        chunks: list[bytes] = []
        size = 0
        raw_size = 0
        async for raw in response.aiter_raw():
            raw_size += len(raw)
            if raw_size > limit:
                raise TooLargeError(f"response too large: over {_size(limit)}, download aborted")
            pieces: Iterable[bytes] = (raw,)
            for stage in stages:
                pieces = stage.feed(pieces)
            for piece in pieces:
                size += len(piece)
                if size > limit:
                    raise TooLargeError(f"response too large: over {_size(limit)} "
                                        "(after decompression), download aborted")
                chunks.append(piece)
        body = b"".join(chunks)
        digest = hashlib.sha256(body).hexdigest()
        resp_headers = {k.lower(): v for k, v in response.headers.items()}
        result: dict[str, object] = {
            "url": final_url, "status": status, "headers": resp_headers,
            "etag": response.headers.get("etag"),
            "last_modified": response.headers.get("last-modified"),
            "body_hash": digest,
        }
        if validators.body_hash == digest:
            result["not_modified"] = True
        else:
            result["body"] = body
        return result


def _next_hop(url: str, location: str, seen: list[str]) -> str:
    """The URL a redirect points to, or FetchError for loops, long chains, odd schemes."""
    try:
        target = urljoin(url, location.strip())
        parts = urlsplit(target)
    except ValueError:
        raise NetworkError(f"redirected to an invalid address: {location[:200]!r}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        shown = target if len(target) <= 100 else target[:99] + "…"
        raise NetworkError(f"redirected to a non-http address, not followed: {shown!r}")
    if target in seen:
        raise NetworkError(f"redirect loop: {target} redirects back to itself "
                           f"after {len(seen) - seen.index(target)} step(s)")
    if len(seen) > MAX_REDIRECTS:
        raise NetworkError(f"too many redirects (more than {MAX_REDIRECTS}), last to {target}")
    seen.append(target)
    return target


class _Inflate:
    """gzip or deflate, decoded in bounded steps; handles multi-member gzip and raw deflate."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._wbits = zlib.MAX_WBITS | 32 if encoding != "deflate" else zlib.MAX_WBITS
        self._d = zlib.decompressobj(self._wbits)
        self._started = False

    def feed(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        for data in pieces:
            while data:
                try:
                    out = self._d.decompress(data, DECODE_PIECE)
                except zlib.error:
                    if self.encoding != "deflate" or self._started:
                        raise
                    # "deflate" sent as a raw stream without the zlib header (common)
                    self._wbits = -zlib.MAX_WBITS
                    self._d = zlib.decompressobj(self._wbits)
                    out = self._d.decompress(data, DECODE_PIECE)
                self._started = True
                if out:
                    yield out
                if self._d.eof:  # another gzip member may follow
                    data = self._d.unused_data
                    self._d = zlib.decompressobj(self._wbits)
                    self._started = False
                    if data.strip(b"\0") == b"":
                        data = b""
                else:
                    data = self._d.unconsumed_tail


def _decoders(content_encoding: str) -> list[_Inflate]:
    """One decoder per listed encoding, in the order they must be undone."""
    names = [n.strip().lower() for n in content_encoding.split(",") if n.strip()]
    stages = []
    for name in reversed(names):
        if name in ("identity", ""):
            continue
        if name in ("gzip", "x-gzip", "deflate"):
            stages.append(_Inflate("deflate" if name == "deflate" else "gzip"))
        else:
            raise NetworkError(f"the server used a compression we did not ask for and cannot "
                               f"read ({name})")
    if len(stages) > 3:
        raise NetworkError(f"the response is compressed {len(stages)} times over; refused")
    return stages


_REASONS = {
    401: "authentication required",
    403: "access forbidden",
    404: "not found",
    410: "gone: the server says this source was removed for good",
    429: "too many requests: the server is rate-limiting us",
    500: "server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


def _status_error(response: httpx.Response) -> HTTPStatusError:
    status = response.status_code
    reason = _REASONS.get(status) or response.reason_phrase or "error"
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    message = f"HTTP {status} {reason}"
    if retry_after is not None:
        message += f" (Retry-After {retry_after:.0f} s)"
    return HTTPStatusError(message, status=status, retry_after=retry_after,
                           permanent=status == 410)


def _describe_connect_error(exc: httpx.ConnectError, url: str) -> str:
    host = urlsplit(url).hostname or url
    text = str(exc)
    # httpcore wraps the real cause ("All connection attempts failed"); look underneath.
    cause: BaseException | None = exc
    for _ in range(10):
        if cause is None:
            break
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused by {host}"
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed for {host}"
        cause = cause.__cause__ or cause.__context__
    lowered = text.lower()
    if any(s in lowered for s in ("name or service not known", "nodename nor servname",
                                  "temporary failure in name resolution", "getaddrinfo",
                                  "no address associated", "name resolution")):
        return f"DNS lookup failed for {host}"
    if "refused" in lowered:
        return f"connection refused by {host}"
    if "ssl" in lowered or "certificate" in lowered:
        return f"TLS error with {host}: {text}"
    return f"cannot connect to {host}: {text or type(exc).__name__}"


def utcnow() -> datetime:
    return datetime.now(UTC)

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
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from . import __version__
from .config import FetchSettings
from .model import FetchResult

USER_AGENT = f"feedwatch/{__version__} (+https://github.com/feedwatch/feedwatch)"
MAX_REDIRECTS = 5
MAX_RETRY_AFTER = 6 * 3600.0


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
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return min(max(0.0, when.timestamp() - now), MAX_RETRY_AFTER)


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


class Fetcher:
    """Fetches URLs politely; one instance per process, shared by every source."""

    def __init__(self, settings: FetchSettings | None = None, *,
                 transport: httpx.AsyncBaseTransport | None = None,
                 host_limits: dict[str, int] | None = None) -> None:
        self.settings = settings or FetchSettings()
        s = self.settings
        self._client = httpx.AsyncClient(
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            timeout=httpx.Timeout(s.timeout, connect=s.connect_timeout),
            limits=httpx.Limits(max_connections=s.concurrency * 2,
                                max_keepalive_connections=s.concurrency),
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
            async with self._global, self._host_semaphore(url):
                async with asyncio.timeout(self.settings.timeout):
                    result = await self._get(url, headers, validators)
        except FetchError:
            raise
        except TimeoutError:
            raise FetchTimeout(
                f"timed out: no complete response within {self.settings.timeout:g} s"
            ) from None
        except httpx.TooManyRedirects:
            raise NetworkError(f"too many redirects (more than {MAX_REDIRECTS}) or a redirect loop"
                               ) from None
        except httpx.UnsupportedProtocol as exc:
            raise NetworkError(f"redirected to an unsupported address: {exc}") from None
        except httpx.ConnectTimeout:
            raise FetchTimeout(
                f"connection timed out after {self.settings.connect_timeout:g} s") from None
        except httpx.TimeoutException:
            raise FetchTimeout(f"server stopped responding (read timeout "
                               f"{self.settings.timeout:g} s)") from None
        except httpx.ConnectError as exc:
            raise NetworkError(_describe_connect_error(exc, url)) from None
        except httpx.DecodingError:
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
        async with self._client.stream("GET", url, headers=headers) as response:
            final_url = str(response.url)
            status = response.status_code
            if status == 304:
                return {"url": final_url, "status": 304, "not_modified": True,
                        "etag": validators.etag, "last_modified": validators.last_modified,
                        "body_hash": validators.body_hash}
            if status >= 400:
                raise _status_error(response)
            if status >= 300:
                raise NetworkError(f"HTTP {status} redirect without a usable Location header")
            limit = self.settings.max_bytes
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise TooLargeError(f"response too large: {_size(int(declared))} declared, "
                                    f"limit is {_size(limit)}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise TooLargeError(f"response too large: over {_size(limit)} "
                                        "(after decompression), download aborted")
                chunks.append(chunk)
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

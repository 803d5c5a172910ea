"""Topic files (TOML) → :class:`Topic`, with errors that name the file, line and key.

tomllib gives no positions, so a light scan of the raw text maps each table and key back to
its line; that is enough to point a person at the line to fix.
"""

from __future__ import annotations

import os
import re
import tomllib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from .model import SourceKind

APP = "feedwatch"
DEFAULT_INTERVAL = 60.0
DEFAULT_TELEGRAM_BASE = "https://t.me"
ENV_CONFIG = "FEEDWATCH_CONFIG"
ENV_DB = "FEEDWATCH_DB"
ENV_LOG = "FEEDWATCH_LOG"
ENV_TELEGRAM_BASE = "FEEDWATCH_TELEGRAM_BASE_URL"


class ConfigError(Exception):
    """One or more problems in a topic file; ``str()`` lists them as ``file:line: message``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class SourceSpec:
    name: str
    kind: SourceKind
    url: str  # the URL polled: the feed, or <base>/s/<channel> for Telegram
    interval: float
    enabled: bool = True
    channel: str | None = None
    query: str | None = None
    backfill: int = 0  # Telegram: posts to read on the first poll (0 = latest page only)
    line: int = 0  # where it was declared, for messages


@dataclass(frozen=True, slots=True)
class FetchSettings:
    timeout: float = 20.0  # total time for one request, redirects and body included
    connect_timeout: float = 10.0
    max_bytes: int = 10 * 1024 * 1024
    concurrency: int = 16
    per_host: int = 2
    max_backoff: float = 3600.0
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class DedupeConfig:
    window: float = 6 * 3600.0
    threshold: float | None = None  # None: dedupe.py's tuned default
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    sources: tuple[SourceSpec, ...]
    query: str = ""
    alert: str = ""
    mute: str = ""
    require: str = ""  # ingest-time filter: entries not matching are dropped
    interval: float = DEFAULT_INTERVAL
    since: datetime | None = None
    bell: bool = False
    telegram_base_url: str = DEFAULT_TELEGRAM_BASE
    dedupe: DedupeConfig = field(default_factory=DedupeConfig)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    path: Path | None = None

    def source(self, name: str) -> SourceSpec | None:
        return next((s for s in self.sources if s.name == name), None)

    @property
    def enabled_sources(self) -> tuple[SourceSpec, ...]:
        return tuple(s for s in self.sources if s.enabled)


# --- paths -------------------------------------------------------------------------------


def default_config_path() -> Path:
    env = os.environ.get(ENV_CONFIG)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def default_db_path() -> Path:
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP)) / "feedwatch.db"


def default_log_path() -> Path:
    env = os.environ.get(ENV_LOG)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_log_dir(APP)) / "feedwatch.log"


# --- values ------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3,
               "gb": 1024**3}


def parse_duration(value: object) -> float:
    """'45s', '2m', '1h30m', '1.5h' or a number of seconds → seconds (> 0)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like \"45s\" or \"2m\", got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        pos, seconds = 0, 0.0
        for m in _DURATION.finditer(text):
            if m.start() != pos:
                break
            seconds += float(m.group(1)) * _UNITS[m.group(2).lower()]
            pos = m.end()
        if not text or pos != len(text):
            raise ValueError(f"bad duration {value!r} (use e.g. \"45s\", \"2m\", \"1h30m\")")
    else:
        raise ValueError(f"expected a duration like \"45s\" or \"2m\", got {value!r}")
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {value!r}")
    return seconds


def parse_size(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"bad size {value!r} (use e.g. \"10MB\")")
    return int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()])


def check_http_url(url: object) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValueError("url must be a non-empty string")
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"url must start with http:// or https://, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"url has no host: {url!r}")
    return url


def _parse_since(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"bad date {value!r} (use ISO 8601, e.g. 2025-06-02T10:00:00+03:00)") from None
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    raise ValueError(f"bad date {value!r}")


# --- line lookup -------------------------------------------------------------------------


class _Lines:
    """Maps TOML tables and keys to the line that defines them."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')\s*=")

    def __init__(self, text: str) -> None:
        # (table name, array index or None, header line, {key: line})
        self.tables: list[tuple[str, int | None, int, dict[str, int]]] = [("", None, 0, {})]
        counts: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._HEADER.match(line)
            if header:
                name = header.group(2).strip().strip("\"'")
                index = None
                if header.group(1) == "[[":
                    index = counts.get(name, 0)
                    counts[name] = index + 1
                self.tables.append((name, index, number, {}))
                continue
            key = self._KEY.match(line)
            if key:
                self.tables[-1][3].setdefault(key.group(1).strip("\"'"), number)

    def line(self, table: str, index: int | None = None, key: str | None = None) -> int:
        for name, idx, header_line, keys in self.tables:
            if name == table and idx == index:
                if key is not None and key in keys:
                    return keys[key]
                return header_line
        return 0


# --- loading -----------------------------------------------------------------------------

_TOPIC_KEYS = {"name", "query", "alert", "mute", "require", "interval", "since", "bell"}
_SOURCE_KEYS = {"name", "url", "telegram", "interval", "enabled", "query", "backfill"}
_FETCH_KEYS = {"timeout", "connect_timeout", "max_size", "concurrency", "per_host",
               "max_backoff", "user_agent"}  # fmt: skip
_DEDUPE_KEYS = {"window", "threshold", "enabled"}
_TELEGRAM_KEYS = {"base_url"}
_TOP_KEYS = {"topic", "source", "fetch", "dedupe", "telegram"}


class _Collector:
    def __init__(self, where: str, lines: _Lines) -> None:
        self.where = where
        self.lines = lines
        self._found: list[tuple[int, str]] = []

    def add(self, line: int, message: str) -> None:
        """A problem at ``line``; 0: about the whole file (no line to name)."""
        at = f":{line}" if line > 0 else ""
        self._found.append((line, f"{self.where}{at}: {message}"))

    @property
    def problems(self) -> list[str]:
        """In the file's order (they are found table by table)."""
        return [text for _, text in sorted(self._found, key=lambda found: found[0])]

    def unknown_keys(self, table: dict[str, Any], allowed: set[str], name: str,
                     index: int | None = None) -> None:
        label = f"[[{name}]]" if index is not None else f"[{name}]"
        for key in table:
            if key not in allowed:
                hint = ", ".join(sorted(allowed))
                self.add(self.lines.line(name, index, key),
                         f"unknown key {key!r} in {label} (known keys: {hint})")

    def value(self, table: dict[str, Any], key: str, convert: Any, default: Any,
              name: str, index: int | None = None) -> Any:
        if key not in table:
            return default
        try:
            return convert(table[key])
        except (ValueError, TypeError) as exc:
            self.add(self.lines.line(name, index, key), f"{key}: {exc}")
            return default


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _name(value: object) -> str:
    """A source's name: shown on screen and kept with its updates, so no control characters
    (a NUL or an escape sequence could never be shown, nor always stored, as written)."""
    name = _str(value)
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise ValueError(f"a source name must not contain control characters: {name!r}")
    return name


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _positive_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    return value


def _threshold(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ValueError(f"expected a number between 0 and 1, got {value!r}")
    return float(value)


def load_topic(path: str | os.PathLike[str], *, telegram_base_url: str | None = None) -> Topic:
    """Read and validate a topic file. Raises ConfigError listing every problem found."""
    path = Path(path)
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError([f"{where}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{where}: cannot read: {exc}"]) from None
    return parse_topic(text, where=where, path=path, telegram_base_url=telegram_base_url)


def parse_topic(text: str, *, where: str = "<config>", path: Path | None = None,
                telegram_base_url: str | None = None) -> Topic:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = m.group(1) if m else "0"
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        col = f" (column {m.group(2)})" if m else ""
        raise ConfigError([f"{where}:{line}: invalid TOML: {message}{col}"]) from None

    lines = _Lines(text)
    c = _Collector(where, lines)
    for key in data:
        if key not in _TOP_KEYS:
            c.add(lines.line(key) or lines.line("", None, key),
                  f"unknown table or key {key!r} (known: {', '.join(sorted(_TOP_KEYS))})")

    topic = data.get("topic", {})
    if not isinstance(topic, dict):
        c.add(lines.line("", None, "topic"), "'topic' must be a table: [topic]")
        topic = {}
    c.unknown_keys(topic, _TOPIC_KEYS, "topic")
    name = c.value(topic, "name", _str, "feedwatch", "topic")
    interval = c.value(topic, "interval", parse_duration, DEFAULT_INTERVAL, "topic")
    queries = {k: c.value(topic, k, _str, "", "topic")
               for k in ("query", "alert", "mute", "require")}
    for key, q in queries.items():
        _check_query(c, q, lines.line("topic", None, key), key)
    since = c.value(topic, "since", _parse_since, None, "topic")
    bell = c.value(topic, "bell", _bool, False, "topic")

    fetch_t = _table(data, "fetch", c, lines)
    c.unknown_keys(fetch_t, _FETCH_KEYS, "fetch")
    d = FetchSettings()
    fetch = FetchSettings(
        timeout=c.value(fetch_t, "timeout", parse_duration, d.timeout, "fetch"),
        connect_timeout=c.value(fetch_t, "connect_timeout", parse_duration, d.connect_timeout,
                                "fetch"),
        max_bytes=c.value(fetch_t, "max_size", parse_size, d.max_bytes, "fetch"),
        concurrency=max(1, c.value(fetch_t, "concurrency", _positive_int, d.concurrency, "fetch")),
        per_host=max(1, c.value(fetch_t, "per_host", _positive_int, d.per_host, "fetch")),
        max_backoff=c.value(fetch_t, "max_backoff", parse_duration, d.max_backoff, "fetch"),
        user_agent=c.value(fetch_t, "user_agent", _str, None, "fetch"),
    )

    dedupe_t = _table(data, "dedupe", c, lines)
    c.unknown_keys(dedupe_t, _DEDUPE_KEYS, "dedupe")
    dedupe = DedupeConfig(
        window=c.value(dedupe_t, "window", parse_duration, DedupeConfig().window, "dedupe"),
        threshold=c.value(dedupe_t, "threshold", _threshold, None, "dedupe"),
        enabled=c.value(dedupe_t, "enabled", _bool, True, "dedupe"),
    )

    tg_t = _table(data, "telegram", c, lines)
    c.unknown_keys(tg_t, _TELEGRAM_KEYS, "telegram")
    base = c.value(tg_t, "base_url", check_http_url, DEFAULT_TELEGRAM_BASE, "telegram")
    base = (telegram_base_url or os.environ.get(ENV_TELEGRAM_BASE) or base).rstrip("/")

    sources = list(_sources(data, c, lines, interval, base))
    if not sources and not c.problems:
        c.add(0, "no sources: add at least one [[source]] with url = \"…\" or telegram = \"…\"")
    if c.problems:
        raise ConfigError(c.problems)
    return Topic(
        name=name, sources=tuple(sources), interval=interval, since=since, bell=bell,
        telegram_base_url=base, dedupe=dedupe, fetch=fetch, path=path, **queries,
    )


def _table(data: dict[str, Any], name: str, c: _Collector, lines: _Lines) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        c.add(lines.line("", None, name), f"'{name}' must be a table: [{name}]")
        return {}
    return value


def _check_query(c: _Collector, text: str, line: int, key: str) -> None:
    if not text:
        return
    from .query import QueryError, parse

    try:
        parse(text)
    except QueryError as exc:
        c.add(line, f"{key}: {exc.message} at column {exc.column}")


def _sources(data: dict[str, Any], c: _Collector, lines: _Lines, interval: float,
             base: str) -> Iterator[SourceSpec]:
    from .sources.telegram import channel_from_spec

    raw = data.get("source", [])
    if not isinstance(raw, list):
        c.add(lines.line("source") or lines.line("", None, "source"),
              "sources must be declared as [[source]] tables")
        return
    seen_names: dict[str, int] = {}
    seen_urls: dict[str, int] = {}
    for index, table in enumerate(raw):
        line = lines.line("source", index)
        c.unknown_keys(table, _SOURCE_KEYS, "source", index)
        has_url, has_tg = "url" in table, "telegram" in table
        if has_url == has_tg:
            c.add(line, "a [[source]] needs exactly one of url = \"…\" or telegram = \"…\"")
            continue
        channel = None
        if has_tg:
            kind = SourceKind.TELEGRAM
            channel = c.value(table, "telegram", lambda v: channel_from_spec(_str(v)), None,
                              "source", index)
            if channel is None:
                continue
            url = f"{base}/s/{channel}"
            default_name = f"@{channel}"
        else:
            kind = SourceKind.FEED
            url = c.value(table, "url", check_http_url, None, "source", index)
            if url is None:
                continue
            default_name = urlsplit(url).hostname or url
        name = c.value(table, "name", _name, default_name, "source", index).strip() or default_name
        identity = channel.lower() if channel else url
        if identity in seen_urls:
            c.add(lines.line("source", index, "telegram" if has_tg else "url"),
                  f"duplicate source: {identity} is already defined at line {seen_urls[identity]}")
            continue
        seen_urls[identity] = line
        if name in seen_names:
            if "name" in table:
                c.add(lines.line("source", index, "name"),
                      f"duplicate source name {name!r} (first used at line {seen_names[name]})")
                continue
            name = _unique_name(name, url, seen_names)
        seen_names[name] = line
        query = c.value(table, "query", _str, None, "source", index)
        if query:
            _check_query(c, query, lines.line("source", index, "query"), "query")
        yield SourceSpec(
            name=name, kind=kind, url=url, channel=channel, line=line,
            interval=c.value(table, "interval", parse_duration, interval, "source", index),
            enabled=c.value(table, "enabled", _bool, True, "source", index),
            query=query or None,
            backfill=c.value(table, "backfill", _positive_int, 0, "source", index),
        )


def _unique_name(name: str, url: str, taken: dict[str, int]) -> str:
    path = urlsplit(url).path.strip("/")
    candidate = f"{name}/{path}" if path else name
    n = 2
    while candidate in taken:
        candidate = f"{name} #{n}"
        n += 1
    return candidate

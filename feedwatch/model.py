"""Typed records that cross module borders.

Parsers produce :class:`Entry`; the store turns them into :class:`Update`; the engine wraps
updates in :class:`UpdateEvent` for the views. All are frozen: a record once built is a fact.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class SourceKind(enum.StrEnum):
    FEED = "feed"
    TELEGRAM = "telegram"


@dataclass(frozen=True, slots=True)
class Entry:
    """One item as a parser read it from a source, before storage.

    ``key`` identifies the item within its source (guid, else canonical link, else a hash of
    normalized text) so that a re-fetch of the same item is recognised as the same item.
    """

    key: str
    title: str
    text: str
    url: str | None = None
    published: datetime | None = None  # timezone-aware, as the source claims
    author: str | None = None
    lang: str | None = None
    # Telegram-style extras; empty for ordinary feeds.
    views: int | None = None
    forwarded_from: str | None = None  # display name of the origin
    forwarded_url: str | None = None  # permalink of the origin post: an exact-duplicate key
    reply_to: str | None = None  # permalink of the post replied to
    media: tuple[str, ...] = ()  # short markers such as "photo", "video"
    edited: bool = False  # the source itself marks the item as edited


@dataclass(frozen=True, slots=True)
class Update:
    """A stored item: an Entry with identity, times and its cluster."""

    id: int
    source: str  # source name, unique within a topic
    key: str
    published: datetime  # the time the stream is ordered by (sane published, else first_seen)
    first_seen: datetime
    title: str
    text: str
    url: str | None
    cluster: int  # id of the cluster's headline update; == id for a headline
    revision: int = 1
    lang: str | None = None
    author: str | None = None
    views: int | None = None
    forwarded_from: str | None = None
    forwarded_url: str | None = None
    media: tuple[str, ...] = ()
    sources_in_cluster: int = 1

    @property
    def edited(self) -> bool:
        return self.revision > 1

    @property
    def is_headline(self) -> bool:
        return self.cluster == self.id


class EventKind(enum.StrEnum):
    NEW = "new"  # a new update that starts its own cluster
    JOINED = "joined"  # a new update that joined an existing cluster
    EDITED = "edited"  # a stored update whose content changed


@dataclass(frozen=True, slots=True)
class UpdateEvent:
    kind: EventKind
    update: Update


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one HTTP fetch produced. ``body`` is None for 304 or for an unchanged body."""

    url: str  # final URL after redirects
    status: int
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    not_modified: bool = False  # 304, or the body hash matched the previous one
    elapsed: float = 0.0


class Health(enum.StrEnum):
    NEW = "new"  # never polled
    OK = "ok"
    FAILING = "failing"
    DISABLED = "disabled"  # e.g. 410 Gone, or switched off in config


@dataclass(frozen=True, slots=True)
class SourceState:
    """Persistent polling state of one source, kept by the store."""

    source: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_ok: datetime | None = None
    last_attempt: datetime | None = None
    last_error: str | None = None
    failures: int = 0  # consecutive
    next_due: datetime | None = None
    disabled_reason: str | None = None
    cursor: str | None = None  # source-specific resume point (e.g. last Telegram post id)
    items: int = 0
    # The server asked us to wait (429/503 with Retry-After) until then; `once` honours it too.
    retry_until: datetime | None = None
    # What the last read of the source had to work around (not well-formed XML, a wrong
    # charset …): its items came through, so the source is ok, but its owner should know.
    warning: str | None = None

    @property
    def health(self) -> Health:
        if self.disabled_reason:
            return Health.DISABLED
        if self.failures:
            return Health.FAILING
        if self.last_ok is None:
            return Health.NEW
        return Health.OK

"""The stream's data, free of Textual: one mutable Row per cluster, kept in time order.

Rows are ordered newest first by (published, id), the store's order, so a late-arriving
older item bisects into its place instead of landing on top.
"""

from __future__ import annotations

import bisect
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from ..model import Update

Span = tuple[str, int, int]  # (field, start, end) into the original strings


@dataclass(slots=True, eq=False)
class Row:
    """A cluster as the stream shows it: its headline plus what the user has seen of it."""

    update: Update  # the cluster's headline
    sources: int = 1  # distinct sources that reported it
    unread: bool = False  # arrived live and not looked at yet
    updated: bool = False  # another source joined, or a member was edited, since last read
    version: int = 0  # bumped on every change; part of the render cache key
    alerted: bool = False
    ts: float = 0.0
    # another report of the story (not the headline) matches the filter: shown for it
    member_match: bool = False

    def __post_init__(self) -> None:
        self.ts = self.update.published.timestamp()
        self.sources = max(self.sources, self.update.sources_in_cluster)

    @property
    def id(self) -> int:
        return self.update.cluster

    @property
    def key(self) -> tuple[float, int]:
        return row_key(self)

    def touch(self) -> None:
        self.version += 1

    def mark_read(self) -> bool:
        """Clear unread/updated; True when something changed."""
        if self.unread or self.updated:
            self.unread = self.updated = False
            self.version += 1
            return True
        return False


def row_key(row: Row) -> tuple[float, int]:
    """Newest-first sort key of a row (for ``sorted``/``bisect``)."""
    return (-row.ts, -row.update.id)


_key = row_key


class RowList:
    """A list of rows kept in newest-first order, with bisect insertion and lookup."""

    __slots__ = ("rows",)

    def __init__(self, rows: Iterable[Row] = ()) -> None:
        self.rows: list[Row] = sorted(rows, key=_key)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __getitem__(self, index: int) -> Row:
        return self.rows[index]

    def position(self, row: Row) -> int:
        """Where ``row`` is or would be inserted."""
        return bisect.bisect_left(self.rows, row.key, key=_key)

    def index(self, row: Row) -> int | None:
        i = self.position(row)
        if i < len(self.rows) and self.rows[i] is row:
            return i
        return None

    def insert(self, row: Row) -> int:
        i = self.position(row)
        self.rows.insert(i, row)
        return i

    def remove(self, row: Row) -> int | None:
        i = self.index(row)
        if i is not None:
            del self.rows[i]
        return i


class History:
    """Every headline the app knows of, by cluster id and in time order."""

    def __init__(self) -> None:
        self.by_cluster: dict[int, Row] = {}
        self.ordered = RowList()
        self.version = 0  # bumped by every change: a pass over a snapshot can tell it is stale
        self.touched: set[int] = set()  # rows changed in place since a pass started

    def changed(self, row: Row) -> None:
        """Note a change made to a row in place (its headline edited, another report matching
        live) that a pass over a snapshot must judge afresh."""
        self.version += 1
        self.touched.add(row.id)

    def __len__(self) -> int:
        return len(self.by_cluster)

    def get(self, cluster: int) -> Row | None:
        return self.by_cluster.get(cluster)

    def add(self, row: Row) -> None:
        if row.id in self.by_cluster:
            return
        self.by_cluster[row.id] = row
        self.ordered.insert(row)
        self.version += 1

    def discard(self, row: Row) -> None:
        """Forget a story (its only report moved into another story)."""
        if self.by_cluster.get(row.id) is row:
            del self.by_cluster[row.id]
            self.ordered.remove(row)
            self.version += 1

    def replace(self, by_cluster: dict[int, Row], ordered: list[Row]) -> None:
        """Adopt a complete, already ordered snapshot (built by the caller in slices)."""
        self.by_cluster = by_cluster
        self.ordered = RowList()
        self.ordered.rows = ordered
        self.version += 1

    def rows(self) -> list[Row]:
        return self.ordered.rows


# --- display helpers ---------------------------------------------------------------------

_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


@dataclass(frozen=True, slots=True)
class Flat:
    """Display text plus maps from original offsets to display offsets."""

    text: str
    starts: list[int] | None  # original offset → display offset of the next kept character
    ends: list[int] | None  # original → display offset just after the previous kept one

    def span(self, start: int, end: int) -> tuple[int, int]:
        if self.starts is None or self.ends is None:  # nothing was dropped: identity
            return start, end
        return self.starts[start], self.ends[end]


def flatten(text: str, *, keep_newlines: bool = False) -> Flat:
    """Untrusted text → inert display text, with offset maps for highlight spans.

    Controls and format characters are dropped and whitespace runs collapse to one space
    (or at most one blank line when newlines are kept), so spans computed on the stored
    text still land on the right characters.
    """
    if text.isprintable() and "  " not in text and not text.startswith(" ") \
            and not text.endswith(" "):
        return Flat(text, None, None)  # the common case: already clean, one line
    out: list[str] = []
    n = 0
    starts = [-1] * (len(text) + 1)
    ends = [0] * (len(text) + 1)
    pending_space = False
    pending_newlines = 0
    for i, ch in enumerate(text):
        ends[i] = n
        if ch == "\n" and keep_newlines:
            pending_newlines += 1
            continue
        if ch.isspace():
            pending_space = True
            continue
        if ch == "\x1b" or unicodedata.category(ch) in _INVISIBLE:
            continue
        if n:
            sep = "\n" * min(pending_newlines, 2) if pending_newlines else \
                " " if pending_space else ""
            if sep:
                out.append(sep)
                n += len(sep)
        pending_space = False
        pending_newlines = 0
        starts[i] = n
        out.append(ch)
        n += 1
    starts[len(text)] = n
    ends[len(text)] = n
    for i in range(len(text) - 1, -1, -1):
        if starts[i] < 0:
            starts[i] = starts[i + 1]
    return Flat("".join(out), starts, ends)


def headline_text(update: Update, limit: int = 400) -> tuple[str, int, str]:
    """What a row shows, as (field, offset, piece): the title, else the text's first line,
    else the media markers (a photo-only post)."""
    if update.title.strip():
        return "title", 0, update.title[: limit * 2]
    offset = 0
    for line in update.text.split("\n"):
        if line.strip():
            return "text", offset, line[: limit * 2]
        offset += len(line) + 1
    if update.media:
        return "media", 0, "[" + ", ".join(update.media) + "]"
    return "text", 0, ""


def spans_for(spans: Iterable[Span], field_name: str, offset: int, flat: Flat,
              length: int) -> list[tuple[int, int]]:
    """Highlight spans of one field, clipped to a slice at ``offset`` and mapped to display."""
    out = []
    for fname, start, end in spans:
        if fname != field_name:
            continue
        start, end = max(start - offset, 0), min(end - offset, length)
        if end <= start:
            continue
        a, b = flat.span(start, end)
        if b > a:
            out.append((a, b))
    return out


def local(dt: datetime, tz: tzinfo | None) -> datetime:
    return dt.astimezone(tz)


DATE_WIDTH = 7  # "02 Jun " — shown on the first row of each day and on the top line


def day_label(moment: datetime, today: date) -> str:
    """'today' or '02 Jun', padded to the date column's width."""
    label = "today" if moment.date() == today else moment.strftime("%d %b")
    return label.ljust(DATE_WIDTH)


def full_time(dt: datetime, tz: tzinfo | None) -> str:
    return local(dt, tz).strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def ago(then: datetime | None, now: datetime) -> str:
    """A short relative time: 'now', '5s ago', '3m ago', 'in 2h', '4d ago'."""
    if then is None:
        return "never"
    seconds = (now - then).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 1:
        return "now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m"), (1, "s")):
        if seconds >= size:
            amount = f"{int(seconds // size)}{unit}"
            return f"in {amount}" if future else f"{amount} ago"
    return "now"


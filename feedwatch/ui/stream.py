"""The stream: one line per cluster, rendered with the line API so 100k rows cost nothing.

Only the lines on screen are built (and cached). Live inserts keep the reader's place: when
the view is scrolled away from the top, or the cursor is not on the newest row, the scroll
offset moves with the insert so what the reader is looking at stays put, and the rows that
arrived above are counted instead ("▲ N new").
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Sequence
from datetime import date, tzinfo

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..model import Update
from .rows import (
    DATE_WIDTH,
    Row,
    RowList,
    Span,
    day_label,
    flatten,
    headline_text,
    spans_for,
)

Highlighter = Callable[[Update], list[Span]]
AlertCheck = Callable[[Update], bool]
BADGE_COLOURS = 8
MAX_BADGE = 18
MIN_BADGE = 6
FIXED_WIDTH = 2 + DATE_WIDTH + 6 + 5  # mark, date, "HH:MM ", " +N  "


def _no_spans(_: Update) -> list[Span]:
    return []


def _no_alert(_: Update) -> bool:
    return False


SLIDE_GRACE = 1.0  # seconds: quicker than a reader notices the row under the cursor change


class StreamView(ScrollView, can_focus=True):
    """A virtualised, cursor-driven list of rows, newest first."""

    BINDINGS: list[BindingType] = [  # noqa: RUF012 - Textual's idiom
        Binding("j,down", "cursor_down", "Down", show=False),
        Binding("k,up", "cursor_up", "Up", show=False),
        Binding("g,home", "first", "Newest", show=False),
        Binding("G,end", "last", "Oldest", show=False),
        Binding("pagedown,space", "page_down", "Page down", show=False),
        Binding("pageup,b", "page_up", "Page up", show=False),
        Binding("enter", "select", "Story"),  # (its details; short: the footer fits)
    ]

    COMPONENT_CLASSES = {  # noqa: RUF012
        "stream--cursor", "stream--cursor-blur", "stream--unread", "stream--updated",
        "stream--date", "stream--time", "stream--count", "stream--count-updated",
        "stream--edited", "stream--match", "stream--alert", "stream--empty",
        *(f"stream--badge-{i}" for i in range(BADGE_COLOURS)),
    }

    cursor: reactive[int] = reactive(0, always_update=True, init=False, repaint=False)
    new_above: reactive[int] = reactive(0, init=False, repaint=False)

    class _ViewMessage(Message):
        """A message about this view (``control`` is the view, for ``@on`` selectors)."""

        def __init__(self, view: StreamView) -> None:
            super().__init__()
            self.view = view

        @property
        def control(self) -> StreamView:
            return self.view

    class Highlighted(_ViewMessage):
        """The cursor moved onto a row."""

        def __init__(self, view: StreamView, row: Row | None) -> None:
            super().__init__(view)
            self.row = row

    class Selected(_ViewMessage):
        """The user asked for a row's details (enter / double click)."""

        def __init__(self, view: StreamView, row: Row) -> None:
            super().__init__(view)
            self.row = row

    class NewAbove(_ViewMessage):
        """The count of rows that arrived above the viewport changed."""

        def __init__(self, view: StreamView, count: int) -> None:
            super().__init__(view)
            self.count = count

    def __init__(self, *, highlighter: Highlighter = _no_spans, is_alert: AlertCheck = _no_alert,
                 tz: tzinfo | None = None, today: Callable[[], date] | None = None,
                 sources: Sequence[str] = (), empty: str = "Nothing here yet.",
                 name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._rows = RowList()
        self.highlighter = highlighter
        self.is_alert = is_alert
        self.tz = tz
        self._today = today or date.today
        self._palette = {name: i % BADGE_COLOURS for i, name in enumerate(sources)}
        self.badge_width = min(max((cell_len(flatten(s).text) for s in sources), default=8),
                               MAX_BADGE)
        self.empty_text = empty
        self._cache: LRUCache[tuple[object, ...], Strip] = LRUCache(1024)
        self._generation = 0  # bumps when highlights or styles change for every row
        self._floor = 0  # minimum virtual height: room to keep the reader's place (see insert)
        self._base: Style | None = None
        self._styles: dict[tuple[str, str | None], Style] = {}
        self._days: LRUCache[Row, date] = LRUCache(4096)
        # False while the reader is busy with one row (its details are open): new arrivals
        # then count as "▲ N new" instead of sliding under the cursor.
        self.follow = True
        # (when, row): the newest row took the cursor from ``row`` (live mode); a key
        # pressed within SLIDE_GRACE of that meant ``row``, the one the reader was on
        self._slid: tuple[float, Row] | None = None

    # --- data (method calls down) ------------------------------------------------------

    @property
    def rows(self) -> RowList:
        return self._rows

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def current(self) -> Row | None:
        """The row under the cursor."""
        if 0 <= self.cursor < len(self._rows):
            return self._rows[self.cursor]
        return None

    def take_aim(self) -> Row | None:
        """The row a key acts on: the row under the cursor, unless a new row took the
        cursor a moment ago (live mode), faster than anyone reacts: then the row the reader
        was on, and the cursor goes back to it."""
        slid, self._slid = self._slid, None
        if slid is not None and time.monotonic() - slid[0] < SLIDE_GRACE:
            index = self._rows.index(slid[1])
            if index is not None:
                self.cursor = index
        return self.current

    @property
    def following(self) -> bool:
        """True while the reader sits on the newest row at the very top (live mode)."""
        return self.follow and self.scroll_offset.y == 0 and self.cursor == 0

    def set_rows(self, rows: Sequence[Row], *, presorted: bool = True) -> None:
        """Replace every row (a new filter), keeping the cursor on the same story when it is
        still there, else on its neighbour in time, at the same place on screen."""
        old = self.current
        screen_offset = self.cursor - self.scroll_offset.y
        was_following = self.following
        self._slid = None
        if presorted:
            self._rows = RowList()
            self._rows.rows = list(rows)
        else:
            self._rows = RowList(rows)
        self._generation += 1
        self._cache.clear()
        self._floor = 0
        cursor = 0
        if old is not None and not was_following and self._rows.rows:
            cursor = min(self._rows.position(old), len(self._rows) - 1)
        self._resize()
        self.set_reactive(StreamView.cursor, cursor)
        self.scroll_to(y=max(0, cursor - screen_offset) if not was_following else 0,
                       animate=False, force=True)
        self.new_above = 0
        self.refresh()
        self.post_message(self.Highlighted(self, self.current))

    def insert(self, row: Row) -> int:
        """Add a row at its place in time without moving what the reader is looking at."""
        top = self.scroll_offset.y
        following = self.following
        cursor_visible = top <= self.cursor < top + self.scrollable_content_region.height
        anchor = self.cursor if cursor_visible else top
        index = self._rows.insert(row)
        self._resize()
        if len(self._rows) == 1:
            self.set_reactive(StreamView.cursor, 0)
            self.post_message(self.Highlighted(self, row))
        elif following:
            # Live mode: stay on the newest row; a late item below just slides in.
            if index == 0:
                now = time.monotonic()
                slid = self._slid  # (several within the grace: the row the reader was on)
                aimed = slid[1] if slid and now - slid[0] < SLIDE_GRACE else self._rows[1]
                self._slid = (now, aimed)
                self.post_message(self.Highlighted(self, row))
        else:
            if index <= self.cursor:
                self.set_reactive(StreamView.cursor, self.cursor + 1)
            if index <= anchor:
                # Scroll with the insert. When the rows fit on screen there is no room to
                # scroll, so allow scrolling past the end rather than move the reader's row.
                needed = top + 1 + self.scrollable_content_region.height
                if needed > len(self._rows):
                    self._floor = needed
                    self._resize()
                self.scroll_to(y=top + 1, animate=False, force=True)
                if index <= top and self.scroll_offset.y > top:
                    self.new_above += 1
        self.refresh()
        return index

    def remove(self, row: Row) -> None:
        """Drop a row (its source was muted, or an edit no longer matches the filter)."""
        top = self.scroll_offset.y
        current = self.current
        index = self._rows.remove(row)
        if index is None:
            return
        self._resize()
        if index < self.cursor or (index == self.cursor and self.cursor >= len(self._rows)):
            self.set_reactive(StreamView.cursor, max(0, self.cursor - 1))
        if index < top:
            self.scroll_to(y=top - 1, animate=False, force=True)
        self.refresh()
        if current is row:
            self.post_message(self.Highlighted(self, self.current))

    def refresh_row(self, row: Row) -> None:
        """Repaint one row after it changed (count bumped, edited, read)."""
        index = self._rows.index(row)
        if index is not None:
            self.refresh_line(index)

    def restyle(self) -> None:
        """Repaint every row (the query's highlights changed)."""
        self._generation += 1
        self._cache.clear()
        self.refresh()

    def index_of(self, row: Row) -> int | None:
        return self._rows.index(row)

    def move_to(self, row: Row) -> None:
        index = self._rows.index(row)
        if index is not None:
            self.cursor = index

    def _resize(self) -> None:
        height = max(len(self._rows), self._floor)
        self.virtual_size = Size(self.scrollable_content_region.width, height)

    # --- cursor ------------------------------------------------------------------------

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self._rows) - 1)) if self._rows.rows else 0

    def watch_cursor(self, old: int, new: int) -> None:
        self._slid = None  # the reader moved: keys act on where they are now
        self.refresh_line(old)
        self.refresh_line(new)
        self._scroll_cursor_into_view()
        row = self.current
        if row is not None and row.mark_read():
            self.refresh_line(new)
        self.post_message(self.Highlighted(self, row))

    def watch_new_above(self, count: int) -> None:
        self.post_message(self.NewAbove(self, count))

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        top = round(new)
        if self.new_above > top:
            self.new_above = top
        if self._floor and top + self.scrollable_content_region.height < self._floor:
            self._floor = 0  # back within the rows: no more room past the end
            self.call_after_refresh(self._resize)

    def _scroll_cursor_into_view(self) -> None:
        height = self.scrollable_content_region.height
        top = self.scroll_offset.y
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, force=True)
        elif height and self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, force=True)

    def action_cursor_down(self) -> None:
        self.take_aim()  # (from the row the reader was on)
        self.cursor += 1

    def action_cursor_up(self) -> None:
        self.take_aim()
        self.cursor -= 1

    def action_first(self) -> None:
        self.scroll_to(y=0, animate=False, force=True)
        self.cursor = 0
        self.new_above = 0

    def action_last(self) -> None:
        self.cursor = len(self._rows) - 1

    def action_page_down(self) -> None:
        self.cursor += max(1, self.scrollable_content_region.height - 1)

    def action_page_up(self) -> None:
        self.cursor -= max(1, self.scrollable_content_region.height - 1)

    def action_select(self) -> None:
        row = self.take_aim()
        if row is not None:
            row.mark_read()
            self.refresh_row(row)
            self.post_message(self.Selected(self, row))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = self.scroll_offset.y + offset.y
        if 0 <= index < len(self._rows):
            self.cursor = index
            if event.chain >= 2:
                self.action_select()

    def on_resize(self, _: events.Resize) -> None:
        self._resize()
        self._cache.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._generation += 1
        self._cache.clear()
        self._base = None
        self._styles = {}

    def _base_style(self) -> Style:
        """The widget's own style; computing it walks the DOM, so keep it per style change."""
        if self._base is None:
            self._base = self.rich_style
        return self._base

    # --- rendering ---------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = self.scroll_offset.y + y
        base = self._base_style()
        if index >= len(self._rows):
            if index == 0 and y == 0:
                empty = self.get_component_rich_style("stream--empty", partial=True)
                text = Text(f" {self.empty_text}", style=empty, no_wrap=True)
                text.truncate(width, pad=True)
                return Strip(text.render(self.app.console), width).apply_style(base)
            return Strip.blank(width, base)
        row = self._rows[index]
        cursor = index == self.cursor
        focused = cursor and self.has_focus
        today = self._today()
        # The date shows where a day starts and on the top line, so it is never out of sight.
        date_label = ""
        day = self._day(row)
        if y == 0 or index == 0 or self._day(self._rows[index - 1]) != day:
            date_label = day_label(row.update.published.astimezone(self.tz), today)
        key = (row, row.version, width, cursor, focused, date_label, self._generation)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_row(row, width, cursor, focused, date_label)
            self._cache[key] = strip
        return strip

    def _day(self, row: Row) -> date:
        """The row's local date (memoised: it is asked for on every repaint)."""
        day = self._days.get(row)
        if day is None:
            day = self._days[row] = row.update.published.astimezone(self.tz).date()
        return day

    def on_focus(self, _: events.Focus) -> None:
        self.refresh_line(self.cursor)

    def on_blur(self, _: events.Blur) -> None:
        self.refresh_line(self.cursor)

    def _style(self, name: str, cursor: str | None) -> Style:
        """Base + component (+ cursor) style, memoised until the CSS or theme changes."""
        key = (name, cursor)
        style = self._styles.get(key)
        if style is None:
            style = self._base_style()
            if name:
                style += self.get_component_rich_style(name, partial=True)
            if cursor:
                style += self.get_component_rich_style(cursor, partial=True)
            self._styles[key] = style
        return style

    def _badge_class(self, source: str) -> str:
        colour = self._palette.get(source)
        if colour is None:
            colour = self._palette[source] = zlib.crc32(source.encode()) % BADGE_COLOURS
        return f"stream--badge-{colour}"

    def _render_row(self, row: Row, width: int, cursor: bool, focused: bool,
                    date_label: str) -> Strip:
        """One row as segments: mark, time, badge, +N, title with matches, edited."""
        cursor_class = ("stream--cursor" if focused else "stream--cursor-blur") if cursor \
            else None

        def style(name: str) -> Style:
            return self._style(name, cursor_class)

        update = row.update
        segments: list[Segment] = []
        if row.unread:
            segments.append(Segment("● ", style("stream--unread")))
        elif row.updated:
            segments.append(Segment("◆ ", style("stream--updated")))
        else:
            segments.append(Segment("  ", style("")))
        segments.append(Segment(date_label or " " * DATE_WIDTH, style("stream--date")))
        segments.append(Segment(update.published.astimezone(self.tz).strftime("%H:%M "),
                                style("stream--time")))
        badge_width = self.badge_width_for(width)
        badge = flatten(update.source).text
        if cell_len(badge) > badge_width:
            badge = set_cell_size(badge, badge_width - 1) + "…"
        segments.append(Segment(set_cell_size(badge, badge_width),
                                style(self._badge_class(update.source))))
        extra = row.sources - 1
        segments.append(Segment((f" +{extra}" if extra > 0 else "").ljust(5),
                                style("stream--count-updated" if row.updated
                                      else "stream--count")))
        used = FIXED_WIDTH + badge_width
        suffix = " edited" if update.edited else ""
        room = max(0, width - used - len(suffix))
        segments.extend(self._title(update, room, style,
                                    self._style(cursor_class or "", "stream--match")))
        if suffix:
            segments.append(Segment(suffix, style("stream--edited")))
        return Strip(segments).crop_extend(0, width, style(""))

    def badge_width_for(self, width: int) -> int:
        """The source column's width: the longest name up to MAX_BADGE, but at most a third
        of what the fixed columns leave, so a narrow terminal keeps room for the headline."""
        return max(MIN_BADGE, min(self.badge_width, (width - FIXED_WIDTH) // 3))

    def _title(self, update: Update, room: int, style: Callable[[str], Style],
               match: Style) -> list[Segment]:
        """The headline text cut to ``room`` cells, with query matches highlighted."""
        field, offset, piece = headline_text(update)
        flat = flatten(piece)
        text = flat.text
        if cell_len(text) > room:
            text = set_cell_size(text, max(room - 1, 0)).rstrip() + "…" if room else ""
        plain = style("stream--alert" if self.is_alert(update) else "")
        spans = spans_for(self.highlighter(update), field, offset, flat, len(piece))
        segments: list[Segment] = []
        position = 0
        for start, end in sorted(spans):
            start, end = max(start, position), min(end, len(text))
            if end <= start:
                continue
            if start > position:
                segments.append(Segment(text[position:start], plain))
            segments.append(Segment(text[start:end], plain + match))
            position = end
        if position < len(text):
            segments.append(Segment(text[position:], plain))
        width = cell_len(text)
        if width < room:
            segments.append(Segment(" " * (room - width), plain))
        return segments

    def region_for(self, row: Row) -> Region | None:
        index = self._rows.index(row)
        if index is None:
            return None
        return Region(0, index - self.scroll_offset.y, self.size.width, 1)

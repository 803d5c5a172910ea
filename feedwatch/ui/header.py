"""The one-line header: topic, live/paused, source health, last update, clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from .rows import flatten, local

MIN_TITLE = 32  # cells of " feedwatch <topic>" kept before the right side gives way


class FeedHeader(Widget):
    """Topic name on the left, live state and clock on the right; ticks once a second."""

    COMPONENT_CLASSES = {  # noqa: RUF012 - Textual's idiom
        "header--title", "header--subtitle", "header--live", "header--paused", "header--offline",
        "header--ok", "header--failing", "header--dim", "header--clock",
    }

    paused: reactive[bool] = reactive(False)
    polling: reactive[bool] = reactive(True)  # False: a read-only view of the store
    ok: reactive[int] = reactive(0)
    failing: reactive[int] = reactive(0)
    waiting: reactive[int] = reactive(0)
    held: reactive[int] = reactive(0)  # updates held back while paused
    last_update: reactive[datetime | None] = reactive(None)
    now: reactive[datetime | None] = reactive(None)

    def __init__(self, title: str, subtitle: str | None = None, *,
                 clock: Callable[[], datetime], tz: tzinfo | None = None,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = flatten(title).text
        self.subtitle = flatten(subtitle).text if subtitle else ""
        self.clock = clock
        self.tz = tz

    def on_mount(self) -> None:
        self.now = self.clock()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        self.now = self.clock()

    def set_health(self, ok: int, failing: int, waiting: int) -> None:
        self.ok, self.failing, self.waiting = ok, failing, waiting

    def render(self) -> Text:
        style = self.get_component_rich_style
        left = Text(no_wrap=True, overflow="ellipsis", end="")
        left.append(" feedwatch ", style("header--dim", partial=True))
        left.append(self.title, style("header--title", partial=True))
        if self.subtitle:
            left.append(f"  {self.subtitle}", style("header--subtitle", partial=True))
        width = self.size.width
        # On a narrow terminal the right side gives way (clock first, then labels) so the
        # topic's name stays readable.
        want = min(left.cell_len, MIN_TITLE)
        for level in range(4):
            right = self._right(level)
            if width - right.cell_len >= want:
                break
        room = max(0, width - right.cell_len)
        left.truncate(room, overflow="ellipsis", pad=True)
        return Text.assemble(left, right, no_wrap=True, end="")

    def _right(self, level: int) -> Text:
        """Live state, source health, last update and clock; ``level`` 0 (all of it, with
        labels) to 3 (the bare minimum)."""
        style = self.get_component_rich_style
        right = Text(no_wrap=True, end="")
        if not self.polling:
            right.append(" ○ OFFLINE ", style("header--offline", partial=True))
        elif self.paused:
            held = f" · {self.held} held" if self.held else ""
            right.append(f" ⏸ PAUSED{held} ", style("header--paused", partial=True))
        else:
            right.append(" ● LIVE ", style("header--live", partial=True))
        right.append("  sources " if level < 2 else " ", style("header--dim", partial=True))
        right.append(f"{self.ok} ok", style("header--ok", partial=True))
        if self.failing:
            right.append(" · ")
            right.append(f"{self.failing} failing" if level < 3 else f"{self.failing} ✗",
                         style("header--failing", partial=True))
        if self.waiting and level < 3:
            right.append(f" · {self.waiting} waiting", style("header--dim", partial=True))
        if level < 3:
            right.append("  last update " if level < 2 else "  last ",
                         style("header--dim", partial=True))
            right.append(local(self.last_update, self.tz).strftime("%H:%M:%S")
                         if self.last_update else "—")
        if self.now is not None and level == 0:
            right.append("  ")
            right.append(local(self.now, self.tz).strftime("%H:%M:%S"),
                         style("header--clock", partial=True))
        right.append(" ")
        return right
